"""The double behaves like the recordings of the real server it was built from."""

import base64
import json
import time
import uuid

import pytest
import requests
import websocket

from conftest import CONFORMANCE
from support.double import RECORDINGS

REST = json.loads((RECORDINGS / "rest.json").read_text())["exchanges"]
RUNS = RECORDINGS / "runs"


def load(name):
    return json.loads((RUNS / name).read_text())


def replay(url, request):
    kw = {k: request[k] for k in ("params", "json", "data") if k in request}
    if "files" in request:
        kw["files"] = {k: (v["filename"], base64.b64decode(v["base64"])) for k, v in request["files"].items()}
    return requests.request(request["method"], url + request["path"], timeout=10, allow_redirects=False, **kw)


def body_of(resp):
    if "json" in resp.headers.get("Content-Type", ""):
        return resp.json()
    return None


@pytest.mark.parametrize("exchange", [e for e in REST if not e["name"].startswith("view uploaded")],
                         ids=lambda e: e["name"])
def test_rest_answers_match_the_recording(comfy_double, exchange):
    if exchange["request"]["path"] == "/upload/mask":  # the mask needs its original first
        replay(comfy_double.url, next(e for e in REST if e["name"] == "upload image")["request"])
    if exchange["name"] == "upload same bytes again" or exchange["name"].startswith("upload other"):
        replay(comfy_double.url, next(e for e in REST if e["name"] == "upload image")["request"])
    resp = replay(comfy_double.url, exchange["request"])
    want = exchange["response"]
    assert resp.status_code == want["status"]
    if "body" in want:
        assert body_of(resp) == want["body"]
    if "text" in want:
        assert resp.text == want["text"]
    if want.get("empty"):
        assert resp.content == b""


class Socket:
    def __init__(self, url, client_id=None):
        self.client_id = client_id or str(uuid.uuid4())
        self.ws = websocket.create_connection(url.replace("http", "ws", 1) + f"/ws?clientId={self.client_id}",
                                              timeout=10)
        self.messages = []

    def until_executing(self, prompt_id, node):
        while True:
            m = json.loads(self.ws.recv())
            self.messages.append(m)
            if m["type"] == "executing" and m["data"]["node"] == node and m["data"]["prompt_id"] == prompt_id:
                return self.messages

    def until_idle(self, prompt_id):
        while True:
            m = json.loads(self.ws.recv())
            self.messages.append(m)
            if m["type"] == "executing" and m["data"]["node"] is None and m["data"]["prompt_id"] == prompt_id:
                return self.messages


def post(url, prompt, client_id):
    return requests.post(url + "/prompt", json={"prompt": prompt, "client_id": client_id}, timeout=10).json()


def shape(messages, statuses=True):
    out = []
    for m in messages:
        d = m["data"]
        if m["type"] == "status":
            if statuses:
                out.append(("status", d["status"]["exec_info"]["queue_remaining"]))
        elif m["type"] == "progress_state":
            out.append(("progress_state", tuple((k, v["state"]) for k, v in d["nodes"].items())))
        else:
            out.append((m["type"], d.get("node"), tuple(d.get("nodes") or ()), d.get("node_id"),
                        json.dumps(d.get("output"), sort_keys=True) if "output" in d and "temp" not in json.dumps(d["output"]) else None))
    return out


def history_shape(entry):
    return {"status": [m[0] for m in entry["status"]["messages"]], "status_str": entry["status"]["status_str"],
            "completed": entry["status"]["completed"], "outputs": sorted(entry["outputs"]),
            "meta": sorted(entry["meta"]), "prompt": entry["prompt"][2], "outputs_to_execute": sorted(entry["prompt"][4])}


def test_run_then_cached_rerun_sends_what_the_real_one_sent(comfy_double):
    rec = load("success_then_cached.json")
    prompt = rec["first"]["posts"][0]["request"]["prompt"]
    sock = Socket(comfy_double.url)
    first = post(comfy_double.url, prompt, sock.client_id)
    assert first["number"] == rec["first"]["posts"][0]["body"]["number"] == 0
    sock.until_idle(first["prompt_id"])
    second = post(comfy_double.url, prompt, sock.client_id)
    sock.until_idle(second["prompt_id"])
    assert shape(sock.messages) == shape(rec["first"]["ws"] + rec["cached"]["ws"][1:])
    for pid, key in ((first["prompt_id"], "first"), (second["prompt_id"], "cached")):
        got = requests.get(f"{comfy_double.url}/history/{pid}").json()[pid]
        want = next(iter(rec[key]["history"].values()))
        assert history_shape(got) == history_shape(want)
        assert got["outputs"]["2"] == want["outputs"]["2"] and got["outputs"]["5"] == want["outputs"]["5"]
        assert got["prompt"][3] == {"client_id": sock.client_id}
        assert got["outputs"]["3"]["images"][0]["type"] == "temp"


def test_every_output_can_be_fetched_like_the_real_files(comfy_double):
    rec = load("success_then_cached.json")["first"]
    sock = Socket(comfy_double.url)
    pid = post(comfy_double.url, rec["posts"][0]["request"]["prompt"], sock.client_id)["prompt_id"]
    sock.until_idle(pid)
    outputs = requests.get(f"{comfy_double.url}/history/{pid}").json()[pid]["outputs"]
    for item in outputs["2"]["images"] + outputs["3"]["images"]:
        resp = requests.get(comfy_double.url + "/view", params=item)
        assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/png"
        assert resp.headers["Content-Disposition"] == f'filename="{item["filename"]}"'
        assert resp.content.startswith(b"\x89PNG")
    item = outputs["2"]["images"][0]
    preview = requests.get(comfy_double.url + "/view", params={**item, "preview": "webp;50"})
    assert preview.headers["Content-Type"] == "image/webp"


def test_animated_mask_and_subfolder_outputs_match(comfy_double):
    rec = load("animated_mask_subfolder.json")
    sock = Socket(comfy_double.url)
    pid = post(comfy_double.url, rec["posts"][0]["request"]["prompt"], sock.client_id)["prompt_id"]
    sock.until_idle(pid)
    assert shape(sock.messages) == shape(rec["ws"])
    got = requests.get(f"{comfy_double.url}/history/{pid}").json()[pid]
    assert got["outputs"] == next(iter(rec["history"].values()))["outputs"]
    webp = requests.get(comfy_double.url + "/view", params=got["outputs"]["2"]["images"][0])
    assert webp.headers["Content-Type"] == "image/webp"


def test_step_progress_matches_the_recorded_upscale(comfy_double):
    rec = load("upscale_progress.json")
    prompt = rec["posts"][0]["request"]["prompt"]
    comfy_double.add_model("upscale_models", prompt["2"]["inputs"]["model_name"], "UpscaleModelLoader.model_name")
    sock = Socket(comfy_double.url)
    pid = post(comfy_double.url, prompt, sock.client_id)["prompt_id"]
    sock.until_idle(pid)
    assert shape(sock.messages) == shape(rec["ws"])

    def steps(messages):
        return [(m["data"]["value"], m["data"]["max"], m["data"]["node"]) for m in messages if m["type"] == "progress"]
    assert steps(sock.messages) == steps(rec["ws"]) == [(k, 6, "3") for k in range(1, 7)]


def test_runtime_error_matches_the_recorded_one(comfy_double):
    rec = load("execution_error_bad_image.json")
    requests.post(comfy_double.url + "/upload/image", files={"image": ("not-really.png", b"text, not a PNG\n")},
                  data={"type": "input", "overwrite": "true"})
    sock = Socket(comfy_double.url)
    pid = post(comfy_double.url, rec["posts"][0]["request"]["prompt"], sock.client_id)["prompt_id"]
    sock.until_idle(pid)
    assert shape(sock.messages) == shape(rec["ws"])
    got = requests.get(f"{comfy_double.url}/history/{pid}").json()[pid]
    want = next(iter(rec["history"].values()))
    assert history_shape(got) == history_shape(want)
    error, recorded = got["status"]["messages"][-1][1], want["status"]["messages"][-1][1]
    assert sorted(error) == sorted(recorded)
    assert (error["node_type"], error["exception_type"]) == ("LoadImage", "PIL.UnidentifiedImageError")


def test_interrupt_by_prompt_id_delete_and_foreign_interrupt(comfy_double):
    rec = load("interrupt_by_prompt_id.json")
    slow, quick = (p["request"]["prompt"] for p in rec["posts"])
    # As recorded, the interrupt lands while node 1 runs; its 2 s leave room for the five requests
    # before it on a loaded CI machine (0.5 s did not).
    comfy_double.node_seconds = 2.0
    sock = Socket(comfy_double.url)
    first = post(comfy_double.url, slow, sock.client_id)["prompt_id"]
    second = post(comfy_double.url, quick, sock.client_id)["prompt_id"]
    sock.until_executing(first, "1")
    queue = requests.get(comfy_double.url + "/queue").json()
    assert [len(queue["queue_running"]), len(queue["queue_pending"])] == [1, 1]
    assert len(queue["queue_running"][0]) == len(rec["extra"]["queue_before"]["queue_running"][0])
    requests.post(comfy_double.url + "/queue", json={"delete": [second]})
    assert requests.get(comfy_double.url + "/queue").json()["queue_pending"] == []
    requests.post(comfy_double.url + "/interrupt", json={"prompt_id": str(uuid.uuid4())})
    time.sleep(0.1)
    assert len(requests.get(comfy_double.url + "/queue").json()["queue_running"]) == 1
    requests.post(comfy_double.url + "/interrupt", json={"prompt_id": first})
    sock.until_idle(first)
    assert shape(sock.messages, statuses=False) == shape(rec["ws"], statuses=False)
    got = requests.get(f"{comfy_double.url}/history/{first}").json()[first]
    assert history_shape(got) == history_shape(next(iter(rec["history"].values())))
    assert requests.get(f"{comfy_double.url}/history/{second}").json() == {}


def test_clear_then_global_interrupt(comfy_double):
    rec = load("clear_then_global_interrupt.json")
    comfy_double.node_seconds = 2.0  # the interrupt must land while node 1 runs, as recorded
    sock = Socket(comfy_double.url)
    ids = [post(comfy_double.url, p["request"]["prompt"], sock.client_id)["prompt_id"] for p in rec["posts"]]
    sock.until_executing(ids[0], "1")
    requests.post(comfy_double.url + "/queue", json={"clear": True})
    queue = requests.get(comfy_double.url + "/queue").json()
    assert queue["queue_pending"] == [] and len(queue["queue_running"]) == 1
    requests.post(comfy_double.url + "/interrupt")
    sock.until_idle(ids[0])
    assert shape(sock.messages, statuses=False) == shape(rec["ws"], statuses=False)
    statuses = [m["data"]["status"]["exec_info"]["queue_remaining"] for m in sock.messages if m["type"] == "status"]
    assert statuses == [m["data"]["status"]["exec_info"]["queue_remaining"] for m in rec["ws"] if m["type"] == "status"]


def test_interrupted_nodes_stay_cached(comfy_double):
    """As the real server showed: a rerun after an interrupt reuses the nodes that had finished."""
    slow = load("interrupt_by_prompt_id.json")["posts"][0]["request"]["prompt"]
    comfy_double.node_seconds = 0.3
    sock = Socket(comfy_double.url)
    pid = post(comfy_double.url, slow, sock.client_id)["prompt_id"]
    # Interrupt while EmptyImage (1) runs: the server checks as each node starts, so 1 finishes.
    sock.until_executing(pid, "1")
    requests.post(comfy_double.url + "/interrupt", json={"prompt_id": pid})
    sock.until_idle(pid)
    comfy_double.node_seconds = 0.01
    pid = post(comfy_double.url, slow, sock.client_id)["prompt_id"]
    sock.until_idle(pid)
    cached = [m for m in sock.messages if m["type"] == "execution_cached"][-1]
    assert cached["data"]["nodes"] == ["1"]


def test_no_client_id_history(comfy_double):
    rec = load("no_client_id.json")
    pid = requests.post(comfy_double.url + "/prompt", json={"prompt": next(iter(rec["history"].values()))["prompt"][2]}).json()["prompt_id"]
    for _ in range(100):
        got = requests.get(f"{comfy_double.url}/history/{pid}").json()
        if got:
            break
        time.sleep(0.02)
    assert history_shape(got[pid]) == history_shape(next(iter(rec["history"].values())))
    assert got[pid]["prompt"][3] == {}


def test_history_listing_and_delete(comfy_double):
    sock = Socket(comfy_double.url)
    prompt = load("no_client_id.json")["history"]
    prompt = next(iter(prompt.values()))["prompt"][2]
    ids = []
    for _ in range(3):
        ids.append(post(comfy_double.url, prompt, sock.client_id)["prompt_id"])
        sock.until_idle(ids[-1])
    assert list(requests.get(comfy_double.url + "/history").json()) == ids
    assert list(requests.get(comfy_double.url + "/history", params={"max_items": 1}).json()) == ids[-1:]
    requests.post(comfy_double.url + "/history", json={"delete": [ids[0]]})
    assert list(requests.get(comfy_double.url + "/history").json()) == ids[1:]
    comfy_double.forget(ids[1])
    assert requests.get(f"{comfy_double.url}/history/{ids[1]}").json() == {}


@pytest.mark.conformance
def test_matches_the_shared_transcript(comfy_double):
    tr = json.loads((CONFORMANCE / "runs" / "protocol-transcript-0.3.64.json").read_text())
    posts = [e for e in tr["http"] if e["request"]["path"] == "/prompt" and e["request"]["method"] == "POST"
             and e["response"]["status"] == 200]
    prompt = posts[-1]["request"]["json"]["prompt"]
    sock = Socket(comfy_double.url)
    for _ in range(2):
        pid = post(comfy_double.url, prompt, sock.client_id)["prompt_id"]
        sock.until_idle(pid)
    ours = [s for s in shape(sock.messages) if s[0] != "progress_state"]
    theirs = [s for s in shape(tr["ws_success_then_cached_run"]) if s[0] != "progress_state"]
    # The real server ran outputs in set order (5, 2, 3); the double runs them in prompt order.
    assert sorted(ours, key=str) == sorted(theirs, key=str)


# -- knobs -----------------------------------------------------------------------------------
def test_drop_ws_immediately_and_after_k(comfy_double):
    comfy_double.drop_ws(after=0)
    ws = websocket.create_connection(comfy_double.url.replace("http", "ws") + "/ws?clientId=a", timeout=5)
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
        ws.recv()
        ws.recv()
    comfy_double.drop_ws(after=1)
    sock = Socket(comfy_double.url)
    assert json.loads(sock.ws.recv())["type"] == "status"
    post(comfy_double.url, next(iter(load("no_client_id.json")["history"].values()))["prompt"][2], sock.client_id)
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
        for _ in range(5):
            sock.ws.recv()


def test_break_view_cuts_the_body(comfy_double):
    comfy_double.break_view = True
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(comfy_double.url + "/view", params={"filename": "example.png", "type": "input"}).content


def test_pause_keeps_prompts_pending(comfy_double):
    comfy_double.pause()
    prompt = next(iter(load("no_client_id.json")["history"].values()))["prompt"][2]
    pid = post(comfy_double.url, prompt, "x")["prompt_id"]
    queue = requests.get(comfy_double.url + "/queue").json()
    assert queue["queue_running"] == [] and queue["queue_pending"][0][1] == pid
    comfy_double.resume()
    for _ in range(100):
        if requests.get(f"{comfy_double.url}/history/{pid}").json():
            return
        time.sleep(0.02)
    pytest.fail("the prompt never ran after resume()")


def test_cloud_mode_hides_the_plain_routes(comfy_double):
    comfy_double.go_cloud("k")
    assert requests.get(comfy_double.url + "/system_stats").status_code == 404
    assert requests.get(comfy_double.url + "/api/system_stats").status_code == 401
    assert requests.get(comfy_double.url + "/api/system_stats", headers={"X-API-Key": "k"}).status_code == 200


def job_shape(job):
    """A job's fields and the fields of what it nests, without the values that differ run to run."""
    shape = {"fields": sorted(job), "status": job["status"]}
    if job.get("preview_output"):
        shape["preview"] = (sorted(job["preview_output"]), job["preview_output"]["type"],
                            job["preview_output"]["mediaType"])
    if job.get("execution_error"):
        shape["error"] = sorted(job["execution_error"])
    if "execution_status" in job:
        shape["execution_status"] = (sorted(job["execution_status"]), job["execution_status"]["status_str"],
                                     [kind for kind, _ in job["execution_status"]["messages"]])
    if "workflow" in job:
        shape["workflow"] = sorted(job["workflow"])
    return shape


@pytest.mark.parametrize("version", ["0.33.0"])
def test_newer_jobs_match_the_recorded_ones(comfy_double, version):
    # the double's `newer` mode answers /api/jobs as ComfyUI 0.33.0 did (record.py URL server):
    # a saved image, a failed run and a preview-only run, one by one and as a list
    recorded = {e["name"]: e for e in json.loads(
        (RECORDINGS / f"server-{version}" / "server" / f"{version}.json").read_text())["exchanges"]}
    comfy_double.newer = True
    requests.post(comfy_double.url + "/upload/image", files={"image": ("not-really.png", b"text, not a PNG\n")},
                  data={"type": "input", "overwrite": "true"})
    sock = Socket(comfy_double.url)
    runs = {}
    for kind, post_name in (("canonical prompt_id", "prompt with canonical prompt_id"),
                            ("the saved prompt", "prompt saved"), ("the failed prompt", "prompt failed")):
        body = dict(recorded[post_name]["request"]["json"], client_id=sock.client_id, prompt_id=str(uuid.uuid4()))
        runs[kind] = requests.post(comfy_double.url + "/prompt", json=body).json()["prompt_id"]
        sock.until_idle(runs[kind])
    for kind, pid in runs.items():
        got = requests.get(f"{comfy_double.url}/api/jobs/{pid}").json()
        assert job_shape(got) == job_shape(recorded[f"job of {kind}"]["response"]["body"]), kind
    listed = requests.get(f"{comfy_double.url}/api/jobs", params={"limit": 2}).json()
    want = recorded["jobs list of the two"]["response"]["body"]
    assert [job_shape(j) for j in listed["jobs"]] == [job_shape(j) for j in want["jobs"]]
    assert sorted(listed["pagination"]) == sorted(want["pagination"])

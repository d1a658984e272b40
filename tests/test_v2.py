"""Comfy API v2 under the same commands: status, run, queue wait/outputs/cancel, against
comfy-api-proxy (as recorded in front of ComfyUI 0.3.64) and Comfy Cloud's v2 (as specified)."""

import json

import pytest

from conftest import script
from support.double_v2 import v2_double  # noqa: F401  (fixture)

SOLID = {"1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 255}},
         "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "v2"}}}


@pytest.fixture
def env(pack_env, v2_double):
    return dict(pack_env, COMFYUI_API_KEY="sk-v2-cloud") if v2_double.kind == "cloud" else pack_env


def flags(v2_double):
    # the proxy is found by itself (its native routes answer 404, its health route answers);
    # Cloud's v2 has no health route: the user says --api v2
    return ["--url", v2_double.url] + (["--api", "v2"] if v2_double.kind == "cloud" else [])


def workflow(tmp_path, wf=SOLID):
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(wf))
    return path


def test_status_says_it_is_v2_and_what_is_behind_it(v2_double, env):
    r = script("status", *flags(v2_double), "--json", env=env)
    info = json.loads(r.stdout)
    assert r.returncode == 0 and info["online"] is True and info["api"] == "v2"
    if v2_double.kind == "proxy":
        assert info["upstream"] == v2_double.comfy.url
        assert f"in front of ComfyUI at {v2_double.comfy.url}" in script("status", *flags(v2_double), env=env).stdout


def test_run_downloads_the_bytes_the_content_link_serves(v2_double, env, tmp_path):
    out = tmp_path / "out"
    r = script("run", workflow(tmp_path), *flags(v2_double), "--out", out, "--json", env=env)
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["status"] == "success" and len(rec["outputs"]) == 1
    saved = rec["outputs"][0]
    served = v2_double.comfy.files[("output", "", saved["filename"])]
    with open(saved["path"], "rb") as fh:
        assert fh.read() == served
    assert saved["class_type"] == "SaveImage" and saved["bytes"] == len(served)
    posted = [h for m, p, h in v2_double.requests if m == "POST" and p == "/api/v2/jobs"]
    assert len(posted) == 1 and posted[0]["Idempotency-Key"]


def test_the_key_goes_to_the_v2_host_only(v2_double, env, tmp_path):
    if v2_double.kind != "cloud":
        pytest.skip("the proxy serves content itself")
    r = script("run", workflow(tmp_path), *flags(v2_double), "--out", tmp_path / "o", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert all(h.get("Authorization") == "Bearer sk-v2-cloud" for _, _, h in v2_double.requests)
    assert v2_double.blob_requests and all("Authorization" not in h for h in v2_double.blob_requests)
    assert "sk-v2-cloud" not in r.stdout + r.stderr


def test_without_the_key_cloud_says_so_in_one_line(v2_double, pack_env, tmp_path):
    if v2_double.kind != "cloud":
        pytest.skip("the proxy needs no key")
    r = script("run", workflow(tmp_path), *flags(v2_double), env=pack_env)
    assert r.returncode == 4 and "unauthorized" in r.stderr and r.stderr.count("\n") == 1


def test_a_rejected_workflow_is_one_line_exit_1(v2_double, env, tmp_path):
    bad = dict(SOLID, **{"3": {"class_type": "NoSuchNode", "inputs": {}}})
    r = script("run", workflow(tmp_path, bad), *flags(v2_double), "--no-validate", env=env)
    assert r.returncode == 1
    assert "invalid_workflow" in r.stderr and "NoSuchNode" in r.stderr and "Traceback" not in r.stderr


def test_node_errors_in_the_recorded_envelope_are_named_per_node():
    import requests

    from comfyui_skills.errors import CheckFailed
    from comfyui_skills.v2.errors import raise_for
    from support.double_v2 import RECORDED

    rec = RECORDED["errors"]["bad_value"]  # the real proxy's answer to EmptyImage.width = -5
    resp = requests.Response()
    resp.status_code, resp._content = rec["status"], json.dumps(rec["body"]).encode()
    with pytest.raises(CheckFailed) as err:
        raise_for(resp, "submitting the workflow", "http://127.0.0.1:1")
    assert "node 1 (EmptyImage): Value -5 smaller than min of 1: width" in err.value.message
    assert err.value.exit_code == 1


@pytest.mark.parametrize("status,code,exit_code,words", [
    (429, "queue_full", 4, "retry after 7 s"),
    (429, "deployment_not_ready", 4, "retry after 7 s"),
    (402, "insufficient_credits", 4, "add credits"),
])
def test_service_refusals_are_one_line_with_what_to_do(v2_double, env, tmp_path, status, code, exit_code, words):
    v2_double.fail_submit = (status, code, 7)
    r = script("run", workflow(tmp_path), *flags(v2_double), env=env)
    assert r.returncode == exit_code and code in r.stderr and words in r.stderr
    # at most the one note that the server was found to speak v2, then the error in one line
    assert [line for line in r.stderr.splitlines() if "speaks Comfy API v2" not in line] == [
        next(line for line in r.stderr.splitlines() if line.startswith("error:"))]


def test_queued_then_waited_for_and_collected_by_id(v2_double, env, tmp_path):
    r = script("run", workflow(tmp_path), *flags(v2_double), "--no-wait", "--json", env=env)
    job_id = json.loads(r.stdout)["prompt_id"]
    # the run record names the server and says v2: no --url needed
    w = script("queue", "wait", job_id, "--json", "--out", tmp_path / "w", env=env)
    assert w.returncode == 0, w.stderr
    assert json.loads(w.stdout)["status"] == "success"
    o = script("queue", "outputs", job_id, "--json", "--out", tmp_path / "o", env=env)
    assert json.loads(o.stdout)["outputs"][0]["bytes"] > 0


def test_a_cancel_the_server_ignores_is_reported_not_claimed(v2_double, env, tmp_path):
    # the proxy calls /api/jobs/{id}/cancel, which ComfyUI 0.3.64 lacks, and ignores the answer
    v2_double.comfy.node_seconds = 30
    r = script("run", workflow(tmp_path), *flags(v2_double), "--no-wait", "--json", env=env)
    job_id = json.loads(r.stdout)["prompt_id"]
    c = script("queue", "cancel", job_id, env=env, timeout=90)
    assert c.returncode == 1 and "still running" in c.stderr and "not stopped" in c.stderr
    if v2_double.kind == "proxy":
        assert f"queue.py interrupt --url {v2_double.comfy.url}" in c.stderr


def test_an_input_file_becomes_an_asset_sent_once(v2_double, env, tmp_path):
    pytest.importorskip("blake3")
    from support.record import tiny_png

    (tmp_path / "in.png").write_bytes(tiny_png())
    wf = {"1": {"class_type": "LoadImage", "inputs": {"image": "in.png"}},
          "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "v2in"}}}
    for _ in range(2):
        r = script("run", workflow(tmp_path, wf), *flags(v2_double), "--out", tmp_path / "o", env=env)
        assert r.returncode == 0, r.stderr
    uploads = [p for m, p, _ in v2_double.requests if m == "POST" and p == "/api/v2/assets"]
    assert len(uploads) == 1  # the second run minted an asset from the hash: no bytes sent


def test_proxy_and_cloud_give_the_same_json_shape(tmp_path, pack_env):
    from support.double import ComfyDouble
    from support.double_v2 import V2Double

    shapes = []
    for key in (None, "sk-v2-cloud"):
        comfy = ComfyDouble().start()
        v2 = V2Double(comfy, cloud_key=key).start()
        try:
            env = dict(pack_env, COMFYUI_API_KEY=key) if key else pack_env
            r = script("run", workflow(tmp_path), "--url", v2.url, "--api", "v2", "--json", "--out",
                       tmp_path / str(key), env=env)
            rec = json.loads(r.stdout)
            shapes.append((sorted(rec), sorted(rec["outputs"][0])))
        finally:
            v2.stop()
            comfy.stop()
    assert shapes[0] == shapes[1]


def test_upload_makes_an_asset_and_sends_known_bytes_once(v2_double, env, tmp_path):
    pytest.importorskip("blake3")
    from support.record import tiny_png

    (tmp_path / "p.png").write_bytes(tiny_png())
    first = json.loads(script("upload", tmp_path / "p.png", *flags(v2_double), "--json", env=env).stdout)
    again = json.loads(script("upload", tmp_path / "p.png", *flags(v2_double), "--json", env=env).stdout)
    assert first["ref"]["__type"] == "core/ASSET" and first["reused"] is False and again["reused"] is True
    assert [p for m, p, _ in v2_double.requests if m == "POST"].count("/api/v2/assets") == 1
    r = script("upload", tmp_path / "p.png", "--subfolder", "x", *flags(v2_double), env=env)
    assert r.returncode == 2 and "assets" in r.stderr


def test_the_mcp_status_tool_speaks_v2_too(v2_double, env):
    from test_mcp import call, data

    if v2_double.kind == "cloud":
        env = dict(env, COMFYUI_API="v2")
    info = data(call(env, v2_double.url, "status", {}))
    assert info["online"] is True and info["api"] == "v2"

"""queue.py against a real ComfyUI ($COMFYUI_URL): list, cancel, interrupt, free.

Only our own prompts are touched: cancels and interrupts always name our prompt ids, because
someone else may be using the same server. The sampler test stops a prompt in the middle of a
node (KSampler at 256x256, 40 steps, on the server's first checkpoint: minutes on a CPU), where
the server checks for an interrupt between steps; its record must say it was interrupted
(/api/jobs status "cancelled" where the server has the route, execution_interrupted in /history).
"""

import json
import time
import uuid

import pytest
import requests
import websocket

from conftest import script

pytestmark = pytest.mark.live


def queue_slow(url, client_id):
    """A CPU-heavy model-free prompt (a few seconds), unique so the cache cannot answer it."""
    wf = {"1": {"class_type": "EmptyImage", "inputs": {"width": 2048, "height": 2048, "batch_size": 2,
                                                       "color": uuid.uuid4().int % 0xFFFFFF}},
          "2": {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": 31, "sigma": 10.0}},
          "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}
    r = requests.post(url + "/prompt", json={"prompt": wf, "client_id": client_id}, timeout=30)
    r.raise_for_status()
    return r.json()["prompt_id"]


def wait_until_running(url, prompt_id, seconds=60):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        q = requests.get(url + "/queue", timeout=30).json()
        if any(item[1] == prompt_id for item in q["queue_running"]):
            return
        time.sleep(0.1)
    pytest.fail(f"{prompt_id} never started running")


def history_status(url, prompt_id, seconds=60):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        entry = requests.get(f"{url}/history/{prompt_id}", timeout=30).json().get(prompt_id)
        if entry:
            return [m[0] for m in entry["status"]["messages"]]
        time.sleep(0.2)
    pytest.fail(f"{prompt_id} never reached the history")


def test_live_list_then_cancel_pending_and_running(live_url, pack_env):
    cid = str(uuid.uuid4())
    running = queue_slow(live_url, cid)
    pending = queue_slow(live_url, cid)
    wait_until_running(live_url, running)

    listed = json.loads(script("queue", "list", "--url", live_url, "--json", env=pack_env).stdout)
    assert running in [p["prompt_id"] for p in listed["running"]]
    assert pending in [p["prompt_id"] for p in listed["pending"]]

    r = script("queue", "cancel", pending, running, "--url", live_url, "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["deleted"] == [pending] and out["interrupted"] == [running]
    assert "execution_interrupted" in history_status(live_url, running)
    q = requests.get(live_url + "/queue", timeout=30).json()
    assert pending not in [item[1] for item in q["queue_pending"] + q["queue_running"]]


def test_live_interrupt_names_our_prompt_and_refuses_others(live_url, pack_env):
    r = script("queue", "interrupt", str(uuid.uuid4()), "--url", live_url, env=pack_env)
    assert r.returncode == 1  # not running: nothing of anybody's is interrupted
    prompt_id = queue_slow(live_url, str(uuid.uuid4()))
    wait_until_running(live_url, prompt_id)
    r = script("queue", "interrupt", prompt_id, "--url", live_url, env=pack_env)
    assert r.returncode == 0, r.stderr
    assert "execution_interrupted" in history_status(live_url, prompt_id)


def test_live_free_and_history(live_url, pack_env):
    r = script("queue", "free", "--url", live_url, "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    r = script("queue", "history", "--url", live_url, "--json", env=pack_env)
    assert r.returncode == 0, r.stderr


STEPS = 40


def slow_graph(ckpt, seed):
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse", "clip": ["1", 1]}},
        "3": {"class_type": "EmptyLatentImage", "inputs": {"width": 256, "height": 256, "batch_size": 1}},
        "4": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "positive": ["2", 0], "negative": ["2", 0],
                                                   "latent_image": ["3", 0], "seed": seed, "steps": STEPS,
                                                   "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal",
                                                   "denoise": 1.0}},
        "5": {"class_type": "VAEDecode", "inputs": {"samples": ["4", 0], "vae": ["1", 2]}},
        "6": {"class_type": "PreviewImage", "inputs": {"images": ["5", 0]}},
    }


def places(url):
    q = requests.get(url + "/queue", timeout=60).json()
    return [x[1] for x in q["queue_running"]], [x[1] for x in q["queue_pending"]]


def wait_for(check, seconds, step=2.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    return None


def sampling(ws, prompt_id, seconds):
    """Wait for the server's first KSampler step of `prompt_id` on its WebSocket; the seconds
    that step took (from the node's start), or None."""
    deadline, started = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        try:
            msg = ws.recv()
        except websocket.WebSocketTimeoutException:
            continue
        data = json.loads(msg) if isinstance(msg, str) else {}
        body = data.get("data") or {}
        if body.get("prompt_id") != prompt_id:
            continue
        if data.get("type") == "executing" and body.get("node") == "4":
            started = time.monotonic()
        elif data.get("type") == "progress":
            return time.monotonic() - (started or time.monotonic())
    return None


def test_cancel_stops_a_running_prompt_and_removes_a_pending_one(live_url, pack_env):
    url = live_url.rstrip("/")
    ckpts = requests.get(url + "/models/checkpoints", timeout=60).json()
    if not ckpts:
        pytest.skip(f"{url} lists no checkpoint")
    seed = uuid.uuid4().int % 2**32  # never a cached result
    running, pending, client_id = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    ws = websocket.create_connection(url.replace("http", "ws", 1) + f"/ws?clientId={client_id}", timeout=60)
    for pid, offset in ((running, 0), (pending, 1)):
        resp = requests.post(url + "/prompt", json={"prompt": slow_graph(ckpts[0], seed + offset),
                                                   "prompt_id": pid, "client_id": client_id}, timeout=60)
        assert resp.status_code == 200, resp.text
    try:
        # other users' prompts may run first: wait until ours is sampling (its first step done)
        step_s = sampling(ws, running, 900)
        assert step_s is not None, f"{running} never reached the sampler"
        r = script("queue", "cancel", pending, running, "--url", url, "--json", env=pack_env)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out == {"deleted": [pending], "interrupted": [running], "not_found": []}
        cancelled_at = time.monotonic()
        assert pending not in places(url)[1]
        # the server looks for an interrupt between sampler steps: a step or two, not the 40 (a
        # step takes from seconds to minutes on a shared CPU, so the bound follows the first one)
        assert wait_for(lambda: running not in places(url)[0], max(120, 3 * step_s)), \
            "the cancelled prompt kept running"
        stopped_after = time.monotonic() - cancelled_at
        history = requests.get(url + f"/history/{running}", timeout=60).json()[running]
        messages = [m[0] for m in history["status"]["messages"]]
        assert "execution_interrupted" in messages and "execution_success" not in messages
        assert history["status"]["status_str"] == "error"
        where = next(m[1] for m in history["status"]["messages"] if m[0] == "execution_interrupted")
        assert where["node_type"] == "KSampler"  # stopped inside the sampler, not after it
        job = requests.get(url + f"/api/jobs/{running}", timeout=60)
        if job.status_code == 200:  # a server with /api/jobs
            assert job.json()["status"] == "cancelled"
        assert requests.get(url + f"/history/{pending}", timeout=60).json() == {}  # it never ran
        print(f"stopped {stopped_after:.1f} s after the cancel, in the sampler (its first step: {step_s:.1f} s)")
        # a second cancel finds nothing to stop, and says so
        r = script("queue", "cancel", running, "--url", url, env=pack_env)
        assert r.returncode == 1 and "not queued or running" in r.stdout
    finally:  # never leave a slow prompt of ours on a shared server
        ws.close()
        left = [p for p in (running, pending) if p in sum(places(url), [])]
        if left:
            requests.post(url + "/queue", json={"delete": left}, timeout=60)
            requests.post(url + "/interrupt", json={"prompt_id": running}, timeout=60)

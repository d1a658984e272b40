"""queue.py against a real ComfyUI ($COMFYUI_URL): list, cancel, interrupt, free.

Only our own prompts are touched: cancels and interrupts always name our prompt ids, because
someone else may be using the same server.
"""

import json
import time
import uuid

import pytest
import requests

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

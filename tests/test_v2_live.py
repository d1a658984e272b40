"""Comfy API v2 live: comfy-api-proxy in front of the real ComfyUI at $COMFYUI_URL.

The proxy comes from $COMFY_API_PROXY (its executable), else `comfy-api-proxy` on PATH; it needs
Python >= 3.10 and a venv of its own (`pip install comfy-api-proxy==0.1.6`). Skipped without it.
"""

import json
import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest
import requests

from conftest import script
from test_queue_live import history_status, wait_until_running

pytestmark = pytest.mark.live

SOLID = {"1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}},
         "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "v2live"}}}


def slow_graph(live_url):
    """A sampler with many steps on the random SD1.5 checkpoint: an interrupt lands at the next step
    (a single long node such as a big blur only ends when the node does)."""
    ckpts = requests.get(live_url + "/models/checkpoints", timeout=30).json()
    ckpt = next((c for c in ckpts if "sd15" in c.lower()), None) or pytest.skip("no SD1.5 checkpoint on the server")
    return {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
            "2": {"class_type": "CLIPTextEncode", "inputs": {"text": f"a fox {uuid.uuid4()}", "clip": ["1", 1]}},
            "3": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
            "4": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "positive": ["2", 0], "negative": ["2", 0],
                                                       "latent_image": ["3", 0], "seed": uuid.uuid4().int % 2**32,
                                                       "steps": 400, "cfg": 7.0, "sampler_name": "euler",
                                                       "scheduler": "normal", "denoise": 1.0}},
            "5": {"class_type": "VAEDecode", "inputs": {"samples": ["4", 0], "vae": ["1", 2]}},
            "6": {"class_type": "PreviewImage", "inputs": {"images": ["5", 0]}}}


@pytest.fixture
def proxy(live_url, tmp_path):
    exe = os.environ.get("COMFY_API_PROXY") or shutil.which("comfy-api-proxy")
    if not exe:
        pytest.skip("no comfy-api-proxy: set COMFY_API_PROXY to its executable")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([exe, "run", "--comfyui", live_url, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(url + "/api/v2/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def server_version(live_url):
    v = requests.get(live_url + "/system_stats", timeout=10).json()["system"]["comfyui_version"]
    return tuple(int(x) for x in v.split(".")[:3])


def test_live_v2_run_saves_what_the_content_link_serves(proxy, pack_env, tmp_path):
    wf = json.loads(json.dumps(SOLID))
    wf["1"]["inputs"]["color"] = uuid.uuid4().int % 0xFFFFFF
    (tmp_path / "wf.json").write_text(json.dumps(wf))
    r = script("run", tmp_path / "wf.json", "--url", proxy, "--out", tmp_path / "out", "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    job = requests.get(f"{proxy}/api/v2/jobs/{rec['prompt_id']}", timeout=30).json()
    served = requests.get(job["outputs"][0]["url"], timeout=30).content
    with open(rec["outputs"][0]["path"], "rb") as fh:
        assert fh.read() == served and served[:8] == b"\x89PNG\r\n\x1a\n"


def test_live_v2_status(proxy, live_url, pack_env):
    info = json.loads(script("status", "--url", proxy, "--json", env=pack_env).stdout)
    assert info["online"] is True and info["api"] == "v2" and info["upstream"] == live_url


def test_live_v2_cancel_stops_or_says_it_did_not(proxy, live_url, pack_env, tmp_path):
    (tmp_path / "slow.json").write_text(json.dumps(slow_graph(live_url)))
    r = script("run", tmp_path / "slow.json", "--url", proxy, "--no-wait", "--json", env=pack_env)
    job_id = json.loads(r.stdout)["prompt_id"]
    wait_until_running(live_url, job_id, seconds=300)
    c = script("queue", "cancel", job_id, env=pack_env, timeout=120)
    if server_version(live_url) >= (0, 26, 0):  # ComfyUI has /api/jobs/{id}/cancel: the proxy's cancel lands
        assert c.returncode == 0, c.stderr
        assert "execution_interrupted" in history_status(live_url, job_id)
    else:  # the proxy's cancel reaches nothing: the pack must not claim it stopped
        assert c.returncode == 1 and "not stopped" in c.stderr and f"--url {live_url}" in c.stderr
        # stop it the other way, our own job only (it ends at its next node)
        requests.post(live_url + "/interrupt", json={"prompt_id": job_id}, timeout=30)


def test_live_v2_generate_gives_a_png(proxy, live_url, pack_env, tmp_path):
    # v2 lists no templates or models: generate chooses from a snapshot of the ComfyUI behind it
    assert script("inventory", "--url", live_url, env=pack_env, timeout=300).returncode == 0
    r = script("generate", "a red fox", "--size", "64x64", "--steps", "2", "--url", proxy, "--out",
               tmp_path / "out", "--json", env=pack_env, timeout=1200)
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    with open(rec["outputs"][0]["path"], "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"

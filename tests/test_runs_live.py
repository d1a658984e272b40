"""run.py and queue.py against a real ComfyUI ($COMFYUI_URL), with model-free prompts only.

Every prompt here is our own; interrupts name our prompt id, so nobody else's work is touched.
The corrupt-checkpoint and upscale tests put a file of their own into the server's install
(COMFYUI_HOME, or COMFYUI_HOMES paired with COMFYUI_URLS) for their duration and remove it after:
garbage bytes named as a checkpoint, and a few-kB upscaler (support.model_files.tiny_upscaler).
"""

import hashlib
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from conftest import ROOT, script
from support.model_files import placed_in, tiny_upscaler

pytestmark = pytest.mark.live

SOLID = ROOT / "projects" / "examples" / "workflows" / "solid-color.json"


def unique_solid(tmp_path, **inputs):
    """The example workflow with a colour nobody else used, so the server cannot answer from cache."""
    wf = json.loads(SOLID.read_text())
    wf["1"]["inputs"]["color"] = uuid.uuid4().int % 0xFFFFFF
    wf["1"]["inputs"].update(inputs)
    wf["2"]["inputs"]["filename_prefix"] = "comfyui-skills-test/solid"
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(wf))
    return path


def slow(tmp_path):
    wf = {"1": {"class_type": "EmptyImage", "inputs": {"width": 2048, "height": 2048, "batch_size": 2,
                                                       "color": uuid.uuid4().int % 0xFFFFFF}},
          "2": {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": 31, "sigma": 10.0}},
          "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "comfyui-skills-test/slow"}}}
    path = tmp_path / "slow.json"
    path.write_text(json.dumps(wf))
    return path


def view(url, o):
    return requests.get(url + "/view", params={"filename": o["filename"], "subfolder": o["subfolder"],
                                               "type": o["type"]}, timeout=30).content


def test_live_png_lands_byte_identical_to_view(live_url, pack_env, tmp_path):
    r = script("run", unique_solid(tmp_path), "--url", live_url, "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    [png] = out["outputs"]
    assert Path(png["path"]).read_bytes() == view(live_url, png)
    # which path saw the end first is a race when the server stalls after a prompt (its gc)
    assert out["noticed_via"] in ("websocket", "polling")


def test_live_polling_path(live_url, pack_env, tmp_path):
    r = script("run", unique_solid(tmp_path), "--url", live_url, "--json", "--poll", env=pack_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["noticed_via"] == "polling" and Path(out["outputs"][0]["path"]).is_file()


def test_live_no_wait_then_queue_wait(live_url, pack_env, tmp_path):
    r = script("run", unique_solid(tmp_path), "--url", live_url, "--no-wait", env=pack_env)
    assert r.returncode == 0, r.stderr
    pid = r.stdout.strip()
    r = script("queue", "wait", pid, "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["prompt_id"] == pid and out["status"] == "success"
    assert Path(out["outputs"][0]["path"]).read_bytes() == view(live_url, out["outputs"][0])


def test_live_sweep_of_20_gives_20_distinct_outputs(live_url, pack_env, tmp_path):
    colors = ",".join(str(uuid.uuid4().int % 0xFFFFFF) for _ in range(20))
    r = script("run", unique_solid(tmp_path, width=16, height=16), "--url", live_url, "--json",
               "--sweep", f"1.color={colors}", timeout=300, env=pack_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["counts"] == {"success": 20}
    paths = [run["outputs"][0]["path"] for run in out["runs"]]
    assert len(set(paths)) == 20
    assert len({hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths}) == 20


def test_live_run_interrupted_from_another_process(live_url, pack_env, tmp_path):
    p = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "run.py"), str(slow(tmp_path)),
                          "--url", live_url, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=pack_env)
    runs_dir = Path(pack_env["COMFYUI_SKILLS_STATE"]) / "runs"
    pid = None
    deadline = time.monotonic() + 60
    while pid is None and time.monotonic() < deadline:
        notes = list(runs_dir.glob("*.json")) if runs_dir.is_dir() else []
        q = requests.get(live_url + "/queue", timeout=10).json()
        running = {x[1] for x in q["queue_running"]}
        pid = next((n.stem for n in notes if n.stem in running), None)
        time.sleep(0.05)
    assert pid, "our prompt never started"
    r = script("queue", "interrupt", pid, "--url", live_url, env=pack_env)  # only our prompt
    assert r.returncode == 0, r.stderr
    out, err = p.communicate(timeout=120)
    assert p.returncode == 1, err
    assert json.loads(out)["status"] == "interrupted" and "was interrupted" in err


def test_live_corrupt_checkpoint_reports_the_loader_node(live_url, comfy_home, pack_env, tmp_path):
    with placed_in(comfy_home, "checkpoints", "comfyui-skills-test-corrupt.safetensors",
                   lambda p: p.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not a header}" * 40)) as corrupt:
        assert corrupt in requests.get(live_url + "/models/checkpoints", timeout=10).json()
        corrupt_checkpoint_run(live_url, corrupt, pack_env, tmp_path)


def corrupt_checkpoint_run(live_url, corrupt, pack_env, tmp_path):
    wf = {"4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": corrupt},
                "_meta": {"title": "Load Checkpoint"}},
          "9": {"class_type": "PreviewAny", "inputs": {"source": ["4", 0]}}}
    path = tmp_path / "ckpt.json"
    path.write_text(json.dumps(wf))
    r = script("run", path, "--url", live_url, "--json", env=pack_env)
    assert r.returncode == 1
    e = json.loads(r.stdout)["error"]
    assert (e["node_id"], e["class_type"]) == ("4", "CheckpointLoaderSimple")
    assert e["exception_type"] and "diagnose.py" in e["diagnose"]


def test_live_steps_of_an_upscale_show_on_stderr(live_url, comfy_home, pack_env, tmp_path):
    with placed_in(comfy_home, "upscale_models", "comfyui-skills-test-4x.safetensors", tiny_upscaler) as name:
        assert name in requests.get(live_url + "/models/upscale_models", timeout=10).json()
        upscale_run(live_url, name, pack_env, tmp_path)


def upscale_run(live_url, model, pack_env, tmp_path):
    wf = {"1": {"class_type": "EmptyImage", "inputs": {"width": 1024, "height": 640, "batch_size": 1,
                                                       "color": uuid.uuid4().int % 0xFFFFFF}},
          "2": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": model}},
          "3": {"class_type": "ImageUpscaleWithModel", "inputs": {"upscale_model": ["2", 0], "image": ["1", 0]}},
          "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "comfyui-skills-test/up"}}}
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(wf))
    r = script("run", path, "--url", live_url, "--json", "--out", tmp_path / "out", env=pack_env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "#3 ImageUpscaleWithModel  step 6/6" in r.stderr
    assert [p for p in (tmp_path / "out").rglob("*.png") if p.read_bytes().startswith(b"\x89PNG")]

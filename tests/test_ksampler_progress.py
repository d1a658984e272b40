"""KSampler's step progress, as a real ComfyUI 0.3.64 sent it (runs/ksampler_progress.json).

The recording is a 64x64, 2-step run of projects/examples/workflows/text-to-image.json on a
random-weight SD1.5 checkpoint (tests/recordings/runs/record_ksampler.py made it).
"""

import json
import re
import uuid

import requests
import websocket

from conftest import ROOT, script
from support.double import RECORDINGS

RECORDED = json.loads((RECORDINGS / "runs" / "ksampler_progress.json").read_text())
EXAMPLE = ROOT / "projects" / "examples" / "workflows" / "text-to-image.json"


def sampler_messages(messages, node):
    """What one node's run looked like: its executing, its bars (value, max, state), its steps."""
    out = []
    for m in messages:
        d = m.get("data") or {}
        if m.get("type") == "executing" and d.get("node") == node:
            out.append(("executing",))
        elif m.get("type") == "progress_state" and node in d.get("nodes", {}):
            bar = d["nodes"][node]
            out.append(("bar", bar["value"], bar["max"], bar["state"]))
        elif m.get("type") == "progress" and d.get("node") == node:
            out.append(("progress", d["value"], d["max"]))
    return out


def until_idle(ws, prompt_id):
    messages = []
    while True:
        m = json.loads(ws.recv())
        messages.append(m)
        if m["type"] == "executing" and m["data"]["node"] is None and m["data"]["prompt_id"] == prompt_id:
            return messages


def test_the_doubles_ksampler_sends_the_recorded_steps_in_the_recorded_order(comfy_double):
    prompt = RECORDED["posts"][0]["request"]["prompt"]
    [sampler] = [nid for nid, n in prompt.items() if n["class_type"] == "KSampler"]
    client_id = str(uuid.uuid4())
    ws = websocket.create_connection(comfy_double.url.replace("http", "ws", 1) + f"/ws?clientId={client_id}",
                                     timeout=10)
    pid = requests.post(comfy_double.url + "/prompt", json={"prompt": prompt, "client_id": client_id},
                        timeout=10).json()["prompt_id"]
    got = sampler_messages(until_idle(ws, pid), sampler)
    want = sampler_messages(RECORDED["ws"], sampler)
    assert ("progress", 2, 2) in want  # the recording has the steps this test is about
    assert got[:len(want) - 1] == want[:-1]  # the last bar is sent as the run ends, after later nodes
    assert got[-1] == want[-1]


def test_the_sampler_reports_as_many_steps_as_the_workflow_asks(comfy_double):
    prompt = json.loads(json.dumps(RECORDED["posts"][0]["request"]["prompt"]))
    [sampler] = [nid for nid, n in prompt.items() if n["class_type"] == "KSampler"]
    prompt[sampler]["inputs"]["steps"] = 5
    client_id = str(uuid.uuid4())
    ws = websocket.create_connection(comfy_double.url.replace("http", "ws", 1) + f"/ws?clientId={client_id}",
                                     timeout=10)
    pid = requests.post(comfy_double.url + "/prompt", json={"prompt": prompt, "client_id": client_id},
                        timeout=10).json()["prompt_id"]
    steps = [m for m in sampler_messages(until_idle(ws, pid), sampler) if m[0] == "progress"]
    assert steps == [("progress", v, 5) for v in range(1, 6)]


def test_running_the_text_to_image_example_shows_each_sampler_step(comfy_double, pack_env):
    ckpt = next(n["inputs"]["ckpt_name"] for n in json.loads(EXAMPLE.read_text()).values()
                if n["class_type"] == "CheckpointLoaderSimple")
    comfy_double.add_model("checkpoints", ckpt, "CheckpointLoaderSimple.ckpt_name")
    r = script("run", EXAMPLE, "--steps", "2", "--size", "64x64", "--url", comfy_double.url, "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    steps = [line for line in r.stderr.splitlines() if re.search(r"step \d+/\d+", line)]
    assert [re.search(r"step \d+/\d+", line).group() for line in steps] == ["step 1/2", "step 2/2"]
    assert all("#3 KSampler" in line for line in steps)
    assert json.loads(r.stdout)["status"] == "success"

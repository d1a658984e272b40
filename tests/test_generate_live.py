"""generate.py on a real ComfyUI: a sentence ends as a PNG on disk.

Needs a server whose checkpoints include an SD1.5-shaped file (../shared/tools/make_random_sd15.py
writes one with random weights: a 64x64, 2-step run takes seconds on CPU once loaded).
"""

import json
from pathlib import Path

import pytest
import requests

from conftest import script

pytestmark = pytest.mark.live


def sd15_checkpoint(url):
    names = requests.get(f"{url}/models/checkpoints", timeout=10).json()
    return next((n for n in names if "sd15" in n.lower() or "v1-5" in n.lower()), None)


def test_a_red_fox_on_a_random_sd15_checkpoint_ends_as_a_png(live_url, pack_env, tmp_path):
    ckpt = sd15_checkpoint(live_url)
    if not ckpt:
        pytest.skip("the server has no SD1.5 checkpoint")
    r = script("generate", "a red fox", "--size", "64x64", "--steps", "2", "--url", live_url, "--out",
               tmp_path / "o", "--json", env=pack_env, timeout=600)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    [png] = out["outputs"]
    assert Path(png["path"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # any SD1.5 checkpoint will do (a fine-tune's name may say nothing: its header does); the one
    # chosen is named, is the server's own, and is what ran
    plan = json.loads(script("generate", "a red fox", "--dry-run", "--url", live_url, "--json", env=pack_env).stdout)
    [chosen] = [m for m in plan["models"] if m["folder"] == "checkpoints"]
    listed = requests.get(f"{live_url}/models/checkpoints", timeout=10).json()
    assert chosen["family"] == "sd15" and chosen["name"] in listed
    assert f"model {chosen['name']}" in r.stderr and "step 2/2" in r.stderr  # the choice, the sampler's real steps
    entry = requests.get(f"{live_url}/history/{out['prompt_id']}", timeout=10).json()[out["prompt_id"]]
    prompt = entry["prompt"][2]
    assert any(n["inputs"].get("text") == "a red fox" for n in prompt.values())
    assert any(n["inputs"].get("ckpt_name") == chosen["name"] for n in prompt.values())

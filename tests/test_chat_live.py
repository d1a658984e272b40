"""The chat loop on a real ComfyUI: eight requests a chat user makes, one pack command each.

Runs once per live server (COMFYUI_URL, or each of COMFYUI_URLS) with an SD1.5 checkpoint and an SD1.5 LoRA in
models/loras ($CHAT_LORA, default detailTweaker_v2.safetensors, as on the test servers); pictures
are 64x64 with 2 steps so a CPU server finishes them. What the server ran is read back from its
own /history; what landed on disk is read with Pillow.
"""

import json
import os
import shutil
from pathlib import Path

import pytest
import requests

from conftest import script

pytestmark = pytest.mark.live
LORA = os.environ.get("CHAT_LORA", "detailTweaker_v2.safetensors")
SMALL = ("--size", "64x64", "--steps", "2")


@pytest.fixture(scope="module")
def env(live_url, tmp_path_factory):
    loras = requests.get(f"{live_url}/models/loras", timeout=10).json()
    if LORA not in loras:
        pytest.skip(f"the server has no LoRA {LORA}")
    tmp = tmp_path_factory.mktemp("chat")
    out = dict(os.environ, COMFYUI_SKILLS_STATE=str(tmp / "state"), COMFYUI_SKILLS_PROJECTS=str(tmp / "projects"),
               COMFYUI_URL=live_url)
    out["TMP"] = str(tmp)
    return out


def pack(env, name, *args, timeout=900):
    r = script(name, *args, "--json", env=env, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def sent(env, prompt_id):
    """The graph the server ran, from its /history."""
    entry = requests.get(f"{env['COMFYUI_URL']}/history/{prompt_id}", timeout=10).json()[prompt_id]
    return entry["prompt"][2]


def of_class(graph, cls):
    return [n for n in graph.values() if n["class_type"] == cls]


def input_bytes(env, name):
    sub, _, base = name.rpartition("/")
    return requests.get(f"{env['COMFYUI_URL']}/view", params={"filename": base, "subfolder": sub, "type": "input"}, timeout=10).content


def test_eight_requests_each_one_command(env):
    from PIL import Image, ImageChops

    # 1. is it there
    assert pack(env, "status")["online"] is True
    # 2. one picture
    one = pack(env, "generate", "a lighthouse at dawn", *SMALL)
    assert one["status"] == "success" and isinstance(one["settings"]["seed"], int)
    # 3. four variations, shown together
    four = pack(env, "generate", "a lighthouse at dawn", *SMALL, "--count", "4")
    files = [o["path"] for r in four.get("runs", [four]) for o in r["outputs"]]
    assert len(files) == 4 and Path(four["contact_sheet"]).is_file()
    # 4. the third one as a watercolour, keeping its composition (size and seed of the third)
    water = pack(env, "generate", "a watercolour painting of a lighthouse", "--image", "last:3", "--denoise", "0.5",
                 "--steps", "2")
    loaded = of_class(sent(env, water["prompt_id"]), "LoadImage")[0]["inputs"]["image"]
    assert input_bytes(env, loaded) == Path(files[2]).read_bytes()
    assert of_class(sent(env, water["prompt_id"]), "KSampler")[0]["inputs"]["denoise"] == 0.5
    with Image.open(water["outputs"][0]["path"]) as im, Image.open(files[2]) as third:
        assert im.size == third.size
    # 5. a LoRA at 0.7
    styled = pack(env, "generate", "a lighthouse at dawn", *SMALL, "--lora", f"{LORA.rsplit('.', 1)[0]}:0.7")
    (loader,) = of_class(sent(env, styled["prompt_id"]), "LoraLoader")
    assert (loader["inputs"]["lora_name"], loader["inputs"]["strength_model"]) == (LORA, 0.7)
    # 6. repaint only the top third of the last picture; the rest stays as it was, pixel for pixel
    before = styled["outputs"][0]["path"]
    fixed = pack(env, "generate", "a stormy sky", "--image", "last", "--region", "top-third", "--steps", "2")
    graph = sent(env, fixed["prompt_id"])
    (mask_node,) = of_class(graph, "LoadImageMask")
    assert of_class(graph, "SetLatentNoiseMask") and of_class(graph, "ImageCompositeMasked")
    with Image.open(fixed["filled"]["mask"]) as mask:
        assert input_bytes(env, mask_node["inputs"]["image"]) == Path(fixed["filled"]["mask"]).read_bytes()
        with Image.open(before) as a, Image.open(fixed["outputs"][0]["path"]) as b:
            a, b = a.convert("RGB"), b.convert("RGB")
            keep = Image.eval(mask.convert("L"), lambda v: 255 - v)
            diff = ImageChops.difference(a, b)
            kept = Image.composite(diff, Image.new("RGB", a.size), keep)
            assert kept.getbbox() is None  # no pixel outside the mask changed
            assert mask.convert("L").getbbox() == (0, 0, a.width, round(a.height / 3))
    # 7. a PNG someone shared, run with what is installed here
    shared = Path(env["TMP"]) / "shared.png"
    shutil.copy(files[0], shared)
    again = pack(env, "run", str(shared), "--seed", "7")
    assert again["status"] == "success" and again["settings"]["seed"] == 7
    # 8. what was made today
    made = pack(env, "gallery", "--since", "today")
    ids = [o["prompt_id"] for o in made["outputs"]]
    # the shared PNG holds the workflow of the four variations: it makes four again
    assert len(again["outputs"]) == 4 and Path(again["contact_sheet"]).is_file()
    assert made["count"] == 1 + 4 + 1 + 1 + 1 + 4
    assert ids[0] == again["prompt_id"] and fixed["prompt_id"] in ids
    lora_entry = next(o for o in made["outputs"] if o["prompt_id"] == styled["prompt_id"])
    assert lora_entry["settings"]["loras"][0]["strength"] == 0.7

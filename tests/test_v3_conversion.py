"""convert.py on newer servers' dynamic inputs, against what the real frontend 1.58.1 does with them.

tests/fixtures/v3/pairs/ holds graphs frontend 1.58.1 built, saved and exported itself
(tests/support/record_v3.py; the server served newer servers' node schemas through
tests/fixtures/v3/shape_pack.py). They show how it keeps these widgets: a dynamic combo's chosen
option's widgets right after the combo in widgets_values, named `combo.input` in the prompt
(src/core/graph/widgets/dynamicWidgets.ts in that frontend); autogrow slots `group.imageN` as
plain inputs.
"""
import json
import os
import sys
from pathlib import Path

import pytest
import requests

from comfyui_skills.conversion import api_to_ui, ui_to_api

PAIRS = Path(__file__).parent / "fixtures" / "v3" / "pairs"
OI = json.loads((PAIRS / "object_info.json").read_text())["object_info"]
RECORDED = sorted(p for p in PAIRS.glob("*.json") if p.name != "object_info.json")
DYNAMIC = {"ResizeImageMaskNode", "BatchImagesNode", "ComfySwitchNode", "DCTestNode"}


def pair(path):
    return json.loads(path.read_text())


def inputs_of(prompt):
    return {k: (v["class_type"], v["inputs"]) for k, v in prompt.items()}


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
def test_the_saved_workflow_converts_to_what_the_frontend_exports(path):
    recorded = pair(path)
    assert ui_to_api(recorded["workflow"], OI, frontend_version="1.58.1") == recorded["prompt"]


def test_the_chosen_options_values_follow_the_combo_in_widgets_values():
    recorded = pair(PAIRS / "resize_changed_choice.json")
    [node] = [n for n in recorded["workflow"]["nodes"] if n["type"] == "ResizeImageMaskNode"]
    assert node["widgets_values"] == ["scale longer dimension", 200, "area"]  # as the frontend saved it
    got = ui_to_api(recorded["workflow"], OI, frontend_version="1.58.1")
    assert got["2"]["inputs"]["resize_type.longer_size"] == 200 and got["2"]["inputs"]["scale_method"] == "area"
    assert "resize_type.width" not in got["2"]["inputs"]  # the option chosen before is gone


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
def test_an_api_prompt_becomes_the_editor_file_the_frontend_saves(path):
    recorded = pair(path)
    ui = api_to_ui(recorded["prompt"], OI)
    ours = [n.get("widgets_values") or [] for n in ui["nodes"] if n["type"] in DYNAMIC]
    theirs = [n.get("widgets_values") or [] for n in recorded["workflow"]["nodes"] if n["type"] in DYNAMIC]
    assert sorted(map(json.dumps, ours)) == sorted(map(json.dumps, theirs))
    assert inputs_of(ui_to_api(ui, OI, frontend_version="1.58.1")) == inputs_of(recorded["prompt"])


def test_linked_option_inputs_and_autogrow_slots_become_sockets():
    ui = api_to_ui(pair(PAIRS / "resize_dimensions_and_match.json")["prompt"], OI)
    match = next(n for n in ui["nodes"] if n["type"] == "ResizeImageMaskNode" and n["widgets_values"][0] == "match size")
    assert [s["name"] for s in match["inputs"] if s["link"] is not None] == ["input", "resize_type.match"]
    batch = next(n for n in api_to_ui(pair(PAIRS / "batch_images.json")["prompt"], OI)["nodes"]
                 if n["type"] == "BatchImagesNode")
    assert [s["name"] for s in batch["inputs"]] == ["images.image0", "images.image1", "images.image2"]


# -- live: the real frontend opens our editor files ------------------------------------------

def _live_server(url):
    """`url` when it serves the shape pack's schemas (DCTestNode is the pack's alone; a newer
    ComfyUI's own ResizeImageMaskNode, with the older frontend it pins, is not what was recorded)."""
    try:
        served = {c: requests.get(f"{url.rstrip('/')}/object_info/{c}", timeout=10).json().get(c) for c in DYNAMIC}
    except (requests.RequestException, ValueError):
        return None
    return url if all(served[c] and served[c]["input"] == OI[c]["input"] for c in DYNAMIC) else None


@pytest.mark.live
def test_the_real_frontend_exports_our_editor_files_as_the_prompts_they_came_from(live_url):
    sys.path.insert(0, os.path.dirname(__file__))
    from support import browser
    url = _live_server(live_url)
    if url is None or browser.missing():
        pytest.skip("needs a live server serving tests/fixtures/v3/shape_pack.py, Chromium and Playwright")
    with browser.Frontend(url) as page:
        for path in RECORDED:
            recorded = pair(path)
            page.load(api_to_ui(recorded["prompt"], OI))
            assert inputs_of(page.prompt()) == inputs_of(recorded["prompt"]), path.stem

"""`validate.py --url` says what the real server at COMFYUI_URL says to the same prompts, whatever
its version: each case is POSTed to /prompt and checked by the pack, and the verdicts, the nodes
named and their error types must agree. The cases are the kinds whose rules changed between
releases (a V3 COMBO value outside its list, an unknown class, a dependency cycle, an input a
newer release added) beside ones that never changed. Cheap nodes only: an accepted case is a
64x64 image, taken off the queue at once.
"""
import json
import uuid

import pytest
import requests

from conftest import script

pytestmark = pytest.mark.live


def filled(info, class_type, **given):
    """The node with every required widget the server lists for it at its default (so an input a
    newer release added is set there), and `given` on top."""
    inputs = {}
    for name, spec in ((info.get(class_type) or {}).get("input", {}).get("required") or {}).items():
        kind, extra = spec[0], (spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {})
        if isinstance(kind, list) or kind == "COMBO":
            inputs[name] = extra.get("default", (kind if isinstance(kind, list) else extra.get("options") or [""])[0])
        elif kind in ("INT", "FLOAT", "STRING", "BOOLEAN"):
            inputs[name] = extra.get("default", extra.get("min", {"STRING": "", "BOOLEAN": False}.get(kind, 0)))
    inputs.update(given)
    return {"class_type": class_type, "inputs": inputs}


def cases(info):
    image = {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}}
    preview = {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}
    base = {"1": image, "3": preview}
    total = filled(info, "ImageScaleToTotalPixels", image=["1", 0], megapixels=0.01)
    old_total = {"class_type": "ImageScaleToTotalPixels",  # as 0.3.64 knew it: no resolution_steps
                 "inputs": {"image": ["1", 0], "upscale_method": "nearest-exact", "megapixels": 0.01}}
    scale = filled(info, "ImageScale", image=["1", 0], width=32, height=32)
    invert = {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}}
    return {
        "valid": {**base, "2": invert},
        "v3_combo_not_in_list": {**base, "2": dict(total, inputs=dict(total["inputs"], upscale_method="nope"))},
        "classic_combo_not_in_list": {**base, "2": dict(scale, inputs=dict(scale["inputs"], upscale_method="nope"))},
        "missing_required_input": {"1": {"class_type": "EmptyImage", "inputs": {"height": 64, "batch_size": 1}},
                                   "3": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}},
        "unknown_class": {**base, "2": invert, "9": {"class_type": "NoSuchNodeForValidation", "inputs": {}}},
        "one_output_broken": {**base, "2": invert, "4": dict(scale, inputs=dict(scale["inputs"], crop="nope")),
                              "5": {"class_type": "PreviewImage", "inputs": {"images": ["4", 0]}}},
        "cycle": {"1": image, "2": {"class_type": "ImageInvert", "inputs": {"image": ["4", 0]}},
                  "4": {"class_type": "ImageInvert", "inputs": {"image": ["2", 0]}},
                  "3": preview},
        "cycle_beside_a_good_output": {"1": image, "2": {"class_type": "ImageInvert", "inputs": {"image": ["4", 0]}},
                                       "4": {"class_type": "ImageInvert", "inputs": {"image": ["2", 0]}},
                                       "3": preview, "5": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}},
        "image_scale_to_total_pixels_as_0_3_64": {**base, "2": old_total},
        "image_scale_to_total_pixels_filled": {**base, "2": total},
    }


def server_answer(url, wf):
    """(verdict, {node: {error types}} or None when the server names none, the unbuildable node and
    its error type or None), from POST /prompt; an accepted prompt is taken off the queue."""
    r = requests.post(f"{url}/prompt", json={"prompt": wf, "client_id": "validation-live-test"}, timeout=60)
    body = r.json()
    if r.status_code == 200 and body.get("prompt_id"):
        requests.post(f"{url}/queue", json={"delete": [body["prompt_id"]]}, timeout=30)
    assert r.status_code in (200, 400), r.text
    nodes = {nid: {e["type"] for e in v["errors"]} for nid, v in (body.get("node_errors") or {}).items()}
    err = body.get("error") if isinstance(body.get("error"), dict) else {}
    unbuildable = None
    if r.status_code == 400 and "#" in (err.get("details") or ""):
        unbuildable = (err["details"].split("#", 1)[1].rstrip("'"), err["type"])
    verdict = "rejected" if r.status_code == 400 else "partial" if nodes else "ok"
    return verdict, nodes or None, unbuildable


def test_validate_url_agrees_with_the_server(live_url, tmp_path):
    info = requests.get(f"{live_url}/object_info", timeout=60).json()
    files = {}
    for name, wf in cases(info).items():
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(wf))
    r = script("validate", *files.values(), "--url", live_url, "--json", timeout=120)
    ours = {json.loads(line)["file"]: json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")}
    assert len(ours) == len(files), r.stderr
    disagree = []
    for name, path in files.items():
        verdict, nodes, unbuildable = server_answer(live_url, json.loads(path.read_text()))
        mine = ours[str(path)]
        named = {}
        for e in mine["errors"]:
            named.setdefault(e["node_id"], set()).add(e["type"])
        if mine["verdict"] != verdict:
            disagree.append(f"{name}: verdict {mine['verdict']}, the server's {verdict}")
        if unbuildable and unbuildable[1] not in named.get(unbuildable[0], set()):
            disagree.append(f"{name}: the server refused node {unbuildable[0]} ({unbuildable[1]}); we said {named}")
        elif nodes is not None and named != nodes:
            disagree.append(f"{name}: errors {named}, the server's {nodes}")
    assert not disagree, f"{len(files) - len({d.split(':')[0] for d in disagree})}/{len(files)} agree; " \
                         + "; ".join(disagree)

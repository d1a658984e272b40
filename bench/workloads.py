"""The workflows the benchmark runs, and the inventory it builds from a raw /object_info dump.

Every workflow uses core nodes only (present in the 2,068-node dump and in a bare ComfyUI) and no
model, so the live rows run on any server. Colours vary per call: ComfyUI caches node results by
their inputs, and a prompt served from cache would measure nothing.
"""

import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from comfyui_skills import inventory  # noqa: E402


def fresh_color():
    return random.randint(0, 0xFFFFFF)


def small(color=0, size=64, prefix="bench/e2e"):
    """EmptyImage -> SaveImage: the smallest workflow that produces a file."""
    return {
        "1": {"class_type": "EmptyImage", "inputs": {"width": size, "height": size, "batch_size": 1, "color": color}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": prefix}},
    }


def wide(nodes=1000):
    """`nodes` nodes as side-by-side 4-node chains (EmptyImage, ImageInvert, ImageScale, SaveImage).

    Wide, not deep: ComfyUI refuses a single chain deeper than ~980 nodes (recursion), and real
    large workflows are many short branches, not one long one.
    """
    if nodes % 4:
        raise ValueError("nodes must be a multiple of 4")
    wf = {}
    for chain in range(nodes // 4):
        a, b, c, d = (str(chain * 4 + k + 1) for k in range(4))
        wf[a] = {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": chain}}
        wf[b] = {"class_type": "ImageInvert", "inputs": {"image": [a, 0]}}
        wf[c] = {"class_type": "ImageScale", "inputs": {"image": [b, 0], "upscale_method": "bilinear",
                                                        "width": 128, "height": 128, "crop": "disabled"}}
        wf[d] = {"class_type": "SaveImage", "inputs": {"images": [c, 0], "filename_prefix": f"bench/wide{chain}"}}
    return wf


def sweep_base(size=1024, blur=15):
    """One sweep prompt: enough server work (a blur of a 1024x1024 image, ~0.3 s on a CPU) that the
    client's share is measurable against it, as with a real sampler; model-free all the same."""
    return {
        "1": {"class_type": "EmptyImage", "inputs": {"width": size, "height": size, "batch_size": 1, "color": 0}},
        "2": {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": blur, "sigma": 5.0}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "bench/sweep"}},
    }


def colored(workflow, color):
    workflow["1"]["inputs"]["color"] = color
    return workflow


def write(path, workflow):
    Path(path).write_text(json.dumps(workflow), encoding="utf-8")
    return Path(path)


def build_inventory(dump_path, out_path):
    """An inventory file (state/inventory.json's format) holding the dump's node schema, as
    `inventory.py` would write after a snapshot of that install; checked by loading it back."""
    object_info = inventory.read_file(dump_path)
    record = inventory.new_record("snapshot", object_info, url="file://" + str(Path(dump_path).resolve()))
    Path(out_path).write_text(json.dumps(record, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    inventory.load(path=out_path)
    return Path(out_path)

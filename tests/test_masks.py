"""Masks: painted from a region or a box, checked against the image, and put into real template
graphs (recorded from ComfyUI 0.3.64) so only the mask is repainted and the rest is composited back."""

import gzip
import json
from pathlib import Path

import pytest
from PIL import Image

from comfyui_skills import masks
from comfyui_skills.errors import CheckFailed, InputError

REC = Path(__file__).parent / "recordings"
OBJECT_INFO = json.loads(gzip.decompress((REC / "object_info.json.gz").read_bytes()))
IMG2IMG = json.loads((REC / "generate" / "sd15-img2img.json").read_text())["workflow"]
TXT2IMG = json.loads((REC / "generate" / "sd15.json").read_text())["workflow"]


def picture(tmp_path, size=(90, 60), name="in.png"):
    path = tmp_path / name
    Image.new("RGB", size, (10, 200, 30)).save(path)
    return path


@pytest.mark.parametrize("region,box", [("top-third", (0, 0, 90, 20)), ("bottom", (0, 30, 90, 30)),
                                         ("right-half", (45, 0, 45, 60)), ("left-third", (0, 0, 30, 60))])
def test_regions_are_the_named_part_of_the_image(region, box):
    assert masks.region_box(region, (90, 60)) == box


def test_a_painted_mask_is_white_where_repainted_and_black_where_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("COMFYUI_SKILLS_PROJECTS", str(tmp_path / "projects"))
    path = masks.mask_for(picture(tmp_path), box="10%,0,20,50%")
    with Image.open(path) as m:
        assert m.size == (90, 60)
        assert m.getpixel((9, 0))[0] == 255 and m.getpixel((28, 29))[0] == 255
        assert m.getpixel((29, 0))[0] == 0 and m.getpixel((9, 30))[0] == 0 and m.getpixel((8, 0))[0] == 0


def test_odd_masks_regions_and_boxes_get_one_line(tmp_path):
    img = picture(tmp_path)
    other = picture(tmp_path, (64, 64), "mask.png")
    with pytest.raises(InputError, match=r"64x64, but the image .* is 90x60; a mask must be the image's size"):
        masks.mask_for(img, mask=other)
    with pytest.raises(InputError, match="no such region") as e:
        masks.mask_for(img, region="middle")
    assert "top-third" in e.value.hint
    with pytest.raises(InputError, match="outside the 90x60 image"):
        masks.mask_for(img, box="100,0,5,5")
    with pytest.raises(InputError, match="give --image too"):
        masks.mask_for(None, region="top")


def test_an_image_to_image_graph_gets_a_noise_mask_and_is_composited_back():
    wf = json.loads(json.dumps(IMG2IMG))
    wf["10"]["inputs"]["image"] = "in.png"
    out, how = masks.insert(wf, OBJECT_INFO, "mask.png", "in.png")
    by_class = {n["class_type"]: (nid, n) for nid, n in out.items()}
    mask_id, mask = by_class["LoadImageMask"]
    assert mask["inputs"] == {"image": "mask.png", "channel": "red"}
    noise_id, noise = by_class["SetLatentNoiseMask"]
    assert noise["inputs"] == {"samples": ["12", 0], "mask": [mask_id, 0]}
    assert out["3"]["inputs"]["latent_image"] == [noise_id, 0]
    comp_id, comp = by_class["ImageCompositeMasked"]
    # the destination is what the encoder took: the input, after the template's rescale
    assert comp["inputs"]["destination"] == out["12"]["inputs"]["pixels"] and comp["inputs"]["source"] == ["8", 0]
    assert comp["inputs"]["mask"] == [mask_id, 0] and out["9"]["inputs"]["images"] == [comp_id, 0]
    assert "noise mask" in how


def test_the_packs_inpaint_recipe_takes_the_mask_and_is_composited_back_onto_the_input():
    from test_recipes import MAINS, built

    graph = built(next(m for m in MAINS if m.recipe_family == "sd15"), "inpaint")[0]
    out, how = masks.insert(graph, OBJECT_INFO, "mask.png", "example.png")
    by_class = {n["class_type"]: (nid, n) for nid, n in out.items()}
    mask_id, _ = by_class["LoadImageMask"]
    load_id, _ = by_class["LoadImage"]
    # the recipe's SetLatentNoiseMask took the image's alpha: it takes ours instead
    assert by_class["SetLatentNoiseMask"][1]["inputs"]["mask"] == [mask_id, 0] and "SetLatentNoiseMask" in how
    comp = by_class["ImageCompositeMasked"][1]["inputs"]
    assert comp["destination"] == [load_id, 0] and comp["mask"] == [mask_id, 0]


def test_a_graph_with_no_place_for_a_mask_is_refused_not_run_unmasked():
    wf = json.loads(json.dumps(TXT2IMG))
    with pytest.raises(CheckFailed, match="cannot inpaint with this workflow: it loads no input image"):
        masks.insert(wf, OBJECT_INFO, "mask.png", "in.png")
    wf["20"] = {"class_type": "LoadImage", "inputs": {"image": "in.png"}}
    with pytest.raises(CheckFailed, match="no sampler takes a latent encoded from the input image") as e:
        masks.insert(wf, OBJECT_INFO, "mask.png", "in.png")
    assert "--task image-to-image" in e.value.hint

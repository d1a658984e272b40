"""Slots of real workflows: official templates as the official frontend exported them to API format.

tests/fixtures/slots/ holds a few of them (from ../shared/conformance/convert/api, one from
templates-2026/api) and object_info.json, the classes they use out of ComfyUI 0.3.64's
/object_info; the conformance tests below run over both whole template sets.
"""

import glob
import gzip
import json
from pathlib import Path

import pytest

from comfyui_skills.errors import InputError
from comfyui_skills.slots import SLOT_ORDER, apply_slots, describe, find_slots

from conftest import CONFORMANCE

FIXTURES = Path(__file__).parent / "fixtures" / "slots"
OBJECT_INFO = json.loads((FIXTURES / "object_info.json").read_text())
# a real 0.3.64's whole schema, for classes the fixture's excerpt lacks
RECORDED_INFO = json.loads(gzip.decompress((Path(__file__).parent / "recordings" / "object_info.json.gz").read_bytes()))
SETS = [("convert/api", "object_info/comfyui-0.3.64-models.json"),
        ("templates-2026/api", "templates-2026/object_info-0.3.64-models-2026.json")]


def load(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def where(slot):
    return [(t.node, t.input) for t in slot.targets]


def test_sd15_default_has_every_image_slot():
    slots = find_slots(load("default"), OBJECT_INFO)
    assert where(slots["prompt"]) == [("6", "text")]
    assert slots["prompt"].value.startswith("beautiful scenery")
    assert slots["prompt"].targets[0].how == "KSampler#3.positive <- CLIPTextEncode#6.text"
    assert where(slots["negative"]) == [("7", "text")]
    assert slots["negative"].value == "text, watermark"
    assert where(slots["seed"]) == [("3", "seed")]
    assert (where(slots["width"]), where(slots["height"]), where(slots["batch"])) == (
        [("5", "width")], [("5", "height")], [("5", "batch_size")])
    for name in ("steps", "cfg", "denoise", "sampler_name", "scheduler"):
        assert where(slots[name]) == [("3", name)]
    assert where(slots["prefix"]) == [("9", "filename_prefix")]
    assert "length" not in slots and "EmptyLatentImage#5" in slots.absent["length"]
    assert "inputs" not in slots
    assert not slots.ambiguous()


def test_sdxl_base_and_refiner_write_both_stages_but_not_the_split_steps():
    slots = find_slots(load("sdxl_refiner_prompt_example"), OBJECT_INFO)
    assert slots.makers == ["10", "11"]
    # Two encoders with different texts, one per stage of one chain: the prompt goes to both.
    assert where(slots["prompt"]) == [("6", "text"), ("15", "text")]
    assert not slots["prompt"].ambiguous and "one sampling chain" in slots["prompt"].note
    assert where(slots["negative"]) == [("7", "text"), ("16", "text")]
    # The refiner adds no noise, so its noise_seed is not a seed.
    assert where(slots["seed"]) == [("10", "noise_seed")]
    assert where(slots["width"]) == [("5", "width")]
    assert "start_at_step/end_at_step" in slots["steps"].ambiguous
    assert where(slots["cfg"]) == [("10", "cfg"), ("11", "cfg")] and not slots["cfg"].ambiguous


def test_flux_multi_text_encoder_and_zeroed_negative():
    slots = find_slots(load("flux_dev_full_text_to_image"), OBJECT_INFO)
    assert where(slots["prompt"]) == [("41", "clip_l"), ("41", "t5xxl")]
    assert "negative" not in slots
    assert "ConditioningZeroOut#42" in slots.absent["negative"]


def test_flux_sampler_custom_advanced_through_guider_style_and_flux_guidance():
    slots = find_slots(load("flux_redux_model_example"), OBJECT_INFO)
    assert slots["prompt"].targets[0].how == (
        "SamplerCustomAdvanced#13.guider <- BasicGuider#22.conditioning <- StyleModelApply#41.conditioning"
        " <- FluxGuidance#26.conditioning <- CLIPTextEncode#6.text")
    assert "negative" not in slots
    assert where(slots["seed"]) == [("25", "noise_seed")]
    assert where(slots["steps"]) == [("17", "steps")]
    assert where(slots["scheduler"]) == [("17", "scheduler")]
    assert where(slots["sampler_name"]) == [("16", "sampler_name")]
    assert "cfg" not in slots
    # ModelSamplingFlux is told the image size: it follows the latent's width and height.
    assert where(slots["width"]) == [("27", "width"), ("30", "width")]
    assert where(slots["inputs"]) == [("40", "image")] and slots["inputs"].targets[0].kind == "image"


@pytest.mark.parametrize("name, prompt, negative, size", [
    ("sd3.5_simple_example", "16", "40", "53"),
    ("image_qwen_image", "6", "7", "58"),
])
def test_single_sampler_families(name, prompt, negative, size):
    slots = find_slots(load(name), OBJECT_INFO)
    assert where(slots["prompt"]) == [(prompt, "text")]
    assert where(slots["negative"]) == [(negative, "text")]
    assert where(slots["width"]) == [(size, "width")]
    assert not slots.ambiguous()


def test_wan22_high_and_low_noise_share_one_prompt_and_one_seed():
    slots = find_slots(load("video_wan2_2_14B_t2v"), OBJECT_INFO)
    assert slots.makers == ["78", "81"]
    assert where(slots["prompt"]) == [("89", "text")]
    assert where(slots["negative"]) == [("72", "text")]
    assert where(slots["seed"]) == [("81", "noise_seed")]
    assert where(slots["length"]) == [("74", "length")]
    assert "steps" in [s.name for s in slots.ambiguous()]


def test_wan22_image_to_video_passes_prompts_and_size_through_wan_image_to_video():
    slots = find_slots(load("video_wan2_2_14B_i2v"), OBJECT_INFO)
    assert where(slots["prompt"]) == [("93", "text")]
    assert "WanImageToVideo#98.positive" in slots["prompt"].targets[0].how
    assert where(slots["negative"]) == [("89", "text")]
    assert (where(slots["width"]), where(slots["length"])) == ([("98", "width")], [("98", "length")])
    assert where(slots["inputs"]) == [("97", "image")]


def test_image_to_image_size_is_the_rescale_before_encoding_and_size_makes_it_exact():
    wf = load("image2image")
    info = dict(OBJECT_INFO, ImageScale=RECORDED_INFO["ImageScale"])
    slots = find_slots(wf, info)
    assert where(slots["width"]) == [("18", "width")] and "VAEEncode#12" in slots["width"].targets[0].how
    assert len(slots["inputs"].targets) == 1
    assert where(slots["denoise"]) == [("3", "denoise")]
    out, _ = apply_slots(wf, info, width=200, height=120)
    assert out["18"]["class_type"] == "ImageScale"
    assert (out["18"]["inputs"]["width"], out["18"]["inputs"]["height"]) == (200, 120)
    assert out["18"]["inputs"]["image"] == wf["18"]["inputs"]["image"]


def test_an_encoder_fed_the_loaded_image_as_is_says_the_size_follows_the_input_image():
    wf = load("inpaint_example")
    assert wf["33"]["class_type"] == "ImageScaleToTotalPixels"
    wf["26"]["inputs"]["pixels"] = wf.pop("33")["inputs"]["image"]
    slots = find_slots(wf, OBJECT_INFO)
    assert "width" not in slots and "follows the input image of LoadImage#20" in slots.absent["width"]
    with pytest.raises(InputError, match="no width slot.*follows the input image"):
        apply_slots(wf, OBJECT_INFO, width=64, height=64)


def test_an_upscale_after_decoding_follows_the_size():
    wf = load("image2image")
    wf["30"] = {"class_type": "ImageScale", "inputs": {"image": [wf["9"]["inputs"]["images"][0], 0],
                                                        "upscale_method": "nearest-exact", "width": 1024,
                                                        "height": 1024, "crop": "disabled"}}
    wf["9"]["inputs"]["images"] = ["30", 0]
    out, changes = apply_slots(wf, dict(OBJECT_INFO, ImageScale=RECORDED_INFO["ImageScale"]), width=96, height=64)
    assert (out["30"]["inputs"]["width"], out["30"]["inputs"]["height"]) == (96, 64)
    assert {(c.node, c.input) for c in changes} >= {("18", "width"), ("30", "width"), ("30", "height")}


def test_latent_upscale_makes_size_and_differing_settings_ambiguous():
    slots = find_slots(load("hiresfix_latent_workflow"), OBJECT_INFO)
    assert where(slots["prompt"]) == [("6", "text")]
    assert where(slots["width"]) == [("5", "width"), ("10", "width")] and slots["width"].ambiguous
    assert slots["denoise"].ambiguous
    assert where(slots["seed"]) == [("3", "seed"), ("11", "seed")] and not slots["seed"].ambiguous


def test_area_composition_prompt_is_ambiguous_and_apply_names_the_candidates():
    wf = load("area_composition")
    slots = find_slots(wf, OBJECT_INFO)
    assert slots["prompt"].ambiguous and "combines" in slots["prompt"].ambiguous
    assert {"6", "13", "14", "17", "33"} <= set(slots["prompt"].nodes)
    with pytest.raises(InputError) as err:
        apply_slots(wf, OBJECT_INFO, prompt="a cat")
    assert "--prompt is ambiguous" in err.value.message and "13.text" in err.value.message
    assert "--set" in err.value.hint


def test_joined_text_is_ambiguous_between_its_parts():
    slots = find_slots(load("template_sugar_coated_gummy_style_qwen"), OBJECT_INFO)
    assert where(slots["prompt"]) == [("76:80", "string_a"), ("76:80", "string_b")]
    assert "joined from 2 texts" in slots["prompt"].ambiguous


def test_api_node_is_its_own_prompt_and_size():
    slots = find_slots(load("api_wan_text_to_image"), OBJECT_INFO)
    assert where(slots["prompt"]) == [("12", "prompt")]
    assert where(slots["width"]) == [("12", "width")]
    assert where(slots["seed"]) == [("12", "seed")]


def test_apply_writes_every_target_and_reports_the_changes():
    wf = load("sdxl_refiner_prompt_example")
    new, changes = apply_slots(wf, OBJECT_INFO, prompt="a red fox", seed=7, width=832, cfg=5.5, prefix="fox")
    assert new["6"]["inputs"]["text"] == new["15"]["inputs"]["text"] == "a red fox"
    assert new["10"]["inputs"]["noise_seed"] == 7 and new["11"]["inputs"]["noise_seed"] == 0
    assert [(c.node, c.input, c.new) for c in changes if c.slot == "cfg"] == [("10", "cfg", 5.5), ("11", "cfg", 5.5)]
    assert ("5", "width", 1024, 832) in [(c.node, c.input, c.old, c.new) for c in changes]
    assert wf["6"]["inputs"]["text"] != "a red fox"  # the original is left alone
    again = find_slots(new, OBJECT_INFO)
    assert again["prompt"].value == "a red fox" and again["prefix"].value == "fox"


def test_apply_refuses_a_missing_slot_and_out_of_range_values():
    wf = load("flux_dev_full_text_to_image")
    with pytest.raises(InputError, match="--negative: this workflow has no negative slot.*ConditioningZeroOut"):
        apply_slots(wf, OBJECT_INFO, negative="blurry")
    with pytest.raises(InputError, match="multiple of 16") as err:
        apply_slots(wf, OBJECT_INFO, width=1000)
    assert "992 or 1008" in err.value.hint
    with pytest.raises(InputError, match="out of range"):
        apply_slots(wf, OBJECT_INFO, width=8)
    with pytest.raises(InputError, match="takes a number"):
        apply_slots(wf, OBJECT_INFO, seed="42")
    wan = load("video_wan2_2_14B_t2v")
    with pytest.raises(InputError, match="1 plus a multiple of 4"):
        apply_slots(wan, OBJECT_INFO, length=80)
    assert apply_slots(wan, OBJECT_INFO, length=33)[0]["74"]["inputs"]["length"] == 33


def test_apply_images_fill_loaders_of_their_kind_in_order():
    wf = load("flux_redux_model_example")
    new, changes = apply_slots(wf, OBJECT_INFO, images=["me.png"])
    assert new["40"]["inputs"]["image"] == "me.png" and len(changes) == 1
    with pytest.raises(InputError, match="no image loader left"):
        apply_slots(wf, OBJECT_INFO, images=["a.png", "b.png"])
    with pytest.raises(InputError, match="no video loader"):
        apply_slots(wf, OBJECT_INFO, images=["a.mp4"])
    with pytest.raises(InputError, match="loads no image, video or audio"):
        apply_slots(load("default"), OBJECT_INFO, images=["a.png"])


def test_describe_names_each_slot_its_path_and_what_is_missing():
    lines = describe(find_slots(load("flux_dev_full_text_to_image"), OBJECT_INFO))
    text = "\n".join(lines)
    assert "41.clip_l" in text and "via KSampler#31.positive <- CLIPTextEncodeFlux#41.clip_l" in text
    assert any(line.startswith("negative: none (") and "ConditioningZeroOut" in line for line in lines)
    amb = "\n".join(describe(find_slots(load("area_composition"), OBJECT_INFO)))
    assert "prompt: ambiguous" in amb and "--set NODE.INPUT=VALUE" in amb


def test_prompt_typed_in_a_primitive_is_written_there():
    wf = load("default")
    wf["50"] = {"class_type": "PrimitiveStringMultiline", "inputs": {"value": "a lighthouse"}}
    wf["6"]["inputs"]["text"] = ["50", 0]
    slots = find_slots(wf, OBJECT_INFO)
    assert where(slots["prompt"]) == [("50", "value")] and slots["prompt"].value == "a lighthouse"
    new, _ = apply_slots(wf, OBJECT_INFO, prompt="a boat")
    assert new["50"]["inputs"]["value"] == "a boat" and new["6"]["inputs"]["text"] == ["50", 0]


def test_custom_passthrough_node_is_followed_from_its_schema():
    info = dict(OBJECT_INFO)
    info["MyCondPair"] = {"input": {"required": {"negative": ["CONDITIONING"], "positive": ["CONDITIONING"],
                                                 "strength": ["FLOAT", {"default": 1.0}]}},
                          "output": ["CONDITIONING", "CONDITIONING"], "output_name": ["positive", "negative"],
                          "output_node": False}
    wf = load("default")
    wf["60"] = {"class_type": "MyCondPair", "inputs": {"positive": ["6", 0], "negative": ["7", 0], "strength": 1}}
    wf["3"]["inputs"]["positive"], wf["3"]["inputs"]["negative"] = ["60", 0], ["60", 1]
    slots = find_slots(wf, info)
    assert where(slots["prompt"]) == [("6", "text")] and where(slots["negative"]) == [("7", "text")]


def test_nodes_no_output_depends_on_are_not_slots():
    wf = load("default")
    wf["70"] = {"class_type": "LoadImage", "inputs": {"image": "stray.png"}}
    assert "inputs" not in find_slots(wf, OBJECT_INFO)


def template_sets():
    for folder, info in SETS:
        for path in sorted(glob.glob(str(CONFORMANCE / folder / "*.json"))):
            yield path, str(CONFORMANCE / info)


@pytest.mark.conformance
def test_every_template_gets_a_prompt_or_a_reason_and_round_trips():
    checked = 0
    infos = {}
    for path, info_path in template_sets():
        info = infos.setdefault(info_path, json.loads(Path(info_path).read_text()))
        wf = json.loads(Path(path).read_text())
        slots = find_slots(wf, info)
        assert describe(slots)
        for name in SLOT_ORDER:
            assert (name in slots) != (name in slots.absent), (path, name)
        if slots.makers and "prompt" not in slots:
            # Only image-, 3D- or depth-conditioned samplers may lack a prompt: they say so.
            assert "takes no text" in slots.absent["prompt"] or "zeroes" in slots.absent["prompt"], path
        wanted = {}
        for name, value in (("prompt", "a red fox in the snow"), ("negative", "blurry"), ("seed", 1234),
                            ("prefix", "slots/fox")):
            if name in slots and not slots[name].ambiguous:
                wanted[name] = value
        new, changes = apply_slots(wf, info, **wanted)
        assert {c.slot for c in changes} == set(wanted), path
        again = find_slots(new, info)
        for name, value in wanted.items():
            assert {t.value for t in again[name].targets} == {value}, (path, name)
        checked += 1
    assert checked == 216

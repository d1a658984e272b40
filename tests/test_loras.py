"""LoRA loaders put into real template graphs (recorded from ComfyUI 0.3.64), and the refusals."""

import gzip
import json
from pathlib import Path

import pytest

from comfyui_skills import families, identify, loras
from comfyui_skills.errors import InputError

REC = Path(__file__).parent / "recordings"
OBJECT_INFO = json.loads(gzip.decompress((REC / "object_info.json.gz").read_bytes()))
INFO = dict(OBJECT_INFO, LoraLoader=json.loads(json.dumps(OBJECT_INFO["LoraLoader"])))
INFO["LoraLoader"]["input"]["required"]["lora_name"][0] = ["styles/detailTweaker_v2.safetensors", "other.safetensors"]
SD15 = json.loads((REC / "generate" / "sd15.json").read_text())["workflow"]
META = json.loads((REC / "chat" / "lora_metadata.json").read_text())["answer"]


def users_of(wf, source):
    return sorted((nid, name) for nid, n in wf.items() for name, v in n["inputs"].items() if v == source)


def test_parse_takes_name_strength_and_clip_strength():
    assert (loras.parse("x").strength, loras.parse("x").clip_strength) == (1.0, None)
    assert (loras.parse("x:0.7").strength, loras.parse("x:0.7:0.2").clip_strength) == (0.7, 0.2)
    for bad in ("x:strong", ":0.5", "x:1:2:3"):
        with pytest.raises(InputError, match="NAME\\[:STRENGTH"):
            loras.parse(bad)


def test_loras_chain_between_the_checkpoint_and_everything_that_used_it_in_the_order_given():
    wf = json.loads(json.dumps(SD15))
    ckpt = next(nid for nid, n in wf.items() if n["class_type"] == "CheckpointLoaderSimple")
    model_users, clip_users = users_of(wf, [ckpt, 0]), users_of(wf, [ckpt, 1])
    a, b = (loras.resolve(loras.parse(t), INFO) for t in ("detailtweaker_v2:0.7", "other:0.3:0.1"))
    assert a.file == "styles/detailTweaker_v2.safetensors"  # extension, folder and case optional
    out, added = loras.insert(wf, INFO, [a, b])
    first, second = (out[x["node"]] for x in added)
    assert first["inputs"]["model"] == [ckpt, 0] and first["inputs"]["clip"] == [ckpt, 1]
    assert first["inputs"]["strength_model"] == 0.7 == first["inputs"]["strength_clip"]
    assert second["inputs"]["model"] == [added[0]["node"], 0] and second["inputs"]["strength_clip"] == 0.1
    assert users_of(out, [added[1]["node"], 0]) == model_users
    assert users_of(out, [added[1]["node"], 1]) == clip_users
    assert users_of(out, [ckpt, 0]) == [(added[0]["node"], "model")]


def test_a_graph_whose_model_loader_has_no_clip_gets_model_only_loaders():
    wf = {"1": {"class_type": "UNETLoader", "inputs": {"unet_name": "m.safetensors", "weight_dtype": "default"}},
          "2": {"class_type": "ModelSamplingAuraFlow", "inputs": {"model": ["1", 0], "shift": 3}}}
    out, added = loras.insert(wf, INFO, [loras.resolve(loras.parse("other"), INFO)])
    assert added[0]["class_type"] == "LoraLoaderModelOnly" and out["2"]["inputs"]["model"] == [added[0]["node"], 0]


def test_an_unknown_lora_names_what_the_server_has():
    with pytest.raises(InputError, match="no LoRA file of that name") as e:
        loras.resolve(loras.parse("nothing"), INFO)
    assert "detailTweaker_v2" in e.value.hint


def test_trigger_words_come_from_the_training_tags_the_server_serves():
    assert loras.trigger_words(META) == ["wtrclr style"]
    assert loras.trigger_words({"modelspec.trigger_phrase": "abc, def"}) == ["abc", "def"]


def test_a_lora_of_another_family_or_no_lora_at_all_is_refused_with_the_reason():
    lora = loras.Lora("x", file="x.safetensors")
    sd15 = families.Identity("sd15", "checkpoint", "header", 0.95, "UNet")
    sdxl_lora = families.Identity("sdxl", "lora", "header", 0.95, "LoRA for two text encoders (te1/te2)")
    with pytest.raises(InputError, match="a LoRA for sdxl .* but the model m.safetensors is sd15"):
        loras.check_family(lora, sdxl_lora, [("m.safetensors", sd15)])
    ckpt = families.Identity("sd15", "checkpoint", "header", 0.95, "UNet input_blocks")
    with pytest.raises(InputError, match="not a LoRA: its header holds a sd15 checkpoint"):
        loras.check_family(lora, ckpt, [("m.safetensors", sd15)])
    same = families.Identity("sd15", "lora", "metadata", 0.75, "ss_base_model_version=sd_v1")
    loras.check_family(lora, same, [("m.safetensors", sd15)])  # no error


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    ident = identify.identity("junk.safetensors", "loras", path=str(junk))
    with pytest.raises(InputError, match="not a readable LoRA file"):
        loras.check_family(loras.Lora("junk", file="junk.safetensors"), ident, [])

"""What a model file is, from its header (the keys and shapes ComfyUI itself detects), its
metadata, or its name; and that only the header is read."""

import json
import os
import struct

import pytest

from comfyui_skills import families
from comfyui_skills.errors import InputError

U = "model.diffusion_model."


def safetensors(path, tensors, metadata=None):
    """A header-only file: the weights ComfyUI would read are not needed to know what it is."""
    header = {name: {"dtype": "F16", "shape": list(shape), "data_offsets": [0, 0]} for name, shape in tensors.items()}
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    return path


CASES = {
    "sd15": {U + "input_blocks.0.0.weight": (320, 4, 3, 3),
             U + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 768)},
    "sd2": {U + "input_blocks.0.0.weight": (320, 4, 3, 3),
            U + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 1024)},
    "sdxl": {U + "input_blocks.0.0.weight": (320, 4, 3, 3), U + "label_emb.0.0.weight": (1280, 2816)},
    "sdxl-refiner": {U + "input_blocks.0.0.weight": (384, 4, 3, 3), U + "label_emb.0.0.weight": (1536, 2560)},
    "sd3": {f"joint_blocks.{i}.context_block.attn.qkv.weight": (4608, 1536) for i in range(24)},
    "flux1": {"double_blocks.0.img_attn.norm.key_norm.scale": (128,), "img_in.weight": (3072, 64),
              "guidance_in.in_layer.weight": (3072, 256)},
    "chroma": {"double_blocks.0.img_attn.norm.key_norm.scale": (128,), "img_in.weight": (3072, 64),
               "distilled_guidance_layer.in_proj.weight": (5120, 64)},
    "hunyuan-video": {"double_blocks.0.img_attn.norm.key_norm.scale": (128,), "img_in.weight": (3072, 16),
                      "txt_in.individual_token_refiner.blocks.0.norm1.weight": (3072,)},
    "hidream": {"double_stream_blocks.0.block.ff_i.shared_experts.w1.weight": (3584, 2560)},
    "qwen-image": {"txt_norm.weight": (3584,), "img_in.weight": (3072, 64)},
    "wan21": {"head.modulation": (1, 2, 5120), "patch_embedding.weight": (5120, 16, 1, 2, 2)},
    "wan22": {"head.modulation": (1, 2, 3072), "patch_embedding.weight": (3072, 48, 1, 2, 2)},
    "ltxv": {"adaln_single.emb.timestep_embedder.linear_1.bias": (2048,),
             "transformer_blocks.0.scale_shift_table": (6, 2048)},
    "lumina2": {"cap_embedder.1.weight": (2304, 2304)},
    "te:clip_l": {"text_model.encoder.layers.0.self_attn.k_proj.weight": (768, 768)},
    "te:clip_g": {"text_model.encoder.layers.0.self_attn.k_proj.weight": (1280, 1280)},
    "te:t5xxl": {"encoder.block.0.layer.0.SelfAttention.k.weight": (4096, 4096), "shared.weight": (32128, 4096)},
    "te:umt5_xxl": {"encoder.block.0.layer.0.SelfAttention.k.weight": (4096, 4096), "shared.weight": (256384, 4096)},
    "te:qwen2.5-vl-7b": {"model.layers.0.self_attn.q_proj.weight": (3584, 3584)},
    "vae:sd": {"encoder.conv_in.weight": (128, 3, 3, 3), "decoder.conv_in.weight": (512, 4, 3, 3)},
    "vae:flux-sd3": {"encoder.conv_in.weight": (128, 3, 3, 3), "decoder.conv_in.weight": (512, 16, 3, 3)},
    "vae:wan21": {"encoder.conv1.weight": (96, 3, 3, 3, 3), "decoder.conv1.weight": (384, 16, 3, 3, 3)},
    "lora": {"lora_unet_down_blocks_0.lora_down.weight": (16, 320)},
}


@pytest.mark.parametrize("family", sorted(CASES))
def test_the_header_says_the_family(tmp_path, family):
    found = families.identify_file(safetensors(tmp_path / "x.safetensors", CASES[family]))
    assert found.family == family and found.how == "header"


def test_flux_variants_and_the_checkpoint_prefix(tmp_path):
    schnell = {k: v for k, v in CASES["flux1"].items() if not k.startswith("guidance_in")}
    assert families.identify_file(safetensors(tmp_path / "s.safetensors", schnell)).variant == "schnell"
    fill = dict(CASES["flux1"], **{"img_in.weight": (3072, 384)})
    assert families.identify_file(safetensors(tmp_path / "f.safetensors", fill)).variant == "fill"
    sd15 = families.identify_file(safetensors(tmp_path / "c.safetensors", CASES["sd15"]))
    assert sd15.kind == "checkpoint"  # model.diffusion_model.* keys: a whole checkpoint


def test_an_sdxl_fine_tune_is_told_by_its_metadata(tmp_path):
    meta = {"modelspec.architecture": "stable-diffusion-xl-v1-base", "modelspec.title": "Pony Diffusion V6 XL"}
    found = families.identify_file(safetensors(tmp_path / "model.safetensors", CASES["sdxl"], meta))
    assert (found.family, found.variant) == ("sdxl", "pony")
    assert families.identify_metadata(meta).how == "metadata"


def test_names_are_the_last_resort_and_say_so():
    found = families.identify_name("SDXL/juggernautXL_v9.safetensors", "checkpoints")
    assert found.family == "sdxl" and found.how == "name" and found.confidence == "low"
    assert families.identify_name("wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors", "diffusion_models").family == "wan22"
    assert families.identify_name("illustriousXL_v01.safetensors").variant == "illustrious"
    assert families.identify("mystery.safetensors").family == "unknown"


def test_only_the_header_is_read(tmp_path):
    # a file claiming 7 GiB of weights behind its header is identified without reading them
    path = safetensors(tmp_path / "big.safetensors", CASES["sdxl"])
    with open(path, "ab") as fh:
        fh.truncate(7 * 2**30)  # sparse: no disk used, but reading it would take seconds
    assert families.identify("big.safetensors", "checkpoints", path=path).family == "sdxl"


@pytest.mark.parametrize("content,expect", [
    (b"", "too short"),
    (struct.pack("<Q", 10) + b"{}", "cut short"),
    (struct.pack("<Q", 2**40), "not a safetensors file"),
    (struct.pack("<Q", 5) + b"<html", "not JSON"),
])
def test_a_broken_file_is_one_clear_error(tmp_path, content, expect):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(content)
    with pytest.raises(InputError, match=expect):
        families.read_safetensors_header(path)
    assert families.identify("broken.safetensors", path=path).how == "name"  # falls back, never raises


@pytest.mark.skipif(not os.environ.get("COMFYUI_HOME"), reason="set COMFYUI_HOME to read a real checkpoint")
def test_the_random_sd15_checkpoint_is_sd15():
    # written by ../shared/tools/make_random_sd15.py with SD1.5's exact architecture
    from pathlib import Path

    found = [p for p in Path(os.environ["COMFYUI_HOME"]).rglob("*.safetensors") if "sd15" in p.name]
    if not found:
        pytest.skip("no *sd15*.safetensors under $COMFYUI_HOME")
    assert families.identify_file(found[0]).family == "sd15"

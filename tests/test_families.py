"""comfyui_skills.families: what each installed model file is, and how we know.

Synthetic .safetensors files come from tests/support/model_files.py: headers with the key names
and shapes ComfyUI's own detection looks at, over a sparse hole, so only the header is read.
"""
import gzip
import json
import os
import struct
import time
from pathlib import Path

import pytest

from comfyui_skills import families
from comfyui_skills.families import (NotAModelFile, identify, identify_file, identify_metadata, identify_name,
                                     read_gguf_header, read_safetensors_header)
from support.model_files import (CASES, CLIP_L, FLUX_DEV, SD15_UNET, SD_VAE, SDXL_UNET, WAN_14B, prefixed,
                                 write_safetensors)

FIXTURES = Path(__file__).parent / "fixtures" / "families"


@pytest.mark.parametrize("case", sorted(CASES))
def test_header_identifies_family(tmp_path, case):
    spec, family, variant, kind = CASES[case]
    path = write_safetensors(tmp_path / "model.safetensors", spec)
    found = identify_file(str(path))
    assert (found.family, found.variant, found.kind, found.how) == (family, variant, kind, "header"), found
    assert found.confidence >= families.CONFIDENCE_HEADER_AMBIGUOUS
    assert found.evidence
    assert found.problem is None


def test_checkpoint_lists_bundled_parts(tmp_path):
    spec = CASES["sdxl-checkpoint"][0]
    found = identify_file(str(write_safetensors(tmp_path / "x.safetensors", spec)))
    assert found.parts == ("vae:sd", "te:clip_l", "te:clip_g")
    bare = identify_file(str(write_safetensors(tmp_path / "y.safetensors", prefixed("model.diffusion_model.", SDXL_UNET))))
    assert bare.kind == "diffusion_model" and bare.parts == ()


def test_make_random_sd15_header_identifies_as_sd15(tmp_path):
    """The key set /work/shared/tools/make_random_sd15.py writes (header stored as a fixture)."""
    doc = json.loads(gzip.decompress((FIXTURES / "tiny-random-sd15.header.json.gz").read_bytes()))
    tensors = {k: (d, tuple(s)) for k, (d, s) in doc["tensors"].items()}
    path = write_safetensors(tmp_path / "tiny-random-sd15.safetensors", tensors, metadata=doc["__metadata__"])
    found = identify(path.name, "checkpoints", path=str(path))
    assert (found.family, found.kind, found.how) == ("sd15", "checkpoint", "header")
    assert found.parts == ("vae:sd", "te:clip_l")
    header = read_safetensors_header(str(path))
    assert header.complete and len(header.tensors) == len(tensors)
    assert header.metadata == doc["__metadata__"]


def test_header_read_is_fast_and_reads_no_weights(tmp_path):
    spec = dict(CASES["flux1-dev"][0])
    spec["double_blocks.0.img_mlp.0.weight"] = (3072 * 1024, 1024)  # ~6 GiB of fp16 in a sparse hole
    path = write_safetensors(tmp_path / "big.safetensors", spec)
    assert os.path.getsize(path) > 6 * 2**30
    start = time.perf_counter()
    found = identify_file(str(path))
    assert time.perf_counter() - start < 0.5
    assert found.family == "flux1"


def test_incomplete_file_is_reported_not_fatal(tmp_path):
    path = write_safetensors(tmp_path / "half.safetensors", CASES["flux1-dev"][0], full=False)
    found = identify_file(str(path))
    assert found.family == "flux1"
    assert "shorter than its header" in found.problem


@pytest.mark.parametrize("content, message", [
    (b"", "too short"),
    (b"\x01\x02\x03", "too short"),
    (b"<!DOCTYPE html><html>not found</html>", "announce"),                  # an error page saved as a model
    (struct.pack("<Q", 400) + b'{"a": 1}', "truncated"),
    (struct.pack("<Q", 8) + b"notjson!", "not JSON"),
    (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
    (struct.pack("<Q", 27) + b'{"w": {"dtype": "F16"}}    ', "dtype/shape"),
])
def test_garbage_gives_one_line_error_naming_file(tmp_path, content, message):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(content)
    with pytest.raises(NotAModelFile) as info:
        identify_file(str(path))
    text = str(info.value)
    assert "broken.safetensors" in text and message in text and "\n" not in text
    assert info.value.exit_code == 2


def test_absurd_header_size_refused(tmp_path):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 2**40) + b"{}")
    with pytest.raises(NotAModelFile, match="huge.safetensors.*limit"):
        read_safetensors_header(str(path))
    small = write_safetensors(tmp_path / "ok.safetensors", CLIP_L)
    with pytest.raises(NotAModelFile, match="limit is 100"):
        read_safetensors_header(str(small), max_header=100)


def test_identify_falls_back_when_file_is_broken(tmp_path):
    path = tmp_path / "flux1-dev.safetensors"
    path.write_bytes(b"version https://git-lfs.github.com/spec/v1\n")
    found = identify(path.name, "diffusion_models", path=str(path))
    assert (found.family, found.variant, found.how) == ("flux1", "dev", "name")
    assert "flux1-dev.safetensors" in found.problem


def _write_gguf(path, kv, tensors):
    def s(text):
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv) + 1)
    for key, value in kv.items():
        out += s(key) + struct.pack("<I", 8) + s(value)
    out += s("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 20) + b"".join(s("t%d" % i) for i in range(20))
    for name, shape in tensors.items():
        out += s(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in reversed(shape))
        out += struct.pack("<IQ", 12, 0)
    path.write_bytes(out)
    return path


def test_gguf_header_names_and_shapes(tmp_path):
    path = _write_gguf(tmp_path / "flux1-dev-Q4_K_S.gguf", {"general.architecture": "flux"}, CASES["flux1-dev"][0])
    header = read_gguf_header(str(path))
    assert header.metadata["general.architecture"] == "flux"
    assert header.metadata["tokenizer.ggml.tokens"] == "<array of 20>"
    assert header.tensors["img_in.weight"] == ("Q4_K", (3072, 64))
    found = identify_file(str(path))
    assert (found.family, found.variant, found.how) == ("flux1", "dev", "header")


def test_gguf_text_encoder_by_architecture(tmp_path):
    path = _write_gguf(tmp_path / "umt5-xxl-encoder-Q8_0.gguf", {"general.architecture": "t5encoder"},
                       {"token_embd.weight": (256384, 4096), "enc.blk.0.attn_q.weight": (4096, 4096)})
    found = identify_file(str(path))
    assert (found.family, found.kind) == ("te:umt5_xxl", "text_encoder")


def test_gguf_truncated(tmp_path):
    path = tmp_path / "cut.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 5, 5) + b"\x10")
    with pytest.raises(NotAModelFile, match="cut.gguf: truncated GGUF"):
        identify_file(str(path))


# --- metadata ---------------------------------------------------------------

@pytest.mark.parametrize("meta, name, family, variant, kind", [
    ({"modelspec.architecture": "stable-diffusion-xl-v1-base", "modelspec.title": "Pony Diffusion V6 XL"},
     None, "sdxl", "pony", "unknown"),
    ({"modelspec.architecture": "stable-diffusion-xl-v1-base", "modelspec.title": "my merge"},
     "waiNSFWIllustrious_v140.safetensors", "sdxl", "illustrious", "unknown"),
    ({"modelspec.architecture": "stable-diffusion-xl-v1-base", "modelspec.usage_hint": "use NoobAI tags"},
     None, "sdxl", "illustrious", "unknown"),
    ({"modelspec.architecture": "stable-diffusion-xl-v1-refiner"}, None, "sdxl-refiner", None, "unknown"),
    ({"modelspec.architecture": "stable-diffusion-v2-768-v"}, None, "sd2", "v", "unknown"),
    ({"modelspec.architecture": "stable-diffusion-v2-512", "modelspec.predict_key": "v"}, None, "sd2", "v", "unknown"),
    ({"modelspec.architecture": "stable-diffusion-v3.5-large"}, None, "sd3", "sd35-large", "unknown"),
    ({"modelspec.architecture": "flux-1-dev/lora"}, None, "flux1", "dev", "lora"),
    ({"modelspec.architecture": "stable-video-diffusion-img2vid-v1"}, None, "svd", None, "unknown"),
    ({"ss_base_model_version": "sdxl_base_v1-0", "ss_network_module": "networks.lora",
      "ss_sd_model_name": "ponyDiffusionV6XL_v6.safetensors"}, None, "sdxl", "pony", "lora"),
    ({"ss_base_model_version": "sd_v1", "ss_network_module": "networks.lora"}, None, "sd15", None, "lora"),
])
def test_metadata_identifies(meta, name, family, variant, kind):
    found = identify_metadata(meta, name)
    assert (found.family, found.variant, found.kind, found.how) == (family, variant, kind, "metadata")
    assert found.confidence < families.CONFIDENCE_HEADER


def test_metadata_without_model_keys_says_nothing():
    assert identify_metadata({"note": "random weights"}) is None
    assert identify_metadata({}) is None
    assert identify_metadata(None) is None


def test_header_family_refined_by_metadata(tmp_path):
    spec = prefixed("model.diffusion_model.", SDXL_UNET)
    path = write_safetensors(tmp_path / "merge.safetensors", spec,
                             metadata={"modelspec.architecture": "stable-diffusion-xl-v1-base",
                                       "modelspec.title": "Pony Realism"})
    found = identify("merge.safetensors", "checkpoints", path=str(path))
    assert (found.family, found.variant, found.how) == ("sdxl", "pony", "metadata")
    assert "UNet input_blocks" in found.evidence and "pony" in found.evidence


def test_header_wins_over_a_contradicting_name(tmp_path):
    path = write_safetensors(tmp_path / "sdxl_something.safetensors", prefixed("model.diffusion_model.", SD15_UNET))
    found = identify(path.name, "checkpoints", path=str(path))
    assert (found.family, found.how) == ("sd15", "header")
    assert "name says sdxl" in found.evidence


def test_name_refines_what_the_header_cannot_tell(tmp_path):
    vae = write_safetensors(tmp_path / "sdxl_vae.safetensors", SD_VAE)
    found = identify(vae.name, "vae", path=str(vae))
    assert (found.family, found.how) == ("vae:sdxl", "name")
    assert found.confidence > families.CONFIDENCE_NAME  # the header corroborates the architecture
    kontext = write_safetensors(tmp_path / "flux1-kontext-dev.safetensors", FLUX_DEV)
    assert identify(kontext.name, "diffusion_models", path=str(kontext)).variant == "kontext"
    # a name cannot turn a guidance-distilled (dev-style) model into schnell
    wrong = write_safetensors(tmp_path / "flux1-schnell.safetensors", FLUX_DEV)
    found = identify(wrong.name, "diffusion_models", path=str(wrong))
    assert (found.variant, found.how) == ("dev", "header") and "variant schnell" in found.evidence
    wan = write_safetensors(tmp_path / "wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors", WAN_14B)
    found = identify(wan.name, "diffusion_models", path=str(wan))
    assert (found.family, found.variant) == ("wan22", "t2v")
    small = write_safetensors(tmp_path / "wan2.2_t2v_small.safetensors", CASES["wan21-t2v-1.3b"][0])
    assert identify(small.name, "diffusion_models", path=str(small)).family == "wan21"  # no Wan 2.2 1.3B


# --- names --------------------------------------------------------------------

@pytest.mark.parametrize("name, folder, family, variant, kind", [
    ("v1-5-pruned-emaonly.safetensors", "checkpoints", "sd15", None, "checkpoint"),
    ("v2-1_768-ema-pruned.safetensors", "checkpoints", "sd2", "v", "checkpoint"),
    ("sd_xl_base_1.0.safetensors", "checkpoints", "sdxl", None, "checkpoint"),
    ("sd_xl_refiner_1.0.safetensors", "checkpoints", "sdxl-refiner", None, "checkpoint"),
    ("ponyDiffusionV6XL_v6StartWithThisOne.safetensors", "checkpoints", "sdxl", "pony", "checkpoint"),
    ("illustriousXL_v01.safetensors", "checkpoints", "sdxl", "illustrious", "checkpoint"),
    ("sd3.5_large_fp8_scaled.safetensors", "checkpoints", "sd3", "sd35-large", "checkpoint"),
    ("flux1-dev-fp8.safetensors", "checkpoints", "flux1", "dev", "checkpoint"),
    ("flux1-schnell.safetensors", "unet", "flux1", "schnell", "diffusion_model"),
    ("flux1-fill-dev.safetensors", "diffusion_models", "flux1", "fill", "diffusion_model"),
    ("qwen_image_fp8_e4m3fn.safetensors", "diffusion_models", "qwen-image", None, "diffusion_model"),
    ("qwen_image_edit_2509_fp8.safetensors", "diffusion_models", "qwen-image", "edit", "diffusion_model"),
    ("wan2.2_ti2v_5B_fp16.safetensors", "diffusion_models", "wan22", "5b-ti2v", "diffusion_model"),
    ("wan2.1_t2v_1.3B_fp16.safetensors", "diffusion_models", "wan21", "t2v", "diffusion_model"),
    ("hunyuan_video_t2v_720p_bf16.safetensors", "diffusion_models", "hunyuan-video", None, "diffusion_model"),
    ("ltxv-2b-0.9.6-dev.safetensors", "checkpoints", "ltxv", None, "checkpoint"),
    ("cosmos_predict2_2B_t2i.safetensors", "diffusion_models", "cosmos", None, "diffusion_model"),
    ("hidream_i1_dev_fp8.safetensors", "diffusion_models", "hidream", None, "diffusion_model"),
    ("ace_step_v1_3.5b.safetensors", "checkpoints", "ace-step", None, "checkpoint"),
    ("t5xxl_fp16.safetensors", "text_encoders", "te:t5xxl", None, "text_encoder"),
    ("umt5_xxl_fp8_e4m3fn_scaled.safetensors", "text_encoders", "te:umt5_xxl", None, "text_encoder"),
    ("clip_l.safetensors", "clip", "te:clip_l", None, "text_encoder"),
    ("qwen_2.5_vl_7b_fp8_scaled.safetensors", "text_encoders", "te:qwen25_7b", "vl", "text_encoder"),
    ("ae.safetensors", "vae", "vae:flux", None, "vae"),
    ("wan_2.1_vae.safetensors", "vae", "vae:wan21", None, "vae"),
    ("wan2.2_vae.safetensors", "vae", "vae:wan22", None, "vae"),
    ("qwen_image_vae.safetensors", "vae", "vae:qwen-image", None, "vae"),
    ("vae-ft-mse-840000-ema-pruned.safetensors", "vae", "vae:sd", None, "vae"),
    ("4x-UltraSharp.pth", "upscale_models", "upscale", None, "upscale_model"),
    ("sdxl_vae_fix_lora.safetensors", "loras", "sdxl", None, "lora"),
])
def test_name_rules(name, folder, family, variant, kind):
    found = identify_name(name, folder)
    assert (found.family, found.variant, found.kind, found.how) == (family, variant, kind, "name")
    assert found.confidence <= families.CONFIDENCE_NAME


def test_unknown_name_and_no_other_source():
    assert identify_name("my_model.safetensors", "checkpoints") is None
    found = identify("my_model.safetensors", "checkpoints")
    assert (found.family, found.kind, found.how, found.confidence) == ("unknown", "checkpoint", "none", 0.0)


def test_identify_uses_view_metadata_answer_without_a_file():
    # What GET /view_metadata/loras?filename=... returns: the __metadata__ dict.
    found = identify("style.safetensors", "loras", metadata={"ss_base_model_version": "sdxl_base_v1-0"})
    assert (found.family, found.kind, found.how) == ("sdxl", "lora", "metadata")


def test_unknown_tensors(tmp_path):
    path = write_safetensors(tmp_path / "odd.safetensors", {"foo.weight": (3, 3), "bar.bias": (3,)})
    found = identify_file(str(path))
    assert (found.family, found.how, found.confidence) == ("unknown", "header", 0.0)


@pytest.mark.live
def test_live_checkpoints_folder(comfy_home):
    folder = comfy_home / "models" / "checkpoints"
    files = sorted(p for p in folder.glob("*.safetensors"))
    if not files:
        pytest.skip("no .safetensors checkpoints in {}".format(folder))
    for path in files:
        found = identify(path.name, "checkpoints", path=str(path))
        assert found.kind == "checkpoint" or found.kind == "diffusion_model", (path.name, found)
        if "random-sd15" in path.name:
            assert found.family == "sd15" and found.how == "header"

"""comfyui_skills.signatures: what a model file's header and metadata say it is.

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
from comfyui_skills.identify import identity
from comfyui_skills.signatures import (NotAModelFile, identify_file, identify_metadata, read_gguf_header,
                                       read_safetensors_header)
from support.model_files import CASES, CLIP_L, SDXL_UNET, prefixed, write_safetensors

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
    found = identity(path.name, "checkpoints", path=str(path))
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


def test_unknown_tensors(tmp_path):
    path = write_safetensors(tmp_path / "odd.safetensors", {"foo.weight": (3, 3), "bar.bias": (3,)})
    found = identify_file(str(path))
    assert (found.family, found.how, found.confidence) == ("unknown", "header", 0.0)

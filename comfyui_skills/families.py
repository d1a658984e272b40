"""What a model file is, and how we know: its tensor names and shapes, its metadata, or its name.

The header rules follow the key and shape signatures ComfyUI itself uses to detect a model
(comfy/model_detection.py `detect_unet_config`, comfy/sd.py `detect_te_model` and the VAE checks,
read at a125cd84, ComfyUI 0.3.64). Only the safetensors header is read, never the weights, so a
7 GiB file costs milliseconds. Pony and Illustrious are SDXL fine-tunes that weights cannot tell
apart: metadata or the name does. Family ids are those of data/models.json.
"""

import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

MAX_HEADER = 100 * 2**20  # ComfyUI's own loader refuses larger headers as corrupt
UNET = "model.diffusion_model."


@dataclass(frozen=True)
class Identity:
    family: str            # "sd15", "sdxl", "flux1", ... or a component: "te:t5xxl", "vae:sd"
    kind: str              # checkpoint | diffusion_model | text_encoder | vae | lora | unknown
    how: str               # header | metadata | name
    confidence: str        # high | medium | low
    evidence: str          # what matched, for a person
    variant: str = None    # "pony", "illustrious", "schnell", "dev", "fill", "i2v", "5b" ...


# -- reading ---------------------------------------------------------------------------------------
def read_safetensors_header(path):
    """(metadata dict, {tensor name: (dtype, shape)}) from the header alone."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise InputError(f"{path}: too short to be a safetensors file ({len(head)} bytes)")
            (size,) = struct.unpack("<Q", head)
            if size > MAX_HEADER:
                raise InputError(f"{path}: not a safetensors file (a header of {size} bytes is claimed)")
            raw = fh.read(size)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) < size:
        raise InputError(f"{path}: the safetensors header is cut short ({len(raw)} of {size} bytes): "
                         "an incomplete download?")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InputError(f"{path}: not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise InputError(f"{path}: not a safetensors file (its header is not an object)")
    meta = header.pop("__metadata__", None) or {}
    tensors = {k: (v.get("dtype"), tuple(v.get("shape") or ())) for k, v in header.items() if isinstance(v, dict)}
    return meta, tensors


# -- from the tensors ---------------------------------------------------------------------------------
def identify_tensors(tensors):
    """Identity from {name: (dtype, shape)}, or None when no rule knows the layout."""
    keys = tensors.keys()
    shape = lambda k: (tensors.get(k) or (None, ()))[1]  # noqa: E731
    if any(".lora_down." in k or ".lora_A." in k or "lora_unet_" in k for k in keys):
        return Identity("lora", "lora", "header", "high", "lora_down/lora_A tensors")
    prefix = UNET if any(k.startswith(UNET) for k in keys) else ""
    kind = "checkpoint" if prefix else "diffusion_model"
    found = _unet(keys, shape, prefix)
    if found:
        family, variant, evidence = found
        return Identity(family, kind, "header", "high", evidence, variant)
    for rule in (_text_encoder, _vae):
        found = rule(keys, shape)
        if found:
            return found
    return None


def _unet(keys, shape, p):
    has = lambda k: p + k in keys  # noqa: E731
    if has("joint_blocks.0.context_block.attn.qkv.weight"):
        depth = len({k.split(".")[1] for k in keys if k.startswith(p + "joint_blocks.")})
        variant = "sd35-large" if depth >= 38 else "sd35-medium" if has("joint_blocks.0.x_block.attn2.qkv.weight") \
            else "sd3-medium"
        return "sd3", variant, f"MMDiT joint_blocks, depth {depth}"
    if has("double_blocks.0.img_attn.norm.key_norm.scale") and has("img_in.weight"):
        if has("distilled_guidance_layer.in_proj.weight"):
            return "chroma", None, "Flux layout with distilled_guidance_layer"
        if has("txt_in.individual_token_refiner.blocks.0.norm1.weight"):
            return "hunyuan-video", None, "double_blocks with txt_in token refiner"
        channels = shape(p + "img_in.weight")[1:2]
        variant = "fill" if channels == (384,) else "dev" if has("guidance_in.in_layer.weight") else "schnell"
        return "flux1", variant, f"double_blocks, img_in {channels}, guidance_in {'present' if variant != 'schnell' else 'absent'}"
    if has("double_stream_blocks.0.block.ff_i.shared_experts.w1.weight") or any(
            k.startswith(p + "double_stream_blocks.") for k in keys):
        return "hidream", None, "double_stream_blocks"
    if has("txt_norm.weight") and has("img_in.weight"):
        return "qwen-image", None, "txt_norm + img_in (Qwen-Image MMDiT)"
    if has("head.modulation") and has("patch_embedding.weight"):
        in_dim = shape(p + "patch_embedding.weight")[1:2]
        if in_dim == (48,):
            return "wan22", "5b", "Wan layout, patch_embedding in_dim 48 (Wan 2.2 TI2V 5B)"
        variant = "i2v" if has("img_emb.proj.0.bias") else None
        return "wan21", variant, "Wan layout (head.modulation, patch_embedding); 2.1 and 2.2 14B share it"
    if has("adaln_single.emb.timestep_embedder.linear_1.bias") and has("transformer_blocks.0.scale_shift_table"):
        return "ltxv", None, "adaln_single + scale_shift_table (Lightricks LTX-Video)"
    if has("cap_embedder.1.weight"):
        return "lumina2", None, "cap_embedder (Lumina 2)"
    if any(k.startswith(p + "net.blocks.") or k.startswith(p + "blocks.block0.") for k in keys):
        return "cosmos", None, "Cosmos blocks"
    if has("input_blocks.0.0.weight"):
        if has("label_emb.0.0.weight"):
            adm = shape(p + "label_emb.0.0.weight")[1:2]
            return ("sdxl-refiner", None, f"UNet with label_emb {adm}") if adm == (2560,) else \
                ("sdxl", None, f"UNet with label_emb {adm} (SDXL)")
        context = shape(p + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight")[1:2]
        if context == (1024,):
            return "sd2", None, "UNet, cross-attention width 1024 (OpenCLIP-H)"
        if context == (768,):
            return "sd15", None, "UNet, cross-attention width 768 (CLIP-L)"
    return None


def _text_encoder(keys, shape):
    def te(name, evidence):
        return Identity(f"te:{name}", "text_encoder", "header", "high", evidence)

    for base in ("", "text_model.", "cond_stage_model.transformer.text_model."):
        k = f"{base}encoder.layers.0.self_attn.k_proj.weight"
        if k in keys:
            width = shape(k)[0]
            return te({768: "clip_l", 1280: "clip_g", 1024: "clip_h"}.get(width, "clip"), f"CLIP text encoder width {width}")
    if "encoder.block.0.layer.0.SelfAttention.k.weight" in keys:
        vocab = shape("shared.weight")[0:1]
        width = shape("encoder.block.0.layer.0.SelfAttention.k.weight")[0]
        name = "umt5_xxl" if vocab == (256384,) else "t5xxl" if width == 4096 else "t5"
        return te(name, f"T5 encoder width {width}" + (f", vocabulary {vocab[0]}" if vocab else ""))
    if "model.layers.0.self_attn.q_proj.weight" in keys:
        width = shape("model.layers.0.self_attn.q_proj.weight")[1]
        name = {3584: "qwen2.5-vl-7b", 4096: "llama-8b", 2304: "gemma2-2b", 2560: "qwen3-4b"}.get(width, "llm")
        return te(name, f"decoder-only LLM, hidden size {width}")
    return None


def _vae(keys, shape):
    if "decoder.conv_in.weight" in keys and "encoder.conv_in.weight" in keys:
        latent = shape("decoder.conv_in.weight")[1:2]
        name = {(4,): "sd", (16,): "flux-sd3"}.get(latent, "vae")
        return Identity(f"vae:{name}", "vae", "header", "high", f"VAE with {latent[0] if latent else '?'} latent channels")
    if "decoder.conv1.weight" in keys and "encoder.conv1.weight" in keys:
        z = shape("decoder.conv1.weight")[1:2]
        name = "wan22" if z == (48,) else "wan21"
        return Identity(f"vae:{name}", "vae", "header", "high", f"causal video VAE, {z[0] if z else '?'} latent channels")
    return None


# -- from metadata and names ------------------------------------------------------------------------
FINE_TUNES = (("pony", re.compile(r"pony", re.I)), ("illustrious", re.compile(r"illustrious|noob", re.I)))
ARCHITECTURES = (("stable-diffusion-xl-v1-refiner", "sdxl-refiner"), ("stable-diffusion-xl", "sdxl"),
                 ("stable-diffusion-v1", "sd15"), ("stable-diffusion-v2", "sd2"), ("stable-diffusion-3", "sd3"),
                 ("flux-1", "flux1"), ("flux.1", "flux1"), ("hidream", "hidream"), ("qwen-image", "qwen-image"),
                 ("wan", "wan21"), ("ltx", "ltxv"), ("chroma", "chroma"))
NAMES = (  # (pattern, family, variant): the official templates' file names and common uploads
    (r"flux1?[-_.]?kontext", "flux1-kontext", None), (r"flux1?[-_.]?(dev|schnell|fill)|flux", "flux1", None),
    (r"chroma", "chroma", None), (r"hidream", "hidream", None), (r"qwen[-_]?image", "qwen-image", None),
    (r"wan2[._]?2", "wan22", None), (r"wan2[._]?1|wan[-_]", "wan21", None),
    (r"hunyuan[-_]?video", "hunyuan-video", None), (r"ltx[-_]?v|ltx[-_]video", "ltxv", None),
    (r"cosmos", "cosmos", None), (r"lumina", "lumina2", None), (r"sd3\.?5|sd3", "sd3", None),
    (r"sd_xl_refiner|xl[-_]refiner", "sdxl-refiner", None), (r"pony", "sdxl", "pony"),
    (r"illustrious|noob", "sdxl", "illustrious"), (r"sd_?xl|sdxl|juggernaut[-_]?xl|[-_]xl[-_.]", "sdxl", None),
    (r"v2-1|sd2|768-v-ema|512-base-ema", "sd2", None), (r"v1-5|sd15|sd1\.5|v1-4|sd-v1|dreamshaper_8", "sd15", None),
)


def identify_metadata(meta, name=None):
    """Identity from a safetensors __metadata__ (what /view_metadata answers), or None."""
    if not isinstance(meta, dict):
        return None
    arch = str(meta.get("modelspec.architecture") or meta.get("ss_base_model_version") or "").lower()
    text = " ".join(str(meta.get(k) or "") for k in ("modelspec.title", "modelspec.usage_hint", "ss_output_name"))
    for needle, family in ARCHITECTURES:
        if needle in arch:
            variant = next((v for v, rx in FINE_TUNES if rx.search(text + " " + (name or ""))), None)
            kind = "lora" if "lora" in arch else "checkpoint"
            return Identity(family, kind, "metadata", "high", f"modelspec architecture {arch!r}", variant)
    return None


def identify_name(name, folder=None):
    """Identity from the file name alone (a guess: confidence low), or None."""
    base = str(name).replace("\\", "/").rsplit("/", 1)[-1].lower()
    for pattern, family, variant in NAMES:
        if re.search(pattern, base):
            kind = {"loras": "lora", "vae": "vae", "text_encoders": "text_encoder", "clip": "text_encoder",
                    "diffusion_models": "diffusion_model", "unet": "diffusion_model"}.get(folder, "checkpoint")
            return Identity(family, kind, "name", "low", f"the name {base!r} matches {pattern!r}", variant)
    return None


def identify_file(path):
    """Identity from a local safetensors file's header (and its metadata for fine-tunes)."""
    meta, tensors = read_safetensors_header(path)
    found = identify_tensors(tensors)
    if found and found.family == "sdxl":
        tuned = identify_metadata(meta, Path(path).name) or identify_name(Path(path).name)
        if tuned and tuned.variant:
            return Identity("sdxl", found.kind, "header", "high", found.evidence + f"; {tuned.how} says {tuned.variant}",
                            tuned.variant)
    return found or identify_metadata(meta, Path(path).name)


def identify(name, folder=None, path=None, metadata=None):
    """The best Identity the sources given allow: header, then metadata, then name."""
    if path is not None and str(path).endswith((".safetensors", ".sft")) and Path(path).is_file():
        try:
            found = identify_file(path)
        except InputError:
            found = None
        if found:
            return found
    return identify_metadata(metadata, name) or identify_name(name, folder) or \
        Identity("unknown", "unknown", "name", "low", f"nothing known matches {name!r}")

"""What a model file's header and metadata say it is.

* ``header``: tensor names and shapes read from the file's own header (the
  8-byte length and the JSON of a .safetensors file, or the key/value and
  tensor-info section of a .gguf file). The weights are never read, so a
  7 GiB checkpoint costs a few milliseconds.
* ``metadata``: the safetensors ``__metadata__`` dict (modelspec.*, kohya ss_*),
  which is also what ComfyUI's ``GET /view_metadata/{folder}?filename=`` returns
  (server.py at ComfyUI 0.3.64, a125cd84: it answers 404 for non-.safetensors
  files and for files without ``__metadata__``).

Each answer is a ``families.Identity``; identify.py weighs them against what the
file name says (families.py).

The key and shape signatures are those ComfyUI itself uses to pick a model class.
Unless a comment says otherwise they were read from ComfyUI 0.3.64 (commit
a125cd84b054a57729b5eecab930ca9408719832): comfy/model_detection.py
(detect_unet_config, unet_prefix_from_state_dict), comfy/supported_models.py
(the unet_config each class matches), comfy/sd.py (detect_te_model, VAE.__init__),
comfy/controlnet.py (load_controlnet_state_dict) and comfy/clip_vision.py
(load_clipvision_from_sd). "newer ComfyUI" means comfy/model_detection.py at
commit 0b61ce5baa9ea03d8484729b7eb00e77c6fca227, read for families 0.3.64 lacks
(Flux 2, HunyuanVideo 1.5, Z-Image, LTX-2).
"""

import json
import os
import re
import struct
from dataclasses import dataclass, field, replace
from typing import Dict, Tuple

from .errors import InputError
from .families import (CONFIDENCE_HEADER, CONFIDENCE_HEADER_AMBIGUOUS, CONFIDENCE_MODELSPEC,
                       CONFIDENCE_TRAINER_METADATA, Identity)

# comfy/utils.py safetensors_header (0.3.64) refuses headers above 100 MiB; no
# real model header comes near that (an SDXL checkpoint's is under 200 KiB).
DEFAULT_MAX_HEADER = 100 * 1024 * 1024


class NotAModelFile(InputError):
    """The file is not a readable .safetensors / .gguf model file."""


@dataclass
class Header:
    """What a model file's header says: metadata and {tensor name: (dtype, shape)}."""
    path: str
    format: str                                   # 'safetensors' | 'gguf'
    metadata: Dict[str, object] = field(default_factory=dict)
    tensors: Dict[str, Tuple[str, Tuple[int, ...]]] = field(default_factory=dict)
    complete: bool = True                         # data section as long as the header promises


# ---------------------------------------------------------------------------
# Header readers
# ---------------------------------------------------------------------------

_ST_DTYPE_BYTES = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2,
                   "I16": 2, "U16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I8": 1, "U8": 1, "BOOL": 1}


def read_safetensors_header(path, max_header=DEFAULT_MAX_HEADER):
    """Read only the length prefix and JSON header of a .safetensors file.

    Returns a Header; raises NotAModelFile (one line naming the file) for a file
    that is too short, announces an absurd header length, or holds no valid JSON.
    """
    name = os.path.basename(path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            prefix = f.read(8)
            if len(prefix) < 8:
                raise NotAModelFile("{}: {} bytes is too short to be a safetensors file".format(name, len(prefix)))
            (length,) = struct.unpack("<Q", prefix)
            if length < 2 or length > max_header:
                raise NotAModelFile("{}: not a safetensors file (its first 8 bytes announce a {}-byte header; "
                                    "the limit is {})".format(name, length, max_header))
            if 8 + length > size:
                raise NotAModelFile("{}: truncated: the header needs {} bytes, the file has {}"
                                    .format(name, 8 + length, size))
            raw = f.read(length)
    except OSError as exc:
        raise NotAModelFile("{}: cannot read: {}".format(name, exc.strerror or exc)) from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise NotAModelFile("{}: not a safetensors file (its header is not JSON)".format(name)) from None
    if not isinstance(doc, dict):
        raise NotAModelFile("{}: not a safetensors file (its header is not a JSON object)".format(name))

    metadata = doc.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise NotAModelFile("{}: __metadata__ is not a JSON object".format(name))
    tensors = {}
    data_end = 0
    for key, info in doc.items():
        try:
            dtype, shape = str(info["dtype"]), tuple(int(d) for d in info["shape"])
            start, end = (int(o) for o in info["data_offsets"])
        except (TypeError, KeyError, ValueError):
            raise NotAModelFile("{}: tensor {!r} has no valid dtype/shape/data_offsets".format(name, key)) from None
        tensors[key] = (dtype, shape)
        data_end = max(data_end, end)
    return Header(path=path, format="safetensors", metadata=metadata, tensors=tensors,
                  complete=8 + length + data_end <= size)


# GGUF layout (ggml docs/gguf.md): magic, u32 version, u64 tensor count, u64 kv count
# (u32 counts and string lengths in version 1), then key/value pairs, then tensor infos.
_GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_GGUF_STRING, _GGUF_ARRAY = 8, 9
_GGML_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1", 10: "Q2_K",
               11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 24: "I8", 25: "I16", 26: "I32",
               27: "I64", 28: "F64", 30: "BF16"}
# Arrays (tokenizer vocabularies) can be long; keep only their length beyond this.
_GGUF_ARRAY_KEEP = 16


class _GGUFReader:
    def __init__(self, f, name, limit):
        self.f, self.name, self.limit, self.read_bytes = f, name, limit, 0
        self.wide = True  # u64 lengths (version >= 2)

    def take(self, n):
        self.read_bytes += n
        if self.read_bytes > self.limit:
            raise NotAModelFile("{}: GGUF header larger than {} bytes".format(self.name, self.limit))
        data = self.f.read(n)
        if len(data) < n:
            raise NotAModelFile("{}: truncated GGUF header".format(self.name))
        return data

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def count(self):
        return self.unpack("<Q" if self.wide else "<I")

    def string(self):
        return self.take(self.count()).decode("utf-8", "replace")

    def value(self, vtype):
        if vtype in _GGUF_SCALARS:
            return self.unpack(_GGUF_SCALARS[vtype])
        if vtype == _GGUF_STRING:
            return self.string()
        if vtype == _GGUF_ARRAY:
            item_type, n = self.unpack("<I"), self.count()
            items = [self.value(item_type) for _ in range(n)]
            return items if n <= _GGUF_ARRAY_KEEP else "<array of {}>".format(n)
        raise NotAModelFile("{}: unknown GGUF value type {}".format(self.name, vtype))


def read_gguf_header(path, max_header=DEFAULT_MAX_HEADER):
    """Read a .gguf file's key/value metadata and tensor infos (names, shapes), not its data.

    Shapes are given in PyTorch order (GGUF stores dimensions innermost first).
    """
    name = os.path.basename(path)
    try:
        with open(path, "rb") as f:
            r = _GGUFReader(f, name, max_header)
            if f.read(4) != b"GGUF":
                raise NotAModelFile("{}: not a GGUF file (no GGUF magic)".format(name))
            version = r.unpack("<I")
            r.wide = version >= 2
            n_tensors, n_kv = r.count(), r.count()
            metadata = {}
            for _ in range(n_kv):
                key = r.string()
                metadata[key] = r.value(r.unpack("<I"))
            tensors = {}
            for _ in range(n_tensors):
                tname = r.string()
                dims = [r.unpack("<Q") for _ in range(r.unpack("<I"))]
                gtype = r.unpack("<I")
                r.unpack("<Q")  # offset into the data section
                tensors[tname] = (_GGML_TYPES.get(gtype, "GGML_{}".format(gtype)), tuple(reversed(dims)))
    except OSError as exc:
        raise NotAModelFile("{}: cannot read: {}".format(name, exc.strerror or exc)) from None
    return Header(path=path, format="gguf", metadata=metadata, tensors=tensors)


def read_header(path, max_header=DEFAULT_MAX_HEADER):
    """The header of a .safetensors/.sft or .gguf file, chosen by its first bytes."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise NotAModelFile("{}: cannot read: {}".format(os.path.basename(path), exc.strerror or exc)) from None
    if magic == b"GGUF":
        return read_gguf_header(path, max_header)
    return read_safetensors_header(path, max_header)


# ---------------------------------------------------------------------------
# Identification from tensor names and shapes
# ---------------------------------------------------------------------------

class _Keys:
    """Tensor shapes under a prefix, looked up by the name without the prefix."""

    def __init__(self, shapes, prefix=""):
        self.prefix = prefix
        if prefix:
            self.shapes = {k[len(prefix):]: s for k, s in shapes.items() if k.startswith(prefix)}
        else:
            self.shapes = dict(shapes)

    def __contains__(self, key):
        return key in self.shapes

    def __len__(self):
        return len(self.shapes)

    def shape(self, key):
        return self.shapes.get(key)

    def dim(self, key, axis):
        s = self.shapes.get(key)
        return s[axis] if s is not None and -len(s) <= axis < len(s) else None

    def any_startswith(self, start):
        return any(k.startswith(start) for k in self.shapes)

    def any_endswith(self, end):
        return any(k.endswith(end) for k in self.shapes)

    def count_blocks(self, template):
        """How many consecutive numbered blocks exist, as ComfyUI's count_blocks does."""
        n = 0
        while self.any_startswith(template.format(n)):
            n += 1
        return n


def _hit(family, evidence, variant=None, ambiguous=False):
    return family, variant, evidence, ambiguous


def _detect_unet(k, top):
    """The diffusion-model family of keys k (prefix already removed), or None.

    The checks run in the order of detect_unet_config in comfy/model_detection.py,
    because some signatures are only unique once earlier ones were ruled out.
    `top` holds the whole file's keys, for markers ComfyUI stores outside the
    prefix (v_pred, edm_mean).
    """
    if "joint_blocks.0.context_block.attn.qkv.weight" in k:  # MMDiT
        depth = (k.dim("x_embedder.proj.weight", 0) or 0) // 64
        has_mmditx = k.any_endswith(".x_block.attn2.qkv.weight")
        if depth == 38:
            return _hit("sd3", "MMDiT joint_blocks, depth 38", "sd35-large")
        if depth == 24 and has_mmditx:
            return _hit("sd3", "MMDiT joint_blocks, depth 24 with x_block.attn2 (MMDiT-X)", "sd35-medium")
        if depth == 24:
            return _hit("sd3", "MMDiT joint_blocks, depth 24", "sd3-medium")
        return _hit("sd3", "MMDiT joint_blocks, depth {}".format(depth))

    if "clf.1.weight" in k:
        if "clip_txt_mapper.weight" in k:
            lite = k.dim("clip_txt_mapper.weight", 0) == 1536
            return _hit("stable-cascade", "clf + clip_txt_mapper (stage C)", "stage-c-lite" if lite else "stage-c")
        if "clip_mapper.weight" in k:
            lite = k.dim("down_blocks.1.0.channelwise.0.weight", -1) == 576
            return _hit("stable-cascade", "clf + clip_mapper (stage B)", "stage-b-lite" if lite else "stage-b")
        return _hit("stable-cascade", "clf.1.weight")

    if "transformer.rotary_pos_emb.inv_freq" in k:
        return _hit("stable-audio", "transformer.rotary_pos_emb.inv_freq (Stable Audio DiT)")
    if "double_layers.0.attn.w1q.weight" in k:
        return _hit("aura-flow", "double_layers.0.attn.w1q")
    if "mlp_t5.0.weight" in k:
        return _hit("hunyuan-dit", "mlp_t5 (Hunyuan DiT)")

    if "txt_in.individual_token_refiner.blocks.0.norm1.weight" in k:
        img_in = k.shape("img_in.proj.weight") or ()
        patch = tuple(img_in[2:])
        has_vector_in = k.any_startswith("vector_in.")
        # HunyuanVideo 1.5 markers: newer ComfyUI (0b61ce5b) model_detection.py
        if "cond_type_embedding.weight" in k or "vision_in.proj.0.weight" in k:
            return _hit("hunyuan-video", "token refiner + cond_type_embedding", "1.5")
        if not has_vector_in:  # supported_models.HunyuanImage21*: vec_in_dim None
            if patch == (1, 1, 1):
                return _hit("hunyuan-image", "token refiner, no vector_in, 3-D patch 1x1x1", "refiner")
            return _hit("hunyuan-image", "token refiner, no vector_in", "2.1")
        in_ch = img_in[1] if len(img_in) > 1 else None
        variant = {33: "i2v", 32: "skyreels-i2v"}.get(in_ch, "t2v")
        return _hit("hunyuan-video", "token refiner + vector_in, img_in {} channels".format(in_ch), variant)

    flux_norm = ("double_blocks.0.img_attn.norm.key_norm.scale" in k
                 or "double_blocks.0.img_attn.norm.key_norm.weight" in k)
    chroma_marker = any(m in k for m in ("distilled_guidance_layer.0.norms.0.scale",
                                         "distilled_guidance_layer.norms.0.scale",
                                         "distilled_guidance_layer.norms.0.weight"))
    if flux_norm and ("img_in.weight" in k or chroma_marker):
        if "double_stream_modulation_img.lin.weight" in k:  # newer ComfyUI (0b61ce5b)
            return _hit("flux2", "double_blocks + double_stream_modulation_img")
        if chroma_marker:
            if "nerf_blocks.0.norm.scale" in k or "nerf_blocks.0.norm.weight" in k:
                return _hit("chroma", "double_blocks + distilled_guidance_layer + nerf_blocks", "radiance")
            return _hit("chroma", "double_blocks + distilled_guidance_layer")
        in_ch = (k.dim("img_in.weight", 1) or 0) // 4
        guidance = "guidance_in.in_layer.weight" in k
        if in_ch == 96:  # supported_models.FluxInpaint
            return _hit("flux1", "double_blocks, img_in {} channels".format(in_ch), "fill")
        if in_ch == 128:  # image-conditioned (Flux Depth / Canny): 16 latent + 16 control, patched
            return _hit("flux1", "double_blocks, img_in {} channels".format(in_ch), "control")
        if guidance:
            return _hit("flux1", "double_blocks + guidance_in (dev-style; Kontext has the same keys)",
                        "dev", ambiguous=True)
        return _hit("flux1", "double_blocks without guidance_in", "schnell")

    if "t5_yproj.weight" in k:
        return _hit("mochi", "t5_yproj")
    if "adaln_single.emb.timestep_embedder.linear_1.bias" in k and "pos_embed.proj.bias" in k:
        return _hit("pixart", "adaln_single + pos_embed.proj (diffusers PixArt)")
    if "adaln_single.emb.timestep_embedder.linear_1.bias" in k:
        if "audio_adaln_single.linear.weight" in k:  # newer ComfyUI (0b61ce5b): "ltxav"
            return _hit("ltxv", "adaln_single + audio_adaln_single", "ltx2-av")
        return _hit("ltxv", "adaln_single.emb.timestep_embedder")
    if "genre_embedder.weight" in k:
        return _hit("ace-step", "genre_embedder")
    if "t_block.1.weight" in k:
        return _hit("pixart", "t_block", "alpha" if "ar_embedder.mlp.0.weight" in k else "sigma")
    if "blocks.block0.blocks.0.block.attn.to_q.0.weight" in k:
        in_ch = (k.dim("x_embedder.proj.1.weight", 1) or 0) // 4 - 1
        return _hit("cosmos", "blocks.block0 (Cosmos 1)", "predict1-i2v" if in_ch == 17 else "predict1-t2v")
    if "cap_embedder.1.weight" in k:
        if k.dim("cap_embedder.1.weight", 0) == 3840:  # newer ComfyUI (0b61ce5b): Z-Image is a Lumina 2 DiT
            return _hit("lumina2", "cap_embedder, dim 3840", "z-image")
        return _hit("lumina2", "cap_embedder")

    if "head.modulation" in k:
        return _detect_wan(k)

    if "latent_in.weight" in k:
        depth = k.count_blocks("double_blocks.{}.")
        return _hit("hunyuan3d", "latent_in + double_blocks", "2.0-mini" if depth == 8 else "2.0")
    if "t_embedder.mlp.2.weight" in k:
        return _hit("hunyuan3d", "t_embedder.mlp.2 (Hunyuan3D 2.1)", "2.1")
    if "caption_projection.0.linear.weight" in k:
        return _hit("hidream", "caption_projection.0.linear")
    if "blocks.0.mlp.layer1.weight" in k:
        in_ch = (k.dim("x_embedder.proj.1.weight", 1) or 0) // 4 - 1
        return _hit("cosmos", "blocks.0.mlp.layer1 (Cosmos Predict2)",
                    "predict2-i2v" if in_ch == 17 else "predict2-t2i")
    if "time_caption_embed.timestep_embedder.linear_1.bias" in k:
        return _hit("omnigen2", "time_caption_embed")
    if "txt_norm.weight" in k:
        return _hit("qwen-image", "txt_norm + transformer_blocks (Qwen-Image; Edit has the same keys)",
                    ambiguous=True)

    if "input_blocks.0.0.weight" in k:
        return _detect_ldm_unet(k, top)
    if "conv_in.weight" in k and k.any_startswith("down_blocks."):
        return _detect_diffusers_unet(k)
    return _detect_diffusers_dit(k)


def _detect_wan(k):
    out_dim = (k.dim("head.head.weight", 0) or 0) // 4
    dim = k.dim("head.modulation", -1)
    size = {1536: "1.3b", 3072: "5b", 5120: "14b"}.get(dim)
    if out_dim == 48:  # supported_models.WAN22_T2V: 48-channel Wan 2.2 VAE latents
        return _hit("wan22", "head.modulation, 48 output channels (Wan 2.2 VAE latent)", "5b-ti2v")
    if "vace_patch_embedding.weight" in k:
        return _hit("wan21", "head.modulation + vace_patch_embedding", "vace", ambiguous=True)
    if "control_adapter.conv.weight" in k:
        if "img_emb.proj.0.bias" in k:
            return _hit("wan21", "head.modulation + control_adapter + img_emb", "camera")
        return _hit("wan22", "head.modulation + control_adapter, no img_emb", "camera")
    if "casual_audio_encoder.encoder.final_linear.weight" in k:
        return _hit("wan22", "head.modulation + casual_audio_encoder", "s2v")
    if "audio_proj.audio_proj_glob_1.layer.bias" in k:
        return _hit("wan21", "head.modulation + audio_proj (HuMo)", "humo")
    if "face_adapter.fuser_blocks.0.k_norm.weight" in k:
        return _hit("wan22", "head.modulation + face_adapter", "animate")
    in_dim = k.dim("patch_embedding.weight", 1)
    if "img_emb.proj.0.bias" in k:
        variant = "flf2v" if "img_emb.emb_pos" in k else "i2v"
    elif in_dim == 36:
        variant = "i2v"  # Wan 2.2 I2V has no CLIP-vision img_emb
    elif in_dim == 48:
        variant = "fun-control"
    else:
        variant = "t2v"
    evidence = "head.modulation, dim {} ({}), in_dim {}".format(dim, size, in_dim)
    # Wan 2.2 A14B experts reuse the Wan 2.1 14B layout; there is no Wan 2.2 1.3B.
    ambiguous = size == "14b" and variant in ("t2v", "i2v")
    if ambiguous:
        evidence += "; Wan 2.2 14B has the same keys"
    return _hit("wan21", evidence, variant, ambiguous)


def _context_dim(k, attn_suffix=".attn2.to_k.weight"):
    for key, shape in k.shapes.items():
        if key.endswith(attn_suffix) and len(shape) == 2:
            return shape[1]
    return None


def _unet_family(model_channels, in_channels, context_dim, adm, temporal):
    """Match the unet_config keys of comfy/supported_models.py (SD15, SD20, SDXL ...)."""
    if temporal and context_dim == 1024 and adm == 768:
        return "svd", "img2vid", False
    if model_channels == 384 and context_dim == 1280 and adm == 2560:
        return "sdxl-refiner", None, False
    if context_dim == 2048 and adm == 2816:
        return "sdxl", {9: "inpaint", 8: "ip2p"}.get(in_channels), False
    if context_dim == 1024 and adm in (1536, 2048):
        return "sd2", "unclip-l" if adm == 1536 else "unclip-h", False
    if context_dim == 1024 and model_channels == 256 and in_channels == 7:
        return "sd2", "x4-upscaler", False
    if context_dim == 1024 and adm is None:
        # SD2 v-prediction vs eps is decided by ComfyUI from a tensor's values, not its keys.
        return "sd2", {9: "inpaint"}.get(in_channels), in_channels != 9
    if context_dim == 768 and adm is None:
        return "sd15", {9: "inpaint", 8: "ip2p"}.get(in_channels), False
    return None, None, False


def _detect_ldm_unet(k, top):
    w = k.shape("input_blocks.0.0.weight")
    model_channels, in_channels = w[0], w[1]
    adm = k.dim("label_emb.0.0.weight", 1)
    context_dim = _context_dim(k)
    temporal = k.any_endswith(".time_stack.0.attn1.to_q.weight") or k.any_endswith(".time_mix_blocks.0.attn1.to_q.weight")
    family, variant, ambiguous = _unet_family(model_channels, in_channels, context_dim, adm, temporal)
    evidence = "UNet input_blocks, {} channels, context {}, adm {}".format(model_channels, context_dim, adm)
    if family is None:
        return _hit("unknown", evidence + ": no known UNet family has this")
    if family == "sdxl" and variant is None:
        # markers written next to the weights (supported_models.SDXL.model_type, CheckpointSave)
        if "edm_mean" in top and "edm_std" in top:
            variant = "playground-2.5"
        elif "edm_vpred.sigma_max" in top:
            variant = "v-pred-edm"
        elif "v_pred" in top:
            variant = "v-pred"
    if family == "sd2" and variant is None and "v_pred" in top:
        variant, ambiguous = "v", False
    return _hit(family, evidence, variant, ambiguous)


def _detect_diffusers_unet(k):
    # comfy/model_detection.py unet_config_from_diffusers_unet
    w = k.shape("conv_in.weight")
    adm = k.dim("class_embedding.linear_1.weight", 1) or k.dim("add_embedding.linear_1.weight", 1)
    family, variant, ambiguous = _unet_family(w[0], w[1], _context_dim(k), adm, False)
    if family is None:
        return None
    return _hit(family, "diffusers UNet, context {}, adm {}".format(_context_dim(k), adm), variant, ambiguous)


def _detect_diffusers_dit(k):
    # comfy/model_detection.py convert_diffusers_mmdit: the diffusers names it recognises
    if "joint_transformer_blocks.0.attn.add_k_proj.weight" in k:
        return _hit("aura-flow", "diffusers joint_transformer_blocks")
    if "x_embedder.weight" in k and k.any_startswith("single_transformer_blocks."):
        guidance = k.any_startswith("time_text_embed.guidance_embedder.")
        return _hit("flux1", "diffusers single_transformer_blocks", "dev" if guidance else "schnell", guidance)
    if "transformer_blocks.0.attn.add_q_proj.weight" in k and "pos_embed.proj.weight" in k:
        return _hit("sd3", "diffusers transformer_blocks + pos_embed")
    return None


def _detect_vae(k):
    """comfy/sd.py VAE.__init__: which autoencoder these keys build."""
    if "decoder.mid.block_1.mix_factor" in k:
        return _hit("vae:svd", "decoder.mid.block_1.mix_factor (temporal decoder)")
    if "taesd_decoder.1.weight" in k:
        ch = k.dim("taesd_decoder.1.weight", 1)
        return _hit("vae:taesd", "taesd_decoder, {} latent channels".format(ch), "16ch" if ch == 16 else "4ch")
    if "vquantizer.codebook.weight" in k or "backbone.1.0.block.0.1.num_batches_tracked" in k \
            or "blocks.11.num_batches_tracked" in k or "encoder.backbone.1.0.block.0.1.num_batches_tracked" in k:
        return _hit("vae:stable-cascade", "Stable Cascade stage A / effnet / previewer")
    if "decoder.conv_in.weight" in k:
        z = k.dim("decoder.conv_in.weight", 1)
        if z == 64:
            return _hit("vae:hunyuan-image", "decoder.conv_in 64 latent channels (HunyuanImage 2.1)")
        if z == 32:
            return _hit("vae:hunyuan-image", "decoder.conv_in 32 latent channels (HunyuanImage 2.1 refiner)",
                        "refiner")
        if z == 16:
            return _hit("vae:flux", "KL VAE, 16 latent channels (the SD3 VAE has the same keys)", ambiguous=True)
        if z == 4:
            if "encoder.down.2.downsample.conv.weight" not in k and "decoder.up.3.upsample.conv.weight" not in k \
                    and "encoder.down_blocks.2.downsamplers.0.conv.weight" not in k:
                return _hit("vae:sd", "KL VAE, 4 channels, x4 (SD x4 upscaler)", "x4-upscaler")
            return _hit("vae:sd", "KL VAE, 4 latent channels (SD1.x, SD2.x and SDXL VAEs share these keys)",
                        ambiguous=True)
        return _hit("vae:unknown", "KL VAE, {} latent channels".format(z))
    if "decoder.layers.1.layers.0.beta" in k:
        return _hit("vae:stable-audio", "decoder.layers.1.layers.0.beta (Oobleck)")
    if any(m in k for m in ("blocks.2.blocks.3.stack.5.weight", "decoder.blocks.2.blocks.3.stack.5.weight",
                            "layers.4.layers.1.attn_block.attn.qkv.weight",
                            "encoder.layers.4.layers.1.attn_block.attn.qkv.weight")):
        return _hit("vae:mochi", "Mochi video VAE blocks")
    if "decoder.up_blocks.0.res_blocks.0.conv1.conv.weight" in k:
        return _hit("vae:ltxv", "decoder.up_blocks.0.res_blocks (LTXV)")
    if "decoder.conv_in.conv.weight" in k:
        z = k.dim("decoder.conv_in.conv.weight", 1)
        if z == 32:
            return _hit("vae:hunyuan-video", "3-D conv VAE, 32 channels (HunyuanVideo 1.5 / HunyuanImage refiner)",
                        "1.5", ambiguous=True)
        return _hit("vae:hunyuan-video", "3-D conv VAE, {} latent channels".format(z))
    if "decoder.unpatcher3d.wavelets" in k:
        return _hit("vae:cosmos", "decoder.unpatcher3d.wavelets")
    if "decoder.middle.0.residual.0.gamma" in k:
        if "decoder.upsamples.0.upsamples.0.residual.2.weight" in k:
            return _hit("vae:wan22", "Wan VAE with nested upsamples (Wan 2.2, 48 channels)")
        return _hit("vae:wan21", "Wan VAE decoder.middle (Wan 2.1; the Qwen-Image VAE has the same keys)",
                    ambiguous=True)
    if "geo_decoder.cross_attn_decoder.ln_1.bias" in k:
        return _hit("vae:hunyuan3d", "geo_decoder.cross_attn_decoder")
    if "vocoder.backbone.channel_layers.0.0.bias" in k:
        return _hit("vae:ace-step", "vocoder.backbone (ACE-Step music DCAE)")
    if "vocoder.activation_post.downsample.lowpass.filter" in k:
        return _hit("vae:mmaudio", "vocoder.activation_post (MMAudio)")
    return None


# Text-encoder vocabulary sizes: comfy/text_encoders/t5_config_xxl.json (32128)
# and umt5_config_xxl.json (256384).
_UMT5_VOCAB = 256384


def _detect_te(k):
    """comfy/sd.py detect_te_model, plus t5 vs umt5 from the vocabulary size."""
    if "text_model.encoder.layers.30.mlp.fc1.weight" in k:
        return _hit("te:clip_g", "CLIP text encoder, 32 layers")
    if "text_model.encoder.layers.22.mlp.fc1.weight" in k:
        return _hit("te:clip_h", "CLIP text encoder, 24 layers")
    if "text_model.encoder.layers.0.mlp.fc1.weight" in k:
        return _hit("te:clip_l", "CLIP text encoder, 12 layers")
    wi_1 = k.shape("encoder.block.23.layer.1.DenseReluDense.wi_1.weight")
    if wi_1 is not None:
        vocab = k.dim("shared.weight", 0) or k.dim("encoder.embed_tokens.weight", 0)
        per_layer_bias = "encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight" in k
        if wi_1[-1] == 4096:
            if vocab == _UMT5_VOCAB or per_layer_bias:
                return _hit("te:umt5_xxl", "T5 encoder, 24 blocks, d_model 4096, umT5 vocabulary / per-layer bias")
            return _hit("te:t5xxl", "T5 encoder, 24 blocks, d_model 4096")
        if wi_1[-1] == 2048:
            return _hit("te:t5xl", "T5 encoder, 24 blocks, d_model 2048 (pile T5-XL)")
    if "encoder.block.23.layer.1.DenseReluDense.wi.weight" in k:
        return _hit("te:t5xxl", "T5 v1.0 encoder (ungated wi), 24 blocks", "old")
    if "encoder.block.0.layer.0.SelfAttention.k.weight" in k:
        if k.dim("encoder.block.0.layer.0.SelfAttention.k.weight", 0) == 384:
            return _hit("te:byt5_small", "ByT5-small encoder (glyph)")
        return _hit("te:t5_base", "T5-base encoder")
    if "model.layers.0.post_feedforward_layernorm.weight" in k:
        if "model.layers.0.self_attn.q_norm.weight" in k:
            return _hit("te:gemma3_4b", "Gemma layers with q_norm")
        return _hit("te:gemma2_2b", "Gemma layers with post_feedforward_layernorm")
    kb = k.dim("model.layers.0.self_attn.k_proj.bias", 0)
    if kb in (256, 512):
        vl = "vl" if k.any_startswith("visual.") else None
        return _hit("te:qwen25_3b" if kb == 256 else "te:qwen25_7b",
                    "Qwen2.5 layers, k_proj bias {}".format(kb), vl)
    if "model.layers.0.post_attention_layernorm.weight" in k:
        return _hit("te:llama3_8b", "Llama layers")
    return None


def _detect_clip_vision(k):
    # comfy/clip_vision.py load_clipvision_from_sd
    if "vision_model.encoder.layers.47.layer_norm1.weight" in k:
        return _hit("clip-vision", "vision_model, 48 layers", "vit-g")
    if "vision_model.encoder.layers.30.layer_norm1.weight" in k:
        return _hit("clip-vision", "vision_model, 32 layers", "vit-h")
    if "vision_model.encoder.layers.22.layer_norm1.weight" in k:
        if k.dim("vision_model.encoder.layers.0.layer_norm1.weight", 0) == 1152:
            return _hit("clip-vision", "vision_model, width 1152", "siglip")
        return _hit("clip-vision", "vision_model, 24 layers", "vit-l")
    if "encoder.layer.39.layer_scale2.lambda1" in k or "encoder.layer.23.layer_scale2.lambda1" in k:
        return _hit("clip-vision", "DINOv2 layer_scale", "dinov2")
    return None


def _detect_controlnet(k):
    """comfy/controlnet.py load_controlnet_state_dict; base family from the cross-attention width."""
    bases = {768: "sd15", 1024: "sd2", 2048: "sdxl"}
    if "after_proj_list.18.bias" in k:
        return _hit("hunyuan-dit", "ControlNet after_proj_list")
    if "controlnet_cond_embedding.conv_in.weight" in k:
        ctx = _context_dim(k)
        variant = "union" if "control_add_embedding.linear_1.bias" in k else None
        return _hit(bases.get(ctx, "unknown"), "diffusers ControlNet, context {}".format(ctx), variant)
    if "controlnet_blocks.0.weight" in k:
        if "double_blocks.0.img_attn.norm.key_norm.scale" in k or "controlnet_x_embedder.weight" in k:
            return _hit("flux1", "ControlNet controlnet_blocks + Flux blocks")
        if "pos_embed_input.proj.weight" in k:
            return _hit("sd3", "ControlNet controlnet_blocks + pos_embed_input")
        if "transformer_blocks.0.img_mlp.net.0.proj.weight" in k:
            return _hit("qwen-image", "ControlNet controlnet_blocks + img_mlp (InstantX)")
        return _hit("unknown", "ControlNet controlnet_blocks")
    if "controlnet_blocks.0.linear.weight" in k:
        return _hit("flux1", "ControlNet controlnet_blocks.N.linear (Mistoline)")
    for p in ("control_model.", ""):
        if p + "zero_convs.0.0.weight" in k or p + "input_hint_block.0.weight" in k:
            ctx = _context_dim(_Keys(k.shapes, p) if p else k)
            return _hit(bases.get(ctx, "unknown"), "ldm ControlNet zero_convs, context {}".format(ctx))
    return None


def _detect_upscaler(k):
    # Key layouts of the architectures spandrel loads (ESRGAN old/new, Real-ESRGAN compact, SwinIR/HAT).
    if "model.0.weight" in k and k.any_startswith("model.1.sub.0.RDB1."):
        return _hit("upscale", "ESRGAN (old layout) model.1.sub.N.RDB", "esrgan")
    if "conv_first.weight" in k and (k.any_startswith("body.0.rdb1.") or k.any_startswith("RRDB_trunk.0.")):
        return _hit("upscale", "ESRGAN RRDB body", "esrgan")
    if k.any_startswith("layers.0.residual_group.blocks.0."):
        return _hit("upscale", "Swin residual groups", "swinir")
    if "body.0.weight" in k and k.count_blocks("body.{}.") > 10 and not k.any_startswith("body.0.rdb"):
        return _hit("upscale", "plain conv body (Real-ESRGAN compact)", "compact")
    return None


_LORA_MARKERS = (".lora_up.", ".lora_down.", ".lora_A.", ".lora_B.", ".lora.up.", ".lora.down.",
                 ".hada_w1_a", ".lokr_w1", ".alpha", "lora_unet_", "lora_te")


def _looks_like_lora(k):
    hits = sum(1 for key in k.shapes if any(m in key for m in _LORA_MARKERS))
    return hits * 2 >= len(k) > 0


def _lora_in_dim(k, needle):
    """The input width of a LoRA down/A matrix whose key contains `needle`."""
    for key, shape in k.shapes.items():
        if needle in key and (".lora_down." in key or ".lora_A." in key) and len(shape) == 2:
            return shape[1]
    return None


def _detect_lora_base(k):
    """The base family a LoRA applies to, from the module names (and widths) it patches."""
    names = " ".join(k.shapes)
    flat = names.replace("_", ".")  # kohya flattens dots to underscores
    bases = {768: "sd15", 1024: "sd2", 2048: "sdxl"}
    if "lora_te1_" in names or "lora_te2_" in names or "text_encoder_2." in names:
        return _hit("sdxl", "LoRA for two text encoders (te1/te2)")
    if "joint.blocks" in flat or "joint_blocks" in names:
        return _hit("sd3", "LoRA on MMDiT joint_blocks")
    if "double.blocks" in flat or "single.transformer.blocks" in flat:
        if "individual.token.refiner" in flat:
            return _hit("hunyuan-video", "LoRA on double_blocks + token refiner")
        return _hit("flux1", "LoRA on double_blocks / single_blocks (HunyuanVideo LoRAs look alike)",
                    ambiguous=True)
    if re.search(r"blocks\.\d+\.cross\.attn", flat) or re.search(r"blocks\.\d+\.ffn\.", flat):
        dim = _lora_in_dim(k, "cross_attn")
        if dim == 3072:
            return _hit("wan22", "LoRA on Wan blocks, width 3072 (5B)", "5b-ti2v")
        size = {1536: "1.3b", 5120: "14b"}.get(dim)
        return _hit("wan21", "LoRA on Wan blocks.N.cross_attn, width {} (Wan 2.2 14B looks alike)".format(dim),
                    size, ambiguous=True)
    if "img.mlp" in flat and "txt.mlp" in flat and "transformer.blocks" in flat:
        return _hit("qwen-image", "LoRA on transformer_blocks img_mlp/txt_mlp")
    if "double.stream.blocks" in flat:
        return _hit("hidream", "LoRA on double_stream_blocks")
    if "attn2.to.k" in flat or "attn2_to_k" in names:
        dim = _lora_in_dim(k, "attn2.to_k") or _lora_in_dim(k, "attn2_to_k")
        if dim in bases:
            return _hit(bases[dim], "LoRA on UNet cross-attention, context {}".format(dim))
    if "lora_te_" in names or "text_model.encoder" in names:
        dim = _lora_in_dim(k, "mlp_fc1") or _lora_in_dim(k, "mlp.fc1")
        if dim == 768:
            return _hit("sd15", "LoRA on one 768-wide CLIP text encoder")
    return _hit("unknown", "LoRA, base not tellable from its keys")


_CHECKPOINT_PARTS = (
    ("cond_stage_model.transformer.", "te:clip_l"),
    ("cond_stage_model.model.transformer.", "te:clip_h"),
    ("conditioner.embedders.0.transformer.", "te:clip_l"),
    ("conditioner.embedders.0.model.", "te:clip_h"),
    ("conditioner.embedders.1.model.", "te:clip_g"),
    ("text_encoders.clip_l.", "te:clip_l"),
    ("text_encoders.clip_g.", "te:clip_g"),
    ("text_encoders.t5xxl.", "te:t5xxl"),
)

# comfy/model_detection.py unet_prefix_from_state_dict
_UNET_PREFIXES = ("model.diffusion_model.", "model.model.", "net.")


def _unet_prefix(shapes):
    counts = {p: 0 for p in _UNET_PREFIXES}
    for key in shapes:
        for p in _UNET_PREFIXES:
            if key.startswith(p):
                counts[p] += 1
                break
    top = max(counts, key=counts.get)
    return top if counts[top] > 5 else None


def identify_tensors(shapes, metadata=None, kind_hint=None):
    """Identity from {tensor name: shape}. Always returns an Identity (family 'unknown' if nothing fits)."""
    top = _Keys(shapes)
    if len(top) == 0:
        return Identity("unknown", kind_hint or "unknown", "header", 0.0, "the file holds no tensors")

    def done(found, kind, parts=()):
        family, variant, evidence, ambiguous = found
        if family == "unknown":
            return Identity("unknown", kind, "header", 0.0, evidence, variant, parts)
        conf = CONFIDENCE_HEADER_AMBIGUOUS if ambiguous else CONFIDENCE_HEADER
        return Identity(family, kind, "header", conf, evidence, variant, parts)

    if _looks_like_lora(top):
        return done(_detect_lora_base(top), "lora")

    prefix = _unet_prefix(shapes)
    if prefix:
        found = _detect_unet(_Keys(shapes, prefix), top)
        parts = _checkpoint_parts(top)
        kind = "checkpoint" if parts else "diffusion_model"
        if found:
            return done(found, kind, parts)
        return Identity("unknown", kind, "header", 0.0,
                        "diffusion-model keys under {!r}, but no known family matches".format(prefix), parts=parts)

    # A ControlNet carries UNet block names (input_blocks, down_blocks), so it is ruled out first.
    found = _detect_controlnet(top)
    if found:
        return done(found, "controlnet")
    # A bare diffusion model, or one ComfyUI finds under the "model." fallback prefix (AuraFlow).
    for p in ("", "model.", "diffusion_model."):
        keys = _Keys(shapes, p) if p else top
        if p and len(keys) <= 5:
            continue
        found = _detect_unet(keys, top)
        if found:
            return done(found, "diffusion_model")

    for detector, kind in ((_detect_vae, "vae"), (_detect_te, "text_encoder"),
                           (_detect_clip_vision, "clip_vision"), (_detect_upscaler, "upscale_model")):
        found = detector(top)
        if found:
            return done(found, kind)
    # Components saved with the prefix they carry inside a checkpoint.
    for p, detector, kind in (("first_stage_model.", _detect_vae, "vae"), ("vae.", _detect_vae, "vae"),
                              ("text_model.", _detect_te, "text_encoder")):
        sub = _Keys(shapes, p)
        found = detector(sub) if len(sub) else None
        if found:
            return done(found, kind)
    return Identity("unknown", kind_hint or "unknown", "header", 0.0,
                    "{} tensors, none of the known signatures".format(len(top)))


def _checkpoint_parts(top):
    parts = []
    vae = _Keys(top.shapes, "first_stage_model.")
    if len(vae):
        found = _detect_vae(vae)
        parts.append(found[0] if found else "vae:unknown")
    for prefix, part in _CHECKPOINT_PARTS:
        if part not in parts and top.any_startswith(prefix):
            parts.append(part)
    return tuple(parts)


def _gguf_identity(header):
    """GGUF: diffusion-model GGUFs keep the original tensor names; llama.cpp text encoders do not."""
    found = identify_tensors({n: s for n, (_, s) in header.tensors.items()})
    if found.known:
        return found
    arch = str(header.metadata.get("general.architecture", ""))
    te = {"t5encoder": "te:t5xxl", "t5": "te:t5xxl", "llama": "te:llama3_8b", "qwen2vl": "te:qwen25_7b",
          "gemma2": "te:gemma2_2b", "gemma3": "te:gemma3_4b"}.get(arch)
    if te == "te:t5xxl" and (header.tensors.get("token_embd.weight", ("", (0,)))[1][0] == _UMT5_VOCAB):
        te = "te:umt5_xxl"
    if te:
        return Identity(te, "text_encoder", "header", CONFIDENCE_HEADER_AMBIGUOUS,
                        "GGUF general.architecture={!r}".format(arch))
    by_arch = _GGUF_DIFFUSION_ARCH.get(arch)
    if by_arch:
        return Identity(by_arch, "diffusion_model", "metadata", CONFIDENCE_MODELSPEC,
                        "GGUF general.architecture={!r}".format(arch))
    return found


# general.architecture values written by the ComfyUI-GGUF conversion tool (city96).
_GGUF_DIFFUSION_ARCH = {"flux": "flux1", "sd1": "sd15", "sdxl": "sdxl", "sd3": "sd3", "aura": "aura-flow",
                        "ltxv": "ltxv", "hyvid": "hunyuan-video", "wan": "wan21", "hidream": "hidream",
                        "cosmos": "cosmos", "lumina2": "lumina2", "qwen_image": "qwen-image", "chroma": "chroma"}


def identify_file(path, max_header=DEFAULT_MAX_HEADER):
    """Identity of a .safetensors/.sft/.gguf file from its header (never its weights).

    Raises NotAModelFile for a file whose header cannot be read.
    """
    return identify_header(read_header(path, max_header))


def identify_header(header):
    """Identity from an already read Header."""
    if header.format == "gguf":
        found = _gguf_identity(header)
    else:
        found = identify_tensors({n: s for n, (_, s) in header.tensors.items()})
    if not header.complete:
        found = replace(found, problem="the file is shorter than its header says (incomplete download?)")
    return found


# ---------------------------------------------------------------------------
# Identification from metadata
# ---------------------------------------------------------------------------

# modelspec.architecture values: the SAI model spec, as ComfyUI's CheckpointSave
# writes them (comfy_extras/nodes_model_merging.py save_checkpoint, 0.3.64), plus
# the ones trainers write for newer bases. Order matters: first match wins.
_ARCHITECTURES = (
    ("stable-diffusion-xl-v1-refiner", "sdxl-refiner", None),
    ("stable-diffusion-xl-v1-edit", "sdxl", "ip2p"),
    ("stable-diffusion-xl", "sdxl", None),
    ("stable-video-diffusion", "svd", None),
    ("stable-diffusion-v3.5-large", "sd3", "sd35-large"),
    ("stable-diffusion-v3.5-medium", "sd3", "sd35-medium"),
    ("stable-diffusion-v3", "sd3", "sd3-medium"),
    ("stable-diffusion-v2-768-v", "sd2", "v"),
    ("stable-diffusion-v2-unclip-l", "sd2", "unclip-l"),
    ("stable-diffusion-v2-unclip-h", "sd2", "unclip-h"),
    ("stable-diffusion-v2", "sd2", None),
    ("stable-diffusion-v1-inpainting", "sd15", "inpaint"),
    ("stable-diffusion-v1", "sd15", None),
    ("stable-cascade", "stable-cascade", None),
    ("flux-1-dev", "flux1", "dev"),
    ("flux-1-schnell", "flux1", "schnell"),
    ("flux-1-kontext", "flux1", "kontext"),
    ("flux-1-fill", "flux1", "fill"),
    ("flux", "flux1", None),
    ("chroma", "chroma", None),
    ("auraflow", "aura-flow", None),
    ("hunyuan-video", "hunyuan-video", None),
    ("wan", "wan21", None),
    ("lumina", "lumina2", None),
)

_SS_BASE = (  # kohya sd-scripts ss_base_model_version values, by substring
    ("sdxl", "sdxl"), ("sd_v2", "sd2"), ("sd_v1", "sd15"), ("sd3", "sd3"), ("flux", "flux1"),
    ("chroma", "chroma"), ("lumina", "lumina2"), ("hunyuan_video", "hunyuan-video"), ("wan", "wan21"),
    ("qwen_image", "qwen-image"),
)

_SDXL_FINETUNES = (("pony", "pony"), ("illustrious", "illustrious"), ("noob", "illustrious"))

_SUFFIX_KINDS = {"lora": "lora", "lycoris": "lora", "controlnet": "controlnet", "textual-inversion": "embedding"}


def _finetune(*texts):
    low = " ".join(t for t in texts if t).lower()
    for needle, variant in _SDXL_FINETUNES:
        if needle in low:
            return variant, needle
    return None, None


def identify_metadata(meta, name=None):
    """Identity from a safetensors __metadata__ dict (or a /view_metadata answer), or None.

    name (the file name) is only read to tell SDXL fine-tunes apart when the
    metadata names none; the evidence then says so.
    """
    if not isinstance(meta, dict) or not meta:
        return None
    arch = str(meta.get("modelspec.architecture", "")).strip().lower()
    title = str(meta.get("modelspec.title", ""))
    hint = str(meta.get("modelspec.usage_hint", ""))
    ss_base = str(meta.get("ss_base_model_version", "")).lower()
    ss_model = str(meta.get("ss_sd_model_name", ""))
    family = variant = None
    kind = "unknown"
    evidence = ""
    conf = CONFIDENCE_MODELSPEC
    if arch:
        base, _, suffix = arch.partition("/")
        kind = _SUFFIX_KINDS.get(suffix, "unknown")
        for needle, fam, var in _ARCHITECTURES:
            if base.startswith(needle):
                family, variant = fam, var
                break
        evidence = "modelspec.architecture={}".format(arch)
    if family is None and ss_base:
        for needle, fam in _SS_BASE:
            if needle in ss_base:
                family = fam
                break
        conf = CONFIDENCE_TRAINER_METADATA
        evidence = "ss_base_model_version={}".format(ss_base)
        if str(meta.get("ss_network_module", "")).startswith(("networks.lora", "lycoris", "networks.")):
            kind = "lora"
    if family is None:
        return None
    if family == "sd2" and variant is None and meta.get("modelspec.predict_key") == "v":
        variant = "v"
        evidence += ", modelspec.predict_key=v"
    if family == "sdxl" and variant is None:
        fine, needle = _finetune(title, hint, ss_model, str(meta.get("ss_output_name", "")))
        by_name, name_needle = _finetune(os.path.basename(str(name or "")))
        if fine:
            variant = fine
            evidence += ", {!r} in modelspec.title/usage_hint/ss_sd_model_name".format(needle)
        elif by_name:
            variant = by_name
            evidence += ", {!r} in the file name".format(name_needle)
        elif meta.get("modelspec.predict_key") == "v":
            variant = "v-pred"
    return Identity(family, kind, "metadata", conf, evidence, variant)

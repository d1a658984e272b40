"""The model families, and what a file's name says about one.

Families are named by ids such as ``sdxl``, ``flux1``, ``wan22``; components by
``te:t5xxl``, ``vae:flux``. A LoRA or ControlNet is reported with the *base*
family it applies to (family ``sdxl``, kind ``lora``), or ``unknown`` when its
keys do not say.

An ``Identity`` is what one source says a file is: family, kind (one of ``KINDS``;
a ComfyUI model folder implies one, ``FOLDER_KINDS``), variant, how it was known and
how sure. The sources, from the strongest: the file's header and its metadata
(signatures.py reads both) and its name (the rules here: guesses, with a lower
confidence). identify.py lets the strongest decide; ``REFINES`` names the families
whose header a more specific family shares, so a weaker source may say which.
"""

import os
import re
from dataclasses import dataclass
from typing import Optional, Tuple

CONFIDENCE_HEADER = 0.95
CONFIDENCE_HEADER_AMBIGUOUS = 0.8  # the keys fit this family, but a sibling has the same keys
CONFIDENCE_MODELSPEC = 0.85
CONFIDENCE_TRAINER_METADATA = 0.75  # kohya ss_* keys: written by training scripts, usually right
CONFIDENCE_NAME = 0.55
CONFIDENCE_NAME_WEAK = 0.4  # short or generic tokens

KINDS = ("checkpoint", "diffusion_model", "text_encoder", "vae", "lora", "controlnet",
         "upscale_model", "clip_vision", "embedding", "unknown")

FOLDER_KINDS = {
    "checkpoints": "checkpoint", "diffusion_models": "diffusion_model", "unet": "diffusion_model",
    "text_encoders": "text_encoder", "clip": "text_encoder", "vae": "vae", "vae_approx": "vae",
    "loras": "lora", "controlnet": "controlnet", "t2i_adapter": "controlnet",
    "upscale_models": "upscale_model", "clip_vision": "clip_vision",
}


@dataclass(frozen=True)
class Identity:
    """What one source (header, metadata, name) or all of them together say a file is."""
    family: str                    # 'sdxl', 'flux1', 'te:t5xxl', 'vae:flux', 'upscale', 'unknown'
    kind: str                      # one of KINDS
    how: str                       # 'header' | 'metadata' | 'name' | 'none'
    confidence: float              # 0..1
    evidence: str                  # what matched, in a few words
    variant: Optional[str] = None  # 'dev', 'pony', 'sd35-large', 'i2v', ...
    parts: Tuple[str, ...] = ()    # components bundled in a checkpoint: ('vae:sd', 'te:clip_l')
    problem: Optional[str] = None  # e.g. the file is shorter than its header says

    @property
    def known(self):
        return self.family != "unknown"

    def as_dict(self):
        out = {"family": self.family, "variant": self.variant, "kind": self.kind, "how": self.how,
               "confidence": round(self.confidence, 2), "evidence": self.evidence}
        if self.parts:
            out["parts"] = list(self.parts)
        if self.problem:
            out["problem"] = self.problem
        return out


# ---------------------------------------------------------------------------
# Identification from the file name
# ---------------------------------------------------------------------------

# (pattern, family, variant, kind or None). Patterns match the lower-cased base name
# with '-', '_', ' ' and '.' all turned into '_'. First match wins, so specific
# names come before general ones.
_NAME_RULES = [(re.compile(p), f, v, k) for p, f, v, k in (
    (r"qwen_image.*vae|qwen_vae", "vae:qwen-image", None, "vae"),
    (r"wan2_2_vae|wan22_vae", "vae:wan22", None, "vae"),
    (r"wan_2_1_vae|wan2_1_vae|wan21_vae", "vae:wan21", None, "vae"),
    (r"hunyuan_video.*vae", "vae:hunyuan-video", None, "vae"),
    (r"hunyuan_image.*vae", "vae:hunyuan-image", None, "vae"),
    (r"sdxl.*vae|vae.*sdxl|sd_xl.*vae", "vae:sdxl", None, "vae"),
    (r"sd3.*vae", "vae:sd3", None, "vae"),
    (r"^ae(_|$)|flux.*vae|vae.*flux", "vae:flux", None, "vae"),
    (r"ltx.*vae", "vae:ltxv", None, "vae"),
    (r"cosmos.*(vae|tokenizer)", "vae:cosmos", None, "vae"),
    (r"vae_ft_mse|vae_ft_ema|kl_f8|sd_vae|^vae", "vae:sd", None, "vae"),
    (r"umt5_xxl|umt5", "te:umt5_xxl", None, "text_encoder"),
    (r"t5xxl|t5_xxl|t5_v1_1_xxl", "te:t5xxl", None, "text_encoder"),
    (r"clip_l(_|$)|clip_vit_l|vit_l_14", "te:clip_l", None, "text_encoder"),
    (r"clip_g(_|$)|vit_bigg", "te:clip_g", None, "text_encoder"),
    (r"qwen_2_5_vl_7b|qwen2_5_vl_7b", "te:qwen25_7b", "vl", "text_encoder"),
    (r"llama_3_1_8b|llava_llama3|llama3_8b", "te:llama3_8b", None, "text_encoder"),
    (r"gemma_2_2b", "te:gemma2_2b", None, "text_encoder"),
    (r"gemma_3_4b", "te:gemma3_4b", None, "text_encoder"),
    (r"(real_?esrgan|esrgan|ultrasharp|4x|2x|swinir|nmkd|siax)", "upscale", None, "upscale_model"),
    (r"sd_xl_refiner|sdxl_refiner|xl_refiner", "sdxl-refiner", None, None),
    (r"pony", "sdxl", "pony", None),
    (r"illustrious|noob|ilxl", "sdxl", "illustrious", None),
    (r"sd_xl_base|sdxl|_xl_|xl_v|juggernaut_?xl|realvisxl", "sdxl", None, None),
    (r"sd3_5_large|sd3_5l|sd35_large", "sd3", "sd35-large", None),
    (r"sd3_5_medium|sd35_medium", "sd3", "sd35-medium", None),
    (r"sd3_medium|sd3(_|$)", "sd3", "sd3-medium", None),
    (r"flux1?_kontext|flux_1_kontext|kontext", "flux1", "kontext", None),
    (r"flux1?_fill|flux_1_fill", "flux1", "fill", None),
    (r"flux1?_schnell|flux_1_schnell|schnell", "flux1", "schnell", None),
    (r"flux1?_dev|flux_1_dev", "flux1", "dev", None),
    (r"flux2|flux_2", "flux2", None, None),
    (r"flux", "flux1", None, None),
    (r"chroma.*radiance", "chroma", "radiance", None),
    (r"chroma", "chroma", None, None),
    (r"hidream", "hidream", None, None),
    (r"qwen_image_edit", "qwen-image", "edit", None),
    (r"qwen_image", "qwen-image", None, None),
    (r"wan2_2_ti2v_5b|wan22_ti2v", "wan22", "5b-ti2v", None),
    (r"wan2_2_t2v|wan22_t2v", "wan22", "t2v", None),
    (r"wan2_2_i2v|wan22_i2v", "wan22", "i2v", None),
    (r"wan2_2|wan22", "wan22", None, None),
    (r"wan2_1_t2v|wan21_t2v", "wan21", "t2v", None),
    (r"wan2_1_i2v|wan21_i2v", "wan21", "i2v", None),
    (r"wan2_1|wan21|wan_2_1", "wan21", None, None),
    (r"hunyuan_?image|hunyuanimage", "hunyuan-image", None, None),
    (r"hunyuan3d|hunyuan_3d", "hunyuan3d", None, None),
    (r"hunyuan_?video|hunyuanvideo", "hunyuan-video", None, None),
    (r"ltx_?v|ltx_video|ltxv", "ltxv", None, None),
    (r"cosmos", "cosmos", None, None),
    (r"lumina", "lumina2", None, None),
    (r"stable_cascade|stage_c|stage_b", "stable-cascade", None, None),
    (r"stable_audio", "stable-audio", None, None),
    (r"ace_step", "ace-step", None, None),
    (r"aura_?flow", "aura-flow", None, None),
    (r"pixart", "pixart", None, None),
    (r"mochi", "mochi", None, None),
    (r"svd|stable_video_diffusion", "svd", None, None),
    # generic SD1/SD2 tokens last: 'v1_' also appears in other families' version suffixes
    (r"v2_1_768|768_v|sd2_1_768", "sd2", "v", None),
    (r"v2_1_512|512_base|sd2_1_base", "sd2", "eps", None),
    (r"sd2_1|v2_1|sd21|sd_2", "sd2", None, None),
    (r"v1_5|sd15|sd_1_5|v1_4|sd1_|dreamshaper(?!_?xl)|realistic_?vision|v1_", "sd15", None, None),
)]


def identify_name(name, folder=None):
    """A guess from the file name (and the ComfyUI folder it sits in), or None."""
    if not name:
        return None
    base = os.path.basename(str(name).replace("\\", "/"))
    stem = re.sub(r"\.(safetensors|sft|gguf|ckpt|pt|pth|bin)$", "", base, flags=re.I)
    norm = re.sub(r"[-\s.]+", "_", stem.lower())
    folder_kind = FOLDER_KINDS.get(folder) if folder else None
    for pattern, family, variant, kind in _NAME_RULES:
        m = pattern.search(norm)
        if not m:
            continue
        if kind and folder_kind and kind != folder_kind:
            continue  # a LoRA called 'sdxl_vae_fix' is not a VAE
        conf = CONFIDENCE_NAME if len(m.group(0).strip("_")) >= 4 else CONFIDENCE_NAME_WEAK
        return Identity(family, folder_kind or kind or "unknown", "name", conf,
                        "file name matches {!r}".format(m.group(0).strip("_")), variant)
    return None


# ---------------------------------------------------------------------------
# Families that share a header
# ---------------------------------------------------------------------------

# Header families whose keys a more specific family shares: when the header is
# ambiguous it can only say the general one, a name or metadata may say which.
REFINES = {
    "vae:sd": {"vae:sdxl"},
    "vae:flux": {"vae:sd3"},
    "vae:wan21": {"vae:qwen-image"},
    "wan21": {"wan22"},
}
# (family, header variant, variant a weaker source may put instead): Kontext has dev's keys.
VARIANT_REFINES = {("flux1", "dev", "kontext")}


def related(a, b):
    """Whether two family ids may name the same architecture (one refines the other)."""
    return a == b or b in REFINES.get(a, ()) or a in REFINES.get(b, ())

"""Which official frontend's "Export (API)" the conversion follows.

Two frontends were recorded on the same ComfyUI 0.3.64: 1.27.10 (the one that server pins) and
1.58.1 (the newest, October 2026). Where they differ, the conversion follows the frontend the
user's server serves when that is known, else the newest. Versions between the two were not
recorded; they are taken to behave like 1.58.1 from 1.28 on, the first release after 1.27.
"""

import re

from ..errors import InputError

NEWEST = "1.58.1"
FIRST_NEW = (1, 28)

# Titles the frontend takes from its English locale where ComfyUI 0.3.64 sends no display_name
# (every other title comes from the schema). Read from each frontend package's locale (1.58.1:
# src/locales/en/nodeDefs.json in its source map, every class 0.3.64 sends without a display_name).
TITLES_1_27 = {"ImageBlend": "Image Blend", "ImageBlur": "Image Blur", "ImageQuantize": "Image Quantize",
               "ImageScaleToTotalPixels": "Scale Image to Total Pixels", "ImageSharpen": "Image Sharpen"}
TITLES_1_58 = {
    "ImageBlend": "Blend Images", "ImageBlur": "Blur Image", "ImageQuantize": "Quantize Image",
    "ImageSharpen": "Sharpen Image", "ImageScaleToTotalPixels": "Scale Image to Total Pixels",
    "CLIPTextEncodeSDXLRefiner": "CLIP Text Encode (SDXL Refiner)", "CLIPTextEncodeSDXL": "CLIP Text Encode (SDXL)",
    "Canny": "Detect Edges (Canny)", "PerpNegGuider": "Perp-Neg Guider", "PhotoMakerLoader": "Load PhotoMaker Model",
    "PhotoMakerEncode": "PhotoMaker Encode", "CLIPTextEncodePixArtAlpha": "CLIP Text Encode (PixArt Alpha)",
    "CLIPTextEncodeControlnet": "CLIP Text Encode (Controlnet)", "T5TokenizerOptions": "T5 Tokenizer Options",
    "ImageRGBToYUV": "Image RGB to YUV", "ImageYUVToRGB": "Image YUV to RGB",
    "StableCascade_EmptyLatentImage": "Empty Stable Cascade Latent Image",
    "StableCascade_StageC_VAEEncode": "Stable Cascade Stage C VAE Encode",
    "EmptyLTXVLatentVideo": "Empty LTXV Latent Video", "LTXVPreprocess": "LTXV Preprocess",
    "EmptyCosmosLatentVideo": "Empty Cosmos Latent Video", "SaveWEBM": "Save WEBM",
    "TrimVideoLatent": "Trim Video Latent", "QuadrupleCLIPLoader": "Load CLIP (Quadruple)",
    "CLIPTextEncodeHiDream": "CLIP Text Encode (HiDream)", "EmptyAceStepLatentAudio": "Empty Ace Step 1.0 Latent Audio",
    "ReferenceLatent": "Set Reference Latent", "TextEncodeQwenImageEdit": "Text Encode Qwen Image Edit",
    "TextEncodeQwenImageEditPlus": "Text Encode Qwen Image Edit Plus",
    "FluxKontextMultiReferenceLatentMethod": "Edit Model Reference Method", "TripleCLIPLoader": "Load CLIP (Triple)",
    "CLIPTextEncodeSD3": "CLIP Text Encode (SD3)", "LatentBatch": "Batch Latents (DEPRECATED)",
}

# The node-pack fields 1.58.1 copies from a node's properties into `_meta`, each kept only when
# it has the shape the frontend's workflow schema accepts (1.27.10 writes the title alone).
PACK_ID = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9._-]*[a-zA-Z0-9])?$")
GITHUB_USER = re.compile(r"^(?!-)(?!.*--)[a-zA-Z0-9-]+(?<!-)$")
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([\da-z-]+(?:\.[\da-z-]+)*))?"
                    r"(?:\+([\da-z-]+(?:\.[\da-z-]+)*))?$")
COMMIT = re.compile(r"^[0-9a-f]{4,40}$", re.IGNORECASE)


def parse_version(text):
    """(major, minor, patch) of a frontend version such as "1.58.1" or "v1.24.0-1"."""
    match = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", str(text).strip()) if text is not None else None
    if not match:
        raise InputError(f"frontend version {str(text)[:40]!r} is not a version like {NEWEST}")
    return tuple(int(x or 0) for x in match.groups())


class Frontend:
    """The export rules of one frontend version."""

    def __init__(self, version=None):
        self.version = version or NEWEST
        self.new = parse_version(self.version)[:2] >= FIRST_NEW
        self.titles = TITLES_1_58 if self.new else TITLES_1_27

    def sends_extension_widget(self, node_type):
        """1.58.1's PreviewAny shows its text in widgets it never sends; 1.27.10 sends `preview`."""
        return not (self.new and node_type == "PreviewAny")

    def meta(self, title, properties):
        out = {"title": title}
        if self.new and isinstance(properties, dict):
            out.update(pack_fields(properties))
        return out


def pack_fields(properties):
    out = {}
    cnr_id = properties.get("cnr_id")
    if isinstance(cnr_id, str) and is_pack_id(cnr_id):
        out["cnr_id"] = cnr_id
    aux_id = properties.get("aux_id")
    if isinstance(aux_id, str) and aux_id.count("/") == 1:
        user, repo = aux_id.split("/")
        if 1 <= len(user) <= 39 and GITHUB_USER.match(user) and is_pack_id(repo):
            out["aux_id"] = aux_id
    ver = properties.get("ver")
    if isinstance(ver, str):
        bare = ver[1:] if ver.startswith("v") else ver
        if SEMVER.match(bare) or COMMIT.match(bare):
            out["ver"] = bare
        elif ver == "unknown":
            out["ver"] = ver
    return out


def is_pack_id(text):
    return 1 <= len(text) <= 100 and bool(PACK_ID.match(text)) and text[0] not in "_-." and text[-1] not in "_-."


def saved_by(workflow):
    """The frontend version an editor file says saved it (extra.frontendVersion), or None."""
    extra = workflow.get("extra") if isinstance(workflow, dict) else None
    version = extra.get("frontendVersion") if isinstance(extra, dict) else None
    try:
        parse_version(version)
    except InputError:
        return None
    return version


def served_by(system_stats):
    """The frontend version a server's /system_stats names (system.required_frontend_version, the
    frontend package it pins), or None when it names none."""
    system = system_stats.get("system") if isinstance(system_stats, dict) else None
    version = system.get("required_frontend_version") if isinstance(system, dict) else None
    try:
        parse_version(version)
    except InputError:
        return None
    return version

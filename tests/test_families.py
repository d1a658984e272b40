"""comfyui_skills.families: what a model file's name says it is."""
import pytest

from comfyui_skills import families
from comfyui_skills.families import identify_name


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

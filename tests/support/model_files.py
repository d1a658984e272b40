"""Model files for tests: safetensors and headers with the layouts real files have.

`safetensors_bytes` makes a small valid file of any size (download tests). `write_safetensors` writes
a header built from a compact spec carrying the key names and shapes ComfyUI's own detection looks
at (comfy/model_detection.py, comfy/sd.py at 0.3.64 unless noted), with the data section a sparse
hole of the right length, so a "7 GiB" file costs no disk and proves that only the header is read.
`CASES` pairs such specs with the family, variant and kind each one is.
"""

import contextlib
import json
import struct
from pathlib import Path


def safetensors_bytes(size, seed=0):
    """A safetensors file of exactly `size` bytes: one U8 tensor of patterned bytes."""
    header_len = 200
    data_len = size - 8 - header_len
    header = json.dumps({"t": {"dtype": "U8", "shape": [data_len], "data_offsets": [0, data_len]}})
    header = header.encode().ljust(header_len, b" ")
    pattern = bytes((i * 131 + seed) % 251 for i in range(4096))
    body = pattern * (data_len // len(pattern) + 1)
    return len(header).to_bytes(8, "little") + header + body[:data_len]


DTYPE_BYTES = {"F16": 2, "BF16": 2, "F32": 4, "F8_E4M3": 1}


def write_safetensors(path, tensors, metadata=None, dtype="F16", full=True):
    """tensors: {name: shape} or {name: (dtype, shape)}; the data is a sparse hole (or absent)."""
    header, offset = {}, 0
    for name, spec in tensors.items():
        tdtype, shape = spec if spec and isinstance(spec[0], str) else (dtype, spec)
        n = DTYPE_BYTES.get(tdtype, 2)
        for d in shape:
            n *= d
        header[name] = {"dtype": tdtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    if metadata is not None:
        header["__metadata__"] = metadata
    raw = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        if full:
            f.truncate(8 + len(raw) + offset)
    return path


def tiny_upscaler(path, scale=4, features=8):
    """A RealESRGAN Compact (SRVGGNetCompact) upscaler as spandrel detects it: conv, PReLU, one more
    conv and PReLU, and the conv feeding the pixel shuffle; zero weights (the sparse hole), so it
    returns the input upscaled by nearest neighbour. A few kB, for the tiled progress of
    ImageUpscaleWithModel on a CPU."""
    return write_safetensors(path, {
        "body.0.weight": (features, 3, 3, 3), "body.0.bias": (features,), "body.1.weight": (features,),
        "body.2.weight": (features, features, 3, 3), "body.2.bias": (features,), "body.3.weight": (features,),
        "body.4.weight": (3 * scale * scale, features, 3, 3), "body.4.bias": (3 * scale * scale,)}, dtype="F32")


@contextlib.contextmanager
def placed_in(home, folder, name, write):
    """`write(path)` makes models/<folder>/<name> of the ComfyUI install `home` for the block, then
    it is removed. A file already there is never touched: the test is skipped instead."""
    import pytest

    path = Path(home) / "models" / folder / name
    if path.exists():
        pytest.skip(f"{path} is there already; this test only adds and removes a file of its own")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write(path)
        yield path.name
    finally:
        path.unlink(missing_ok=True)


def prefixed(prefix, spec):
    return {prefix + k: v for k, v in spec.items()}


def blocks(template, n, shape):
    return {template.format(i): shape for i in range(n)}


# --- specs: (key -> shape), with the keys ComfyUI's detectors read -------------

SD15_UNET = {
    "input_blocks.0.0.weight": (320, 4, 3, 3), "input_blocks.0.0.bias": (320,),
    "input_blocks.1.0.in_layers.0.weight": (320,), "input_blocks.1.0.out_layers.3.weight": (320, 320, 3, 3),
    "input_blocks.1.1.proj_in.weight": (320, 320, 1, 1),
    "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 768),
    "middle_block.1.proj_in.weight": (1280, 1280, 1, 1), "out.2.weight": (4, 320, 3, 3),
}
SD2_UNET = dict(SD15_UNET, **{"input_blocks.1.1.proj_in.weight": (320, 320),
                              "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 1024)})
SDXL_UNET = {
    "input_blocks.0.0.weight": (320, 4, 3, 3), "label_emb.0.0.weight": (1280, 2816),
    "input_blocks.4.1.proj_in.weight": (640, 640), "input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": (640, 2048),
    "middle_block.1.proj_in.weight": (1280, 1280), "out.2.weight": (4, 320, 3, 3),
}
SDXL_REFINER_UNET = {
    "input_blocks.0.0.weight": (384, 4, 3, 3), "label_emb.0.0.weight": (1536, 2560),
    "input_blocks.4.1.proj_in.weight": (768, 768), "input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": (768, 1280),
    "middle_block.1.proj_in.weight": (1536, 1536), "out.2.weight": (4, 384, 3, 3),
}
SVD_UNET = {
    "input_blocks.0.0.weight": (320, 8, 3, 3), "label_emb.0.0.weight": (1280, 768),
    "input_blocks.1.1.proj_in.weight": (320, 320), "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 1024),
    "input_blocks.1.1.time_stack.0.attn1.to_q.weight": (320, 320), "out.2.weight": (4, 320, 3, 3),
}
SD_VAE = {"decoder.conv_in.weight": (512, 4, 3, 3), "encoder.down.2.downsample.conv.weight": (512, 512, 3, 3),
          "decoder.up.3.upsample.conv.weight": (512, 512, 3, 3), "post_quant_conv.weight": (4, 4, 1, 1),
          "quant_conv.weight": (8, 8, 1, 1), "encoder.conv_in.weight": (128, 3, 3, 3)}
FLUX_VAE = {"decoder.conv_in.weight": (512, 16, 3, 3), "encoder.down.2.downsample.conv.weight": (512, 512, 3, 3),
            "decoder.up.3.upsample.conv.weight": (512, 512, 3, 3), "encoder.conv_in.weight": (128, 3, 3, 3)}
CLIP_L = {"text_model.encoder.layers.{}.mlp.fc1.weight".format(i): (3072, 768) for i in range(12)}
CLIP_G = {"text_model.encoder.layers.{}.mlp.fc1.weight".format(i): (5120, 1280) for i in range(32)}

MMDIT_BASE = {"joint_blocks.0.context_block.attn.qkv.weight": (4608, 1536), "final_layer.linear.weight": (64, 1536),
              "y_embedder.mlp.0.weight": (1536, 2048), "context_embedder.weight": (1536, 4096),
              "pos_embed": (1, 36864, 1536), "x_embedder.proj.weight": (1536, 16, 2, 2)}
FLUX_DEV = {"double_blocks.0.img_attn.norm.key_norm.scale": (128,), "img_in.weight": (3072, 64),
            "vector_in.in_layer.weight": (3072, 768), "guidance_in.in_layer.weight": (3072, 256),
            "txt_in.weight": (3072, 4096), "single_blocks.0.linear1.weight": (21504, 3072),
            "final_layer.linear.weight": (64, 3072)}
FLUX_SCHNELL = {k: v for k, v in FLUX_DEV.items() if not k.startswith("guidance_in")}
WAN_14B = {"head.modulation": (1, 2, 5120), "head.head.weight": (64, 5120), "blocks.0.ffn.0.weight": (13824, 5120),
           "patch_embedding.weight": (5120, 16, 1, 2, 2), "blocks.0.cross_attn.k.weight": (5120, 5120),
           "text_embedding.0.weight": (5120, 4096)}
HUNYUAN_VIDEO = {"txt_in.individual_token_refiner.blocks.0.norm1.weight": (3072,),
                 "img_in.proj.weight": (3072, 16, 1, 2, 2), "final_layer.linear.weight": (64, 3072),
                 "vector_in.in_layer.weight": (3072, 768), "txt_in.input_embedder.weight": (3072, 4096),
                 "double_blocks.0.img_attn_qkv.weight": (9216, 3072)}

CASES = {
    # id: (spec, expected family, expected variant or None, expected kind)
    "sd15-checkpoint": ({**prefixed("model.diffusion_model.", SD15_UNET), **prefixed("first_stage_model.", SD_VAE),
                         **prefixed("cond_stage_model.transformer.", CLIP_L)}, "sd15", None, "checkpoint"),
    "sd15-inpaint": ({**prefixed("model.diffusion_model.", dict(SD15_UNET, **{"input_blocks.0.0.weight": (320, 9, 3, 3)}))},
                     "sd15", "inpaint", "diffusion_model"),
    "sd2-checkpoint": ({**prefixed("model.diffusion_model.", SD2_UNET), **prefixed("first_stage_model.", SD_VAE),
                        "cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight": (3072, 1024)},
                       "sd2", None, "checkpoint"),
    "sd2-v-marker": ({**prefixed("model.diffusion_model.", SD2_UNET), "v_pred": ()}, "sd2", "v", "diffusion_model"),
    "sdxl-checkpoint": ({**prefixed("model.diffusion_model.", SDXL_UNET), **prefixed("first_stage_model.", SD_VAE),
                         **prefixed("conditioner.embedders.0.transformer.", CLIP_L),
                         "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight": (3840, 1280)},
                        "sdxl", None, "checkpoint"),
    "sdxl-vpred": ({**prefixed("model.diffusion_model.", SDXL_UNET), "v_pred": (), "ztsnr": ()},
                   "sdxl", "v-pred", "diffusion_model"),
    "sdxl-refiner": (prefixed("model.diffusion_model.", SDXL_REFINER_UNET), "sdxl-refiner", None, "diffusion_model"),
    "svd": (prefixed("model.diffusion_model.", SVD_UNET), "svd", "img2vid", "diffusion_model"),
    "sd3-medium": (prefixed("model.diffusion_model.", MMDIT_BASE), "sd3", "sd3-medium", "diffusion_model"),
    "sd35-medium": (prefixed("model.diffusion_model.", dict(MMDIT_BASE, **{
        "joint_blocks.0.x_block.attn2.qkv.weight": (4608, 1536),
        "joint_blocks.0.context_block.attn.ln_q.weight": (64,)})), "sd3", "sd35-medium", "diffusion_model"),
    "sd35-large": (dict(MMDIT_BASE, **{"x_embedder.proj.weight": (2432, 16, 2, 2)}), "sd3", "sd35-large",
                   "diffusion_model"),
    "flux1-dev": (FLUX_DEV, "flux1", "dev", "diffusion_model"),
    "flux1-schnell": (FLUX_SCHNELL, "flux1", "schnell", "diffusion_model"),
    "flux1-fill": (dict(FLUX_DEV, **{"img_in.weight": (3072, 384)}), "flux1", "fill", "diffusion_model"),
    "flux1-dev-in-checkpoint": ({**prefixed("model.diffusion_model.", FLUX_DEV), **prefixed("first_stage_model.", FLUX_VAE),
                                 "text_encoders.t5xxl.transformer.encoder.block.0.layer.0.SelfAttention.k.weight": (4096, 4096)},
                                "flux1", "dev", "checkpoint"),
    # newer ComfyUI (0b61ce5b): Flux 2 adds double_stream_modulation_img
    "flux2": (dict(FLUX_DEV, **{"double_stream_modulation_img.lin.weight": (36864, 6144),
                                "img_in.weight": (6144, 128)}), "flux2", None, "diffusion_model"),
    "chroma": ({"double_blocks.0.img_attn.norm.key_norm.scale": (128,), "img_in.weight": (3072, 64),
                "distilled_guidance_layer.norms.0.scale": (5120,), "distilled_guidance_layer.in_proj.weight": (5120, 64)},
               "chroma", None, "diffusion_model"),
    "chroma-radiance": ({"double_blocks.0.img_attn.norm.key_norm.scale": (128,),
                         "distilled_guidance_layer.norms.0.scale": (5120,), "nerf_blocks.0.norm.scale": (64,),
                         "img_in_patch.weight": (3072, 3, 16, 16)}, "chroma", "radiance", "diffusion_model"),
    "hidream": ({"caption_projection.0.linear.weight": (2560, 4096), "x_embedder.proj.weight": (2560, 64),
                 "double_stream_blocks.0.block.attn1.to_q.weight": (2560, 2560)}, "hidream", None, "diffusion_model"),
    "qwen-image": ({"txt_norm.weight": (3584,), "img_in.weight": (3072, 64), "proj_out.weight": (64, 3072),
                    "transformer_blocks.0.img_mlp.net.0.proj.weight": (12288, 3072)}, "qwen-image", None,
                   "diffusion_model"),
    "wan21-t2v-1.3b": ({"head.modulation": (1, 2, 1536), "head.head.weight": (64, 1536),
                        "blocks.0.ffn.0.weight": (8960, 1536), "patch_embedding.weight": (1536, 16, 1, 2, 2)},
                       "wan21", "t2v", "diffusion_model"),
    "wan21-i2v-14b": (dict(WAN_14B, **{"img_emb.proj.0.bias": (1280,), "patch_embedding.weight": (5120, 36, 1, 2, 2)}),
                      "wan21", "i2v", "diffusion_model"),
    "wan22-ti2v-5b": ({"head.modulation": (1, 2, 3072), "head.head.weight": (192, 3072),
                       "blocks.0.ffn.0.weight": (14336, 3072), "patch_embedding.weight": (3072, 48, 1, 2, 2)},
                      "wan22", "5b-ti2v", "diffusion_model"),
    "wan22-s2v": (dict(WAN_14B, **{"casual_audio_encoder.encoder.final_linear.weight": (5120, 1024)}),
                  "wan22", "s2v", "diffusion_model"),
    "hunyuan-video": (HUNYUAN_VIDEO, "hunyuan-video", "t2v", "diffusion_model"),
    "hunyuan-video-i2v": (dict(HUNYUAN_VIDEO, **{"img_in.proj.weight": (3072, 33, 1, 2, 2)}), "hunyuan-video", "i2v",
                          "diffusion_model"),
    "hunyuan-image-2.1": ({k: v for k, v in HUNYUAN_VIDEO.items() if not k.startswith("vector_in")}
                          | {"img_in.proj.weight": (3584, 64, 1, 1), "byt5_in.fc1.weight": (2048, 1472)},
                          "hunyuan-image", "2.1", "diffusion_model"),
    "ltxv": ({"adaln_single.emb.timestep_embedder.linear_1.bias": (2048,),
              "transformer_blocks.0.attn2.to_k.weight": (2048, 4096), "patchify_proj.weight": (2048, 128)},
             "ltxv", None, "diffusion_model"),
    "cosmos-predict1": ({"blocks.block0.blocks.0.block.attn.to_q.0.weight": (4096, 4096),
                         "x_embedder.proj.1.weight": (4096, 68)}, "cosmos", "predict1-t2v", "diffusion_model"),
    "cosmos-predict2": ({"blocks.0.mlp.layer1.weight": (8192, 2048), "x_embedder.proj.1.weight": (2048, 68)},
                        "cosmos", "predict2-t2i", "diffusion_model"),
    "lumina2": ({"cap_embedder.1.weight": (2304, 2304), "layers.0.attention.qkv.weight": (3840, 2304),
                 "noise_refiner.0.attention.k_norm.weight": (96,)}, "lumina2", None, "diffusion_model"),
    "stable-cascade-c": ({"clf.1.weight": (64, 2048, 1, 1), "clip_txt_mapper.weight": (8192, 1280)},
                         "stable-cascade", "stage-c", "diffusion_model"),
    "stable-cascade-b-lite": ({"clf.1.weight": (16, 320, 1, 1), "clip_mapper.weight": (1280, 1280),
                               "down_blocks.1.0.channelwise.0.weight": (2304, 576)},
                              "stable-cascade", "stage-b-lite", "diffusion_model"),
    "stable-audio": ({**prefixed("model.model.", {"transformer.rotary_pos_emb.inv_freq": (16,),
                                                  "transformer.layers.0.self_attn.to_qkv.weight": (4608, 1536),
                                                  "transformer.project_in.weight": (1536, 64),
                                                  "to_timestep_embed.0.weight": (1536, 256),
                                                  "to_cond_embed.0.weight": (1536, 768),
                                                  "postprocess_conv.weight": (64, 64, 1)}),
                      "pretransform.model.decoder.layers.1.layers.0.beta": (1, 2048, 1)},
                     "stable-audio", None, "diffusion_model"),
    "ace-step": ({"genre_embedder.weight": (2560, 512), "transformer_blocks.0.attn.to_q.weight": (2560, 2560)},
                 "ace-step", None, "diffusion_model"),
    "hunyuan3d-2.0": ({"latent_in.weight": (1024, 64), "cond_in.weight": (1024, 1536),
                       **blocks("double_blocks.{}.img_attn.qkv.weight", 16, (3072, 1024))},
                      "hunyuan3d", "2.0", "diffusion_model"),
    "hunyuan3d-2.1": ({"t_embedder.mlp.2.weight": (2048, 8192), "x_embedder.weight": (2048, 64),
                       "blocks.0.attn1.k_norm.weight": (128,)}, "hunyuan3d", "2.1", "diffusion_model"),
    "aura-flow": (prefixed("model.", {"double_layers.0.attn.w1q.weight": (3072, 3072),
                                      "positional_encoding": (1, 9216, 3072), "cond_seq_linear.weight": (3072, 2048),
                                      "init_x_linear.weight": (3072, 16), "register_tokens": (1, 8, 3072),
                                      "t_embedder.mlp.0.weight": (3072, 256)}), "aura-flow", None, "diffusion_model"),
    "pixart-sigma": ({"t_block.1.weight": (6912, 1152), "pos_embed": (1, 4096, 1152),
                      "y_embedder.y_embedding": (300, 4096)}, "pixart", "sigma", "diffusion_model"),
    "pixart-alpha": ({"t_block.1.weight": (6912, 1152), "ar_embedder.mlp.0.weight": (384, 256)},
                     "pixart", "alpha", "diffusion_model"),
    "mochi": ({"t5_yproj.weight": (1536, 4096), "x_embedder.proj.weight": (3072, 12, 2, 2)},
              "mochi", None, "diffusion_model"),
    # text encoders: comfy/sd.py detect_te_model
    "te-clip_l": (CLIP_L, "te:clip_l", None, "text_encoder"),
    "te-clip_g": (CLIP_G, "te:clip_g", None, "text_encoder"),
    "te-t5xxl": ({"encoder.block.23.layer.1.DenseReluDense.wi_1.weight": (10240, 4096), "shared.weight": (32128, 4096),
                  "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight": (32, 64)},
                 "te:t5xxl", None, "text_encoder"),
    "te-umt5_xxl": ({"encoder.block.23.layer.1.DenseReluDense.wi_1.weight": (10240, 4096),
                     "shared.weight": (256384, 4096),
                     **blocks("encoder.block.{}.layer.0.SelfAttention.relative_attention_bias.weight", 24, (32, 64))},
                    "te:umt5_xxl", None, "text_encoder"),
    "te-qwen25-vl-7b": ({"model.layers.0.self_attn.k_proj.bias": (512,), "model.layers.0.self_attn.k_proj.weight": (512, 3584),
                         "model.layers.0.post_attention_layernorm.weight": (3584,), "visual.patch_embed.proj.weight": (1280, 3, 2, 14, 14)},
                        "te:qwen25_7b", "vl", "text_encoder"),
    "te-llama3": ({"model.layers.0.post_attention_layernorm.weight": (4096,), "model.layers.0.self_attn.k_proj.weight": (1024, 4096)},
                  "te:llama3_8b", None, "text_encoder"),
    "te-gemma2": ({"model.layers.0.post_feedforward_layernorm.weight": (2304,)}, "te:gemma2_2b", None, "text_encoder"),
    # VAEs: comfy/sd.py VAE.__init__
    "vae-sd": (SD_VAE, "vae:sd", None, "vae"),
    "vae-flux": (FLUX_VAE, "vae:flux", None, "vae"),
    "vae-wan21": ({"decoder.middle.0.residual.0.gamma": (384, 1, 1, 1), "decoder.conv1.weight": (384, 16, 3, 3, 3)},
                  "vae:wan21", None, "vae"),
    "vae-wan22": ({"decoder.middle.0.residual.0.gamma": (1024, 1, 1, 1),
                   "decoder.upsamples.0.upsamples.0.residual.2.weight": (1024, 1024, 3, 3, 3)}, "vae:wan22", None, "vae"),
    "vae-hunyuan-video": ({"decoder.conv_in.conv.weight": (512, 16, 3, 3, 3), "post_quant_conv.weight": (16, 16, 1, 1, 1)},
                          "vae:hunyuan-video", None, "vae"),
    "vae-ltxv": ({"decoder.up_blocks.0.res_blocks.0.conv1.conv.weight": (1024, 1024, 3, 3, 3)}, "vae:ltxv", None, "vae"),
    "vae-in-checkpoint-layout": (prefixed("first_stage_model.", SD_VAE), "vae:sd", None, "vae"),
    # LoRAs: base family from the modules they patch
    "lora-sd15-kohya": ({"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": (16, 768),
                         "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight": (320, 16),
                         "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.alpha": (),
                         "lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": (16, 768)},
                        "sd15", None, "lora"),
    "lora-sdxl-kohya": ({"lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight": (32, 2048),
                         "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_up.weight": (640, 32),
                         "lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": (32, 768),
                         "lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": (32, 1280)},
                        "sdxl", None, "lora"),
    "lora-flux-comfy": ({"diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight": (16, 3072),
                         "diffusion_model.double_blocks.0.img_attn.qkv.lora_B.weight": (9216, 16),
                         "diffusion_model.single_blocks.0.linear1.lora_A.weight": (16, 3072)}, "flux1", None, "lora"),
    "lora-wan-14b": ({"diffusion_model.blocks.0.cross_attn.k.lora_A.weight": (32, 5120),
                      "diffusion_model.blocks.0.cross_attn.k.lora_B.weight": (5120, 32),
                      "diffusion_model.blocks.0.ffn.0.lora_A.weight": (32, 5120)}, "wan21", "14b", "lora"),
    "lora-qwen-image": ({"transformer.transformer_blocks.0.img_mlp.net.0.proj.lora_A.weight": (16, 3072),
                         "transformer.transformer_blocks.0.txt_mlp.net.0.proj.lora_A.weight": (16, 3072)},
                        "qwen-image", None, "lora"),
    # ControlNets: comfy/controlnet.py load_controlnet_state_dict
    "controlnet-sd15": ({"control_model.input_hint_block.0.weight": (16, 3, 3, 3),
                         "control_model.zero_convs.0.0.weight": (320, 320, 1, 1),
                         "control_model.input_blocks.0.0.weight": (320, 4, 3, 3),
                         "control_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 768)},
                        "sd15", None, "controlnet"),
    "controlnet-sdxl-diffusers": ({"controlnet_cond_embedding.conv_in.weight": (16, 3, 3, 3), "conv_in.weight": (320, 4, 3, 3),
                                   "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight": (640, 2048),
                                   "add_embedding.linear_1.weight": (1280, 2816)}, "sdxl", None, "controlnet"),
    "controlnet-flux-instantx": ({"controlnet_blocks.0.weight": (3072, 3072), "controlnet_x_embedder.weight": (3072, 64)},
                                 "flux1", None, "controlnet"),
    # upscalers and CLIP vision
    "upscale-esrgan": ({"conv_first.weight": (64, 3, 3, 3), "body.0.rdb1.conv1.weight": (32, 64, 3, 3),
                        "conv_last.weight": (3, 64, 3, 3)}, "upscale", "esrgan", "upscale_model"),
    "upscale-esrgan-old": ({"model.0.weight": (64, 3, 3, 3), "model.1.sub.0.RDB1.conv1.0.weight": (32, 64, 3, 3)},
                           "upscale", "esrgan", "upscale_model"),
    "clip-vision-h": ({"vision_model.encoder.layers.{}.layer_norm1.weight".format(i): (1280,) for i in range(32)},
                      "clip-vision", "vit-h", "clip_vision"),
}

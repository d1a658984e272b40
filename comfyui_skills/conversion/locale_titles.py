"""The titles the frontend takes from its English locale for node classes ComfyUI sends without a
display name of their own (every other title comes from the schema).

Each step holds what changed from the step before, from that minor version on. Read from each
frontend package's English locale (comfyui-frontend-package on PyPI; src/locales/en/nodeDefs.json
in its source maps) for every class that ComfyUI 0.3.64 or 0.33.0 sends without a display name:
1.45.21, 1.47.12 and 1.53.10 are the first of the releases read (1.36.14, 1.38.14, 1.39.19,
1.40.10, 1.41.21, 1.42.15, 1.45.21, 1.46.15, 1.47.12, 1.49.6, 1.51.10, 1.52.7, 1.53.10, 1.55.18,
1.57.5, 1.58.1) whose table differs from the one before; 1.58.1 has 1.53.10's. Releases before
1.45 compile the locale into minified code, which was not read: they keep 1.27.10's titles.
"""

STEPS = (
    ((1, 0), {
        'ImageBlend': 'Image Blend',
        'ImageBlur': 'Image Blur',
        'ImageQuantize': 'Image Quantize',
        'ImageScaleToTotalPixels': 'Scale Image to Total Pixels',
        'ImageSharpen': 'Image Sharpen',
    }),
    ((1, 45), {
        'Canny': 'Detect Edges (Canny)',
        'EmptyAceStepLatentAudio': 'Empty Ace Step 1.0 Latent Audio',
        'FluxKontextMultiReferenceLatentMethod': 'Edit Model Reference Method',
        'ImageBlend': 'Blend Images',
        'ImageBlur': 'Blur Image',
        'ImageQuantize': 'Quantize Image',
        'ImageRGBToYUV': 'Image RGB to YUV',
        'ImageSharpen': 'Sharpen Image',
        'ImageYUVToRGB': 'Image YUV to RGB',
        'LTXVPreprocess': 'LTXV Preprocess',
        'PerpNegGuider': 'Perp-Neg Guider',
        'SaveWEBM': 'Save WEBM',
    }),
    ((1, 47), {
        'CLIPTextEncodeControlnet': 'CLIP Text Encode (Controlnet)',
        'CLIPTextEncodeHiDream': 'CLIP Text Encode (HiDream)',
        'CLIPTextEncodePixArtAlpha': 'CLIP Text Encode (PixArt Alpha)',
        'CLIPTextEncodeSD3': 'CLIP Text Encode (SD3)',
        'CLIPTextEncodeSDXL': 'CLIP Text Encode (SDXL)',
        'CLIPTextEncodeSDXLRefiner': 'CLIP Text Encode (SDXL Refiner)',
        'LatentBatch': 'Batch Latents (DEPRECATED)',
        'PhotoMakerEncode': 'PhotoMaker Encode',
        'PhotoMakerLoader': 'Load PhotoMaker Model',
        'QuadrupleCLIPLoader': 'Load CLIP (Quadruple)',
        'ReferenceLatent': 'Set Reference Latent',
        'T5TokenizerOptions': 'T5 Tokenizer Options',
        'TrimVideoLatent': 'Trim Video Latent',
        'TripleCLIPLoader': 'Load CLIP (Triple)',
    }),
    ((1, 53), {
        'EmptyCosmosLatentVideo': 'Empty Cosmos Latent Video',
        'EmptyHunyuanImageLatent': 'Empty Hunyuan Image Latent',
        'EmptyLTXVLatentVideo': 'Empty LTXV Latent Video',
        'EmptyLatentHunyuan3Dv2': 'Empty Hunyuan 3D v2 Latent',
        'EmptyTrellis2LatentStructure': 'Empty Trellis2 Latent Structure',
        'Pixal3DConditioning': 'Pixal3D Conditioning',
        'StableCascade_EmptyLatentImage': 'Empty Stable Cascade Latent Image',
        'StableCascade_StageC_VAEEncode': 'Stable Cascade Stage C VAE Encode',
        'TextEncodeQwenImageEdit': 'Text Encode Qwen Image Edit',
        'TextEncodeQwenImageEditPlus': 'Text Encode Qwen Image Edit Plus',
        'Trellis2Conditioning': 'Trellis2 Conditioning',
        'Trellis2ShapeStage': 'Trellis2 Shape Stage',
        'Trellis2TextureStage': 'Trellis2 Texture Stage',
        'VAEDecodeHunyuan3D': 'Hunyuan 3D VAE Decode',
        'VaeDecodeShapeTrellis': 'Trellis2 VAE Decode Shape',
        'VaeDecodeStructureTrellis2': 'Trellis2 VAE Decode Structure',
        'VaeDecodeTextureTrellis': 'Trellis2 VAE Decode Texture',
    }),
)


def titles_for(version):
    """{class: title} of the locale of frontend `version` ((major, minor))."""
    out = {}
    for first, changes in STEPS:
        if version >= first:
            out.update(changes)
    return out

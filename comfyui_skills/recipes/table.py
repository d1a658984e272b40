"""The pack's own recipe for each image family: how to load it, encode, sample, and at what size.

Every setting is the one an official source used, named in `source`:
- "template NAME": the Comfy-Org workflow template of that name, read from its graph (templates
  0.1.95 served by ComfyUI 0.3.64, the 2026 templates through frontend 1.58.1, and templates
  0.11.44 served by ComfyUI 0.33.0; API forms in /work/shared/conformance).
- a model card: the publisher's page for the model (Hugging Face or the model-sharing page).
Where an official template for the family and task is served and runnable, generate.py uses the
template itself; a recipe is for everything else.

Families are the ids of identify.recipe_family (and data/models.json). `variants` override the
family's settings for a variant identify or the file name tells (Flux.1 schnell, HiDream fast).
"""

import re
from dataclasses import dataclass, field, replace

SD_BUCKETS_512 = ((512, 512), (512, 768), (768, 512), (576, 448), (448, 576))
# SDXL's training buckets near one megapixel (SDXL report, arXiv 2307.01952, appendix I)
SDXL_BUCKETS = ((1024, 1024), (1152, 896), (896, 1152), (1216, 832), (832, 1216), (1344, 768), (768, 1344),
                (1536, 640), (640, 1536))
MEGAPIXEL_BUCKETS = ((1024, 1024), (1152, 896), (896, 1152), (1216, 832), (832, 1216), (1344, 768), (768, 1344))
QWEN_BUCKETS = ((1328, 1328), (1664, 928), (928, 1664), (1472, 1104), (1104, 1472), (1584, 1056), (1056, 1584))

LUMINA_SYSTEM = ("You are an assistant designed to generate high quality images based on user prompts. "
                 "<Prompt Start> ")


@dataclass(frozen=True)
class Recipe:
    id: str
    name: str
    # loading: a single checkpoint (CheckpointLoaderSimple) and/or a split diffusion model
    # (UNETLoader, or UnetLoaderGGUF for .gguf where the server has it) with text encoders and VAE
    encoders: tuple = ()            # text-encoder families, in the loader's input order
    clip_loader: str = None         # CLIPLoader | DualCLIPLoader | TripleCLIPLoader | QuadrupleCLIPLoader
    clip_type: str = None           # the loader's `type` option
    vae: tuple = ()                 # VAE families that fit (empty: the checkpoint's own)
    latent: str = "EmptyLatentImage"
    sampler: str = "euler"
    scheduler: str = "normal"
    steps: int = 20
    cfg: float = 7.0
    guidance: float = None          # FluxGuidance on the positive conditioning
    shift: tuple = None             # (ModelSamplingSD3 | ModelSamplingAuraFlow, value)
    size: tuple = (1024, 1024)
    buckets: tuple = MEGAPIXEL_BUCKETS
    clip_skip: int = None           # CLIPSetLastLayer stop_at_clip_layer
    negative: bool = True           # cfg > 1: the negative prompt is used
    default_negative: str = ""
    prompt_prefix: str = ""         # prepended to the prompt (quality tags, a system prompt)
    t5_options: bool = False        # T5TokenizerOptions min_padding 0 (Chroma)
    sampling: str = "ksampler"      # ksampler | flux2 (SamplerCustomAdvanced + Flux2Scheduler)
    tasks: tuple = ("text-to-image", "image-to-image", "inpaint", "outpaint", "upscale")
    edit: str = None                # image-edit graph: kontext | qwen-edit
    denoise: dict = field(default_factory=lambda: {"image-to-image": 0.75, "upscale": 0.35})
    nodes: tuple = ()               # node classes beyond the core ones this family needs
    variants: dict = field(default_factory=dict)   # variant -> {field: value}
    variant_names: tuple = ()       # (regex on the file name, variant) where the header cannot tell
    source: str = ""
    guide: str = ""

    def for_variant(self, variant):
        over = self.variants.get(variant)
        return replace(self, **over) if over else self

    def variant_of(self, name, variant=None):
        if variant in self.variants:
            return variant
        low = re.sub(r"[-\s.]+", "_", str(name or "").lower())
        for pattern, var in self.variant_names:
            if re.search(pattern, low):
                return var
        return variant


_SD_NEG = "text, watermark"

RECIPES = (
    Recipe("sd15", "Stable Diffusion 1.x", steps=20, cfg=8.0, size=(512, 512), buckets=SD_BUCKETS_512,
           default_negative=_SD_NEG,
           source="template default (v1-5-pruned-emaonly-fp16: euler normal, 20 steps, cfg 8, 512x512, negative "
                  "'text, watermark'); image2image (denoise 0.87, dpmpp_2m); inpaint_example (VAEEncodeForInpaint "
                  "grow_mask_by 6); inpaint_model_outpainting (ImagePadForOutpaint, grow 10); esrgan_example "
                  "(UpscaleModelLoader + ImageUpscaleWithModel)",
           guide="Tag lists or short sentences: subject, setting, style, lighting ('portrait of an old fisherman, "
                 "harbour at dusk, oil painting, warm light'). Weight words with (word:1.2). Put what to avoid in "
                 "the negative ('blurry, lowres, watermark, extra fingers'). 512x512 native; 768 on one side at "
                 "most, else figures double. cfg 6-8, 20-30 steps. Community models (DreamShaper, Realistic "
                 "Vision) follow their own card's clip skip and VAE."),
    Recipe("sd2", "Stable Diffusion 2.x", steps=20, cfg=7.0, size=(768, 768),
           buckets=((768, 768), (768, 1024), (1024, 768)), default_negative=_SD_NEG,
           variants={"eps": {"size": (512, 512), "buckets": SD_BUCKETS_512}},
           source="stabilityai/stable-diffusion-2-1 model card (768x768, v-prediction); "
                  "stable-diffusion-2-1-base card (512x512, eps); sampler settings as template default",
           guide="Plain descriptive sentences; SD2's OpenCLIP encoder knows fewer artist and celebrity names "
                 "than SD1.5. A negative prompt matters more than on SD1.5. 768x768 for the v model, 512 for "
                 "the base."),
    Recipe("sdxl", "Stable Diffusion XL", sampler="dpmpp_2m", scheduler="karras", steps=25, cfg=7.0,
           size=(1024, 1024), buckets=SDXL_BUCKETS,
           default_negative="lowres, blurry, out of focus, deformed, watermark, text",
           source="template image_sdxl_simple (sd_xl_base_1.0: dpmpp_2m karras, 25 steps, cfg 7, 1024x1024); "
                  "buckets from the SDXL report (arXiv 2307.01952)",
           guide="Natural sentences work; keep the subject first ('a red fox sitting in fresh snow, morning "
                 "light, shallow depth of field, photograph'). One of the trained sizes near one megapixel "
                 "(1024x1024, 1216x832, 832x1216, 1344x768). cfg 5-8, 25-35 steps. A negative for defects."),
    Recipe("pony", "Pony Diffusion (SDXL)", sampler="euler_ancestral", scheduler="normal", steps=25, cfg=7.0,
           size=(1024, 1024), buckets=SDXL_BUCKETS, clip_skip=-2,
           prompt_prefix="score_9, score_8_up, score_7_up, ",
           default_negative="score_4, score_5, score_6, lowres, watermark",
           source="Pony Diffusion V6 XL model card (civitai.com/models/257749: clip skip 2, euler a, 25 steps, "
                  "'score_9, score_8_up, score_7_up' quality tags, SDXL sizes)",
           guide="Start with the quality tags the pack adds ('score_9, score_8_up, score_7_up'), then source and "
                 "rating tags if wanted ('source_anime', 'rating_safe'), then booru-style tags for subject and "
                 "style. Clip skip 2. Negative: 'score_4, score_5, score_6'."),
    Recipe("illustrious", "Illustrious XL / NoobAI (SDXL)", sampler="euler_ancestral", scheduler="normal",
           steps=28, cfg=6.0, size=(1024, 1024), buckets=SDXL_BUCKETS, clip_skip=-2,
           prompt_prefix="masterpiece, best quality, ",
           default_negative="worst quality, low quality, lowres, bad anatomy, watermark",
           source="Illustrious-XL v1.0 model card (OnomaAIResearch/Illustrious-XL-v1.0: euler a, 20-28 steps, "
                  "cfg 5-7.5, 'masterpiece, best quality'); NoobAI-XL card (Laxhar/noobai-XL-1.0: clip skip 2)",
           guide="Danbooru tags, comma separated: quality ('masterpiece, best quality'), count ('1girl'), "
                 "character and series, then appearance, pose, setting, artist style. cfg 5-7. NoobAI "
                 "v-prediction files need a v-pred sampler setup; the eps files work as is."),
    Recipe("sd3", "Stable Diffusion 3.5", encoders=("te:clip_l", "te:clip_g", "te:t5xxl"),
           clip_loader="TripleCLIPLoader", vae=("vae:sd3", "vae:flux"), latent="EmptySD3LatentImage",
           sampler="euler", scheduler="sgm_uniform", steps=20, cfg=4.0, size=(1024, 1024),
           shift=("ModelSamplingSD3", 3.0),
           source="template sd3.5_simple_example (sd3.5_large_fp8_scaled: euler sgm_uniform, 20 steps, cfg 4, "
                  "EmptySD3LatentImage 1024x1024); ModelSamplingSD3 shift 3 is the SD3 default "
                  "(comfy/supported_models.py SD3 sampling_settings)",
           guide="Descriptive sentences, including text to render in quotes ('a neon sign that reads \"OPEN\"'). "
                 "The T5 encoder reads long prompts (up to ~250 words). cfg 3.5-5; negative prompts help "
                 "less than on SDXL. 1024x1024 or another one-megapixel size.",
           variants={"sd35-medium": {"steps": 40, "cfg": 4.5}}),
    Recipe("flux1", "Flux.1", encoders=("te:clip_l", "te:t5xxl"), clip_loader="DualCLIPLoader", clip_type="flux",
           vae=("vae:flux",), latent="EmptySD3LatentImage", sampler="euler", scheduler="simple", steps=20, cfg=1.0,
           guidance=3.5, negative=False,
           variants={"schnell": {"steps": 4, "guidance": None}},
           variant_names=((r"schnell", "schnell"),),
           source="templates flux_dev_checkpoint_example and flux_dev_full_text_to_image (euler simple, 20 steps, "
                  "cfg 1, FluxGuidance 3.5, EmptySD3LatentImage 1024x1024, negative zeroed); flux_schnell and "
                  "flux_schnell_full_text_to_image (4 steps)",
           guide="Write it as you would describe a photo to someone: full sentences, subject, setting, light, "
                 "camera or medium; text in quotes renders. No negative prompt (cfg 1): say what you want "
                 "instead. Guidance 3.5 (lower, e.g. 2, for more realism). dev: 20-30 steps; schnell: 4."),
    Recipe("flux1-kontext", "Flux.1 Kontext", encoders=("te:clip_l", "te:t5xxl"), clip_loader="DualCLIPLoader",
           clip_type="flux", vae=("vae:flux",), latent="EmptySD3LatentImage", sampler="euler", scheduler="simple",
           steps=20, cfg=1.0, guidance=2.5, negative=False, tasks=("image-edit",), edit="kontext",
           nodes=("FluxKontextImageScale", "ReferenceLatent"),
           source="template flux_kontext_dev_basic (FluxKontextImageScale, ReferenceLatent, FluxGuidance 2.5, "
                  "euler simple, 20 steps, cfg 1)",
           guide="Say the change, and what to keep: 'change the car to red, keep the background and lighting "
                 "the same'. One edit at a time works best; name styles explicitly ('in the style of a "
                 "watercolour painting'). Text edits: 'replace \"OPEN\" with \"CLOSED\"'."),
    Recipe("flux2", "Flux.2", encoders=("te:mistral3_24b",), clip_loader="CLIPLoader", clip_type="flux2",
           vae=("vae:flux2", "vae:hunyuan-image"), latent="EmptyFlux2LatentImage", sampling="flux2", steps=20, cfg=1.0, guidance=4.0,
           negative=False, nodes=("Flux2Scheduler", "EmptyFlux2LatentImage"), tasks=("text-to-image",),
           variants={"klein": {"encoders": ("te:qwen3_4b",), "guidance": None, "cfg": 5.0, "negative": True}},
           variant_names=((r"klein", "klein"),),
           # the Flux.2 VAE is a 32-channel KL VAE: signatures.py reads that layout as HunyuanImage's
           source="template image_flux2_fp8 (flux2_dev_fp8mixed, CLIPLoader type flux2, KSamplerSelect euler, "
                  "Flux2Scheduler 20 steps, FluxGuidance 4, EmptyFlux2LatentImage); image_flux2_klein_text_to_image "
                  "(qwen_3_4b, CFGGuider cfg 5)",
           guide="Long, precise descriptions in prose; it follows layout ('on the left... in the background...'), "
                 "exact colours as hex codes, and text in quotes. No negative prompt on dev (guidance 4)."),
    Recipe("chroma", "Chroma", encoders=("te:t5xxl",), clip_loader="CLIPLoader", clip_type="chroma",
           vae=("vae:flux",), latent="EmptySD3LatentImage", sampler="euler", scheduler="beta", steps=26, cfg=3.5,
           t5_options=True, shift=("ModelSamplingAuraFlow", 1.0), nodes=("T5TokenizerOptions",),
           default_negative="low quality, ugly, unfinished, out of focus, deformed, disfigure, blurry, smudged",
           source="template image_chroma_text_to_image (Chroma1-HD: CLIPLoader type chroma, T5TokenizerOptions "
                  "min_padding 0, ModelSamplingAuraFlow shift 1, euler, beta 26 steps, cfg 3.5, 1024x1024)",
           guide="Natural-language descriptions, like Flux, but it uses a negative prompt (cfg 3-4.5): describe "
                 "the unwanted look in sentences ('This low quality greyscale sketch...'). 26+ steps."),
    Recipe("qwen-image", "Qwen-Image", encoders=("te:qwen25_7b",), clip_loader="CLIPLoader", clip_type="qwen_image",
           vae=("vae:qwen-image", "vae:wan21"), latent="EmptySD3LatentImage", sampler="euler", scheduler="simple",
           steps=20, cfg=2.5, shift=("ModelSamplingAuraFlow", 3.1), size=(1328, 1328), buckets=QWEN_BUCKETS,
           source="template image_qwen_image (qwen_image_fp8_e4m3fn, qwen_2.5_vl_7b_fp8_scaled, ModelSamplingAuraFlow "
                  "3.1, euler simple, 20 steps, cfg 2.5, EmptySD3LatentImage 1328x1328, empty negative)",
           guide="Rich paragraphs; excels at text in images (Chinese and English) - quote it exactly. Layout "
                 "and typography words work ('poster, title at the top in bold serif'). 1328x1328 native; "
                 "cfg 2.5-4."),
    Recipe("qwen-image-edit", "Qwen-Image-Edit", encoders=("te:qwen25_7b",), clip_loader="CLIPLoader",
           clip_type="qwen_image", vae=("vae:qwen-image", "vae:wan21"), latent="EmptySD3LatentImage",
           sampler="euler", scheduler="simple", steps=20, cfg=2.5, shift=("ModelSamplingAuraFlow", 3.0),
           tasks=("image-edit",), edit="qwen-edit", nodes=("TextEncodeQwenImageEdit",),
           source="template image_qwen_image_edit (TextEncodeQwenImageEdit, ModelSamplingAuraFlow 3, CFGNorm 1, "
                  "ImageScaleToTotalPixels 1 MP, euler simple, 20 steps, cfg 2.5)",
           guide="Instructions: 'remove the people in the background', 'make it night, keep the composition'. "
                 "Text edits with the exact new text in quotes."),
    Recipe("z-image", "Z-Image", encoders=("te:qwen3_4b",), clip_loader="CLIPLoader", clip_type="lumina2",
           vae=("vae:flux",), latent="EmptySD3LatentImage", sampler="res_multistep", scheduler="simple", steps=25,
           cfg=4.0, shift=("ModelSamplingAuraFlow", 3.0),
           variants={"turbo": {"steps": 8, "cfg": 1.0, "negative": False}},
           variant_names=((r"turbo", "turbo"),),
           source="template image_z_image_turbo (z_image_turbo_bf16, CLIPLoader qwen_3_4b type lumina2, "
                  "ModelSamplingAuraFlow 3, res_multistep simple, 8 steps, cfg 1, negative zeroed); "
                  "image_z_image_int8 (base: 25 steps, cfg 4, empty negative)",
           guide="Detailed natural-language prompts, bilingual (English/Chinese) text rendering in quotes. "
                 "Turbo: 8 steps, cfg 1, no negative; base: 25+ steps, cfg 3-5 with a negative."),
    Recipe("lumina2", "Lumina Image 2.0", encoders=("te:gemma2_2b",), clip_loader="CLIPLoader", clip_type="lumina2",
           vae=("vae:flux",), latent="EmptySD3LatentImage", sampler="res_multistep", scheduler="simple", steps=30,
           cfg=4.0, shift=("ModelSamplingAuraFlow", 4.0), prompt_prefix=LUMINA_SYSTEM,
           default_negative="blurry, low quality, watermark",
           source="template image_netayume_lumina_t2i (Lumina 2 all-in-one checkpoint: ModelSamplingAuraFlow 4, "
                  "res_multistep simple, 30 steps, cfg 4, system prompt before the prompt, 1024x1024)",
           guide="The encoder is an LLM: the pack prefixes the system prompt ('You are an assistant designed to "
                 "generate high quality images... <Prompt Start>'); write the rest as a detailed description."),
    Recipe("hidream", "HiDream-I1", encoders=("te:clip_l", "te:clip_g", "te:t5xxl", "te:llama3_8b"),
           clip_loader="QuadrupleCLIPLoader", vae=("vae:flux",), latent="EmptySD3LatentImage", sampler="lcm",
           scheduler="normal", steps=28, cfg=1.0, shift=("ModelSamplingSD3", 6.0), negative=False,
           variants={"fast": {"steps": 16, "shift": ("ModelSamplingSD3", 3.0)},
                     "full": {"sampler": "uni_pc", "scheduler": "simple", "steps": 50, "cfg": 5.0,
                              "shift": ("ModelSamplingSD3", 3.0), "negative": True,
                              "default_negative": "bad ugly jpeg artifacts"}},
           variant_names=((r"fast", "fast"), (r"full", "full")),
           source="templates hidream_i1_dev (lcm normal, 28 steps, cfg 1, ModelSamplingSD3 6), hidream_i1_fast "
                  "(16 steps, shift 3), hidream_i1_full (uni_pc simple, 50 steps, cfg 5, shift 3, negative "
                  "'bad ugly jpeg artifacts'); QuadrupleCLIPLoader clip_l, clip_g, t5xxl, llama 3.1 8b",
           guide="Long descriptive prompts (the Llama encoder reads them best). dev and fast: cfg 1, no negative; "
                 "full: cfg 5 with a negative."),
)

# An upscale model alone (ESRGAN and kin) is the official way to upscale: no diffusion model.
UPSCALE = Recipe("upscale", "Upscale model", tasks=("upscale",),
                 source="template esrgan_example (UpscaleModelLoader + ImageUpscaleWithModel)",
                 guide="No prompt: the upscale model enlarges the image by its own factor (x2, x4).")

BY_ID = {r.id: r for r in RECIPES + (UPSCALE,)}

# stronger first, per task, among the families with a recipe (the order of generate.STRENGTH, with
# the 2025-26 families placed by their official templates' claims)
STRENGTH = {
    "text-to-image": ("qwen-image", "flux2", "flux1", "hidream", "z-image", "sd3", "chroma", "lumina2",
                      "illustrious", "pony", "sdxl", "sd15", "sd2"),
    "image-edit": ("qwen-image-edit", "flux1-kontext"),
}
for _task in ("image-to-image", "inpaint", "outpaint"):
    STRENGTH[_task] = STRENGTH["text-to-image"]
STRENGTH["upscale"] = ("upscale",) + STRENGTH["text-to-image"]

TASKS = ("text-to-image", "image-to-image", "inpaint", "outpaint", "upscale", "image-edit")


def get(family):
    return BY_ID.get(family)

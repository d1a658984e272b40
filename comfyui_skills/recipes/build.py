"""API-format graphs from a recipe and the files chosen for it.

One builder for every family: the loader shape (single checkpoint, or split diffusion model +
text encoders + VAE, GGUF through UnetLoaderGGUF where the server has it), then the family's
model patches (shift, clip skip), the encoders, the latent for the task, the sampler, decode and
save. Every node class used must be in the server's /object_info, and every required input the
recipe leaves open takes the schema's default, so the graph is what the server would accept;
generate.py still validates it like any workflow before it is queued.
"""

from dataclasses import dataclass, field

from ..errors import CheckFailed
from ..schema import NodeSpec

# The outpaint margin on each side, in pixels: the template inpaint_model_outpainting pads
# 40-128 px at 0.25 MP; at the families' one megapixel, 128 keeps the same share of the image.
OUTPAINT_PAD = 128
OUTPAINT_FEATHER = 40
UPSCALE_BY = 2.0  # hiresfix_latent_workflow doubles the size, then samples at low denoise


@dataclass
class Parts:
    """The installed files a recipe runs on (identify.Installed each)."""
    main: object = None                 # checkpoint or diffusion model
    encoders: list = field(default_factory=list)
    vae: object = None
    upscaler: object = None             # an upscale_models file, for the upscale task

    def files(self):
        out = [self.main] + list(self.encoders) + [self.vae, self.upscaler]
        return [f for f in out if f is not None]


class _Graph:
    def __init__(self):
        self.nodes = {}

    def add(self, class_type, **inputs):
        nid = str(len(self.nodes) + 1)
        self.nodes[nid] = {"class_type": class_type, "inputs": inputs}
        return nid


def checkpoint_has(main, what):
    """Whether a checkpoint file holds its own text encoders ('te') or VAE ('vae'). A header says
    (its parts); a file known only by name is taken to be a full checkpoint."""
    if main.kind != "checkpoint":
        return False
    if main.how != "header" or not main.parts:
        return True
    return any(p.startswith(what + ":") for p in main.parts)


def build(recipe, task, parts, object_info, *, prompt, negative=None, seed=0, width=None, height=None,
          steps=None, count=1, image="input.png", denoise=None):
    """The API graph for `task` with `recipe` on `parts`. Raises CheckFailed naming a node class or
    loader option the server lacks."""
    g = _Graph()
    asked = (width, height) if width and height else None
    width, height = width or recipe.size[0], height or recipe.size[1]
    steps = steps or recipe.steps
    prefix = f"generate/{recipe.id}"

    if task == "upscale" and parts.upscaler is not None and (parts.main is None or recipe.id == "upscale"):
        load = g.add("LoadImage", image=image)
        up = g.add("UpscaleModelLoader", model_name=parts.upscaler.name)
        big = g.add("ImageUpscaleWithModel", upscale_model=[up, 0], image=[load, 0])
        g.add("SaveImage", images=[big, 0], filename_prefix=prefix)
        return _finish(g, object_info)

    model, clip, vae = _loaders(g, recipe, parts, object_info)
    if recipe.shift:
        node, value = recipe.shift
        model = [g.add(node, model=model, shift=value), 0]
    if recipe.clip_skip:
        clip = [g.add("CLIPSetLastLayer", clip=clip, stop_at_clip_layer=recipe.clip_skip), 0]
    if recipe.t5_options:
        clip = [g.add("T5TokenizerOptions", clip=clip, min_padding=0, min_length=0), 0]

    text = recipe.prompt_prefix + (prompt or "")
    neg_text = negative if negative is not None else recipe.default_negative
    latent, denoise_default = None, 1.0

    if task == "image-edit" and recipe.edit == "qwen-edit":
        load = g.add("LoadImage", image=image)
        scaled = [g.add("ImageScaleToTotalPixels", image=[load, 0], upscale_method="lanczos", megapixels=1.0), 0]
        pos = [g.add("TextEncodeQwenImageEdit", clip=clip, prompt=text, vae=vae, image=scaled), 0]
        neg = [g.add("TextEncodeQwenImageEdit", clip=clip, prompt=neg_text, vae=vae, image=scaled), 0]
        model = [g.add("CFGNorm", model=model, strength=1.0), 0]
        latent = [g.add("VAEEncode", pixels=scaled, vae=vae), 0]
    else:
        pos = [g.add("CLIPTextEncode", text=text, clip=clip), 0]
        if task == "image-edit" and recipe.edit == "kontext":
            load = g.add("LoadImage", image=image)
            scaled = [g.add("FluxKontextImageScale", image=[load, 0]), 0]
            latent = [g.add("VAEEncode", pixels=scaled, vae=vae), 0]
            pos = [g.add("ReferenceLatent", conditioning=pos, latent=latent), 0]
        if recipe.negative:
            neg = [g.add("CLIPTextEncode", text=neg_text, clip=clip), 0]
        else:
            neg = [g.add("ConditioningZeroOut", conditioning=pos), 0]
        if recipe.guidance is not None:
            pos = [g.add("FluxGuidance", conditioning=pos, guidance=recipe.guidance), 0]

    if latent is None:
        latent, denoise_default = _latent(g, recipe, task, parts, vae, width, height, count, image, asked)
    denoise = denoise if denoise is not None else denoise_default

    if recipe.sampling == "flux2":
        noise = g.add("RandomNoise", noise_seed=seed)
        sampler = g.add("KSamplerSelect", sampler_name=recipe.sampler)
        sigmas = g.add("Flux2Scheduler", steps=steps, width=width, height=height)
        if recipe.negative:
            guider = g.add("CFGGuider", model=model, positive=pos, negative=neg, cfg=recipe.cfg)
        else:
            guider = g.add("BasicGuider", model=model, conditioning=pos)
        samples = [g.add("SamplerCustomAdvanced", noise=[noise, 0], guider=[guider, 0], sampler=[sampler, 0],
                         sigmas=[sigmas, 0], latent_image=latent), 0]
    else:
        samples = [g.add("KSampler", model=model, seed=seed, steps=steps, cfg=recipe.cfg,
                         sampler_name=recipe.sampler, scheduler=recipe.scheduler, positive=pos, negative=neg,
                         latent_image=latent, denoise=denoise), 0]
    pixels = g.add("VAEDecode", samples=samples, vae=vae)
    g.add("SaveImage", images=[pixels, 0], filename_prefix=prefix)
    return _finish(g, object_info)


def _loaders(g, recipe, parts, object_info):
    main = parts.main
    model = clip = vae = None
    if main.kind == "checkpoint":
        ck = g.add("CheckpointLoaderSimple", ckpt_name=main.name)
        model = [ck, 0]
        if checkpoint_has(main, "te") or not recipe.encoders:
            clip = [ck, 1]
        if checkpoint_has(main, "vae") or not recipe.vae:
            vae = [ck, 2]
    elif main.name.lower().endswith(".gguf"):
        model = [g.add("UnetLoaderGGUF", unet_name=main.name), 0]
    else:
        model = [g.add("UNETLoader", unet_name=main.name, weight_dtype="default"), 0]
    if clip is None:
        clip = [_clip_loader(g, recipe, parts.encoders, object_info), 0]
    if vae is None:
        if parts.vae is None:
            raise CheckFailed(f"{main.name}: {recipe.name} needs a VAE file ({' or '.join(recipe.vae)})")
        vae = [g.add("VAELoader", vae_name=parts.vae.name), 0]
    return model, clip, vae


def _clip_loader(g, recipe, encoders, object_info):
    names = [e.name for e in encoders]
    if len(names) != len(recipe.encoders):
        raise CheckFailed(f"{recipe.name} needs text encoders {', '.join(recipe.encoders)}")
    loader = recipe.clip_loader
    if loader == "CLIPLoader" or (loader is None and len(names) == 1):
        inputs = {"clip_name": names[0]}
        loader = "CLIPLoader"
    else:
        inputs = {f"clip_name{i + 1}": n for i, n in enumerate(names)}
    if recipe.clip_type:
        _need_option(object_info, loader, "type", recipe.clip_type)
        inputs["type"] = recipe.clip_type
    return g.add(loader, **inputs)


def _latent(g, recipe, task, parts, vae, width, height, count, image, asked):
    """(LATENT link, default denoise) for the task."""
    if task == "text-to-image":
        return [g.add(recipe.latent, width=width, height=height, batch_size=count or 1), 0], 1.0
    load = g.add("LoadImage", image=image)
    if task == "image-to-image":
        if asked:  # the size asked, exactly (as the template path does), however small
            scaled = g.add("ImageScale", image=[load, 0], upscale_method="lanczos", width=asked[0],
                           height=asked[1], crop="center")
        else:  # the recipe's pixel count in the image's own proportions
            scaled = g.add("ImageScaleToTotalPixels", image=[load, 0], upscale_method="lanczos",
                           megapixels=round(width * height / 1e6, 2))
        return [g.add("VAEEncode", pixels=[scaled, 0], vae=vae), 0], recipe.denoise["image-to-image"]
    if task == "upscale":
        big = g.add("ImageScaleBy", image=[load, 0], upscale_method="lanczos", scale_by=UPSCALE_BY)
        return [g.add("VAEEncode", pixels=[big, 0], vae=vae), 0], recipe.denoise["upscale"]
    if task == "outpaint":
        pad = g.add("ImagePadForOutpaint", image=[load, 0], left=OUTPAINT_PAD, top=OUTPAINT_PAD,
                    right=OUTPAINT_PAD, bottom=OUTPAINT_PAD, feathering=OUTPAINT_FEATHER)
        pixels, mask = [pad, 0], [pad, 1]
    elif task == "inpaint":  # the mask is the image's alpha channel (LoadImage's MASK output)
        pixels, mask = [load, 0], [load, 1]
    else:
        raise CheckFailed(f"{recipe.name}: no recipe for {task}")
    if parts.main.variant == "inpaint":  # a 9-channel inpainting model takes the mask in its latent
        return [g.add("VAEEncodeForInpaint", pixels=pixels, vae=vae, mask=mask, grow_mask_by=6), 0], 1.0
    encoded = g.add("VAEEncode", pixels=pixels, vae=vae)
    return [g.add("SetLatentNoiseMask", samples=[encoded, 0], mask=mask), 0], 1.0


def _need_option(object_info, class_type, name, value):
    spec = NodeSpec(class_type, object_info.get(class_type) or {})
    inp = spec.inputs.get(name)
    if inp is not None and inp.options is not None and value not in inp.options:
        raise CheckFailed(f"this server's {class_type} has no {name} {value!r} (it is older than the family)",
                          hint="update ComfyUI")


def missing_nodes(graph, object_info):
    return sorted({n["class_type"] for n in graph.values() if n["class_type"] not in object_info})


def _finish(g, object_info):
    """Every required widget the recipe left open takes the schema's default (a newer server's
    extra input, e.g. ImageScaleToTotalPixels.resolution_steps on 0.33.0)."""
    lacking = missing_nodes(g.nodes, object_info)
    if lacking:
        raise CheckFailed(f"this server lacks node(s) {', '.join(lacking)}",
                          hint="update ComfyUI, or install the node pack that has them")
    for node in g.nodes.values():
        spec = NodeSpec(node["class_type"], object_info[node["class_type"]])
        for inp in spec.visible_inputs():
            if inp.required and inp.name not in node["inputs"] and inp.is_widget:
                if inp.default is not None:
                    node["inputs"][inp.name] = inp.default
                elif inp.options:
                    node["inputs"][inp.name] = inp.options[0]
    return g.nodes

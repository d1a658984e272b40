"""What a workflow's graph does, read from the graph: what it loads, what it outputs.

The template index's tags are what a template's author filed it under, not what it does: the
0.11.44 index tags Lotus Depth (image in, depth map out, no prompt) "Text to Image". A template
is taken for an image task only when its graph does that task:
- text-to-image: a prompt reaches a sampler, an image is saved, no image is loaded;
- image-to-image / image-edit: the same, from a loaded image;
- inpaint: a loaded image and a node that masks the latent or conditioning;
- outpaint: ImagePadForOutpaint;
- upscale: an upscale model, or a loaded image sampled again bigger.
Other tasks (video, audio, 3D) are left to the tags.
"""

from .. import templates
from ..schema import NodeSpec

IMAGE_TASKS = ("text-to-image", "image-to-image", "image-edit", "inpaint", "outpaint", "upscale")
MASKING = {"VAEEncodeForInpaint", "SetLatentNoiseMask", "InpaintModelConditioning"}
UPSCALING = {"ImageUpscaleWithModel", "UpscaleModelLoader", "LatentUpscale", "LatentUpscaleBy"}


def _nodes(workflow):
    if isinstance(workflow, dict) and "nodes" in workflow:
        return [n.class_type for n in templates._ui_nodes(workflow)]
    return [n.get("class_type") for n in (workflow or {}).values() if isinstance(n, dict)]


def traits(workflow, object_info):
    """{loads_image, saves_image, prompt, sampler, masks, outpaints, upscales} of a graph."""
    out = dict(loads_image=False, saves_image=False, prompt=False, sampler=False, masks=False, outpaints=False,
               upscales=False)
    for ct in _nodes(workflow):
        spec = NodeSpec(ct, object_info.get(ct) or {})
        types = {i.type for i in spec.visible_inputs()}
        outputs = set(map(str, spec.output_types))
        if ct.startswith("LoadImage") or any(i.takes_upload and i.type in ("COMBO", "IMAGEUPLOAD")
                                             for i in spec.visible_inputs()) and "IMAGE" in outputs:
            out["loads_image"] = True
        if spec.output_node and "IMAGE" in types:
            out["saves_image"] = True
        if "CONDITIONING" in outputs and any(i.type == "STRING" and i.extra.get("multiline")
                                             for i in spec.visible_inputs()):
            out["prompt"] = True
        if "LATENT" in outputs and types & {"CONDITIONING", "GUIDER"}:
            out["sampler"] = True
        out["masks"] |= ct in MASKING
        out["outpaints"] |= ct == "ImagePadForOutpaint"
        out["upscales"] |= ct in UPSCALING or "upscale" in ct.lower() or "seedvr" in ct.lower()
    return out


def tasks_of(workflow, object_info):
    t = traits(workflow, object_info)
    found = set()
    if not t["saves_image"]:
        return found
    generative = t["sampler"] and t["prompt"]
    if generative and not t["loads_image"]:
        found.add("text-to-image")
    if generative and t["loads_image"]:
        found |= {"image-to-image", "image-edit"}
        if t["masks"]:
            found.add("inpaint")
        if t["outpaints"]:
            found.add("outpaint")
    if t["loads_image"] and t["upscales"]:
        found.add("upscale")
    return found


def does(workflow, task, object_info):
    """Whether the graph does `task` (always True for tasks this module does not judge)."""
    if task not in IMAGE_TASKS:
        return True
    return task in tasks_of(workflow, object_info)

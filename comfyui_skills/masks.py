"""Repaint one part of an image: masks given, or painted from a region or a box, and put in a graph.

The convention is ComfyUI's LoadImageMask on the red channel: WHITE is repainted, BLACK kept.
`--region top-third` or `--box 10%,0,50%,40%` paint such a mask at the input image's size.

In the graph (`edit`): a node that already takes the image loader's mask (an inpaint template's
VAEEncodeForInpaint or InpaintModelConditioning, the pack's inpaint recipe's SetLatentNoiseMask)
takes ours instead; otherwise the latent encoded from the input gets a noise mask
(SetLatentNoiseMask), so the sampler only changes the masked part. Either way each saved image is composited back onto the input (ImageCompositeMasked with
the same mask), so outside the mask the result is the input pixel for pixel, not its trip
through the VAE. A graph with no place for a mask is refused: never an unmasked edit instead.
"""

import hashlib
import re
from pathlib import Path

from . import config, nextsteps
from .nextsteps import flag
from .errors import CheckFailed, InputError

SIDES = ("top", "bottom", "left", "right")
REGIONS = tuple(f"{s}{part}" for s in SIDES for part in ("", "-half", "-third"))
FRACTIONS = {"": 1 / 2, "-half": 1 / 2, "-third": 1 / 3}


def _pil():
    from PIL import Image

    return Image


def image_size(path, option="image"):
    """(width, height) of an image file given to `option`; InputError in one line for one that is not
    an image."""
    label = flag(option)
    Image = _pil()
    try:
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError:
        raise InputError(f"{label} {path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{label} {path}: not an image Pillow can read ({exc})") from None


def region_box(region, size):
    """(x, y, w, h) in pixels of a named region of an image of `size`."""
    m = re.fullmatch(r"(top|bottom|left|right)(-half|-third)?", str(region or "").strip().lower())
    if not m:
        raise InputError(f"{flag('region', repr(region))}: no such region", hint="use one of: " + ", ".join(REGIONS))
    side, part = m.group(1), m.group(2) or ""
    width, height = size
    if side in ("top", "bottom"):
        h = max(1, round(height * FRACTIONS[part]))
        return (0, 0 if side == "top" else height - h, width, h)
    w = max(1, round(width * FRACTIONS[part]))
    return (0 if side == "left" else width - w, 0, w, height)


def parse_box(text, size):
    """(x, y, w, h) in pixels from "X,Y,W,H", each in pixels or percent of the image's side."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 4 or not all(re.fullmatch(r"\d+(\.\d+)?%?", p) for p in parts):
        raise InputError(f"{flag('box', repr(text))}: give X,Y,W,H in pixels or percent, "
                         "e.g. 0,0,256,128 or 0,0,50%,25%")
    sides = (size[0], size[1], size[0], size[1])
    x, y, w, h = (round(float(p[:-1]) * side / 100) if p.endswith("%") else int(float(p))
                  for p, side in zip(parts, sides))
    if w <= 0 or h <= 0 or x >= size[0] or y >= size[1]:
        raise InputError(f"{flag('box', text)}: the box lies outside the {size[0]}x{size[1]} image or is empty")
    return (x, y, min(w, size[0] - x), min(h, size[1] - y))


def paint(size, box):
    """A mask image of `size`: white inside the box (repainted), black elsewhere (kept)."""
    Image = _pil()
    mask = Image.new("RGB", size, (0, 0, 0))
    x, y, w, h = box
    mask.paste((255, 255, 255), (x, y, x + w, y + h))
    return mask


def mask_for(image, mask=None, region=None, box=None, project=None):
    """The local mask file for `image`: the one given (checked to be of the image's size), or one
    painted from the region or box into projects/<project>/masks/."""
    if image is None:
        raise InputError(f"{flag('mask')}/{flag('region')}/{flag('box')} repaint part of an input image: "
                         f"give {flag('image')} too")
    if sum(x is not None for x in (mask, region, box)) > 1:
        raise InputError(f"give one of {flag('mask')}, {flag('region')} and {flag('box')}")
    size = image_size(str(image))
    if mask is not None:
        got = image_size(str(mask), "mask")
        if got != size:
            raise InputError(f"{flag('mask', mask)}: {got[0]}x{got[1]}, but the image {image} is {size[0]}x{size[1]}; "
                             "a mask must be the image's size",
                             hint=f"paint one at its size with {flag('region')} or {flag('box')} instead")
        return str(mask)
    area = region_box(region, size) if region is not None else parse_box(box, size)
    folder = config.projects_dir() / (project or "default") / "masks"
    folder.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha1(f"{size}{area}".encode()).hexdigest()[:10]
    path = folder / f"mask-{size[0]}x{size[1]}-{key}.png"
    if not path.is_file():
        paint(size, area).save(path)
    return str(path)


# -- the graph -----------------------------------------------------------------------------------
def _link(value):
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)


def _new_id(api):
    return str(max((int(k) for k in api if str(k).isdigit()), default=0) + 1)


def _types(object_info, cls):
    return [str(t) for t in (object_info.get(cls) or {}).get("output") or []]


def _input_type(object_info, cls, name):
    spec = (object_info.get(cls) or {}).get("input") or {}
    for section in ("required", "optional"):
        entry = (spec.get(section) or {}).get(name)
        if entry:
            return entry[0] if isinstance(entry[0], str) else "COMBO"
    return None


def image_loader(api, image):
    """The node that loads the input image: the one set to `image`, else the only LoadImage."""
    loaders = [nid for nid, n in api.items() if n.get("class_type") == "LoadImage"]
    named = [nid for nid in loaders if str((api[nid].get("inputs") or {}).get("image")) == str(image)]
    if named or len(loaders) == 1:
        return (named or loaders)[0]
    return None


def _upstream(api, nid):
    seen, todo = set(), [nid]
    while todo:
        for value in (api.get(todo.pop(), {}).get("inputs") or {}).values():
            if _link(value) and str(value[0]) in api and str(value[0]) not in seen:
                seen.add(str(value[0]))
                todo.append(str(value[0]))
    return seen


def refuse(reason):
    example = nextsteps.step("generate", "<what to paint>", image="<image>", region="top-third",
                             task="image-to-image")
    return CheckFailed(f"cannot inpaint with this workflow: {reason}; nothing was run",
                       hint=f"inpaint with an image-to-image workflow, e.g.: {example}")


def insert(api, object_info, mask_file, image):
    """The workflow repainting only the mask (see the module doc); returns (workflow, how)."""
    for cls in ("LoadImageMask", "ImageCompositeMasked"):
        if cls not in object_info:
            raise refuse(f"the server has no {cls} node")
    loader = image_loader(api, image)
    if loader is None:
        raise refuse("it loads no input image (or several, none of them the one given)")
    mask_node = _new_id(api)
    api[mask_node] = {"class_type": "LoadImageMask", "_meta": {"title": "Mask (white is repainted)"},
                      "inputs": {"image": str(mask_file), "channel": "red"}}
    mask = [mask_node, 0]
    how, encoders = None, []
    # an inpaint graph: nodes that took the loader's own (alpha) mask take ours
    for nid, node in list(api.items()):
        for name, value in (node.get("inputs") or {}).items():
            if _link(value) and str(value[0]) == loader and value[1] == 1 and \
                    _input_type(object_info, node.get("class_type"), name) == "MASK":
                node["inputs"][name] = mask
                how = f"the mask replaces the image's own in {node.get('class_type')}#{nid}"
                encoders.append(nid)
    if how is None:
        how = _noise_mask(api, object_info, loader, mask, encoders)
    _composite(api, object_info, encoders, mask)
    return api, how


def _noise_mask(api, object_info, loader, mask, encoders):
    """SetLatentNoiseMask on each latent a sampler takes that was encoded from the input image."""
    if "SetLatentNoiseMask" not in object_info:
        raise refuse("the server has no SetLatentNoiseMask node")
    done = []
    for nid, node in list(api.items()):
        for name, value in (node.get("inputs") or {}).items():
            if not _link(value) or _input_type(object_info, node.get("class_type"), name) != "LATENT":
                continue
            src = str(value[0])
            if src not in api or "pixels" not in (api[src].get("inputs") or {}):
                continue
            if loader not in _upstream(api, src) or _types(object_info, api[src].get("class_type")) != ["LATENT"]:
                continue
            noise = _new_id(api)
            api[noise] = {"class_type": "SetLatentNoiseMask", "_meta": {"title": "Repaint only the mask"},
                          "inputs": {"samples": value, "mask": mask}}
            node["inputs"][name] = [noise, 0]
            encoders.append(src)
            done.append(f"{node.get('class_type')}#{nid}")
    if not done:
        raise refuse("no sampler takes a latent encoded from the input image (it is not an image-to-image graph)")
    return f"noise mask on the latent {', '.join(done)} samples"


def _pixels(api, nid):
    """The pixels an encoder takes: its own `pixels` input, or (a SetLatentNoiseMask that took the
    image's mask, as the pack's inpaint recipe builds: recipes/build.py) the nearest node upstream's."""
    seen, todo = set(), [nid]
    while todo:  # breadth first, so the encoder nearest the masked node wins
        cur = todo.pop(0)
        inputs = api.get(cur, {}).get("inputs") or {}
        if _link(inputs.get("pixels")):
            return inputs["pixels"]
        for value in inputs.values():
            if _link(value) and str(value[0]) in api and str(value[0]) not in seen:
                seen.add(str(value[0]))
                todo.append(str(value[0]))
    return None


def _composite(api, object_info, encoders, mask):
    """Each saved image composited back onto the encoder's input pixels through the mask."""
    pixels = next((p for p in (_pixels(api, e) for e in encoders) if p), None)
    if pixels is None:
        raise refuse("no encoder takes the input image's pixels")
    for nid, node in list(api.items()):
        cls = node.get("class_type")
        images = (node.get("inputs") or {}).get("images")
        if not _link(images) or "output_node" not in (object_info.get(cls) or {}) or \
                not (object_info.get(cls) or {}).get("output_node"):
            continue
        comp = _new_id(api)
        api[comp] = {"class_type": "ImageCompositeMasked", "_meta": {"title": "Keep the input outside the mask"},
                     "inputs": {"destination": pixels, "source": images, "x": 0, "y": 0, "resize_source": False,
                                "mask": mask}}
        node["inputs"]["images"] = [comp, 0]


def edit(mask_file, image):
    """A pipeline edit (pipeline.run's `edits`) repainting only `mask_file` of `image`."""
    def apply(api, object_info, client):
        api, how = insert(api, object_info, mask_file, image)
        return api, {"mask": str(Path(mask_file)), "inpaint": how}
    apply.classes = ("LoadImageMask", "SetLatentNoiseMask", "ImageCompositeMasked")
    return apply

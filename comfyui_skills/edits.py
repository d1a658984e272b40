"""The chat-loop options generate.py and run.py share: LoRAs, a mask (file, region or box), and
earlier outputs as inputs (cli.add_edit_flags puts them on a parser); `from_args` turns them into
the graph edits `pipeline.run(edits=...)` applies on the chosen server."""

# loras and masks are imported where an edit is asked for: a plain run should not pay for reading
# model headers (families) or painting masks at start-up
from . import references
from .errors import InputError
from .nextsteps import flag

def mask_asked(args):
    return bool(getattr(args, "mask", None) or getattr(args, "region", None) or getattr(args, "box", None))


def from_args(args, image, reporter, project=None):
    """from_options() with a parsed command line's flags."""
    return from_options(image, reporter, project, lora=getattr(args, "lora", None),
                        trigger=getattr(args, "trigger", False), mask=getattr(args, "mask", None),
                        region=getattr(args, "region", None), box=getattr(args, "box", None))


def from_options(image, reporter, project=None, lora=None, trigger=False, mask=None, region=None, box=None):
    """[edit] for pipeline.run: the LoRAs, then the mask (painted for `image`, a local path)."""
    out = []
    if lora:
        from . import loras

        out.append(loras.edit(lora, trigger=trigger, reporter=reporter))
    elif trigger:
        raise InputError(f"{flag('trigger')} adds the trigger words of {flag('lora')} files: "
                         f"give {flag('lora', 'NAME')} too")
    if mask or region or box:
        from . import masks

        mask_file = masks.mask_for(image, mask=references.resolve(mask, "mask", project).path if mask else None,
                                   region=region, box=box, project=project)
        out.append(masks.edit(mask_file, image))
    return out


EDIT_TASKS = ("image-to-image", "image-edit", "inpaint", "outpaint")


def input_image(args, project=None):
    """The --image as a references.Ref (last, last:N, PROMPT_ID:N or a path), or None."""
    return references.resolve(args.image, "image", project) if getattr(args, "image", None) else None


def edit_defaults(args, ref, task):
    """edit_values() with a parsed command line's flags."""
    return edit_values(ref, task, args.size, args.seed, mask_asked(args), args.request)


def edit_values(ref, task, size, seed, masked, request=""):
    """(task, size, seed) for an edit of `ref`: a mask makes it an inpaint; an edit keeps the input's
    size, and an earlier output's seed, unless the user gives them (an upscale or a video does not)."""
    if ref is None:
        return task, size, seed
    if task is None:
        from .generate import infer_task

        task = "inpaint" if masked else infer_task(request, True)
    if task in EDIT_TASKS:
        if size is None:
            from . import masks

            width, height = masks.image_size(ref.path)
            size = f"{width}x{height}"
        if seed is None and isinstance(ref.settings.get("seed"), int):
            seed = ref.settings["seed"]
    return task, size, seed

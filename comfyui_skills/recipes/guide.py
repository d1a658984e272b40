"""A prompting guide per family, from the same table the graphs are built from."""

from .. import identify
from ..errors import InputError
from . import table


def resolve(what, identities=None):
    """(recipe, how it was found) for a family id, or an installed (or named) model file."""
    recipe = table.get(what)
    if recipe is not None:
        return recipe, f"family {what}"
    item = identities.of(what) if identities is not None else identify.identify_file(what, None)
    recipe = table.get(item.recipe_family)
    if recipe is None:
        if item.family != "unknown":
            raise InputError(f"{what} is {item.recipe_family} (by {item.how}); the pack has no recipe or guide for it",
                             hint="families with a guide: " + ", ".join(r.id for r in table.RECIPES))
        raise InputError(f"{what}: neither a family id nor a model file whose family could be told",
                         hint="families: " + ", ".join(r.id for r in table.RECIPES))
    variant = recipe.variant_of(what, item.variant)
    return recipe.for_variant(variant), f"{what}: {item.recipe_family} (by {item.how})"


def guide(what, identities=None):
    """{family, name, found, prompt_style, settings, source} for a family or a file."""
    recipe, found = resolve(what, identities)
    settings = {"size": "x".join(map(str, recipe.size)), "sizes": ["x".join(map(str, b)) for b in recipe.buckets],
                "sampler": recipe.sampler, "scheduler": recipe.scheduler, "steps": recipe.steps, "cfg": recipe.cfg,
                "guidance": recipe.guidance, "shift": recipe.shift[1] if recipe.shift else None,
                "clip_skip": abs(recipe.clip_skip) if recipe.clip_skip else None,
                "negative_prompt": recipe.negative, "prompt_prefix": recipe.prompt_prefix or None,
                "default_negative": recipe.default_negative or None, "tasks": list(recipe.tasks)}
    return {"family": recipe.id, "name": recipe.name, "found": found, "prompt_style": recipe.guide,
            "settings": settings, "source": recipe.source}


def text(g):
    s = g["settings"]
    lines = [f"{g['name']} ({g['family']}) - {g['found']}", "", g["prompt_style"], "",
             f"size {s['size']} (also {', '.join(s['sizes'][1:4])})" if len(s["sizes"]) > 1 else f"size {s['size']}",
             f"sampler {s['sampler']} / {s['scheduler']}, {s['steps']} steps, cfg {s['cfg']}"
             + (f", guidance {s['guidance']}" if s["guidance"] is not None else "")
             + (f", shift {s['shift']}" if s["shift"] is not None else "")
             + (f", clip skip {s['clip_skip']}" if s["clip_skip"] else ""),
             "negative prompt: " + ("used" + (f" (default: {s['default_negative']!r})" if s["default_negative"] else "")
                                    if s["negative_prompt"] else "not used (cfg 1)")]
    if s["prompt_prefix"]:
        lines.append(f"the pack puts before the prompt: {s['prompt_prefix']!r}")
    lines += [f"tasks: {', '.join(s['tasks'])}", f"source: {g['source']}"]
    return "\n".join(lines)




"""Which installed family and files a recipe runs on.

Among the families installed (by identify: header first), what fits the device memory comes
first, then the stronger family for the task (table.STRENGTH), then what was known for sure (a
header beats a name). A file whose family has a recipe but whose text encoders or VAE are not
installed is kept as an option that names what it lacks. `--model FILE` forces a file and is
refused in one line when it cannot be the model of the task (a LoRA, a truncated file, a family
no recipe covers).
"""

from dataclasses import dataclass, field

from ..nextsteps import flag
from .. import models, nextsteps
from ..errors import InputError
from . import table
from .build import Parts, checkpoint_has

MAIN_KINDS = ("checkpoint", "diffusion_model")
TE_FOLDERS = ("text_encoders", "clip")
KIND_WORDS = {"lora": "a LoRA", "vae": "a VAE", "text_encoder": "a text encoder", "controlnet": "a ControlNet",
              "upscale_model": "an upscale model", "clip_vision": "a CLIP vision model", "embedding": "an embedding"}


@dataclass
class Option:
    recipe: object                      # table.Recipe, for the file's variant
    variant: str
    parts: Parts
    missing: list = field(default_factory=list)   # what it lacks, in words
    need_bytes: int = None

    @property
    def runnable(self):
        return not self.missing

    @property
    def family(self):
        return self.recipe.id

    def describe(self):
        main = self.parts.main or self.parts.upscaler
        return f"{main.name} ({self.family}{'/' + self.variant if self.variant else ''}, {main.kind}, by {main.how})"


def options(identities, task, object_info, memory_bytes=None):
    """Every installed main model a recipe covers for `task`, best first."""
    out = []
    for item in identities.usable(MAIN_KINDS):
        opt = option_for(item, task, identities, object_info)
        if opt is not None:
            out.append(opt)
    if task == "upscale":
        out += [Option(table.UPSCALE, None, Parts(upscaler=item), need_bytes=item.size)
                for item in identities.usable(("upscale_model",))]
    return rank(out, task, memory_bytes)


def option_for(item, task, identities, object_info):
    recipe = table.get(item.recipe_family)
    if recipe is None or task not in recipe.tasks:
        return None
    variant = recipe.variant_of(item.name, item.variant)
    recipe = recipe.for_variant(variant)
    parts = Parts(main=item)
    missing = []
    if item.name.lower().endswith(".gguf") and "UnetLoaderGGUF" not in object_info:
        missing.append("the UnetLoaderGGUF node (ComfyUI-GGUF) for a .gguf file")
    missing += [f"node {n}" for n in recipe.nodes if n not in object_info]
    if recipe.encoders and not checkpoint_has(item, "te"):
        for fam in recipe.encoders:
            found = _component(identities, fam, TE_FOLDERS, exclude=parts.encoders)
            if found is None:
                missing.append(f"a {fam[3:]} text encoder in models/text_encoders")
            else:
                parts.encoders.append(found)
    if recipe.vae and not checkpoint_has(item, "vae"):
        parts.vae = next((v for fam in recipe.vae for v in [_component(identities, fam, ("vae",))] if v), None)
        if parts.vae is None:
            missing.append(f"a {recipe.vae[0][4:]} VAE in models/vae")
    need = sum(f.size or 0 for f in [item] + parts.encoders[:1]) or None
    return Option(recipe, variant, parts, missing, need)


def _component(identities, family, folders, exclude=(), kind=None):
    """The installed file of `family` in `folders`: a file the pack lists (the official one) first."""
    found = [i for i in identities.usable() if i.folder in folders and i not in exclude
             and (i.family == family or (kind and i.kind == kind))]
    found.sort(key=lambda i: (models.known_file(i.name) is None, i.how != "header", i.name))
    return found[0] if found else None


def rank(opts, task, memory_bytes=None):
    order = table.STRENGTH.get(task, ())

    def key(o):
        too_big = memory_bytes is not None and o.need_bytes is not None and o.need_bytes > memory_bytes
        strength = order.index(o.family) if o.family in order else len(order)
        main = o.parts.main or o.parts.upscaler
        return (not o.runnable, too_big, strength, main.how != "header", main.name)
    return sorted(opts, key=key)


def forced(identities, name, task, object_info):
    """The Option for --model NAME, or InputError in one line saying why it cannot be."""
    item = next((i for i in identities.all() if i.name == name), None)
    if item is None:
        raise InputError(f"{flag('model', name)}: no installed model file of that name",
                         hint=f"list them with: {nextsteps.step('inventory', 'models', 'checkpoints')}")
    if item.problem:
        raise InputError(f"{flag('model', name)}: {item.problem}; it cannot be used",
                         hint=f"download it again: {nextsteps.step('models', 'download', name)}")
    if item.kind not in MAIN_KINDS:
        word = KIND_WORDS.get(item.kind, f"a {item.kind} file")
        raise InputError(f"{flag('model', name)} is {word} ({item.family}), not a checkpoint or diffusion model",
                         hint=f"give a checkpoint (LoRAs go in with {flag('lora')} where supported)")
    if item.family == "unknown":
        raise InputError(f"{flag('model', name)}: its family could not be told ({item.evidence})",
                         hint=f"use {flag('template', 'NAME')} with an official template for it")
    recipe = table.get(item.recipe_family)
    if recipe is None:
        raise InputError(f"{flag('model', name)} is {item.recipe_family} (by {item.how}); no recipe of the pack covers "
                         f"that family", hint="recipes: " + ", ".join(r.id for r in table.RECIPES))
    if task not in recipe.tasks:
        raise InputError(f"{flag('model', name)} is {recipe.name}, which does not do {task}",
                         hint=f"{recipe.name} does: {', '.join(recipe.tasks)}")
    return option_for(item, task, identities, object_info)

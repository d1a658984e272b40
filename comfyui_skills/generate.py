"""From one sentence to a workflow this server can run: pick a template, fit it, fill its slots.

`plan()` reads the task from the request (or takes `task=`), looks at the official templates
for that task, and keeps those the server can run now with the node classes and model files it
has. A template's model file may be swapped for an installed file of the same family: the
template's resolution, steps, cfg and sampler are kept, as they are the official settings for
that family. Among the runnable ones it prefers what fits the device (the index's `vram` and
`size` against the server's memory), then the stronger family for the task, then the index's own
order. A template that runs on exactly its own files beats one of the same strength that needs a
stand-in: the official settings are tuned for the file they name (flux_schnell's 4 steps are not
flux_dev's 20; a pixel-space Chroma Radiance graph is no place for a latent-space Chroma file).
Partner (API) templates spend money: they are only considered with `allow_api`. A template counts
for a task only when its graph does it (recipes/graph_task.py: Lotus Depth, tagged text-to-image,
makes depth maps).

Each installed file is what identify.py says (its header where this machine can read it), so a
community file named `analogMadness_v70` is SD1.5. Where no official template of the strongest
installed family runs, or the one that runs is tuned for another variant (SDXL Turbo), the pack's
own recipe for that family and task is built (recipes/: settings from the family's official
template or model card) and checked against the node schemas like any workflow.

The returned `Plan` says which template and which files it chose and why; `pipeline.run` runs
its `workflow`. When nothing installed can do it, `NothingRunnable` names the best template and
the exact files it needs, with the command that fetches them.
"""

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import conversion, identify, models, nextsteps, slots, templates, validation
from .recipes import build as recipe_build, choose as recipe_choose, graph_task, table as recipe_table
from .errors import CheckFailed, InputError, ServerError
from .nextsteps import flag

# task -> the index's tags for it (0.1.x and 0.11.x spell some differently)
TASKS = {
    "text-to-image": ("text to image", "text-to-image"),
    "image-to-image": ("image to image",),
    "image-edit": ("image edit",),
    "inpaint": ("inpainting",),
    "outpaint": ("outpainting",),
    "upscale": ("upscale", "image upscale"),
    "text-to-video": ("text to video",),
    "image-to-video": ("image to video",),
    "text-to-audio": ("text to audio", "text to music", "text to speech"),
    "text-to-3d": ("text to 3d", "text to model"),
    "image-to-3d": ("image to 3d",),
}
# what the words of a request say it wants, tried in order; --task overrides
WITH_IMAGE = (("upscale", r"\b(upscale|upscaling|enlarge|higher resolution|super.?res)"),
              ("image-to-video", r"\b(video|animate|animation|moving|clip|motion)\b"),
              ("image-to-3d", r"\b(3d|mesh|model of it)\b"),
              ("inpaint", r"\b(inpaint|remove the|erase|fill in)\b"),
              ("image-edit", r"\b(edit|change|make (it|him|her|them)|replace|add an?|turn (it|this)|into)\b"),
              ("image-to-image", r""))
WITHOUT_IMAGE = (("text-to-video", r"\b(video|clip|animation|footage|\d+.?(s|sec|second)s?\b)"),
                 ("text-to-audio", r"\b(music|song|audio|sound|melody|loop|beat|piano|voice|speech)\b"),
                 ("text-to-3d", r"\b(3d model|mesh)\b"),
                 ("text-to-image", r""))
# a task nothing installed can do may still be done, less well, the way of another
FALLBACK = {"image-edit": "image-to-image", "inpaint": "image-to-image", "outpaint": "image-to-image"}
# stronger first, per task: the families the official templates use for it
STRENGTH = {
    "text-to-image": ("qwen-image", "flux1", "hidream", "sd3", "chroma", "lumina2", "sdxl", "pony", "illustrious",
                      "sd15", "sd2"),
    "image-edit": ("qwen-image", "flux1-kontext", "hidream", "flux1"),
    "text-to-video": ("wan22", "wan21", "hunyuan-video", "ltxv", "cosmos", "mochi"),
    "image-to-video": ("wan22", "wan21", "hunyuan-video", "ltxv", "cosmos", "svd"),
}


@dataclass
class Plan:
    task: str
    template: str
    title: str
    workflow: dict                      # API format, ready to queue
    models: list                        # the files the workflow uses: {name, folder, family, swapped_from}
    why: list = field(default_factory=list)
    changes: list = field(default_factory=list)   # slot changes: node, input, old, new
    considered: int = 0
    recipe: str = None                  # the pack's own recipe (a family id) when no template was used

    @property
    def label(self):
        return f"recipe {self.recipe}" if self.recipe else f"template {self.template}"

    def as_dict(self):
        return {"task": self.task, "template": self.template, "recipe": self.recipe, "title": self.title,
                "models": self.models,
                "why": self.why, "slots": [c._asdict() for c in self.changes],
                "considered": self.considered, "workflow": self.workflow}


class NothingRunnable(CheckFailed):
    """No template for the task runs here; `details` name the best one and what it lacks."""


@dataclass
class Fit:
    template: object          # templates.Template
    workflow: dict            # its editor workflow
    needs: object             # templates.Requirements
    swaps: dict               # {template file name: (installed name, folder, family)}
    missing: list             # ModelNeeds still missing after swaps

    @property
    def runnable(self):
        return not self.needs.missing_nodes and not self.missing


# -- what is asked ---------------------------------------------------------------------------------
def infer_task(request, has_image):
    text = (request or "").lower()
    for task, pattern in (WITH_IMAGE if has_image else WITHOUT_IMAGE):
        if not pattern or re.search(pattern, text):
            return task
    return "text-to-image"


def check_task(task):
    if task not in TASKS:
        raise InputError(f"unknown task {task!r}", hint="use one of: " + ", ".join(TASKS))
    return task


def candidates(index, task, allow_api=False):
    wanted = TASKS[task]
    found = [t for t in index.templates if any(tag.lower() in wanted for tag in t.tags)]
    return [t for t in found if allow_api or not t.partner]


# -- can it run here ---------------------------------------------------------------------------------
def fit(template, workflow, object_info, models_by_folder, allow_api=False, identities=None):
    """What `template` needs here, and which missing files an installed one of its family replaces."""
    needs = templates.requirements(workflow, object_info, models_by_folder)
    swaps, missing = {}, []
    for need in needs.missing_models:
        folder = need.directory
        replacement = same_family_file(need.name, folder, models_by_folder, identities)
        if replacement:
            swaps[need.name] = replacement
        else:
            missing.append(need)
    return Fit(template, workflow, needs, swaps, missing)


def family_of(name, folder, identities=None):
    """The family of a file, as the pack knows it: an installed file's identity (its header when
    it could be read), else a known file's record, else its name (identify.Identities)."""
    return (identities or identify.Identities()).family_of(name, folder)


def _compatible(a, b):
    if not a or not b:
        return False
    if a == b:
        return True
    base = {f.id: f.based_on for f in models.families()}
    return base.get(a) == b or base.get(b) == a


def same_family_file(name, folder, models_by_folder, identities=None):
    """(installed name, folder, family) of a file that can stand in for `name`, or None; a
    truncated or unreadable file never does."""
    want = family_of(name, folder)
    if not want or not folder:
        return None
    for installed in sorted((models_by_folder or {}).get(folder) or []):
        if identities is not None and not identities.of(installed, folder).usable:
            continue
        if _compatible(family_of(installed, folder, identities), want):
            return installed, folder, want
    return None


# -- choosing ------------------------------------------------------------------------------------
def rank(fits, task, memory_bytes=None):
    """Runnable first; then what fits the device; then the stronger family; then fewer files
    missing; then fewer stand-in files (a template's own files first); then index order."""
    def strength(f):
        return _strength(f, task)

    def fits_device(f):
        need = need_bytes(f, fits)
        return memory_bytes is None or need is None or need <= memory_bytes

    return sorted(fits, key=lambda f: (not f.runnable, not fits_device(f), strength(f), len(f.missing),
                                       len(f.swaps)))


def _strength(f, task):
    """The place of `f`'s strongest family in STRENGTH[task] (len of it: a family not listed)."""
    order = STRENGTH.get(task, ())
    fams = {family_of(n.name, n.directory) for n in f.needs.models}
    fams |= {fam for _, _, fam in f.swaps.values()}
    return min((order.index(x) for x in fams if x in order), default=len(order))


def need_bytes(f, fits):
    """The memory the index says `f` needs. Its numbers are for the files a template names: one
    run on stand-ins loads those, so when another template names exactly them, its number counts
    (hidream_i1_fast run on hidream_i1_dev's files needs what hidream_i1_dev needs)."""
    owner = f
    if f.swaps:
        owner = next((o for o in fits if not o.swaps and o.runnable and _files_used(o) == _files_used(f)), f)
    return owner.template.vram_bytes or owner.template.size_bytes


def _files_used(f):
    return frozenset(f.swaps[n.name][0] if n.name in f.swaps else (n.use or n.name) for n in f.needs.models)


def plan(request, index, load_template, object_info, models_by_folder, *, task=None, template=None,
         image=None, negative=None, seed=None, size=None, steps=None, count=None, model=None,
         allow_api=False, memory_bytes=None, frontend_version=None, identities=None, denoise=None):
    """The workflow to queue for `request` (see the module's docstring). Nothing is sent."""
    has_image = image is not None
    task = check_task(task) if task else infer_task(request, has_image)
    if identities is None:  # no snapshot's identities: the listed files, by name
        identities = identify.Identities(identify.identify_listing(models_by_folder))
    own = None if template else _own_options(identities, task, object_info, memory_bytes, model)
    if template:
        chosen = [templates.find(index, template)]
    else:
        chosen = candidates(index, task, allow_api)
        if not chosen and not own:
            raise InputError(f"no official template does {task}" + (" without partner (API) nodes" if not allow_api
                                                                    else ""),
                             hint=f"{flag('allow_api')} lets paid partner nodes in; {flag('task')} picks another task")
    fits, other_task = [], []
    for t in chosen:
        try:
            wf = load_template(t.name)
        except (InputError, ServerError) as exc:
            if isinstance(exc, ServerError) and exc.status != 404:
                raise
            continue  # listed in the index but not shipped by this server's package
        if not template and not graph_task.does(wf, task, object_info):
            other_task.append(t.name)
            continue  # tagged for the task, but its graph does something else (Lotus makes depth maps)
        f = fit(t, wf, object_info, models_by_folder, allow_api, identities)
        if model:
            f = _force_model(f, model, models_by_folder, identities)
        fits.append(f)
    ranked = rank(fits, task, memory_bytes) if fits else []
    if own is not None:
        picked = _recipe_or_template(own, ranked, task, model, identities)
        if picked is not None:
            return _build_recipe(picked, own, task, request, image, negative, seed, size, steps, count, object_info,
                                 models_by_folder, considered=len(fits), denoise=denoise)
    if not fits:
        if other_task or not chosen:
            raise CheckFailed(f"nothing installed can do {task}: " + _lacking(own) + (
                f"; the templates tagged for it ({', '.join(other_task[:3])}) do something else by their graph"
                if other_task else ""), hint=f"install a checkpoint, then generate again ({nextsteps.step('models', 'guide', 'sdxl')} "
                                             "tells what a family needs)")
        raise InputError(f"none of the {len(chosen)} templates for {task} could be read")
    best = ranked[0]
    if not best.runnable and not template and FALLBACK.get(task):
        try:
            found = plan(request, index, load_template, object_info, models_by_folder, task=FALLBACK[task],
                         image=image, negative=negative, seed=seed, size=size, steps=steps, count=count,
                         model=model, allow_api=allow_api, memory_bytes=memory_bytes,
                         frontend_version=frontend_version, identities=identities, denoise=denoise)
        except CheckFailed:
            raise _nothing_runnable(best, task, ranked=ranked, memory_bytes=memory_bytes,
                                    allow_api=allow_api) from None
        found.why.insert(0, f"no {task} template runs here (the best, {best.template.name}, lacks files); "
                            f"done as {FALLBACK[task]} instead")
        return found
    if not best.runnable:
        raise _nothing_runnable(best, task, forced=bool(template), ranked=ranked, memory_bytes=memory_bytes,
                                allow_api=allow_api)
    if best.needs.uses_api and not allow_api:
        raise CheckFailed(f"template {best.template.name} uses partner (API) nodes, which spend credits",
                          hint=f"add {flag('allow_api')} to run it (the Comfy account key comes from COMFY_API_KEY)")
    return _build(best, task, request, image, negative, seed, size, steps, count, object_info,
                  considered=len(fits), why=_why(best, ranked, task, memory_bytes), frontend_version=frontend_version,
                  denoise=denoise)


def _force_model(f, model, models_by_folder, identities=None):
    """--model NAME: use this installed file for the template's main model (same folder, and a
    family that fits: an SDXL file in an SD1.5 graph gives noise)."""
    for need in f.needs.models:
        listed = (models_by_folder or {}).get(need.directory) or []
        if identities is not None and not _compatible(family_of(model, need.directory, identities),
                                                      family_of(need.name, need.directory)):
            continue
        if model in listed:
            f.swaps[need.name] = (model, need.directory, family_of(model, need.directory))
            f.missing = [n for n in f.missing if n.name != need.name]
            return f
    return f


# -- the pack's own recipes (comfyui_skills/recipes): where no official template for the family runs -----
NEEDS_IMAGE = ("image-to-image", "image-edit", "inpaint", "outpaint", "upscale")


def _own_options(identities, task, object_info, memory_bytes, model):
    """The installed files a recipe could run `task` on, best first; --model: that file, checked
    (one line refusing a LoRA, a truncated file, a family no recipe covers). None: no recipe does
    the task."""
    if task not in recipe_table.TASKS:
        return None
    if model:
        return [recipe_choose.forced(identities, model, task, object_info)]
    return recipe_choose.options(identities, task, object_info, memory_bytes) or None


def _template_family(f, identities):
    """The main family a template fit runs: the strongest of the files it would load."""
    fams = [family_of(f.swaps[n.name][0] if n.name in f.swaps else (n.use or n.name), n.directory, identities)
            for n in f.needs.models]
    order = recipe_table.STRENGTH["text-to-image"] + recipe_table.STRENGTH["image-edit"]
    known = [x for x in fams if x in order]
    return min(known, key=order.index) if known else None


def _recipe_or_template(own, ranked, task, model, identities):
    """The recipe option to build, or None when an official template should run: a runnable
    template of the same family wins (its settings are the official ones); one of a weaker family
    loses to the recipe of the stronger family installed."""
    best = next((o for o in own if o.runnable), None)
    runnable = [f for f in ranked if f.runnable]
    if model and best is None:
        if runnable and model in _files_used(runnable[0]):
            return None
        raise CheckFailed(f"{flag('model', model)}: {own[0].recipe.name} needs {', '.join(own[0].missing)}",
                          hint=f"install what it lacks, or choose another {flag('model')}")
    if best is None:
        return None
    if not runnable:
        return best
    tfam = _template_family(runnable[0], identities)
    if model:
        same = model in _files_used(runnable[0]) and tfam == best.family and _same_variants(runnable[0])
        return None if same else best
    if tfam == best.family:  # the official settings win, unless tuned for another variant (Turbo)
        return None if _same_variants(runnable[0]) else best
    order = recipe_table.STRENGTH.get(task, ())
    rank_of = (lambda fam: order.index(fam) if fam in order else len(order))
    return best if rank_of(best.family) < rank_of(tfam) else None


# what a file name says of a distilled or special-purpose variant: a template tuned for one (SDXL
# Turbo's 1 step at cfg 1) is no place for a file without it
VARIANT_WORDS = ("turbo", "lightning", "lcm", "hyper", "schnell", "distill", "refiner", "inpaint", "fill", "edit")


def _variant_words(name):
    low = (name or "").lower()
    return {w for w in VARIANT_WORDS if w in low}


def _same_variants(f):
    """Each stand-in file of a template fit is of the variant the template's own file is."""
    return all(_variant_words(need) == _variant_words(installed) for need, (installed, _, _) in f.swaps.items())


def _build_recipe(opt, own, task, request, image, negative, seed, size, steps, count, object_info,
                  models_by_folder, considered, denoise=None):
    recipe = opt.recipe
    if task in NEEDS_IMAGE and image is None:
        raise InputError(f"{task} needs an input image", hint=f"add {flag('image', 'PATH')}")
    width, height = slots.parse_size(size) if size else (None, None)
    seed = seed if seed is not None else random.randint(0, 2**32 - 1)
    wf = recipe_build.build(recipe, task, opt.parts, object_info, prompt=request,
                            negative=negative if recipe.negative else None, seed=seed, width=width, height=height,
                            steps=steps, count=count or 1, denoise=denoise)
    # one prompt makes them all where the graph has a batch (text-to-image's empty latent), as a
    # template's batch slot does: the run must not send `count` prompts on top
    changes = [slots.Change(nid, "batch_size", 1, count, "batch") for nid, n in wf.items()
               if count and count > 1 and n["inputs"].get("batch_size") == count]
    if image is not None:
        wf, filled = slots.apply_slots(wf, object_info, images=[str(image)])
        changes += filled
    # the image is uploaded when the run starts (a local file) or is already there: its name counts
    # as in the input folder, so a dry run or a plan made before the upload is not refused
    checked = validation.validate(wf, object_info, models=models_by_folder or None,
                                  input_files=[str(image)] if image is not None else None)
    if checked["verdict"] == "rejected":
        raise CheckFailed(f"the pack's {recipe.name} graph does not pass this server's node schemas: "
                          f"{checked['errors'][0]['message']}")
    main = opt.parts.main or opt.parts.upscaler
    why = [f"{task}: the pack's own {recipe.name} recipe (no official template for {recipe.id} {task} runs "
           f"here, or a weaker family's); settings from {recipe.source.split(';')[0]}",
           f"{main.name}: {main.family}" + (f"/{main.variant}" if main.variant else "")
           + f" {main.kind}, known by its {main.how} ({main.evidence})"]
    others = [o.describe() for o in own if o is not opt][:3]
    if others:
        why.append("also installed for it: " + "; ".join(others))
    if negative and not recipe.negative:
        why.append(f"{recipe.name} uses no negative prompt (cfg {recipe.cfg:g}): {flag('negative')} left out")
    used = [{"name": f.name, "folder": f.folder, "family": f.recipe_family, "swapped_from": None}
            for f in opt.parts.files()]
    return Plan(task, f"recipe:{recipe.id}", recipe.name, wf, used, why, changes, considered, recipe=recipe.id)


def _lacking(own):
    """Why no recipe could run: what the best installed option lacks, in one line."""
    for o in own or []:
        if o.missing:
            return f"{o.describe()} lacks {', '.join(o.missing)}"
    return "no installed model file of a family the pack has a recipe for"


def _why(best, ranked, task, memory_bytes):
    why = [f"task {task}: {len(ranked)} official templates considered, {sum(f.runnable for f in ranked)} "
           f"runnable with the files this server has"]
    for name, (installed, folder, fam) in best.swaps.items():
        why.append(f"{installed} ({fam}, in {folder}) stands in for the template's {name}")
    need = need_bytes(best, ranked)
    if memory_bytes and need:
        why.append(f"needs about {need / 2**30:.1f} GiB; the server has {memory_bytes / 2**30:.1f} GiB")
    return why


def _build(f, task, request, image, negative, seed, size, steps, count, object_info, considered, why,
           frontend_version=None, denoise=None):
    api = conversion.ui_to_api(f.workflow, object_info, frontend_version=frontend_version)
    used = []
    for need in f.needs.models:
        name, fam = need.use or need.name, family_of(need.name, need.directory)
        swapped_from = None
        if need.name in f.swaps:
            name, _, fam = f.swaps[need.name]
            swapped_from = need.name
            _replace_value(api, need.use or need.name, name)
        used.append({"name": name, "folder": need.directory, "family": fam, "swapped_from": swapped_from})
    width, height = slots.parse_size(size) if size else (None, None)
    found = slots.find_slots(api, object_info)
    values = dict(prompt=request, negative=negative, seed=seed, width=width, height=height, steps=steps,
                  denoise=denoise, images=[str(image)] if image is not None else None)
    if count and count > 1 and "batch" in found.found:
        values["batch"] = count
    if seed is None and "seed" in found.found:
        # the template's own seed would make every run the cached copy of the last one
        values["seed"] = random.randint(0, 2**32 - 1)
    api, changes = slots.apply_slots(api, object_info, **{k: v for k, v in values.items() if v is not None})
    return Plan(task, f.template.name, f.template.title, api, used, why, changes, considered)


def _replace_value(api, old, new):
    for node in api.values():
        for key, value in (node.get("inputs") or {}).items():
            if value == old:
                node["inputs"][key] = new


def _nothing_runnable(best, task, forced=False, ranked=(), memory_bytes=None, allow_api=False):
    """NothingRunnable naming one template to get and the one command that gets it: the template
    asked for, else the one needing the least to download (of those that fit the device and need
    no node pack), which is often not the strongest: a 2 GB SD1.5 file beats a 17 GB Flux one."""
    target = best if forced else (_quickest(ranked, task, memory_bytes, allow_api) or best)
    size, exact = download_bytes(target)
    lines, commands = [], []
    for need in target.missing:
        known, url = models.known_file(need.name), _link(need)
        lines.append(f"  {need.name} -> models/{need.directory}/" + (f" ({known.size_label})" if known and known.size
                                                                      else "") + (f"  {url}" if url else ""))
        if url:
            commands.append(nextsteps.step("models", "download", url, folder=need.directory))
    for node in target.needs.missing_nodes:
        lines.append(f"  node {node.class_type}" + (f" from pack {node.pack}" if node.pack else ""))
    files = f"{len(target.missing)} file(s)" + (f", {'' if exact else 'about '}{_gb(size)}" if size else "")
    name = f"{target.template.name} ({target.template.title})"
    if forced:
        head = f"template {name} cannot run on this server yet; it needs {files}"
    elif target is best:
        head = f"nothing installed on this server can do {task}; the best template is {name}, which needs {files}"
    else:
        bsize, _ = download_bytes(best)
        head = (f"nothing installed on this server can do {task}; the quickest to get is {name}, which needs "
                f"{files}" + (f" (the strongest, {best.template.name}, needs {_gb(bsize)})" if bsize else ""))
    fetch = nextsteps.step("models", "need", template=target.template.name, download=bool(commands))
    return NothingRunnable(
        head + ":\n" + "\n".join(lines) + "\nget " + ("them" if len(lines) > 1 else "it") + " and check the "
        "template again with:", hint=fetch, template=target.template.name, best=best.template.name,
        missing=[n.as_dict() for n in target.missing], commands=commands, fetch=fetch, download_bytes=size)


def _quickest(ranked, task, memory_bytes, allow_api):
    """The template whose missing files are fewest bytes to download, among those that need no
    node pack and whose every missing file has a known link; a family the task is known to be done
    with comes first (a template tagged for the task may do something else with it: Lotus makes
    depth maps)."""
    def fetchable(f):
        if f.needs.missing_nodes or (f.needs.uses_api and not allow_api) or not f.missing:
            return False
        return all(n.directory and _link(n) for n in f.missing)

    options = [f for f in ranked if fetchable(f)]
    if not options:
        return None

    def key(f):
        size, _ = download_bytes(f)
        need = need_bytes(f, ranked)
        too_big = memory_bytes is not None and need is not None and need > memory_bytes
        # sizes are compared as published, to two figures ("2.1 GB"): then fewer files wins
        return (too_big, _strength(f, task) == len(STRENGTH.get(task, ())), size is None,
                float(f"{size:.2g}") if size else 0, len(f.missing))
    return min(options, key=key)  # min keeps the first of equals: ranked order (strength) breaks ties


def _link(need):
    """A missing file's download link: the template's own, else the pack's."""
    known = models.known_file(need.name)
    return need.url or (known.url if known else None)


def download_bytes(f):
    """(bytes, exact): what the files `f` still lacks take to download, from the pack's sizes
    (rounded as published), else the index's total for a template missing every file; (None, False)
    when unknown."""
    sizes = [_size_of(models.known_file(n.name)) for n in f.missing]
    if sizes and all(s is not None for s in sizes):
        return sum(sizes), False
    if f.missing and len(f.missing) == len(f.needs.models) and f.template.size_bytes:
        return f.template.size_bytes, True
    return None, False


def _size_of(known):
    if not known or not known.size:
        return None
    m = re.fullmatch(r"\s*([\d.]+)\s*([KMGT])i?B\s*", known.size)
    if not m:
        return None
    return int(float(m.group(1)) * 1000 ** " KMGT".index(m.group(2)))


def _gb(n):
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


# -- where templates, schemas and file lists come from -------------------------------------------
@dataclass
class Catalog:
    """What choosing reads: the template index and files, the node schema, the model lists."""

    index: object
    load_template: object       # name -> editor workflow
    object_info: dict
    models_by_folder: dict
    memory_bytes: object = None
    source: str = ""
    frontend: str = None        # the frontend whose export rules conversion follows (None: newest)
    identities: object = None   # identify.Identities of the installed files (header first)


def catalog_from_server(client, state_dir, fresh=False):
    """The live server's; templates come from the snapshot when it was taken of this server, and
    so do the node schema and file lists unless `fresh` (what is missing must be asked now)."""
    snap = _snapshot_of(client.url, state_dir)
    index = snap.index if snap else templates.fetch_index(client)
    inv = None if fresh else _inventory_of(client.url)
    object_info = inv.object_info if inv else client.object_info()
    listing = dict(inv.models or {}) if inv and inv.models else {}
    for folder in _folders_of(object_info) - set(listing):
        try:
            listing[folder] = client.models(folder)
        except ServerError:  # a folder this server does not have: nothing listed there
            listing[folder] = []
    stats = client.system_stats()
    if inv is not None and inv.record.get("model_identities") is not None:
        identities = inv.identities
    else:  # read now: each file's header where this machine can read it; the server's metadata only
        # for the main models (a request per file: the snapshot asks it of every folder, once)
        identities = identify.Identities(identify.identify_server(
            client, listing, metadata_folders=("checkpoints", "diffusion_models", "unet")))
    return Catalog(index, snap.template if snap else (lambda name: templates.fetch_template(client, name)),
                   object_info, listing, _memory(stats), source=client.url,
                   frontend=conversion.frontend_served_by(stats), identities=identities)


def catalog_from_snapshot(state_dir):
    """No server: the snapshot inventory.py took (templates and inventory)."""
    from . import inventory

    snap = templates.load_snapshot(state_dir)
    inv = inventory.load()
    stats = inv.record.get("system_stats") or {}
    return Catalog(snap.index, snap.template, inv.object_info, dict(inv.models or {}), _memory(stats),
                   source=f"the snapshot in {state_dir}", frontend=conversion.frontend_served_by(stats),
                   identities=inv.identities if inv.record.get("model_identities") is not None else None)


def _snapshot_of(url, state_dir):
    try:
        snap = templates.load_snapshot(state_dir)
    except InputError:
        return None
    return snap if snap.manifest.get("url") == url else None


def _inventory_of(url):
    from . import inventory

    try:
        inv = inventory.load()
    except InputError:
        return None
    return inv if inv.kind == "snapshot" and inv.url == url else None


def _folders_of(object_info):
    """The model folders loaders read (from the one map of loader inputs to folders)."""
    out = set()
    for cls, spec in object_info.items():
        inputs = (spec.get("input") or {}) if isinstance(spec, dict) else {}
        for section in ("required", "optional"):
            for name in inputs.get(section) or {}:
                folder = models.folder_for(cls, name)
                if folder:
                    out.add(folder)
    return out


def _memory(stats):
    """What the model must fit in: the first GPU's VRAM, else (CPU mode) the system's RAM."""
    devices = [d for d in (stats.get("devices") or []) if isinstance(d, dict)]
    gpus = [d for d in devices if d.get("type") not in ("cpu", None)]
    if gpus and gpus[0].get("vram_total"):
        return gpus[0]["vram_total"]
    return (stats.get("system") or {}).get("ram_total")


def image_file(path):
    """The --image file, checked: it must exist and be an image."""
    from .uploads import read_image

    read_image(path)  # one clear line for a folder, a missing file or something not an image
    return Path(path)

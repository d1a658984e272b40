"""The official workflow templates a ComfyUI serves, and what one of them needs to run here.

A ComfyUI serves the `comfyui-workflow-templates` package as static files: `/templates/index.json`
(a list of categories, each holding template entries) and `/templates/<name>.json` (an editor-format
workflow). Two index shapes are read:
- the one ComfyUI 0.3.64 ships (package 0.1.95): `size` and `vram` in GiB, `OpenSource`;
- the current one (`comfyui-workflow-templates-json` 0.1.x behind package 0.11.x): `size` in bytes,
  no `vram`, `openSource`, plus `minComfyUIVersion`, `io`, `requiresCustomNodes`, `status`, ...
Custom node packs' example workflows are listed by `/workflow_templates` ({pack: [names]}).

`requirements()` reads a workflow (editor or API format) against an `/object_info`: the node
classes it uses (inside subgraphs too), the model files it names (each node's `properties.models`,
as the official templates carry them, and loader widget values), which are missing, and whether
it uses partner (API) nodes, which spend Comfy credits.
"""

import difflib
import json
import os
import posixpath
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .conversion.to_api import RENAMED, UI_ONLY
from .conversion.widgets import widgets
from .errors import InputError, ServerError
from .files import atomic_write, read_json, safe_part, write_json
from .schema import Schema, calls_paid_api, flags_api_nodes
from . import models
from .validation import MODEL_EXTENSIONS

SNAPSHOT_DIR = "templates"
MANIFEST = "manifest.json"
SNAPSHOT_VERSION = 1
GIB = 2 ** 30
NEVER, BYPASS = 2, 4  # node modes: muted and bypassed nodes do not run
# Folder names ComfyUI reads under two names (folder_paths.py maps the legacy ones).
FOLDER_ALIASES = {"clip": "text_encoders", "unet": "diffusion_models"}
CORE_PACK = "comfy-core"
# Common shorthands for the task tags the index uses.
TASK_ALIASES = {"t2i": "text to image", "txt2img": "text to image", "i2i": "image to image",
                "img2img": "image to image", "t2v": "text to video", "i2v": "image to video",
                "txt2vid": "text to video", "img2vid": "image to video", "edit": "image edit",
                "upscale": "image upscale", "inpaint": "inpainting", "t2a": "text to audio"}


# -- the index ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Template:
    """One entry of the template index."""

    name: str
    title: str
    description: str
    category: str  # the category's title: "Image", "Video API", ...
    group: str  # the category's own category: "GENERATION TYPE", "Foundation", ...
    category_type: str  # the category's type: image, video, audio, 3d, llm
    media_type: str  # what the template produces (its thumbnail's kind)
    media_subtype: str
    tags: tuple = ()
    models: tuple = ()  # model family names as the index gives them ("SD1.5", "Flux")
    size_bytes: int = None  # the models' total download, where the index says
    vram_bytes: int = None  # only the 0.1.x index gives it
    partner: bool = False  # uses partner (API) nodes: spends Comfy credits
    open_source: bool = None
    requires_custom_nodes: tuple = ()  # Custom Node Registry ids
    min_comfyui_version: str = None
    status: str = None
    date: str = None
    tutorial_url: str = None
    input_files: tuple = ()  # files the template's loaders expect in input/ (from `io`)
    raw: dict = field(default=None, compare=False, repr=False)

    def as_dict(self):
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "raw"}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


@dataclass(frozen=True)
class TemplateIndex:
    templates: tuple
    shape: str  # "0.1" (sizes in GiB) or "current" (sizes in bytes)
    raw: list = field(default=None, compare=False, repr=False)

    def names(self):
        return [t.name for t in self.templates]

    def __iter__(self):
        return iter(self.templates)

    def __len__(self):
        return len(self.templates)


def parse_index(raw, source="the template index"):
    """A TemplateIndex from `/templates/index.json` (a list of categories), either shape."""
    if not isinstance(raw, list) or not all(isinstance(c, dict) for c in raw):
        raise InputError(f"{source}: not a template index (expected a list of categories)")
    shape = _shape(raw)
    templates, seen = [], set()
    for i, cat in enumerate(raw):
        entries = cat.get("templates")
        if not isinstance(entries, list):
            raise InputError(f"{source}: category {i} ({cat.get('title')!r}) has no list of templates")
        for j, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
                raise InputError(f"{source}: category {cat.get('title')!r}, entry {j} has no name")
            if entry["name"] in seen:  # listed under two categories: the first one shown wins
                continue
            seen.add(entry["name"])
            templates.append(_template(entry, cat, shape))
    return TemplateIndex(tuple(templates), shape, raw)


def _shape(raw):
    entries = [t for c in raw for t in (c.get("templates") or []) if isinstance(t, dict)]
    if any("vram" in t or "OpenSource" in t for t in entries):
        return "0.1"
    sizes = [t["size"] for t in entries if _number(t.get("size"))]
    # No download is below a megabyte in bytes, and none is above 10 000 GiB.
    if sizes and max(sizes) < 10_000:
        return "0.1"
    return "current"


def _template(entry, cat, shape):
    size_unit = GIB if shape == "0.1" else 1
    tags = _strings(entry.get("tags"))
    open_source = entry.get("openSource", entry.get("OpenSource"))
    group = _text(cat.get("category"))
    io_inputs = (entry.get("io") or {}).get("inputs") if isinstance(entry.get("io"), dict) else None
    return Template(
        name=entry["name"],
        title=_text(entry.get("title")) or entry["name"],
        description=_text(entry.get("description")),
        category=_text(cat.get("title")),
        group=group,
        category_type=_text(cat.get("type")),
        media_type=_text(entry.get("mediaType")),
        media_subtype=_text(entry.get("mediaSubtype")),
        tags=tags,
        models=_strings(entry.get("models")),
        size_bytes=_scaled(entry.get("size"), size_unit),
        vram_bytes=_scaled(entry.get("vram"), GIB),
        partner=("API" in tags or entry["name"].startswith("api_") or group.upper() == "CLOSED SOURCE MODELS"),
        open_source=open_source if isinstance(open_source, bool) else None,
        requires_custom_nodes=_strings(entry.get("requiresCustomNodes")),
        min_comfyui_version=entry.get("minComfyUIVersion") if isinstance(entry.get("minComfyUIVersion"), str) else None,
        status=entry.get("status") if isinstance(entry.get("status"), str) else None,
        date=entry.get("date") if isinstance(entry.get("date"), str) else None,
        tutorial_url=entry.get("tutorialUrl") if isinstance(entry.get("tutorialUrl"), str) else None,
        input_files=tuple(i["file"] for i in io_inputs or [] if isinstance(i, dict) and isinstance(i.get("file"), str)),
        raw=entry,
    )


def _text(value):
    return value if isinstance(value, str) else ""


def _strings(value):
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _scaled(value, unit):
    return int(round(value * unit)) if _number(value) else None


def _templates_of(index):
    return index.templates if isinstance(index, TemplateIndex) else tuple(index)


def find(index, name):
    """The Template called `name`; InputError naming the nearest names if there is none."""
    templates = _templates_of(index)
    for t in templates:
        if t.name == name:
            return t
    names = [t.name for t in templates]
    near = nearest_names(name, templates)
    hint = f"did you mean {', '.join(near)}?" if near else f"the index has {len(names)} templates; list them to choose"
    raise InputError(f"no template named {name!r}", hint=hint, nearest=near or None)


def nearest_names(query, index, n=5):
    """Names most like `query`: the same name in another case first, then names or titles
    containing it and close spellings, most alike first."""
    templates = _templates_of(index)
    q = str(query).lower().strip()
    exact = [t.name for t in templates if t.name.lower() == q]
    close = set(difflib.get_close_matches(q, [t.name.lower() for t in templates], n=n, cutoff=0.5))
    others = [t.name for t in templates if t.name not in exact and q and
              (q in t.name.lower() or q in t.title.lower() or t.name.lower() in close)]
    others.sort(key=lambda name: -difflib.SequenceMatcher(None, q, name.lower()).ratio())
    return (exact + others)[:n]


def _norm(text):
    return " ".join(re.split(r"[\s_\-]+", str(text).lower())).strip()


def filter(index, task=None, media=None, text=None, partner=None):  # noqa: A001 (callers write templates.filter)
    """The templates matching every criterion given, in index order.

    task: a tag ("Text to Image", "text-to-image" and "t2i" are the same); media: the output kind
    (image, video, audio, 3d) or the category kind (llm); text: words all found in the name,
    title, description, tags or model names; partner: True/False to keep only templates that do /
    do not use partner (API) nodes.
    """
    templates = _templates_of(index)
    want_task = TASK_ALIASES.get(_norm(task), _norm(task)) if task else None
    want_media = str(media).lower() if media else None
    words = _norm(text).split() if text else []
    out = []
    for t in templates:
        if want_task and want_task not in {_norm(tag) for tag in t.tags}:
            continue
        if want_media and want_media not in (t.media_type.lower(), t.category_type.lower()):
            continue
        if partner is not None and t.partner != bool(partner):
            continue
        if words:
            hay = _norm(" ".join((t.name, t.title, t.description, *t.tags, *t.models)))
            if not all(w in hay for w in words):
                continue
        out.append(t)
    return out


# -- what a workflow needs -----------------------------------------------------------------

@dataclass(frozen=True)
class ModelNeed:
    """One model file a workflow loads."""

    name: str  # as the workflow names it
    directory: str = None  # the models/ folder it belongs in, where known
    url: str = None
    hash: str = None
    hash_type: str = None
    nodes: tuple = ()  # "id ClassName" of the nodes that load it
    present: bool = False
    use: str = None  # the exact value this server lists for it (may carry a subfolder)

    def as_dict(self):
        return {"name": self.name, "directory": self.directory, "url": self.url, "hash": self.hash,
                "hash_type": self.hash_type, "nodes": list(self.nodes), "present": self.present, "use": self.use}


@dataclass(frozen=True)
class MissingNode:
    class_type: str
    pack: str = None  # the Custom Node Registry id the editor saved (`properties.cnr_id`)
    nodes: tuple = ()

    def as_dict(self):
        return {"class_type": self.class_type, "pack": self.pack, "nodes": list(self.nodes)}


@dataclass(frozen=True)
class Requirements:
    node_classes: tuple  # every node class that runs, sorted
    missing_nodes: tuple  # MissingNode, for classes this server lacks
    models: tuple  # ModelNeed, in the order the workflow names them
    api_nodes: tuple  # partner node classes that call a paid API

    @property
    def missing_models(self):
        return tuple(m for m in self.models if not m.present)

    @property
    def uses_api(self):
        return bool(self.api_nodes)

    @property
    def runnable(self):
        """Every node class and model file is here (partner nodes still need an API key and credits)."""
        return not self.missing_nodes and not self.missing_models

    def as_dict(self):
        return {"runnable": self.runnable, "uses_api": self.uses_api, "node_classes": list(self.node_classes),
                "api_nodes": list(self.api_nodes), "missing_nodes": [m.as_dict() for m in self.missing_nodes],
                "models": [m.as_dict() for m in self.models],
                "missing_models": [m.name for m in self.missing_models]}


def requirements(workflow, object_info, models_by_folder=None):
    """What `workflow` (editor or API format) needs from the server `object_info` describes.

    models_by_folder ({folder: [files]}, as `/models/<folder>` lists them) adds to the option
    lists of the loaders in object_info. Muted and bypassed nodes are left out: they do not run.
    A file the server lists under a subfolder (`SDXL/x.safetensors` for `x.safetensors`) or at
    the top for a name the workflow gives with a subfolder counts as present; `use` is its value.
    """
    schema = object_info if isinstance(object_info, Schema) else Schema(object_info)
    if not isinstance(workflow, dict):
        raise InputError("the workflow is not a JSON object")
    if isinstance(workflow.get("nodes"), list):
        nodes = list(_ui_nodes(workflow))
    elif all(isinstance(v, dict) and "class_type" in v for v in workflow.values()) and workflow:
        nodes = list(_api_nodes(workflow))
    else:
        raise InputError("the workflow is neither an editor workflow (no `nodes` list) nor an API prompt")
    listing = _folder_listing(models_by_folder)
    flagged = flags_api_nodes(schema.object_info)
    classes, missing, api, needs = set(), {}, set(), {}
    for node in nodes:
        classes.add(node.class_type)
        spec = schema.node(node.class_type)
        if spec is None:
            entry = missing.setdefault(node.class_type, [node.pack, []])
            entry[0] = entry[0] or node.pack
            entry[1].append(node.label)
        elif calls_paid_api(schema.object_info[node.class_type], flagged):
            api.add(node.class_type)
        for ref in _model_refs(node, spec):
            _add_need(needs, ref, node, spec, listing)
    return Requirements(
        node_classes=tuple(sorted(classes)),
        missing_nodes=tuple(MissingNode(c, p, tuple(ids)) for c, (p, ids) in sorted(missing.items())),
        models=tuple(_finish(n) for n in needs.values()),
        api_nodes=tuple(sorted(api)))


@dataclass
class _Node:
    label: str
    class_type: str
    widget_values: object  # list (editor), dict {input: value} (API or dict-saving editors)
    properties: dict
    pack: str = None


def _ui_nodes(workflow):
    subgraphs = {}
    for sg in ((workflow.get("definitions") or {}).get("subgraphs") or []):
        if isinstance(sg, dict) and isinstance(sg.get("id"), str):
            subgraphs[sg["id"]] = sg
    yield from _graph_nodes(workflow, subgraphs, "", set())


def _graph_nodes(graph, subgraphs, prefix, entered):
    for raw in graph.get("nodes") or []:
        if not isinstance(raw, dict) or raw.get("mode") in (NEVER, BYPASS):
            continue
        class_type = raw.get("type")
        if not isinstance(class_type, str) or class_type in UI_ONLY:
            continue
        label = f"{prefix}{raw.get('id')}"
        if class_type in subgraphs:
            if class_type not in entered:  # a subgraph that holds itself would never end
                yield from _graph_nodes(subgraphs[class_type], subgraphs, label + ":", entered | {class_type})
            continue
        props = raw.get("properties") if isinstance(raw.get("properties"), dict) else {}
        pack = props.get("cnr_id") if isinstance(props.get("cnr_id"), str) and props["cnr_id"] != CORE_PACK else None
        yield _Node(f"{label} {class_type}", RENAMED.get(class_type, class_type),
                    raw.get("widgets_values"), props, pack)


def _api_nodes(prompt):
    for node_id, raw in prompt.items():
        inputs = raw.get("inputs") if isinstance(raw.get("inputs"), dict) else {}
        values = {k: v for k, v in inputs.items() if not _is_link(v)}
        yield _Node(f"{node_id} {raw['class_type']}", raw["class_type"], values, {})


def _is_link(value):
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)


def _named_values(node, spec):
    """[(input name or None, value)] for the node's saved widget values."""
    values = node.widget_values
    if isinstance(values, dict):
        return list(values.items())
    if not isinstance(values, list):
        return []
    if spec is None:
        return [(None, v) for v in values]
    saved = [w for w in widgets(spec) if w.saved]
    return [(saved[i].name if i < len(saved) else None, v) for i, v in enumerate(values)]


def _looks_like_model(value):
    return isinstance(value, str) and value.lower().endswith(MODEL_EXTENSIONS)


def _model_refs(node, spec):
    """(name, input name or None, properties entry or None) for each model file the node loads."""
    declared = {}
    for m in node.properties.get("models") or []:
        if isinstance(m, dict) and isinstance(m.get("name"), str) and m["name"]:
            declared.setdefault(m["name"], m)
    refs = []
    for input_name, value in _named_values(node, spec):
        if not isinstance(value, str) or not value:
            continue
        inp = spec.inputs.get(input_name) if spec is not None and input_name else None
        if inp is not None and inp.type != "COMBO":
            continue  # a prompt or a file name typed as text is not a file the server lists
        if not (_looks_like_model(value) or value in declared):
            continue  # a partner node's `model_name` ("gpt-4o") is not a file
        entry = declared.get(value) or declared.get(_match_base(value, declared))
        refs.append((value, input_name, entry))
    used = {r[2]["name"] for r in refs if r[2] is not None}
    refs += [(name, None, m) for name, m in declared.items() if name not in used]
    return refs


def _base(name):
    return posixpath.basename(str(name).replace("\\", "/"))


def _match_base(value, names):
    base = _base(value)
    return next((n for n in names if _base(n) == base), None)


def _folder(directory):
    return FOLDER_ALIASES.get(directory, directory) if directory else directory


def _folder_listing(models_by_folder):
    listing = {}
    for folder, names in (models_by_folder or {}).items():
        if isinstance(names, list):
            listing.setdefault(_folder(folder), []).extend(n for n in names if isinstance(n, str))
    return listing


def _add_need(needs, ref, node, spec, listing):
    name, input_name, entry = ref
    entry = entry or {}
    directory = _folder(entry.get("directory") if isinstance(entry.get("directory"), str) else
                        models.folder_for(node.class_type, input_name) if input_name else None)
    inp = spec.inputs.get(input_name) if spec is not None and input_name else None
    choices = list(inp.options or []) if inp is not None and inp.options is not None else []
    choices += listing.get(directory, []) if directory else []
    key = (name, directory)
    need = needs.get(key)
    if need is None:
        need = needs[key] = {"name": name, "directory": directory, "url": None, "hash": None,
                             "hash_type": None, "nodes": [], "choices": []}
    for k in ("url", "hash", "hash_type"):
        if need[k] is None and isinstance(entry.get(k), str) and entry[k]:
            need[k] = entry[k]
    if node.label not in need["nodes"]:
        need["nodes"].append(node.label)
    need["choices"] += choices


def _finish(need):
    choices = [c for c in need.pop("choices") if isinstance(c, str)]
    use = need["name"] if need["name"] in choices else _match_base(need["name"], sorted(set(choices)))
    return ModelNeed(present=use is not None, use=use, nodes=tuple(need.pop("nodes")), **need)


# -- from the server -----------------------------------------------------------------------

def fetch_index(client):
    raw = client.template_index()
    try:
        return parse_index(raw, source=f"{client.url}/templates/index.json")
    except InputError as exc:
        raise ServerError(exc.message, url=client.url,
                          hint="the server's comfyui-workflow-templates package may be broken") from None


def fetch_template(client, name):
    """The editor workflow of the official template `name`."""
    return _workflow(client.template(name), f"template {name!r}", client)


def fetch_custom_templates(client):
    """{custom node pack: [example workflow names]} for the packs that ship examples."""
    raw = client.custom_templates()
    if not isinstance(raw, dict):
        raise ServerError(f"{client.url}/workflow_templates: not a map of packs to names", url=client.url)
    return {pack: [n for n in names if isinstance(n, str)] for pack, names in raw.items() if isinstance(names, list)}


def fetch_custom_template(client, pack, name):
    return _workflow(client.custom_template(pack, name), f"{pack}'s template {name!r}", client)


def _workflow(raw, what, client):
    if not isinstance(raw, dict):
        raise ServerError(f"{what} from {client.url} is not a workflow (not a JSON object)", url=client.url)
    return raw


# -- offline snapshot -----------------------------------------------------------------------

@dataclass
class Snapshot:
    """Templates saved by save_snapshot: the index parsed, workflows read when asked for."""

    root: Path
    manifest: dict
    index: TemplateIndex

    def template(self, name):
        """The saved workflow of `name` (InputError with the nearest names if it is not saved)."""
        files = self.manifest.get("files", {})
        if name not in files:
            find(self.index, name)  # raises with the nearest names for a name not in the index
            raise InputError(f"template {name!r} was not saved in {self.root}",
                             hint="the server did not serve it when the snapshot was taken")
        return read_json(self.root / files[name], what="template")

    def custom_templates(self):
        return {pack: list(names) for pack, names in self.manifest.get("custom", {}).items()}

    def custom_template(self, pack, name):
        rel = self.manifest.get("custom_files", {}).get(pack, {}).get(name)
        if rel is None:
            raise InputError(f"no saved example {name!r} of {pack!r} in {self.root}")
        return read_json(self.root / rel, what="template")


def save_snapshot(client, state_dir, progress=None):
    """Save the index and every template (and the packs' examples) under state_dir/templates/.

    Written into a fresh folder that then replaces the old one, so a reader sees the old
    snapshot or the new one, never a mix. Returns the Snapshot.
    """
    state_dir = Path(state_dir)
    raw_index = client.template_index()
    index = parse_index(raw_index, source=f"{client.url}/templates/index.json")
    state_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".templates.", suffix=".part", dir=state_dir))
    try:
        manifest = _fill(client, work, raw_index, index, progress)
        _swap(work, state_dir / SNAPSHOT_DIR)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Snapshot(state_dir / SNAPSHOT_DIR, manifest, index)


def _fill(client, work, raw_index, index, progress):
    atomic_write(work / "index.json", json.dumps(raw_index, ensure_ascii=False))
    files, unavailable = {}, []
    for i, t in enumerate(index.templates):
        if progress:
            progress(i + 1, len(index.templates), t.name)
        try:
            workflow = fetch_template(client, t.name)
        except ServerError as exc:
            if exc.status != 404:
                raise
            unavailable.append(t.name)  # listed in the index but not shipped by this package
            continue
        rel = f"official/{safe_part(t.name)}.json"
        atomic_write(work / rel, json.dumps(workflow, ensure_ascii=False))
        files[t.name] = rel
    custom, custom_files = _fill_custom(client, work)
    manifest = {"version": SNAPSHOT_VERSION, "url": client.url, "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "templates_version": _templates_version(client), "index_shape": index.shape,
                "files": files, "unavailable": unavailable, "custom": custom, "custom_files": custom_files}
    write_json(work / MANIFEST, manifest)
    return manifest


def _fill_custom(client, work):
    try:
        custom = fetch_custom_templates(client)
    except ServerError as exc:
        if exc.status == 404:  # a server older than the route
            return {}, {}
        raise
    files = {}
    for pack, names in custom.items():
        for name in names:
            try:
                workflow = fetch_custom_template(client, pack, name)
            except ServerError as exc:
                if exc.status != 404:
                    raise
                continue
            rel = f"custom/{safe_part(pack)}/{safe_part(name)}.json"
            atomic_write(work / rel, json.dumps(workflow, ensure_ascii=False))
            files.setdefault(pack, {})[name] = rel
    return custom, files


def _templates_version(client):
    try:
        stats = client.system_stats()
    except ServerError:
        return None
    system = stats.get("system") if isinstance(stats, dict) else None
    return system.get("installed_templates_version") if isinstance(system, dict) else None


def _swap(new, target):
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}-{time.time_ns()}")
        os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        if old is not None:
            os.rename(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def load_snapshot(state_dir):
    """The Snapshot under state_dir/templates/; InputError if there is none."""
    root = Path(state_dir) / SNAPSHOT_DIR
    if not (root / MANIFEST).is_file():
        raise InputError(f"no template snapshot in {root}",
                         hint="save one while the server is up (templates.save_snapshot)")
    manifest = read_json(root / MANIFEST, what="template snapshot manifest")
    if not isinstance(manifest, dict) or manifest.get("version") != SNAPSHOT_VERSION:
        raise InputError(f"{root / MANIFEST}: not a template snapshot this version reads",
                         hint="save a new snapshot while the server is up")
    index = parse_index(read_json(root / "index.json", what="template index"), source=str(root / "index.json"))
    return Snapshot(root, manifest, index)

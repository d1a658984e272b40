"""Workflow files: read them, and tell the API format from the editor (UI) format.

A workflow file is a .json file, or any image, audio or video file ComfyUI saved with the
workflow embedded (PNG, WebP, FLAC, Ogg/Opus, MP3, MP4/MOV, WebM/MKV: see embedded.py).
"""

from collections import namedtuple

from . import embedded
from .errors import InputError
from .files import read_json

API = "api"
UI = "ui"


def detect_format(obj):
    """'api', 'ui' or None for anything that is neither (a /prompt request body counts as API)."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("nodes"), list) and ("links" in obj or "last_node_id" in obj or "version" in obj):
        return UI
    if is_api(obj) or is_api(obj.get("prompt")):
        return API
    return None


def is_api(obj):
    """An API-format workflow, as leniently as the server takes one: an object with at least one
    node-shaped value (or none at all). A node without class_type, or one that is not an object,
    is the server's invalid_prompt, for validation to report, not a reason to call it something else."""
    if not isinstance(obj, dict):
        return False
    return not obj or any(isinstance(v, dict) and ("class_type" in v or "inputs" in v) for v in obj.values())


def unwrap(obj):
    """A `{"prompt": {...}}` body (as POSTed to /prompt) holds the API workflow inside."""
    if not is_api(obj) and isinstance(obj, dict) and is_api(obj.get("prompt")):
        return obj["prompt"]
    return obj


EDITOR_WORKFLOW = "editor workflow"
API_PROMPT = "API prompt"

# source: None for a JSON file, else what was read from where, e.g.
# "the editor workflow embedded in out.png (tEXt chunk 'workflow')"; embedded: EDITOR_WORKFLOW,
# API_PROMPT or None; also: the prompt carried beside an editor workflow (or None).
Loaded = namedtuple("Loaded", "format workflow source embedded also")


def load(path):
    """(format, workflow) from a file; InputError when it is not a workflow at all."""
    loaded = read(path)
    return loaded.format, loaded.workflow


def read(path):
    """Loaded from a .json file or a media file with a workflow embedded; InputError otherwise."""
    kind = media_kind(path)
    if kind is not None:
        return read_media(path, kind)
    fmt, obj = parse_json_file(path)
    return Loaded(fmt, obj, None, None, None)


def media_kind(path):
    if not embedded.is_file(path):
        return None
    try:
        return embedded.sniff(embedded.head_of(path))
    except OSError:
        return None  # read_json words the failure


def read_media(path, kind):
    """The editor workflow if the file has one (it is what the frontend opens), else the prompt."""
    found = embedded.read(path, kind)
    values, problems = embedded.parsed(found)
    article = embedded.article_for(kind)
    for key, label in (("workflow", EDITOR_WORKFLOW), ("prompt", API_PROMPT)):
        obj = values.get(key)
        fmt = detect_format(obj)
        if fmt is None:
            if obj is not None:
                problems.append(f"its {key!r} is not a workflow: {describe(obj)}")
            continue
        if key == "workflow" and fmt == API:
            label = API_PROMPT
        where = (found.values.get(key) or found.values["comment"])[1]
        source = f"the {label} embedded in {path} ({where})"
        if problems:
            source += f"; {'; '.join(problems)}"
        other = values.get("prompt") if key == "workflow" and is_api(values.get("prompt")) else None
        return Loaded(fmt, unwrap(obj) if fmt == API else obj, source,
                      EDITOR_WORKFLOW if fmt == UI else API_PROMPT, other)
    if problems:
        raise InputError(f"{path}: {article} {kind} whose ComfyUI metadata cannot be read: {problems[0]}",
                         kind="not_a_workflow")
    raise InputError(f"{path}: {article} {kind} with no ComfyUI workflow or prompt in it ({found.looked_for})",
                     hint="ComfyUI embeds them when it saves; files saved with --disable-metadata, "
                          "edited by other programs, or shared through sites that strip metadata have none",
                     kind="no_workflow")


def parse_json_file(path):
    obj = read_json(path, what="workflow")
    fmt = detect_format(obj)
    if fmt is None:
        raise InputError(f"{path}: not a ComfyUI workflow: {describe(obj)}",
                         hint="expected API format ({node_id: {class_type, inputs}}) or an editor "
                              "workflow ({nodes: [...], links: [...]})", kind="not_a_workflow")
    return fmt, unwrap(obj) if fmt == API else obj


def describe(obj):
    if isinstance(obj, list):
        return "a JSON list"
    if not isinstance(obj, dict):
        return f"a JSON {type(obj).__name__}"
    if not obj:
        return "an empty object"
    bad = next((k for k, v in obj.items() if not (isinstance(v, dict) and "class_type" in v)), None)
    return f"key {bad!r} is not a node with a class_type"

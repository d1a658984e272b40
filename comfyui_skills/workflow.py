"""Workflow files: read them, and tell the API format from the editor (UI) format."""

from .errors import InputError
from .files import read_json

API = "api"
UI = "ui"


def detect_format(obj):
    """'api', 'ui' or None for anything that is neither."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("nodes"), list) and ("links" in obj or "last_node_id" in obj or "version" in obj):
        return UI
    if obj and all(isinstance(v, dict) and "class_type" in v for v in obj.values()):
        return API
    if isinstance(obj.get("prompt"), dict) and detect_format(obj["prompt"]) == API:
        return API
    return None


def unwrap(obj):
    """A `{"prompt": {...}}` body (as POSTed to /prompt) holds the API workflow inside."""
    if isinstance(obj, dict) and isinstance(obj.get("prompt"), dict) and "class_type" not in obj.get("prompt", {}):
        inner = obj["prompt"]
        if detect_format(inner) == API:
            return inner
    return obj


def load(path):
    """(format, workflow) from a file; InputError when it is not a workflow at all."""
    obj = read_json(path, what="workflow")
    fmt = detect_format(obj)
    if fmt is None:
        raise InputError(f"{path}: not a ComfyUI workflow: {describe(obj)}",
                         hint="expected API format ({node_id: {class_type, inputs}}) or an editor "
                              "workflow ({nodes: [...], links: [...]})")
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

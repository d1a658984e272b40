"""Workflow files: read them, and tell the API format from the editor (UI) format."""

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


def load(path):
    """(format, workflow) from a file; InputError when it is not a workflow at all."""
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

"""Run a workflow with what is installed: each missing model file swapped for an installed file of
the same family and kind, a missing LoRA left out, each change said in one line.

Families come from identify (each installed file's header where it could be read); the missing
file is known by its name only (it is not here), through the pack's list of known files and the
name rules. A component (text encoder, VAE) must match its own family (a T5-XXL for a T5-XXL);
a main model the recipe family (an SDXL fine-tune for SDXL, a Pony file for Pony). A LoRA,
ControlNet or other add-on that is missing is left out of the graph: its node is bypassed the way
ComfyUI bypasses one (each output taken from the input of the same type), so the rest still runs.
"""

from dataclasses import dataclass

from . import families, identify, templates
from .schema import NodeSpec

LEFT_OUT_FOLDERS = ("loras", "controlnet", "style_models", "gligen", "hypernetworks", "upscale_models")


@dataclass(frozen=True)
class Change:
    node: str
    class_type: str
    old: str
    new: str = None          # None: the node was left out
    why: str = ""

    def line(self):
        if self.new is None:
            return f"node {self.node} {self.class_type}: {self.old} is not installed; left out ({self.why})"
        return f"node {self.node} {self.class_type}: {self.old} is not installed; using {self.new} ({self.why})"

    def as_dict(self):
        return {"node": self.node, "class_type": self.class_type, "old": self.old, "new": self.new, "why": self.why}


def _key(item):
    """What must match: a component's own family, a main model's recipe family."""
    if item.family == "unknown":
        return None
    return item.family if ":" in item.family else item.recipe_family


def alternative(name, folder, models_by_folder, identities):
    """The installed file (identify.Installed) that can stand in for `name` in `folder`, or None."""
    wanted = identities.of(name, folder)
    key = _key(wanted)
    if key is None and wanted.family == "unknown":
        return None
    kind = families.FOLDER_KINDS.get(folder)
    fams = set()
    from . import models as known_models
    known = known_models.known_file(name)
    if known and known.families and ":" not in str(key):
        fams = set(known.families)
    found = []
    for installed in (models_by_folder or {}).get(folder) or []:
        item = identities.of(installed, folder)
        if not item.usable or (kind and item.kind not in (kind, "unknown")):
            continue
        if _key(item) == key or (fams and item.recipe_family in fams):
            found.append(item)
    found.sort(key=lambda i: (i.how != "header", -(i.confidence or 0), i.name))
    return found[0] if found else None


def alternatives(workflow, object_info, models_by_folder, identities):
    """{missing file name: installed alternative name} for a workflow (editor or API format)."""
    req = templates.requirements(workflow, object_info, models_by_folder)
    out = {}
    for need in req.missing_models:
        alt = alternative(need.name, need.directory, models_by_folder, identities)
        if alt is not None:
            out[need.name] = alt.name
    return out


def use_installed(api, object_info, models_by_folder, identities=None):
    """(new API workflow, [Change]) with each missing model swapped or left out."""
    identities = identities or identify.Identities(identify.identify_listing(models_by_folder))
    req = templates.requirements(api, object_info, models_by_folder)
    wf = {nid: {**node, "inputs": dict(node.get("inputs") or {})} for nid, node in api.items()}
    changes = []
    for need in req.missing_models:
        alt = alternative(need.name, need.directory, models_by_folder, identities)
        for ref in need.nodes:
            nid = ref.split(" ", 1)[0]
            node = wf.get(nid)
            if node is None:
                continue
            if alt is not None:
                for k, v in node["inputs"].items():
                    if v == need.name:
                        node["inputs"][k] = alt.name
                fam = alt.recipe_family if ":" not in alt.family else alt.family
                changes.append(Change(nid, node["class_type"], need.name, alt.name,
                                      f"{fam} {alt.kind}, known by its {alt.how}"))
            elif need.directory in LEFT_OUT_FOLDERS and _bypass(wf, nid, object_info):
                changes.append(Change(nid, node["class_type"], need.name, None,
                                      f"no installed {need.directory[:-1] if need.directory.endswith('s') else need.directory} "
                                      "of its family; its inputs pass straight through"))
    return wf, changes


def _bypass(wf, nid, object_info):
    """Remove node `nid`, wiring each consumer of its output i to its input of the same type (as
    ComfyUI's bypass does); False when an output has no input to take it from."""
    node = wf[nid]
    spec = NodeSpec(node["class_type"], object_info.get(node["class_type"]) or {})
    by_type = {}
    for inp in spec.visible_inputs():
        value = node["inputs"].get(inp.name)
        if isinstance(value, list) and len(value) == 2:
            by_type.setdefault(inp.type, value)
    routes = {}
    for i, out_type in enumerate(spec.output_types):
        if out_type not in by_type:
            return False
        routes[i] = by_type[out_type]
    del wf[nid]
    for other in wf.values():
        for k, v in other["inputs"].items():
            if isinstance(v, list) and len(v) == 2 and str(v[0]) == str(nid):
                other["inputs"][k] = list(routes[v[1]])
    return True

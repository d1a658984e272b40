"""What a workflow needs that this server lacks: model files and custom nodes, and where to get them.

Sources, best first: the workflow's own `properties.models` (the official templates carry url,
hash and directory), the pack's model knowledge (data/models.json: sizes, links, sha256, older
names), the editor's `cnr_id` of a node, then the pack's list of known node packs. A file the
server lists under another subfolder (`SDXL/x.safetensors` for `x.safetensors`) is not missing:
its exact value is given to use instead.
"""

from dataclasses import dataclass, field

from . import models, nextsteps, templates


@dataclass
class Need:
    """One model file or node pack, with what is known of where it comes from."""

    kind: str                  # "model" or "node"
    name: str                  # file name, or node class
    folder: str = None         # models/ folder (models)
    present: bool = False
    use: str = None            # the exact value to put in the workflow, when the server has it elsewhere
    size: str = None
    url: str = None
    sha256: str = None
    pack: str = None           # registry id of the node pack (nodes)
    repo: str = None
    nodes: list = field(default_factory=list)   # "id Class" of the nodes that need it
    fetch: object = None       # the NextStep that gets it

    def as_dict(self):
        return {k: v for k, v in self.__dict__.items() if v not in (None, [], "")}


@dataclass
class Needs:
    models: list
    nodes: list
    partner_nodes: list

    @property
    def missing(self):
        return [m for m in self.models if not m.present] + self.nodes

    @property
    def runnable(self):
        return not self.missing

    def as_dict(self):
        return {"runnable": self.runnable, "missing": len(self.missing),
                "models": [m.as_dict() for m in self.models], "nodes": [n.as_dict() for n in self.nodes],
                "partner_nodes": self.partner_nodes}


def of_workflow(workflow, object_info, models_by_folder=None):
    """The Needs of a workflow (editor or API format) on the server `object_info` describes."""
    req = templates.requirements(workflow, object_info, models_by_folder)
    return Needs([_model(m) for m in req.models], [_node(n) for n in req.missing_nodes], list(req.api_nodes))


def _model(m):
    known = models.known_file(m.name)
    need = Need("model", m.name, folder=m.directory or (known.folder if known else None), present=m.present,
                use=m.use if m.present and m.use != m.name else None, nodes=list(m.nodes),
                url=m.url or (known.url if known else None),
                sha256=_sha256(m) or (known.sha256 if known else None),
                size=known.size_label if known else None)
    if not need.present and need.url:
        args = ["download", need.url] + (["--folder", need.folder] if need.folder else [])
        if need.sha256:
            args += ["--sha256", need.sha256]
        need.fetch = nextsteps.step("models", *args)
    return need


def _sha256(m):
    return m.hash if m.hash and (m.hash_type or "sha256").lower() == "sha256" else None


def _node(n):
    from .diagnosis import pack_for

    pack, repo = (n.pack, None) if n.pack else pack_for(n.class_type)
    need = Need("node", n.class_type, nodes=list(n.nodes), pack=pack, repo=repo)
    if pack:
        need.fetch = nextsteps.step("nodes", "install", pack)
    return need

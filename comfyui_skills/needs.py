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
    source: str = None         # where url came from: "workflow" (its properties.models) or REFERENCE
    pack: str = None           # registry id of the node pack (nodes)
    repo: str = None
    nodes: list = field(default_factory=list)   # "id Class" of the nodes that need it
    fetch: object = None       # the NextStep that gets it
    alternative: str = None    # an installed file of the same family and kind (run.py --use-installed)

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
    url = m.url or (known.url if known else None)
    need = Need("model", m.name, folder=m.directory or (known.folder if known else None), present=m.present,
                use=m.use if m.present and m.use != m.name else None, nodes=list(m.nodes), url=url,
                sha256=_sha256(m) or (known.sha256 if known else None),
                size=known.size_label if known else None,
                source=None if not url else "workflow" if m.url else models.REFERENCE)
    if not need.present and need.url:
        need.fetch = nextsteps.step("models", "download", need.url, folder=need.folder, sha256=need.sha256)
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


@dataclass
class Lookup:
    name: str                  # the file or template asked about
    workflow: dict
    found: Needs
    source: str                # the server's URL, or the snapshot read instead
    online: bool


def lookup(client, state_dir, workflow=None, template=None, name=None, note=None, offline=True):
    """What `workflow` (or the official `template`) needs that the server behind `client` lacks,
    asked of the server now; with no server answering, of the last snapshot (`note(text)` is told),
    unless not `offline` (ServerUnreachable then)."""
    from . import generate
    from .errors import ServerUnreachable

    online = True
    try:
        catalog = generate.catalog_from_server(client, state_dir, fresh=True)
    except ServerUnreachable as exc:
        if not offline:
            raise
        if note:
            note(f"no ComfyUI answered ({exc.message}); checking against the last snapshot")
        if template is None:  # a file needs no template snapshot: the inventory alone will do
            from . import inventory

            inv = inventory.load()
            found = of_workflow(workflow, inv.object_info, inv.models)
            _alternatives(found, workflow, inv.object_info, inv.models, inv.identities)
            return Lookup(name, workflow, found, inv.source, False)
        catalog, online = generate.catalog_from_snapshot(state_dir), False
    if template is not None:
        name = templates.find(catalog.index, template).name
        workflow = catalog.load_template(name)
    found = of_workflow(workflow, catalog.object_info, catalog.models_by_folder)
    _alternatives(found, workflow, catalog.object_info, catalog.models_by_folder, catalog.identities)
    return Lookup(name, workflow, found, catalog.source, online)


def _alternatives(found, workflow, object_info, models_by_folder, identities):
    """Beside each missing file's download: an installed file of its family and kind, if any."""
    from . import substitute

    if not models_by_folder:
        return
    alts = substitute.alternatives(workflow, object_info, models_by_folder, identities)
    for m in found.models:
        if not m.present and m.name in alts:
            m.alternative = alts[m.name]


# -- getting what is missing ----------------------------------------------------------------------
@dataclass
class Fetched:
    """What became of one missing model file: `how` is "downloaded", "manager" (ComfyUI-Manager
    put it on the server), "commands" (to run where the server lives), "failed" or "no_source"."""

    need: Need
    how: str
    placed: object = None      # placement.Placed
    error: dict = None         # the ComfyError's as_dict() when it failed
    todo: object = None        # a NextStep (or text) that gets it from here
    rename: str = None         # the value the workflow must use instead (an older name was asked for)

    def as_dict(self):
        out = {"name": self.need.name, "folder": self.need.folder, "how": self.how, "url_from": self.need.source}
        if self.placed is not None:
            out.update({k: v for k, v in self.placed.as_dict().items() if k not in ("folder",) and v not in (None, [])})
            out["saved_as"] = out.pop("name")
        if self.error:
            out["error"] = self.error
        if self.todo is not None:
            out["todo"] = self.todo
        if self.rename:
            out["rename"] = self.rename
        return out


def fetch_missing(client, found, paths=(), reporter_for=None, cancel=None, token_for=None):
    """Get each missing model file of `found` (a Needs) whose source is known, one after another,
    the way `models.py download` does (placement.place: the server's folder here, else its
    ComfyUI-Manager, else commands). One that fails does not stop the others; Ctrl-C (or
    `cancel`) does, keeping the .part for a resume.

    `paths`: folders the user picked (--path) where the server reads a folder from several here.
    `reporter_for(need, k, total)` -> a progress Reporter for that file. Returns [Fetched].
    """
    from . import downloads

    missing = [m for m in found.models if not m.present]
    out = []
    for k, need in enumerate(missing, 1):
        reporter = reporter_for(need, k, len(missing)) if reporter_for else None
        try:
            out.append(_fetch_one(client, need, paths, reporter, cancel, token_for or downloads.token_from_env))
        finally:
            if reporter is not None:
                reporter.done()
    return out


def _fetch_one(client, need, paths, reporter, cancel, token_for):
    from . import placement
    from .errors import ComfyError, Interrupted

    *subdir, asked = need.name.replace("\\", "/").split("/")
    if not need.url:
        return Fetched(need, "no_source", todo=nextsteps.step(
            "models", "download", "<url>", folder=need.folder or "<folder>", name=asked))
    if not need.folder:
        return Fetched(need, "no_source", todo=nextsteps.step("models", "download", need.url, folder="<folder>"))
    name, rename = asked, None
    known = models.known_file(need.name)
    if need.source == models.REFERENCE and known and known.name.lower() != asked.lower():
        # an older name of a known file: the file keeps its own name (its extension says how
        # ComfyUI reads it), and the workflow has to name it so
        name, rename = known.name, "/".join(subdir + [known.name])
    try:
        wanted = _chosen_path(client, need.folder, paths)
        placed = placement.place(client, need.url, need.folder, name=name, sha256=need.sha256, path=wanted,
                                 reporter=reporter, cancel=cancel, token_for=token_for, subdir=subdir)
    except Interrupted:
        raise
    except ComfyError as exc:
        return Fetched(need, "failed", error=exc.as_dict(), rename=rename,
                       todo=nextsteps.step("models", "download", need.url, folder=need.folder, name=name))
    if placed.how == "manager" and placed.name.lower() != need.name.replace("\\", "/").lower():
        rename = placed.name  # the Manager saves where its own list says (its entry's save_path)
    return Fetched(need, placed.how, placed=placed, rename=rename)


def _chosen_path(client, folder, paths):
    """The one of `paths` that is among the server's `folder` folders here, or None."""
    if not paths:
        return None
    from pathlib import Path

    from . import placement

    local = {p.resolve() for p in placement.local_folders(client, folder)}
    return next((p for p in paths if Path(p).resolve() in local), None)


@dataclass
class Outcome:
    """`models.py need --download`: what was fetched, and the workflow's standing afterwards."""

    before: Needs
    fetched: list              # [Fetched]
    after: Needs
    check: dict = None         # validation of the workflow against the refreshed inventory
    saved: str = None          # the refreshed snapshot's path

    @property
    def runnable(self):
        return self.after.runnable and (self.check is None or self.check.get("verdict") == "ok") \
            and not any(f.rename for f in self.fetched)

    def as_dict(self):
        return {**self.after.as_dict(), "runnable": self.runnable, "missing_before": len(self.before.missing),
                "downloads": [f.as_dict() for f in self.fetched],
                "check": self.check, "inventory": {"saved": self.saved} if self.saved else None}


def get_missing(client, workflow, found, paths=(), reporter_for=None, cancel=None, token_for=None):
    """Fetch what `found` lacks, then take a fresh inventory snapshot and check `workflow` again."""
    from . import inventory

    fetched = fetch_missing(client, found, paths, reporter_for, cancel, token_for)
    # the server lists a new file at once (its folder lists are read on each request)
    saved = str(inventory.save_snapshot(inventory.take_snapshot(client))["path"])
    inv = inventory.load()
    after = of_workflow(workflow, inv.object_info, inv.models)
    return Outcome(found, fetched, after, check_workflow(workflow, inv), saved)


def check_workflow(workflow, inv):
    """validate_against's verdict for `workflow` (an editor workflow converted as run.py would)."""
    from . import conversion, validation, workflow as wfmod
    from .errors import InputError

    api = workflow
    if wfmod.detect_format(workflow) == wfmod.UI:
        try:
            api = conversion.ui_to_api(workflow, inv.object_info, keep_unknown=True,
                                       frontend_version=conversion.frontend_served_by(inv.record.get("system_stats")))
        except InputError as exc:
            return {"verdict": None, "errors": [{"message": f"cannot convert this editor workflow: {exc.message}"}],
                    "warnings": []}
    return validation.validate_against(api, inv)

"""The engine both faces call: the scripts and the MCP server only translate arguments and show results.

Each call takes one `config.Settings` (server, project, keys, timeouts) and plain values, and
returns a result object whose `as_dict()` is the JSON both faces give (`run.py --json`, the MCP
`run` tool's structured content). Progress goes to the `reporter`, stopping to the `cancel`
event, as in `pipeline`. Next steps inside results stay `NextStep` data: each face renders them.

    check_file / validate    would the server accept it (offline, against the inventory)
    search_nodes, show_node  node classes in the inventory
    list_models              the model files the server has, per folder
    run(settings, ...)       a workflow file, an inline workflow, or an earlier run again
    generate(settings, ...)  a sentence: a template chosen and filled, then run
    wait / collect           prompts queued earlier
    queue_list               what the server is running and has pending
    template_catalog, list_templates, show_template   the official templates, and what each needs
    needs                    what a workflow or template lacks here; with download, fetch it
    install_nodes            a node pack through the server's ComfyUI-Manager, else the lines to run
    diagnose                 why a run failed: a prompt id, the last run recorded, or saved evidence
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from . import config, conversion, slots as slotmod
from . import workflow as wfmod
from .errors import InputError, ServerError, ServerUnreachable
from .schema import partner_nodes
from .validation import validate_against
from .progress import Reporter


class _OnFirstUse:
    """A module imported when first used: validate.py and the other offline commands go through
    this engine too, and must not pay for the run machinery (requests, outputs) at start-up."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        import importlib

        return getattr(importlib.import_module(self._name), attr)


pipeline = _OnFirstUse("comfyui_skills.pipeline")

# The slots a run can fill (see slots.apply_slots), as plain values; `size` is "WxH".
SLOT_NAMES = ("prompt", "negative", "seed", "width", "height", "size", "length", "batch", "steps", "cfg",
              "denoise", "images", "prefix")


def slot_values(**given):
    """{slot: value} for apply_slots from what a face was given (None: not given); `size` becomes
    width and height. A bad size is refused here, before any server is asked."""
    unknown = set(given) - set(SLOT_NAMES)
    if unknown:
        raise TypeError(f"not a slot: {', '.join(sorted(unknown))}")
    values = {k: v for k, v in given.items() if v is not None and k != "size"}
    if given.get("size"):
        values["width"], values["height"] = slotmod.parse_size(given["size"])
    if "images" in values:
        values["images"] = list(values["images"])
        if not values["images"]:
            del values["images"]
    return values


def load(workflow_path=None, workflow=None, reporter=None):
    """(format, workflow, name, folder its local files are looked up in) from a path or an inline
    workflow (exactly one of the two)."""
    if (workflow_path is None) == (workflow is None):
        raise InputError("give either a workflow file or an inline workflow, not " +
                         ("both" if workflow_path is not None else "neither"))
    if workflow_path is not None:
        loaded = wfmod.read(workflow_path)
        if loaded.source and reporter:
            reporter.note(f"read {loaded.source}")
        return loaded.format, loaded.workflow, str(workflow_path), Path(workflow_path).resolve().parent
    wf = wfmod.unwrap(workflow)
    fmt = wfmod.detect_format(wf)
    if fmt is None:
        raise InputError(f"workflow: not a ComfyUI workflow: {wfmod.describe(workflow)}")
    return fmt, wf, "workflow", None


# -- validate -----------------------------------------------------------------------------------
def check_file(path, inv, reporter=None):
    """The report for one workflow file (`validate` for a file): unreadable files get verdict None
    and an error instead of raising."""
    try:
        return validate(inv, workflow_path=path, reporter=reporter)
    except InputError as exc:
        err = {"node_id": None, "class_type": None, "type": exc.details.get("kind", "unreadable_file"),
               "input_name": None, "message": exc.message, "hint": exc.hint}
        return {"file": str(path), "inventory": inv.source, "verdict": None, "error": exc.message, "errors": [err],
                "warnings": []}


def validate(inv, *, workflow_path=None, workflow=None, reporter=None):
    """Would the server `inv` describes accept this workflow (a file, or inline)? The verdict,
    errors and warnings, partner nodes that spend credits, and how the workflow was read."""
    reporter = reporter or Reporter()
    if workflow_path is not None and workflow is None:
        loaded = wfmod.read(workflow_path)
        name, fmt, wf, embedded, also = str(workflow_path), loaded.format, loaded.workflow, loaded.embedded, loaded.also
        origin = loaded.source
    else:
        fmt, wf, name, _ = load(workflow_path, workflow)
        embedded = also = origin = None
    api, source, note = to_api_for_check(fmt, wf, name, inv, origin, embedded, also)
    if source:
        reporter.note(f"read {source}")
    if note:
        reporter.note(f"note: {note}")
    result = validate_against(api, inv)
    alternatives = installed_alternatives(api, inv) if result["verdict"] != "ok" else {}
    if alternatives:  # beside each download: what is here already (run with use_installed)
        result["installed_alternatives"] = alternatives
    paid = partner_nodes(api, inv.object_info)
    if paid:  # accepted like any node, but each run spends the user's Comfy credits
        result["spends_credits"] = paid
    return {"file": name, "inventory": inv.source, **({"source": source} if source else {}),
            **({"note": note} if note else {}), **result}


def installed_alternatives(wf, inv):
    """{missing model file: installed file of the same family and kind} (substitute.py)."""
    from . import substitute

    if not inv.models or inv.bundled:
        return {}
    return substitute.alternatives(wf, inv.object_info, inv.models, inv.identities)


def to_api_for_check(fmt, wf, name, inv, origin=None, embedded=None, also=None):
    """(API workflow, where it came from or None, a note or None). An editor workflow is converted
    as a run and the frontend would before queueing it; an embedded one that does not convert
    falls back to the API prompt saved beside it."""
    if fmt != wfmod.UI:
        return wf, origin, None
    try:
        # unknown node types come through, so the check names them the way the server would
        api = conversion.ui_to_api(wf, inv.object_info, keep_unknown=True,
                                   frontend_version=conversion.frontend_served_by(inv.record.get("system_stats")),
                                   blueprints=inv.record.get("global_subgraphs"))
    except InputError as exc:
        if embedded is not None and also is not None:
            return also, (f"the API prompt embedded in {name}: its editor workflow does not convert "
                          f"({exc.message})"), None
        exc.message = f"{name}: cannot convert this editor workflow: {exc.message}"
        raise
    if origin:
        return api, f"{origin}, converted to API format", None
    return api, None, f"{name} is an editor workflow; validating its API-format conversion"


# -- the inventory ------------------------------------------------------------------------------
def search_nodes(inv, query="", input_type=None, output_type=None, limit=None):
    """Node classes by words in name/category/types, 'A->B', and input/output types; `limit`
    keeps the first so many (the count says how many matched)."""
    from . import inventory

    hits = inventory.search(inv, query or "", input_type, output_type)
    out = {"source": inv.source, "query": query, "input": input_type, "output": output_type, "count": len(hits),
           "nodes": [inventory.describe_node(n, inv.node(n)) for n in (hits[:limit] if limit else hits)]}
    if limit and len(hits) > limit:
        out["more"] = len(hits) - limit
    return out


def show_node(inv, class_type):
    """One node class in full: inputs, options, ranges, outputs."""
    from . import inventory
    from .nextsteps import flag

    node = inv.node(class_type)
    if node is None:
        near = inventory.search(inv, class_type)[:5]
        raise InputError(f"{class_type!r} is not a node class in {inv.source}",
                         hint=f"did you mean: {', '.join(near)}" if near else
                         f"search with {flag('nodes', 'WORD')}; refresh the snapshot if it was just installed")
    return dict(inventory.describe_node(class_type, node), source=inv.source)


def list_models(settings, inv, folder=None, may_snapshot=True, reporter=None):
    """{"source", "folders"}: model files per folder (one folder's with sizes). With only the bundled
    core inventory here, which lists no models, a snapshot of the server is taken first when it
    answers (may_snapshot): the user asked what models there are, a step the pack can take itself."""
    from . import inventory
    from .nextsteps import step

    if inv.models is None and may_snapshot:
        client = settings.client()
        try:
            record = inventory.take_snapshot(client, progress=reporter.note if reporter else None)
        except ServerUnreachable:
            record = None
        if record is not None:
            path = inventory.save_snapshot(record)["path"]
            if reporter:
                reporter.note(f"no snapshot yet: took one from {client.url} into {path}")
            inv = inventory.from_record(record, path, str(path))
    if inv.models is None:
        raise InputError(f"{inv.source} has no model lists", hint=f"take a snapshot of the server first: {step('inventory')}")
    if folder and folder not in inv.models:
        raise InputError(f"no model folder {folder!r} in {inv.source}", hint="folders: " + ", ".join(inv.models))
    return {"source": inv.source, "folders": inventory.model_listing(inv, folder)}


# -- run ------------------------------------------------------------------------------------------
def run(settings, *, workflow_path=None, workflow=None, again=None, sets=(), sweeps=(), seeds=None, slots=None,
        out=None, previews=False, check=True, wait=True, max_wait=None, websocket=True, online_only=False,
        allow_api=False, use_installed=False, edits=(), filled=None, reporter=None, cancel=None):
    """Run a workflow (a file, an inline one, or `again`: the prompt id of an earlier run) and
    download its outputs: a `pipeline.RunResult`.

    use_installed: each model file the server lacks becomes an installed file of the same family
    and kind, a missing LoRA is left out; each change is a note. edits: graph changes made on the
    chosen server (edits.py: LoRAs, a mask); filled: what the caller already wrote in, for the record.

    slots: {prompt, negative, seed, size, ...} as `slot_values` takes them. max_wait None: the
    settings' (None there too: as long as it takes). allow_api: partner nodes may run, and the
    Comfy account key goes into the prompt's extra_data, in both faces the same way.
    """
    reporter = reporter or Reporter()
    kw = dict(sets=list(sets or ()), sweeps=list(sweeps or ()), seeds=seeds, out=out, previews=previews,
              check=check, wait=wait, max_wait=max_wait if max_wait is not None else settings.max_wait,
              websocket=websocket, online_only=online_only, slot_values=slot_values(**(slots or {})),
              allow_api=allow_api, reporter=reporter, cancel=cancel, edits=edits, filled=filled)
    if again is not None:
        if workflow_path is not None or workflow is not None:
            raise InputError("give a workflow or an earlier run's id to run again, not both")
        return pipeline.again(again, settings, **kw)
    fmt, wf, name, base = load(workflow_path, workflow, reporter)
    if use_installed:
        fmt, wf = wfmod.API, with_installed(settings, fmt, wf, reporter)
    return pipeline.run(wf, settings, name=name, base_dir=base, fmt=fmt, **kw)


def with_installed(settings, fmt, wf, reporter):
    """The workflow (API format) with its missing models swapped for installed files of the same
    family (substitute.py), each change a note."""
    from . import generate as gen
    from . import substitute

    try:
        catalog = gen.catalog_from_server(settings.client(probe=True), config.state_dir(), fresh=True)
    except ServerUnreachable:
        catalog = gen.catalog_from_snapshot(config.state_dir())
    api = wf if fmt != wfmod.UI else conversion.ui_to_api(wf, catalog.object_info, frontend_version=catalog.frontend)
    api, changes = substitute.use_installed(api, catalog.object_info, catalog.models_by_folder, catalog.identities)
    for change in changes:
        reporter.note(change.line())
    if not changes:
        reporter.note("use installed: nothing to swap (every model file is installed, or none has an installed "
                      "alternative)")
    return api


@dataclass
class Generated:
    """What generate() chose (`plan`) and, unless a dry run, how its run went (`result`)."""

    plan: object                       # generate.Plan
    result: Optional["pipeline.RunResult"] = None
    source: str = ""                   # where the choice was made from: the server, or the snapshot

    @property
    def exit_code(self):
        return 0 if self.result is None else self.result.exit_code

    def as_dict(self):
        if self.result is None:
            return self.plan.as_dict()
        return dict(self.result.as_dict(), template=self.plan.template, recipe=self.plan.recipe,
                    models=self.plan.models, why=self.plan.why)


def generate(settings, request, *, image=None, task=None, negative=None, seed=None, size=None, steps=None,
             count=1, model=None, template=None, allow_api=False, dry_run=False, out=None, wait=True,
             max_wait=None, denoise=None, edits=(), reporter=None, cancel=None):
    """One sentence in, files out: choose an official template this server can run with the files
    it has (else from the snapshot, and the run exports offline), fill it, run it."""
    from . import generate as gen

    reporter = reporter or Reporter()
    picture = gen.image_file(image) if image else None
    if size:
        slotmod.parse_size(size)  # a bad size is refused before the server is asked anything
    count = count or 1
    client = settings.client(probe=True)
    catalog = None
    if settings.api_kind(client.url) != "v2":
        try:
            catalog = gen.catalog_from_server(client, config.state_dir())
            settings = settings.override(url=client.url, keep_key=True)
        except ServerUnreachable as exc:
            reporter.note(f"no ComfyUI answered ({exc.message}); choosing from the last snapshot")
            catalog = gen.catalog_from_snapshot(config.state_dir())
        except ServerError as exc:
            from .v2.client import is_v2

            if not (settings.api == "auto" and exc.status == 404 and is_v2(client.url, client.api_key)):
                raise
    if catalog is None:
        # v2 serves no templates, node schemas or model lists: those come from a snapshot taken of
        # the ComfyUI behind it (inventory.py --url ITS_URL); the run itself goes through v2
        catalog = gen.catalog_from_snapshot(config.state_dir())
        reporter.note(f"{client.url} speaks Comfy API v2, which lists no templates or models: "
                      f"choosing from {catalog.source}")
        settings = settings.override(url=client.url, keep_key=True)
    chosen = gen.plan(request, catalog.index, catalog.load_template, catalog.object_info, catalog.models_by_folder,
                      task=task, template=template, image=picture, negative=negative, seed=seed, size=size,
                      steps=steps, count=count, model=model, allow_api=allow_api,
                      memory_bytes=catalog.memory_bytes, frontend_version=catalog.frontend,
                      identities=catalog.identities, denoise=denoise)
    reporter.note(f"{chosen.label} ({chosen.title}); model "
                  + ", ".join(m["name"] for m in chosen.models[:3]) + (" ..." if len(chosen.models) > 3 else ""))
    for line in chosen.why:
        reporter.note(f"  {line}")
    if dry_run:
        if edits:  # the LoRAs and mask go in, as a run would send them (the mask not uploaded)
            online = catalog.source == client.url
            chosen.workflow = pipeline.apply_edits(chosen.workflow, catalog.object_info, client if online else None,
                                                   edits, {}, reporter)
        return Generated(chosen, source=catalog.source)
    # a template without a batch input makes `count` images as that many prompts
    seeds = count if count > 1 and not any(c.slot == "batch" for c in chosen.changes) else None
    result = pipeline.run(chosen.workflow, settings, name=chosen.label, fmt=wfmod.API, seeds=seeds,
                          out=out, wait=wait, max_wait=max_wait if max_wait is not None else settings.max_wait,
                          allow_api=allow_api, reporter=reporter, cancel=cancel, edits=edits,
                          filled={c.slot if c.slot != "inputs" else "image": c.new for c in chosen.changes})
    return Generated(chosen, result, source=catalog.source)


def status(settings):
    """What the server says about itself (status.probe); on a Comfy API v2 server (said so, or a
    native route answering 404 where /api/v2/health answers) its health instead."""
    from . import status as statusmod
    from .v2.client import V2, is_v2

    client = settings.client(probe=True)
    kind = settings.api_kind(client.url)
    if kind != "v2":
        try:
            return statusmod.probe(client)
        except ServerError as exc:
            if not (kind == "auto" and exc.status == 404 and is_v2(client.url, client.api_key)):
                raise
    from .v2 import run as v2run

    return v2run.status(V2(client.url, api_key=client.api_key, timeout=client.timeout,
                           connect_timeout=client.connect_timeout))


def wait(settings, prompt_ids, *, out=None, previews=False, max_wait=None, websocket=True, reporter=None,
         cancel=None):
    """Wait for prompts queued earlier (by anyone) and download their outputs."""
    return pipeline.wait(list(prompt_ids), settings, out=out, previews=previews,
                         max_wait=max_wait if max_wait is not None else settings.max_wait, websocket=websocket,
                         reporter=reporter, cancel=cancel)


def collect(settings, prompt_ids, *, out=None, previews=False):
    """Download what finished prompts made."""
    return pipeline.collect(list(prompt_ids), settings, out=out, previews=previews)


def queue_list(settings):
    """{"url", "running": [...], "pending": [...]}: each prompt's id, number, place, size, classes,
    outputs, and whether a run of ours queued it."""
    client = settings.client()
    q = client.queue()
    return {"url": client.url, "running": [_queue_item(x, 0) for x in q.running],
            "pending": [_queue_item(x, n) for n, x in enumerate(q.pending, 1)]}


def _queue_item(x, position):
    prompt = x.prompt
    classes = sorted({n.get("class_type") for n in prompt.values() if isinstance(n, dict)})
    return {"prompt_id": x.prompt_id, "number": x.number, "position": position, "nodes": len(prompt),
            "classes": classes, "outputs": x.outputs, "ours": pipeline.recorded(x.prompt_id) is not None,
            "summary": f"{len(prompt)} nodes: {', '.join(classes[:6])}" + (" ..." if len(classes) > 6 else "")}


# -- templates ------------------------------------------------------------------------------------
def template_catalog(settings, reporter=None):
    """The server's templates, node schema and files (else the snapshot's, when no server answers)."""
    from . import generate as gen

    client = settings.client(probe=True)
    try:
        return gen.catalog_from_server(client, config.state_dir())
    except ServerUnreachable as exc:
        if reporter:
            reporter.note(f"no ComfyUI answered ({exc.message}); reading the last snapshot")
        return gen.catalog_from_snapshot(config.state_dir())


def _fit(catalog, t):
    from . import generate as gen

    return gen.fit(t, catalog.load_template(t.name), catalog.object_info, catalog.models_by_folder, allow_api=True)


def list_templates(catalog, *, task=None, media=None, text=None, partner=False, runnable=False, limit=None):
    """Templates by task, media and words. partner: False leaves out the paid partner-API ones,
    None keeps them, True keeps only them. runnable: only those this server can run now (a
    file swapped for an installed one of the same family counts)."""
    from . import generate as gen, templates

    found = templates.filter(catalog.index, media=media, text=text, partner=partner)
    if task:
        allowed = {t.name for t in gen.candidates(catalog.index, task, allow_api=partner is not False)}
        found = [t for t in found if t.name in allowed]
    rows = []
    for t in found:
        row = {"name": t.name, "title": t.title, "media": t.media_type, "tags": list(t.tags),
               "models": list(t.models), "partner": t.partner}
        if runnable:
            try:
                f = _fit(catalog, t)
            except InputError:
                continue
            if not f.runnable or (t.partner and partner is False):
                continue
            row["swaps"] = {k: v[0] for k, v in f.swaps.items()}
        rows.append(row)
    out = {"source": catalog.source, "count": len(rows), "templates": rows[:limit] if limit else rows}
    if limit and len(rows) > limit:
        out["more"] = len(rows) - limit
    return out


def show_template(catalog, name, include_workflow=False):
    """One template: what it is, the nodes and files it needs, which the server lacks, whether it runs."""
    from . import templates

    t = templates.find(catalog.index, name)
    f = _fit(catalog, t)
    info = {"name": t.name, "title": t.title, "description": t.description, "media": t.media_type,
            "tags": list(t.tags), "models": list(t.models), "partner": t.partner or f.needs.uses_api,
            "spends_credits": bool(t.partner or f.needs.uses_api), "runnable": f.runnable,
            "size": t.size_bytes, "vram": t.vram_bytes, "node_classes": sorted(f.needs.node_classes),
            "missing_nodes": [n.as_dict() for n in f.needs.missing_nodes],
            "model_files": [n.as_dict() for n in f.needs.models],
            "swaps": {k: {"use": v[0], "folder": v[1], "family": v[2]} for k, v in f.swaps.items()},
            "missing_models": [n.as_dict() for n in f.missing], "source": catalog.source}
    if include_workflow:
        info["workflow"] = catalog.load_template(t.name)
    return info


# -- what a workflow needs ------------------------------------------------------------------------
def needs(settings, *, workflow_path=None, workflow=None, template=None, download=False, paths=(),
          reporter_for=None, cancel=None, reporter=None):
    """The model files and node packs a workflow (a file, inline) or a template lacks on the server;
    with download, fetch every file whose link is known and check the workflow again.
    Returns a `Needed`: the result's JSON (as_dict), whether it runs now, and the looked-up
    (`found`) or fetched (`outcome`) record the faces show in words."""
    from . import needs as needmod
    from .nextsteps import flag

    if template is not None and (workflow_path is not None or workflow is not None):
        raise InputError("give a workflow or a template, not both")
    if paths and not download:
        raise InputError(f"{flag('path')} goes with {flag('download')} (which of the server's folders to write to)")
    wf, name = None, template
    if template is None:
        _, wf, name, _ = load(workflow_path, workflow, reporter)
    client = settings.client(probe=True)
    note = reporter.note if reporter else None
    try:
        looked = needmod.lookup(client, config.state_dir(), workflow=wf, template=template, name=name, note=note,
                                offline=not download)
    except ServerUnreachable as exc:  # only with download: the server says where its folders are
        raise ServerUnreachable(f"{flag('download')} needs the server: {exc.message}",
                                hint=f"start ComfyUI, or point {flag('url')} at it", url=client.url) from None
    if not download:
        return Needed(looked.name, looked.source, looked.found)
    outcome = needmod.get_missing(client, looked.workflow, looked.found, paths=paths or (),
                                  reporter_for=reporter_for, cancel=cancel)
    return Needed(looked.name, looked.source, looked.found, outcome)


@dataclass
class Needed:
    name: str
    source: str
    found: object                 # needs.Found: what is there and what is missing
    outcome: object = None        # needs.Outcome, after downloading

    @property
    def runnable(self):
        return (self.outcome or self.found).runnable

    def as_dict(self):
        return dict((self.outcome or self.found).as_dict(), workflow=self.name, source=self.source)


def install_nodes(settings, pack, reporter=None):
    """Install a node pack through the server's ComfyUI-Manager: its answer. Without the Manager,
    {"installed": false, "commands": [...]} (what to run where the server lives)."""
    from . import manager, nodepacks

    client = settings.client()
    if manager.detect(client) is None:
        return {"pack": pack, "installed": False, "commands": nodepacks.shell_lines(pack),
                "note": f"{client.url} has no ComfyUI-Manager; run one of these where the server lives, then "
                        "restart it"}
    return nodepacks.install(client, pack, reporter=reporter)


# -- diagnose -------------------------------------------------------------------------------------
def diagnose(settings, *, prompt_id=None, evidence=None, last=False):
    """(the diagnosis, exit code) of a prompt id (the server's history, queue and log), the newest
    run recorded in state/runs/ (`last`: also one refused before it was queued), or `evidence`
    (a saved server answer, a run result, log text). The exit code is 3 when the server of a
    prompt did not answer."""
    from . import diagnosis
    from . import evidence as evidence_

    if last:
        rec = pipeline.last_record()
        if rec is None:
            raise InputError("no run recorded yet in state/runs/ (each run is noted there)",
                             hint="give a prompt id or the failure itself")
        if rec.get("status") == "rejected":
            result = diagnosis.diagnose(evidence_.gather(rec), url=settings.url or rec.get("url"))
            result["run"] = {k: rec.get(k) for k in ("run_id", "file", "rejected_by", "submitted_at", "url", "values")}
            return _diagnosis("run_record", result), 0
        if not settings.url:
            settings = settings.override(url=rec.get("url"), keep_key=True)
        out, code = diagnose(settings, prompt_id=rec["prompt_id"])
        out["run"] = {k: rec.get(k) for k in ("prompt_id", "file", "submitted_at", "url", "values")}
        return out, code
    if prompt_id is not None:
        client = settings.client(connect_timeout=config.DIAGNOSE_CONNECT_TIMEOUT)
        result, reachable = diagnosis.diagnose_prompt(client, prompt_id, url=settings.url)
        return _diagnosis("live", result), 0 if reachable else ServerUnreachable.exit_code
    return (_diagnosis(evidence_.detect_kind(evidence),
                       diagnosis.diagnose(evidence_.gather(evidence), url=settings.url)), 0)


def _diagnosis(kind, result):
    from .evidence import KINDS

    return {"input": kind, "input_description": KINDS.get(kind, "input of an unknown shape"), **result}

"""A whole run as one library call: check, upload inputs, queue, wait, collect every output.

`run()` takes a workflow (either format) and plain arguments; `wait()` and `collect()` pick up
prompts queued earlier, from any process. Each returns a `RunResult` holding one record per
prompt (the shape `run.py --json` prints), the warnings met on the way and the exit code. Progress
and warnings go to the `reporter` the caller passes (`progress.Reporter`; silent by default); a
`cancel` event set by the caller stops the run like Ctrl-C does: our own prompts are removed from
the queue or interrupted, nobody else's, and `Interrupted` is raised.

When no server answers at all, the workflow is checked against the inventory and exported
instead (`RunResult.offline`). A server that answers slowly or with errors is not "no server":
that raises, so a job the user wanted run is never quietly exported.
"""

import copy
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

# conversion loads its parts on first use; export and inventory are imported where the offline
# path and --show-slots use them: a run on a server needs neither, and every run pays its imports.
from . import config, conversion, files, nextsteps, outputs, overrides, runs, schema, validation
# run settings read back from a graph (prompt, seed, model, LoRAs...): not the engine's Settings
from . import settings as graph_settings
from . import workflow as wfmod
from .errors import CheckFailed, ComfyError, InputError, ServerTimeout, ServerUnreachable, TransportError
from .progress import Reporter
from .schema import NodeSpec



@dataclass
class RunResult:
    """What a run, a wait or a collect ended with."""

    runs: list = field(default_factory=list)   # one record per prompt, as run.py --json prints one
    folder: Optional[Path] = None              # where outputs were downloaded
    warnings: list = field(default_factory=list)
    exit_code: int = 0
    queued_only: bool = False                  # wait=False: queued, not waited for
    offline: Optional[dict] = None             # no server answered: the export made instead
    url: Optional[str] = None
    contact_sheet: Optional[str] = None        # one PNG of all the files, when there are several

    @property
    def status(self):
        if self.offline is not None:
            return "offline"
        if len(self.runs) == 1:
            return self.runs[0]["status"]
        return self.summary()["status"]

    @property
    def files(self):
        return [o["path"] for r in self.runs for o in r.get("outputs") or [] if o.get("path")]

    def counts(self):
        counts = {}
        for r in self.runs:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        return counts

    def summary(self):
        counts = self.counts()
        if self.queued_only:
            return {"status": "queued", "runs": self.runs}
        status = ("success" if counts.get("success") == len(self.runs) else
                  "partial" if counts.get("success") else "failed")
        out = {"status": status, "counts": counts, "outputs": sum(len(r["outputs"]) for r in self.runs),
               "folder": str(self.folder), "runs": self.runs}
        if self.contact_sheet:
            out["contact_sheet"] = self.contact_sheet
        return out

    def as_dict(self):
        """The JSON run.py and queue.py print (NextSteps still to be rendered)."""
        if self.offline is not None:
            return self.offline
        if len(self.runs) == 1:
            data = dict(self.runs[0], contact_sheet=self.contact_sheet) if self.contact_sheet else self.runs[0]
        else:
            data = self.summary()
        return dict(data, warnings=self.warnings) if self.warnings else data


# -- run ----------------------------------------------------------------------------------------
def run_file(path, **kw):
    """`run()` on a workflow file (JSON, or an image/audio/video ComfyUI saved with one in it);
    local input files are looked up next to it too."""
    loaded = wfmod.read(path)
    if loaded.source:
        (kw.get("reporter") or Reporter()).note(f"read {loaded.source}")
    return run(loaded.workflow, name=str(path), base_dir=Path(path).resolve().parent, fmt=loaded.format, **kw)


def run(workflow, settings=None, *, name="workflow", base_dir=None, fmt=None, sets=(), sweeps=(), seeds=None,
        out=None, previews=False, check=True, wait=True, max_wait=None, websocket=True, online_only=False,
        slot_values=None, allow_api=False, reporter=None, cancel=None, filled=None, edits=()):
    """Run `workflow` (API or editor format) on the least busy server that has what it needs.

    settings (config.Settings): the servers, project, keys and timeouts. sets: ["NODE.INPUT=VALUE"],
    sweeps: ["NODE.INPUT=a,b"] (one prompt per combination), seeds: N prompts with random seeds.
    check=False sends without validating first; wait=False returns once queued. slot_values
    ({"prompt": ..., "seed": ..., "width": ...}, see slots.apply_slots) are written where the graph
    says they go, after `sets`. A workflow with partner (API) nodes, which spend the user's
    credits, is refused unless allow_api; allowed, the Comfy account key goes into the prompt's
    extra_data (never logged). filled: what the caller already wrote into the workflow ({slot:
    value}), kept in each run's record with what is filled here. edits: graph changes run on the
    chosen server (`edit(api, object_info, client) -> (api, {what: value})`: LoRAs, a mask), after
    the slots are filled.
    """
    settings = settings or config.Settings.resolve()
    reporter = reporter or Reporter()
    filled = dict(filled or {})
    fmt = fmt or wfmod.detect_format(workflow)
    if fmt is None:
        raise InputError(f"{name}: not a ComfyUI workflow: {wfmod.describe(workflow)}")
    if fmt == wfmod.API:
        check_nodes(workflow, name)
    clients = settings.clients(probe=True)
    project = settings.project_name
    runs.check_cancel(cancel)
    v2_args = dict(fmt=fmt, name=name, base_dir=base_dir, project=project, sets=sets, sweeps=sweeps, seeds=seeds,
                   slot_values=slot_values, out=out, wait=wait, max_wait=max_wait,
                   extra_data=settings.partner_extra(allow_api), allow_api=allow_api, check=check,
                   reporter=reporter, cancel=cancel)
    kind = settings.api_kind(clients[0].url)
    if kind == "v2":
        return _run_v2(settings, clients[0].url, workflow, v2_args)
    # the classes edits add (LoRA loaders, mask nodes) and a size may bring in (ImageScale) are read too
    extra = set().union(*(getattr(e, "classes", ()) for e in edits or ()))
    extra |= {"ImageScale"} if (slot_values or {}).get("width") or (slot_values or {}).get("height") else set()
    probes = runs.probe_all(clients, classes_of(fmt, workflow) | extra)
    up = [p for p in probes if "error" not in p]
    if not up:
        answered = [p for p in probes if not p["unreachable"]]
        if kind == "auto" and answered and _speaks_only_v2(answered[0], answered[0]["client"].api_key):
            reporter.note(f"{answered[0]['client'].url} speaks Comfy API v2")
            return _run_v2(settings, answered[0]["client"].url, workflow, v2_args)
        if answered:  # it is there but slow or broken: the user's job must not turn into an export
            raise answered[0]["exception"]
        return offline(workflow, fmt, name, project, probes, sets, slot_values, bool(sweeps or seeds), online_only,
                       reporter, edits)
    quietest = min(up, key=lambda p: p["load"])
    least_busy = quietest["object_info"]
    blueprints = None
    if fmt == wfmod.UI and conversion.blueprint_refs(workflow):
        # a node names a server blueprint: its subgraph's classes are needed too
        blueprints = served_blueprints(quietest["client"])
        inner = classes_of(wfmod.UI, {"nodes": [], "definitions": {"subgraphs": blueprint_graphs(blueprints)}})
        least_busy.update(runs.class_info(quietest["client"], inner - set(least_busy)))
    api = fill(to_api(fmt, workflow, least_busy, name, reporter, lambda: served_frontend(quietest["client"]),
                      blueprints), least_busy, sets, slot_values, reporter, filled)
    chosen = runs.pick(up, api)
    client, info = chosen["client"], chosen["object_info"]
    api = apply_edits(api, info, client, edits, filled, reporter)
    refuse_unasked_spending(api, info, name, allow_api)
    if len(clients) > 1:
        reporter.note(f"using {client.url} (queue {chosen['load']}, of {len(clients)} servers)")
    plan = overrides.variants(api, overrides.sweep_axes(api, info, sweeps, seeds))
    warnings = []
    plan, info = upload_inputs(client, plan, info, base_dir or Path.cwd(), reporter)
    if check:
        rules, info = server_rules(client, api, info)
        try:
            warnings += check_plan(plan, info, name, reporter, rules)
        except CheckFailed as exc:
            entry = next((v, w) for v, w in plan if v == (exc.details.get("values") or {}))
            raise rejected(exc, name, client.url, project, entry, "validation") from None
    root = Path(out) if out else settings.outputs_dir()
    result = submit_and_wait(client, plan, project, root, out, previews, wait, max_wait, websocket,
                             settings.partner_extra(allow_api), reporter, cancel, name, info=info, filled=filled)
    result.warnings = warnings + result.warnings
    return result


def _speaks_only_v2(probe, api_key):
    """A server that answered a native route with 404 and answers the v2 health route."""
    from .v2.client import is_v2

    return getattr(probe.get("exception"), "status", None) == 404 and is_v2(probe["client"].url, api_key)


def _run_v2(settings, url, workflow, v2_args):
    # Comfy API v2 has its own run path (v2/run.py): it serves no node schemas and watches jobs by polling
    from .v2 import run as v2run
    from .v2.client import V2

    return v2run.run(V2(url, api_key=settings.api_key, timeout=settings.timeout), workflow, **v2_args)


def fill(api, object_info, sets, slot_values, reporter, filled=None):
    """--set values, then the slots (prompt, seed, size...) found from the graph; what was written
    goes into `filled` ({"NODE.INPUT" or slot: value})."""
    api, applied = overrides.apply_sets(api, object_info, sets)
    if filled is not None:
        filled.update(applied)
    if slot_values:
        from . import slots

        api, changes = slots.apply_slots(api, object_info, **slot_values)
        for c in changes:
            reporter.note(f"{c.slot}: node {c.node} {c.input} = {str(c.new)[:80]!r}")
            if filled is not None:
                filled[c.slot if c.slot != "inputs" else "image"] = c.new
    return api


def apply_edits(api, object_info, client, edits, filled, reporter):
    """The callers' graph changes (LoRAs, masks), in order, each noted."""
    for edit in edits or ():
        api, done = edit(api, object_info, client)
        for key, value in (done or {}).items():
            reporter.note(f"{key}: {str(value)[:120]}")
            filled[key] = value
    return api


def find_slots_in(path):
    """The slots of a workflow file, read against the inventory (snapshot, else the bundled one)."""
    from . import inventory, slots

    fmt, wf = wfmod.load(path)
    inv = inventory.load()
    api = (conversion.ui_to_api(wf, inv.object_info, frontend_version=pinned_frontend(inv))
           if fmt == wfmod.UI else wf)
    if fmt == wfmod.API:
        check_nodes(wf, str(path))
    return slots.find_slots(api, inv.object_info), inv.source


def refuse_unasked_spending(api, object_info, name, allow_api):
    paid = schema.partner_nodes(api, object_info)
    if paid and not allow_api:
        nodes = ", ".join(f"#{nid} {cls}" for nid, cls in sorted(paid.items())[:5])
        raise CheckFailed(f"{name} uses partner (API) nodes, which spend Comfy credits: {nodes}",
                          hint=f"run it only if the user asked for it: add {nextsteps.flag('allow_api')}",
                          partner_nodes=paid)


def again(run_id, settings=None, **kw):
    """`run()` the workflow of an earlier run once more (its record in state/runs/, else the
    server's history of that prompt), with any new sets, sweeps or seeds; same server and project
    unless given."""
    settings = settings or config.Settings.resolve()
    from . import references

    if references.is_reference(run_id):  # last, last:N, PROMPT_ID:N: the file, then the run that made it
        run_id = references.resolve(run_id, "again", settings.project).path
    if Path(str(run_id)).is_file():  # an output file: the run that made it, else the workflow saved in it
        made_by = references.record_of_file(run_id)
        if made_by is None:
            return run_file(run_id, settings, **kw)
        run_id = made_by.get("prompt_id") or made_by.get("run_id")
    rec = recorded(run_id) or {}
    wf = rec.get("workflow")
    if not settings.url:
        settings = settings.override(url=rec.get("url"), keep_key=True)
    if not settings.project:
        settings = settings.override(project=rec.get("project"))
    if not isinstance(wf, dict) or not wf:
        client = settings.client()
        wf = runs.prompt_of(client.history(run_id))
        if not wf:
            raise InputError(f"{run_id}: no run recorded under this id in state/runs/, and "
                             f"{client.url} has no history for it",
                             hint=f"check the id ({nextsteps.step('run', 'FILE')} and {nextsteps.step('queue', 'history')} print "
                                  f"them) or {nextsteps.flag('url')}")
    return run(copy.deepcopy(wf), settings, name=rec.get("file") or f"prompt {run_id}", fmt=wfmod.API, **kw)


def check_nodes(wf, name):
    not_nodes = [nid for nid, node in wf.items() if not isinstance(node, dict)]
    if not_nodes:
        raise InputError(f"{name}: node {not_nodes[0]} is {json.dumps(wf[not_nodes[0]])[:40]}, "
                         "not a node ({\"class_type\": ..., \"inputs\": {...}})")


def classes_of(fmt, wf):
    if fmt == wfmod.API:
        return {n.get("class_type") for n in wf.values()}
    graphs = [wf] + list(((wf.get("definitions") or {}).get("subgraphs")) or [])
    return {n.get("type") for g in graphs if isinstance(g, dict) for n in g.get("nodes") or []
            if isinstance(n, dict) and isinstance(n.get("type"), str)}


def to_api(fmt, wf, object_info, name, reporter, frontend_version=lambda: None, blueprints=None):
    """`frontend_version()` names the frontend whose export rules to follow (asked only for an
    editor workflow); None follows the newest."""
    if fmt == wfmod.API:
        return wf
    reporter.note(f"note: {name} is an editor workflow; converted to API format first")
    return conversion.ui_to_api(wf, object_info, frontend_version=frontend_version(), blueprints=blueprints)


def pinned_frontend(inv):
    """The frontend the inventory's server pinned when the snapshot was taken (None: the newest)."""
    return conversion.frontend_served_by(inv.record.get("system_stats"))


def served_frontend(client):
    """The frontend the server pins, whose export rules the conversion follows; a server that does
    not say (None) gets the newest's."""
    try:
        return conversion.frontend_served_by(client.system_stats())
    except TransportError:
        return None


def served_blueprints(client):
    """The server's subgraph blueprints with their data, for a workflow that names one ({} where
    the server serves none, as 0.3.64, so the conversion says the blueprint is not there)."""
    listing = client.global_subgraphs()
    if not isinstance(listing, dict):
        return {}
    return {sid: client.global_subgraph(sid) or entry for sid, entry in listing.items()}


def blueprint_graphs(blueprints):
    """Every subgraph definition the blueprints hold, for the classes inside them."""
    graphs = []
    for workflow in (conversion.blueprint_library(blueprints) or {}).values():
        graphs += (workflow.get("definitions") or {}).get("subgraphs") or []
    return graphs


# -- inputs -------------------------------------------------------------------------------------
def upload_inputs(client, plan, info, wf_dir, reporter):
    """Upload local files that LoadImage-style inputs name; point the inputs at the uploaded names."""
    from . import uploads

    uploaded = {}
    touched = set()
    for _, wf in plan:
        for nid, node in wf.items():
            cls = node.get("class_type")
            for input_name, spec in NodeSpec(cls, info.get(cls)).inputs.items():
                local = _local_file((node.get("inputs") or {}).get(input_name), spec, wf_dir)
                if local is None:
                    continue
                if local not in uploaded:
                    uploaded[local] = uploads.upload(client, local, image=False)["ref"]
                    reporter.note(f"uploaded {local} as {uploaded[local]} (node {nid} {cls}.{input_name})")
                node["inputs"][input_name] = uploaded[local]
                touched.add(cls)
    if touched:  # the server now lists the new files: read those schemas again for validation
        info = dict(info, **runs.class_info(client, touched))
    return plan, info


def _local_file(value, spec, wf_dir):
    if not isinstance(value, str) or not spec.takes_upload:
        return None
    if value in (spec.options or []):
        return None  # the server already has a file by that name
    for base in (Path.cwd(), wf_dir):
        p = (base / value).expanduser()
        if p.is_file():
            return str(p.resolve())
    return None


# -- checking -----------------------------------------------------------------------------------
def server_rules(client, api, info):
    """({server_version, replacements}, info): what decides the server's own checks, and `info`
    with the schemas of the classes its node replacements turn this workflow's missing ones into."""
    try:
        version = (client.system_stats().get("system") or {}).get("comfyui_version")
    except TransportError:
        version = None  # validation then reads the release off the server's /object_info
    try:
        replacements = client.node_replacements()  # None on servers without them (0.3.64)
    except TransportError:
        return {"server_version": version}, info
    wanted = set()
    for node in api.values():
        rule = (replacements or {}).get(node.get("class_type")) if node.get("class_type") not in info else None
        if isinstance(rule, list) and rule and isinstance(rule[0], dict) and isinstance(rule[0].get("new_node_id"), str):
            wanted.add(rule[0]["new_node_id"])
    if wanted - set(info):
        info = dict(info, **runs.class_info(client, wanted - set(info)))
    return {"server_version": version, "replacements": replacements}, info


def check_plan(plan, info, name, reporter, rules=None):
    """Validate every prompt against the server's own schema before sending anything, by the
    rules of its version and with its node replacements (`rules`, from server_rules).

    Raises CheckFailed for one the server would reject; returns the warnings (also reported).
    """
    warnings = []
    parsed, files_in = schema.Schema(info), schema.input_files(info)  # parsed once for every prompt of a sweep
    for values, wf in plan:
        report = validation.validate(wf, parsed, input_files=files_in, **(rules or {}))
        label = f"{name}" + (f" with {values_text(values)}" if values else "")
        found = [f"{label}: {problem_text(w)}" for w in report["warnings"]]
        found += [f"{label}: {problem_text(e)} (outputs that depend on it will not be produced)"
                  for e in (report["errors"] if report["verdict"] == "partial" else [])]
        for w in found:
            reporter.note(f"warning: {w}")
        warnings += found
        if report["verdict"] == "rejected":
            lines = "\n".join("  " + problem_text(e) for e in report["errors"])
            raise CheckFailed(f"{label} would be rejected by the server:\n{lines}",
                              hint=f"fix it, or send it anyway with {nextsteps.flag('no_validate')}",
                              errors=report["errors"], values=values or None)
    return warnings


def problem_text(p):
    text = str(p.get("message"))
    nid = p.get("node_id")
    if nid and f"node {nid}" not in text:
        text = f"node {nid} ({p.get('class_type')}): {text}"
    return text + (f" ({p['hint']})" if p.get("hint") else "")


def values_text(values):
    return ", ".join(f"{k}={v}" for k, v in values.items())


# -- queue and wait -----------------------------------------------------------------------------
def submit_and_wait(client, plan, project, root, out, previews, wait, max_wait, websocket, extra_data,
                    reporter, cancel, name="workflow", info=None, filled=None):
    results = {}
    watcher = runs.Watcher(client, reporter, use_ws=websocket and wait, cancel=cancel,
                           on_finished=lambda job: results.__setitem__(
                               job.prompt_id, download(client, job, root, previews)))
    watcher.open()
    jobs, warnings = [], []
    # one command (a whole --count/--seeds/--sweep) is one unit for `last:N` (references.py)
    command = {"id": uuid.uuid4().hex[:12], "t": time.time()}
    try:
        for index, (values, wf) in enumerate(plan):
            runs.check_cancel(cancel)
            jobs.append(submit_one(client, watcher, wf, values, project, out, extra_data, reporter, warnings,
                                   name, info, filled, dict(command, index=index)))
        reporter.resume_hint = nextsteps.resume(j.prompt_id for j in jobs)
        if not wait:
            return RunResult([queued_record(j, client) for j in jobs], root, warnings, 0, queued_only=True,
                             url=client.url)
        if len(jobs) > 1:
            reporter.label = f"0/{len(jobs)} prompts done"
        watcher.wait(max_wait=max_wait)
    except KeyboardInterrupt:
        runs.stop(watcher)
    finally:
        watcher.close()
    reporter.done()
    return finished(client, jobs, results, root, warnings, sheet=True)


def submit_one(client, watcher, wf, values, project, out, extra_data, reporter, warnings, name, info=None,
               filled=None, command=None):
    prompt_id = runs.new_prompt_id()
    described = graph_settings.of(wf, info) if info else {}
    queued_at = time.monotonic()  # a cached prompt can finish before POST /prompt has answered
    try:
        answer = runs.submit(client, wf, watcher.client_id, extra_data=extra_data, prompt_id=prompt_id)
    except CheckFailed as exc:
        raise rejected(exc, name, client.url, project, (values, wf), "server") from None
    except ServerTimeout as exc:
        # the server may have queued it all the same: it carries our id, so it can be found
        remember(runs.Job(prompt_id, wf, values=values), client, project, out, name, status="unanswered",
                 settings=described, filled=filled, command=command)
        exc.message += f"; it may have been queued as prompt {prompt_id}"
        exc.hint = f"see whether it runs, and collect it, with: {nextsteps.resume([prompt_id])}"
        exc.details["prompt_id"] = prompt_id
        raise
    job = runs.Job(answer.prompt_id, wf, answer.number, total_nodes=len(wf), values=values)
    job.started = queued_at
    job.dropped = runs.dropped_outputs(answer.node_errors, wf)
    for d in job.dropped:
        warnings.append(f"{d['label']} will not be produced: the server found errors in node(s) "
                        f"{', '.join(d['because_of'])}")
        reporter.note(f"warning: {warnings[-1]}")
    job.settings, job.filled, job.name = described, dict(filled or {}), name
    remember(job, client, project, out, name, settings=described, filled=filled, command=command)
    watcher.add(job)
    return job


def download(client, job, root, previews):
    """The outputs of one finished job, downloaded."""
    items = outputs.collect(job.entry, job.workflow)
    try:
        return outputs.download_all(client, items, root, previews=previews, prompt_id=job.prompt_id)
    except ComfyError as exc:
        exc.hint = exc.hint.replace("PROMPT_ID", job.prompt_id) if exc.hint else exc.hint
        raise


def finished(client, jobs, results, root, warnings, sheet=False):
    """The RunResult of jobs that ended; `sheet`: the prompts are one command's (run/generate), so
    several files get a contact sheet (prompts collected together by queue.py need not be related)."""
    records = [job_record(j, client, results.get(j.prompt_id)) for j in jobs]
    for r in records:
        settle(r)
    update_gallery(records, root, warnings)
    return RunResult(records, root, warnings, exit_code(jobs, records), url=client.url,
                     contact_sheet=sheet_of(records, root, warnings) if sheet else None)


def update_gallery(records, root, warnings):
    """Runs that download into a project's outputs keep projects/<project>/gallery.html up to date
    (a run sent elsewhere with --out writes nothing outside that folder)."""
    projects = {(recorded(r["prompt_id"]) or {}).get("project") for r in records if r.get("outputs")}
    for project in sorted(p for p in projects if p):
        if Path(root).resolve() != (config.projects_dir() / project / "outputs").resolve():
            continue
        from . import gallery

        try:
            gallery.write_page(project)
        except OSError as exc:
            warnings.append(f"gallery of {project} not updated: {exc}")


def sheet_of(records, root, warnings):
    """One contact sheet of every file the prompts made, when they made more than one; its path."""
    items = [(o["path"], dict(r.get("settings") or {}, **(r.get("values") or {})))
             for r in records for o in r.get("outputs") or [] if o.get("path") and o.get("kind") != "text"]
    if len(items) < 2:
        return None
    from . import sheets

    try:
        return sheets.contact_sheet([p for p, _ in items], Path(root) / f"contact-sheet-{records[0]['prompt_id'][:8]}.png",
                                    sheets.labels_for(items))
    except (ImportError, OSError) as exc:  # the files are there; only the overview is missing
        warnings.append(f"no contact sheet: {exc}")
        return None


def queued_record(job, client):
    return {"prompt_id": job.prompt_id, "status": "queued", "url": client.url, "number": job.number,
            "resume": nextsteps.resume([job.prompt_id]), **({"values": job.values} if job.values else {})}


def job_record(job, client, saved):
    status = job.outcome() if job.done else job.state
    out = {"prompt_id": job.prompt_id, "status": status, "url": client.url,
           "elapsed_s": job.elapsed(), "outputs": saved or []}
    for key in ("settings", "filled"):
        if getattr(job, key, None):
            out[key] = getattr(job, key)
    if job.values:
        out["values"] = job.values
    if job.done and job.state == "finished":
        out["server_s"] = job.server_seconds()
        out["latency_ms"] = job.latency_ms()
        out["noticed_via"] = job.noticed_via
    if job.dropped:
        out["dropped_outputs"] = job.dropped
    failure = job.failure() if job.state == "finished" else None
    if status == "error" and failure:
        out["error"] = {"node_id": failure.get("node_id"), "class_type": failure.get("node_type"),
                        "title": ((job.workflow.get(str(failure.get("node_id"))) or {}).get("_meta") or {}).get("title"),
                        "exception_type": failure.get("exception_type"),
                        "exception_message": (failure.get("exception_message") or "").strip(),
                        "diagnose": nextsteps.step("diagnose", job.prompt_id, finds_server=True)}
    elif status == "interrupted" and failure:
        out["interrupted_at"] = {"node_id": failure.get("node_id"), "class_type": failure.get("node_type")}
    elif status == "lost":
        out["error"] = {"message": job.lost_reason}
    elif not job.done:
        out["resume"] = nextsteps.resume([job.prompt_id])
    return out


def exit_code(jobs, records):
    """0 all succeeded; 3, 4 or 5 when the only failures are the server going away, slowing down
    or answering garbage mid-wait (the prompts may still finish); 1 otherwise."""
    failed = [j for j, r in zip(jobs, records) if r["status"] != "success"]
    if not failed:
        return 0
    if all(j.state == "lost" and j.lost_exit != 1 for j in failed):
        return failed[0].lost_exit
    return 1


# -- picking up prompts queued earlier ----------------------------------------------------------
def remember(job, client, project, out, name="workflow", status="queued", settings=None, filled=None,
             command=None):
    """A note in state/runs/ so wait/collect find the server and folder from any process, and
    `again()` finds the workflow exactly as it was queued. status "unanswered": POST /prompt got
    no answer in time, so the server may or may not have it. `settle()` writes how it ended."""
    _write_record(job.prompt_id, {
        "prompt_id": job.prompt_id, "status": status, "url": client.url, "project": project,
        "out": str(Path(out).resolve()) if out else None, "values": job.values, "file": name,
        "submitted_at": _now(), "command": command, "settings": settings or {}, "filled": filled or {},
        "workflow": job.workflow})


def settle(result):
    """Write a prompt's end (status, outputs, time) into its record, so the record never says
    "queued" of a prompt that ran, and each output file leads back to the run that made it."""
    rec = recorded(result["prompt_id"])
    if not isinstance(rec, dict) or result["status"] in ("queued", "running"):
        return
    rec["status"] = result["status"]
    rec["finished_at"] = _now()
    rec["outputs"] = [dict({k: o.get(k) for k in ("kind", "node", "class_type") if o.get(k) is not None},
                           path=str(Path(o["path"]).resolve()))
                      for o in result.get("outputs") or [] if o.get("path")]
    if result.get("error"):  # its diagnose step is rendered for the server when printed, not stored
        rec["error"] = {k: v for k, v in result["error"].items() if k != "diagnose"}
    for key in ("settings", "filled"):
        if result.get(key) and not rec.get(key):
            rec[key] = result[key]
    if rec.get("settings") and not result.get("settings"):
        result["settings"] = rec["settings"]
    if rec.get("filled") and not result.get("filled"):
        result["filled"] = rec["filled"]
    _write_record(result["prompt_id"], rec)


def rejected(exc, name, url, project, entry, by):
    """Note a prompt refused before it ran (by our `validation` or the `server`), so that
    `diagnose.py --last` finds it; returns `exc` carrying the command that explains it."""
    run_id = f"rejected-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    values, wf = entry
    record = {"run_id": run_id, "status": "rejected", "rejected_by": by, "url": url, "project": project,
              "file": name, "values": values, "submitted_at": _now(), "message": exc.message,
              "workflow": wf}
    if by == "validation":
        record["errors"] = exc.details.get("errors") or []
    else:
        record["server_answer"] = {"error": exc.details.get("server_error"),
                                   "node_errors": exc.details.get("node_errors") or {}}
    if _write_record(run_id, record):
        explain = nextsteps.step("diagnose", last=True, finds_server=True)
        exc.hint = f"{exc.hint}; explain it with: {explain}" if exc.hint else f"explain it with: {explain}"
        exc.details["diagnose"] = explain
    return exc


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _write_record(run_id, record):
    try:
        files.write_json(config.state_dir() / "runs" / f"{run_id}.json", record)
    except OSError:
        return False  # a read-only state folder costs only the convenience of resuming without --url
    return True


def recorded(prompt_id):
    """What run() noted about a prompt it queued (or a run it was refused), or None."""
    path = config.state_dir() / "runs" / f"{Path(prompt_id).name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def last_record():
    """The newest record in state/runs/ (a queued prompt or a rejected run), or None."""
    folder = config.state_dir() / "runs"
    try:
        paths = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    except OSError:
        return None
    for path in paths:
        rec = recorded(path.stem)
        if isinstance(rec, dict):
            return rec
    return None


def target(prompt_ids, settings=None, out=None):
    """The server and download folder for prompts queued earlier: arguments first, then the note."""
    settings = settings or config.Settings.resolve()
    rec = recorded(prompt_ids[0]) or {}
    if not settings.url and rec.get("url"):
        settings = settings.override(url=rec["url"], keep_key=True)
    client = settings.client()
    folder = out or rec.get("out")
    root = Path(folder) if folder else settings.outputs_dir(settings.project or rec.get("project"))
    return client, root


def v2_target(prompt_ids, settings=None, out=None):
    """(V2 client, folder) when these jobs are on a Comfy API v2 server (said so, or their run
    record says so), else None."""
    settings = settings or config.Settings.resolve()
    rec = recorded(prompt_ids[0]) or {}
    client, root = target(prompt_ids, settings, out)
    kind = settings.api_kind(client.url)
    if kind == "native" or (kind == "auto" and rec.get("api") != "v2"):
        return None
    from .v2.client import V2

    return V2(client.url, api_key=client.api_key, timeout=settings.timeout), root


def wait(prompt_ids, settings=None, *, out=None, previews=False, max_wait=None, websocket=True, reporter=None,
         cancel=None):
    """Wait for prompts queued earlier (by anyone), then download their outputs.

    Stopping (Ctrl-C, cancel) stops the waiting only: the prompts keep running on the server.
    """
    reporter = reporter or Reporter()
    on_v2 = v2_target(prompt_ids, settings, out)
    if on_v2:
        from .v2 import run as v2run

        return v2run.wait(on_v2[0], prompt_ids, on_v2[1], reporter, max_wait=max_wait, cancel=cancel)
    client, root = target(prompt_ids, settings, out)
    reporter.resume_hint = nextsteps.resume(prompt_ids)
    results = {}
    watcher = runs.Watcher(client, reporter, use_ws=websocket, observer=True, cancel=cancel,
                           on_finished=lambda job: results.__setitem__(
                               job.prompt_id, download(client, job, root, previews)))
    watcher.open()
    jobs = [runs.Job(pid, label=pid, values=(recorded(pid) or {}).get("values") or {}) for pid in prompt_ids]
    for job in jobs:
        watcher.add(job)
    if len(jobs) > 1:
        reporter.label = f"{len(jobs)} prompts"
    try:
        watcher.wait(max_wait=max_wait)
    except KeyboardInterrupt:
        runs.stop(watcher, cancel_ours=False)
    finally:
        watcher.close()
    reporter.done()
    return finished(client, jobs, results, root, [])


def collect(prompt_ids, settings=None, *, out=None, previews=False):
    """Download the outputs of prompts that have finished; CheckFailed for one that has not."""
    on_v2 = v2_target(prompt_ids, settings, out)
    if on_v2:
        from .v2 import run as v2run

        return v2run.collect(on_v2[0], prompt_ids, on_v2[1])
    client, root = target(prompt_ids, settings, out)
    jobs, results = [], {}
    for pid in prompt_ids:
        job = runs.Job(pid, values=(recorded(pid) or {}).get("values") or {})
        entry = client.history(pid)
        if entry is None:
            place = client.places().get(pid)
            if place is None:
                raise CheckFailed(f"{client.url} has no history for prompt {pid}",
                                  hint=f"check the id and {nextsteps.flag('url')}; a restarted server forgets its history")
            state = "running" if place == 0 else f"queued at position {place}"
            raise CheckFailed(f"prompt {pid} has not finished: it is {state}",
                              hint=f"wait for it with: {nextsteps.resume([pid])}")
        job.entry, job.state = entry, "finished"
        job.workflow = runs.prompt_of(entry)
        results[pid] = download(client, job, root, previews)
        jobs.append(job)
    return finished(client, jobs, results, root, [])


# -- offline ------------------------------------------------------------------------------------
def offline(wf, fmt, name, project, probes, sets, slot_values, multi, online_only, reporter, edits=()):
    """No server answers: check against the inventory and export, so the work is not lost."""
    from . import export, inventory

    reason = "; ".join(p["error"] for p in probes)
    if online_only:
        raise ServerUnreachable(reason, hint=f"start ComfyUI, or drop {nextsteps.flag('online_only')} to export the workflow offline")
    inv = inventory.load()
    api = fill(to_api(fmt, wf, inv.object_info, name, reporter,
                      lambda: pinned_frontend(inv)),
               inv.object_info, sets, slot_values, reporter)
    api = apply_edits(api, inv.object_info, None, edits, {}, reporter)
    receipt = export.export_workflow(api, project, Path(name).name, fmt="api", inventory=inv)
    path = receipt["files"]["api"]
    result = {"status": "offline", "reason": reason, "path": path,
              "receipt": receipt["files"]["receipt"], "verdict": receipt["verdict"],
              "errors": receipt["errors"], "warnings": receipt["warnings"],
              "inventory": receipt["inventory"]["source"],
              "load": f"start ComfyUI, then: {nextsteps.step('run', path)} "
                      f"(or in the editor: {receipt['how_to_load']})"}
    if multi:
        result["note"] = f"sweeps and {nextsteps.flag('seeds')} need a server; the base workflow was exported"
    warnings = [f"{name}: {problem_text(p)}" for p in receipt["errors"] + receipt["warnings"]]
    for w in warnings:
        reporter.note(f"warning: {w}")
    reporter.note(f"no ComfyUI answered ({reason}); exported the workflow instead")
    return RunResult([], None, warnings, 0, offline=result)

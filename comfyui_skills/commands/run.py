"""run.py: validate, queue, wait (WebSocket, else polling), download every output; offline fallback."""

import argparse
import json
import os
import time
from pathlib import Path

from .. import cli, config, conversion, export, files, inventory, outputs, overrides, runs, schema, uploads, validation
from .. import workflow as wfmod
from ..errors import CheckFailed, ComfyError, InputError, ServerError, ServerUnreachable
from ..progress import Progress
from ..schema import NodeSpec
from ..transport import Client

EPILOG = """\
examples:
  python scripts/run.py projects/examples/workflows/solid-color.json
  python scripts/run.py wf.json --set 3.seed=42 --set 'Positive.text=a red fox'
  python scripts/run.py wf.json --sweep 3.cfg=4,6,8 --sweep 3.steps=10,20   # 6 prompts
  python scripts/run.py wf.json --seeds 4 --json
  python scripts/run.py wf.json --no-wait            # prints the prompt id at once
  python scripts/queue.py wait PROMPT_ID             # ...and collects it later, from any process
  python scripts/run.py wf.json --out /tmp/renders --previews

outputs land in projects/<project>/outputs/ (project "default" unless --project), server
subfolders kept, never over an existing file. Ctrl-C interrupts our own prompt (or removes it from
the queue) and exits 130. When no server answers, the workflow is validated against the inventory
and exported instead ("status": "offline", exit 0; --online-only makes that exit 3).

exit codes: 0 success (or offline export); 1 rejected, failed, interrupted, lost, or still running
when --max-wait ran out; 2 bad input;
3 no server (with --online-only), or it stopped answering mid-wait for longer than 120 s;
4 the server answered with an error; 130 Ctrl-C.
"""


def build_parser():
    p = cli.parser("run.py", "Run a workflow on ComfyUI and download its outputs.", EPILOG)
    p.add_argument("file", help="workflow JSON (API format; an editor workflow is converted first)")
    p.add_argument("--set", action="append", default=[], metavar="NODE.INPUT=VALUE",
                   help="change an input; NODE is an id or a title (repeatable)")
    p.add_argument("--sweep", action="append", default=[], metavar="NODE.INPUT=a,b,c",
                   help="queue one prompt per value; several --sweep combine (cartesian)")
    p.add_argument("--seeds", type=_count, metavar="N", help="queue N prompts with random seeds")
    p.add_argument("--out", help="download folder (default: projects/<project>/outputs)")
    p.add_argument("--previews", action="store_true", help="also download temp previews (PreviewImage)")
    p.add_argument("--no-validate", action="store_true", help="send without checking first")
    p.add_argument("--no-wait", action="store_true", help="print the prompt id(s) and return at once")
    p.add_argument("--max-wait", type=cli.positive_float, metavar="SECONDS",
                   help="stop waiting after this long (the prompt keeps running; resume with queue.py wait)")
    p.add_argument("--poll", action="store_true", help="do not use the WebSocket; poll /history")
    p.add_argument("--online-only", action="store_true", help="exit 3 instead of exporting when no server answers")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def _count(text):
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return n


def run(args):
    fmt, wf = wfmod.load(args.file)
    if fmt == wfmod.API:
        not_nodes = [nid for nid, node in wf.items() if not isinstance(node, dict)]
        if not_nodes:
            raise InputError(f"{args.file}: node {not_nodes[0]} is {json.dumps(wf[not_nodes[0]])[:40]}, "
                             "not a node ({\"class_type\": ..., \"inputs\": {...}})")
    project = args.project or "default"
    key = args.api_key or os.environ.get("COMFYUI_API_KEY") or None
    clients = [Client(u, api_key=key, timeout=args.timeout, connect_timeout=1.5)
               for u in config.resolve_urls(args.url, args.project)]
    probes = runs.probe_all(clients, classes_of(fmt, wf))
    up = [p for p in probes if "error" not in p]
    if not up:
        answered = [p for p in probes if not p.get("unreachable")]
        if answered:
            raise ServerError(answered[0]["error"], url=answered[0]["url"])
        return offline(args, fmt, wf, project, probes)
    least_busy = min(up, key=lambda p: p["load"])["object_info"]
    api = to_api(fmt, wf, least_busy, args.file)
    api, _ = overrides.apply_sets(api, least_busy, args.set)
    chosen = runs.pick(up, api)
    client, info = chosen["client"], chosen["object_info"]
    if len(clients) > 1:
        cli.note(f"using {client.url} (queue {chosen['load']}, of {len(clients)} servers)")
    axes = overrides.sweep_axes(api, info, args.sweep, args.seeds)
    plan = overrides.variants(api, axes)
    plan, info = upload_inputs(client, plan, info, Path(args.file).resolve().parent)
    if not args.no_validate:
        check(plan, info, args.file)
    return submit_and_wait(args, client, plan, project)


def classes_of(fmt, wf):
    if fmt == wfmod.API:
        return {n.get("class_type") for n in wf.values()}
    graphs = [wf] + list(((wf.get("definitions") or {}).get("subgraphs")) or [])
    return {n.get("type") for g in graphs if isinstance(g, dict) for n in g.get("nodes") or []
            if isinstance(n, dict) and isinstance(n.get("type"), str)}


def to_api(fmt, wf, object_info, path):
    if fmt == wfmod.API:
        return wf
    cli.note(f"note: {path} is an editor workflow; converted to API format first")
    return conversion.ui_to_api(wf, object_info)


# -- inputs ------------------------------------------------------------------------------------
def upload_inputs(client, plan, info, wf_dir):
    """Upload local files that LoadImage-style inputs name; point the inputs at the uploaded names."""
    uploaded = {}
    touched = set()
    for _, wf in plan:
        for nid, node in wf.items():
            cls = node.get("class_type")
            for name, spec in NodeSpec(cls, info.get(cls)).inputs.items():
                value = (node.get("inputs") or {}).get(name)
                local = _local_file(value, spec, wf_dir)
                if local is None:
                    continue
                if local not in uploaded:
                    uploaded[local] = upload_file(client, local)
                    cli.note(f"uploaded {local} as {uploaded[local]} (node {nid} {node['class_type']}.{name})")
                node["inputs"][name] = uploaded[local]
                touched.add(node["class_type"])
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


def upload_file(client, path):
    # the local name goes into a multipart header: the same cleaning as upload.py
    with open(path, "rb") as fh:
        resp = client.request("POST", "/upload/image", files={"image": (uploads.upload_name(path), fh)},
                              data={"type": "input"})
    client.check(resp, f"uploading {path}")
    try:
        body = resp.json()
        name, sub = body["name"], body.get("subfolder")
    except (ValueError, TypeError, KeyError):
        raise ServerError(f"uploading {path}: {client.url} did not answer with the stored name",
                          hint=f"is {client.url} a ComfyUI server?", status=resp.status_code) from None
    return f"{sub}/{name}" if sub else name


def check(plan, info, path):
    """Validate every prompt against the server's own schema before sending anything."""
    for values, wf in plan:
        report = validation.validate(wf, info, input_files=schema.input_files(info))
        label = f"{path}" + (f" with {_values_text(values)}" if values else "")
        for w in report["warnings"]:
            cli.note(f"warning: {label}: {_problem(w)}")
        if report["verdict"] == "rejected":
            lines = "\n".join("  " + _problem(e) for e in report["errors"])
            raise CheckFailed(f"{label} would be rejected by the server:\n{lines}",
                              hint="fix it, or send it anyway with --no-validate",
                              errors=report["errors"])
        for e in report["errors"] if report["verdict"] == "partial" else []:
            cli.note(f"warning: {label}: {_problem(e)} (outputs that depend on it will not be produced)")


def _problem(p):
    text = str(p.get("message"))
    nid = p.get("node_id")
    if nid and f"node {nid}" not in text:
        text = f"node {nid} ({p.get('class_type')}): {text}"
    return text + (f" ({p['hint']})" if p.get("hint") else "")


def _values_text(values):
    return ", ".join(f"{k}={v}" for k, v in values.items())


# -- queue and wait ----------------------------------------------------------------------------
def submit_and_wait(args, client, plan, project):
    root = Path(args.out) if args.out else config.projects_dir() / project / "outputs"
    progress = Progress(enabled=not args.quiet and not args.no_wait)
    results = {}
    watcher = runs.Watcher(client, progress, use_ws=not (args.poll or args.no_wait),
                           on_finished=lambda job: results.__setitem__(
                               job.prompt_id, collect(client, job, root, args.previews)))
    watcher.open()
    jobs = []
    try:
        for values, wf in plan:
            jobs.append(submit_one(client, watcher, wf, values, project, args.out))
        ids = [j.prompt_id for j in jobs]
        progress.resume_hint = f"python scripts/queue.py wait {' '.join(ids[:3])}" + (" ..." if len(ids) > 3 else "")
        if args.no_wait:
            return report_queued(args, client, jobs)
        if len(jobs) > 1:
            progress.label = f"0/{len(jobs)} prompts done"
        watcher.wait(max_wait=args.max_wait)
    except KeyboardInterrupt:
        runs.stop_on_ctrl_c(watcher)
    finally:
        watcher.close()
    progress.done()
    return report(args, client, jobs, results, root)


def submit_one(client, watcher, wf, values, project, out):
    answer = runs.submit(client, wf, watcher.client_id)
    job = runs.Job(answer["prompt_id"], wf, answer.get("number"), total_nodes=len(wf))
    job.values = values
    job.dropped = runs.dropped_outputs(answer.get("node_errors"), wf)
    for d in job.dropped:
        cli.note(f"warning: {d['label']} will not be produced: the server found errors in node(s) "
                 f"{', '.join(d['because_of'])}")
    remember(job, client, project, out)
    watcher.add(job)
    return job


def remember(job, client, project, out):
    """A note in state/runs/ so queue.py wait/outputs find the server and folder from any process."""
    record = {"prompt_id": job.prompt_id, "url": client.url, "project": project,
              "out": str(Path(out).resolve()) if out else None, "values": job.values,
              "submitted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        files.write_json(config.state_dir() / "runs" / f"{job.prompt_id}.json", record)
    except OSError:
        pass  # a read-only state folder costs only the convenience of resuming without --url


def collect(client, job, root, previews):
    """The result of one finished job, its outputs downloaded."""
    items = outputs.collect(job.entry, job.workflow)
    try:
        return outputs.download_all(client, items, root, previews=previews, prompt_id=job.prompt_id)
    except ComfyError as exc:
        exc.hint = exc.hint.replace("PROMPT_ID", job.prompt_id) if exc.hint else exc.hint
        raise


def job_result(job, client, saved):
    status = job.outcome() if job.done else job.state
    out = {"prompt_id": job.prompt_id, "status": status, "url": client.url,
           "elapsed_s": round(time.monotonic() - job.started, 3), "outputs": saved or []}
    if getattr(job, "values", None):
        out["values"] = job.values
    if job.done and job.state == "finished":
        out["server_s"] = job.server_seconds()
        out["latency_ms"] = job.latency_ms()
        out["noticed_via"] = job.noticed_via
    if getattr(job, "dropped", None):
        out["dropped_outputs"] = job.dropped
    failure = job.failure() if job.state == "finished" else None
    if status == "error" and failure:
        out["error"] = {"node_id": failure.get("node_id"), "class_type": failure.get("node_type"),
                        "title": ((job.workflow.get(str(failure.get("node_id"))) or {}).get("_meta") or {}).get("title"),
                        "exception_type": failure.get("exception_type"),
                        "exception_message": (failure.get("exception_message") or "").strip(),
                        "diagnose": f"python scripts/diagnose.py {job.prompt_id}"}
    elif status == "interrupted" and failure:
        out["interrupted_at"] = {"node_id": failure.get("node_id"), "class_type": failure.get("node_type")}
    elif status == "lost":
        out["error"] = {"message": job.lost_reason}
    elif not job.done:
        out["resume"] = f"python scripts/queue.py wait {job.prompt_id}"
    return out


def report_queued(args, client, jobs):
    res = [{"prompt_id": j.prompt_id, "status": "queued", "url": client.url, "number": j.number,
            "resume": f"python scripts/queue.py wait {j.prompt_id}", **({"values": j.values} if j.values else {})}
           for j in jobs]
    if len(res) == 1:
        cli.emit(args, res[0], jobs[0].prompt_id)
    else:
        cli.emit(args, {"status": "queued", "runs": res}, "\n".join(j.prompt_id for j in jobs))
    return 0


def report(args, client, jobs, results, root):
    res = [job_result(j, client, results.get(j.prompt_id)) for j in jobs]
    for r in res:
        _explain(r)
    if len(res) == 1:
        cli.emit(args, res[0], text_of(res[0]))
        return exit_code(jobs, res)
    counts = {}
    for r in res:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    summary = {"status": "success" if counts.get("success") == len(res) else "partial" if counts.get("success")
               else "failed", "counts": counts, "outputs": sum(len(r["outputs"]) for r in res),
               "folder": str(root), "runs": res}
    text = "\n".join(text_of(r) for r in res)
    text += f"\n{len(res)} prompts: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + \
            f"; {summary['outputs']} outputs in {root}"
    cli.emit(args, summary, text)
    return exit_code(jobs, res)


def exit_code(jobs, res):
    """0 all succeeded; 3 or 4 when the only failures are the server going away or answering
    garbage mid-wait (the prompts may still finish); 1 otherwise."""
    failed = [j for j, r in zip(jobs, res) if r["status"] != "success"]
    if not failed:
        return 0
    if all(j.state == "lost" and j.lost_exit != 1 for j in failed):
        return failed[0].lost_exit
    return 1


def _explain(r):
    """The failure, on stderr, in words."""
    pid = r["prompt_id"]
    if r["status"] == "error" and "exception_type" in r.get("error", {}):
        e = r["error"]
        who = f"#{e['node_id']} {e['class_type']}" + (f" '{e['title']}'" if e.get("title") else "")
        cli.note(f"error: prompt {pid} failed at node {who}: {e['exception_type']}: {e['exception_message']}\n"
                 f"  explain it with: {e['diagnose']}")
    elif r["status"] == "interrupted":
        at = r.get("interrupted_at") or {}
        cli.note(f"prompt {pid} was interrupted" + (f" at node #{at.get('node_id')} {at.get('class_type')}"
                                                     if at.get("node_id") else ""))
    elif r["status"] == "lost":
        cli.note(f"error: {r['error']['message']}")
    elif r["status"] in ("queued", "running"):
        cli.note(f"prompt {pid} is still {r['status']} (stopped waiting after --max-wait); "
                 f"resume with: {r['resume']}")


def text_of(r):
    head = f"{r['status']}: prompt {r['prompt_id']}"
    if r.get("values"):
        head += f" ({_values_text(r['values'])})"
    if r["status"] in ("success", "error", "interrupted"):
        head += f" in {r['elapsed_s']:.2f} s"
    lines = [head]
    for o in r["outputs"]:
        if o["kind"] == "text":
            lines.append(f"  text #{o['node']} {o['class_type']}: {o['text'][:200]}  -> {o['path']}")
        else:
            cache = ", cached" if o.get("from_cache") else ""
            lines.append(f"  {o['path']}  ({o['bytes']} B, {o['kind']}, #{o['node']} {o['class_type']}{cache})")
    return "\n".join(lines)


# -- offline -----------------------------------------------------------------------------------
def offline(args, fmt, wf, project, probes):
    """No server answers: check against the inventory and export, so the work is not lost."""
    reason = "; ".join(p["error"] for p in probes)
    if args.online_only:
        raise ServerUnreachable(reason, hint="start ComfyUI, or drop --online-only to export the workflow offline")
    inv = inventory.load()
    api = to_api(fmt, wf, inv.object_info, args.file)
    api, _ = overrides.apply_sets(api, inv.object_info, args.set)
    receipt = export.export_workflow(api, project, Path(args.file).name, fmt="api", inventory=inv)
    result = {"status": "offline", "reason": reason, "path": receipt["files"]["api"],
              "receipt": receipt["files"]["receipt"], "verdict": receipt["verdict"],
              "errors": receipt["errors"], "warnings": receipt["warnings"],
              "inventory": receipt["inventory"]["source"],
              "load": f"start ComfyUI, then: python scripts/run.py {receipt['files']['api']} "
                      f"(or in the editor: {receipt['how_to_load']})"}
    if args.sweep or args.seeds:
        result["note"] = "sweeps and --seeds need a server; the base workflow was exported"
    for p in receipt["errors"] + receipt["warnings"]:
        cli.note(f"warning: {args.file}: {_problem(p)}")
    cli.note(f"no ComfyUI answered ({reason}); exported the workflow instead")
    cli.emit(args, result, f"offline: exported {result['path']}\n  to run it: {result['load']}")
    return 0

"""A whole run on a Comfy API v2 server: the same result shape as `pipeline.run`, other routes.

v2 serves no node schemas, so the graph is filled, converted and checked against what this
machine knows (the inventory snapshot, else the bundled core inventory); the server checks it
again and answers `invalid_workflow` per node. Local input files become assets; outputs come
through the links the job lists.
"""

import time
from pathlib import Path

from .. import config, files, inventory, nextsteps, outputs, overrides, runs
from .. import workflow as wfmod
from ..errors import CheckFailed, ComfyError, Interrupted
from .client import asset_ref

STATUS = {"succeeded": "success", "failed": "error", "canceled": "interrupted", "expired": "lost"}
# inputs whose value names a file in the server's input folder: a local file there becomes an asset
FILE_INPUTS = ("image", "video", "audio", "file", "mask", "model_file")


def run(client, workflow, *, fmt, name, base_dir, project, sets=(), sweeps=(), seeds=None, slot_values=None,
        out=None, wait=True, max_wait=None, extra_data=None, allow_api=False, check=True, reporter, cancel=None):
    from ..pipeline import RunResult, fill, refuse_unasked_spending

    inv = inventory.load()
    info = inv.object_info
    if fmt == wfmod.UI:
        from .. import conversion

        workflow = conversion.ui_to_api(workflow, info)
        reporter.note(f"converted the editor workflow with the node schemas of {inv.source}: "
                      f"a v2 server serves none of its own")
    api = fill(workflow, info, sets, slot_values, reporter)
    refuse_unasked_spending(api, info, name, allow_api)
    if check:
        _check(api, info, name, inv.source, reporter)
    plan = overrides.variants(api, overrides.sweep_axes(api, info, sweeps, seeds))
    root = Path(out) if out else config.projects_dir() / project / "outputs"
    records, jobs = [], []
    try:
        for values, wf in plan:
            runs.check_cancel(cancel)
            wf = _assets_for_local_files(client, wf, base_dir, reporter)
            started = time.monotonic()
            job = client.submit(wf, extra_data)
            jobs.append((job, values, wf, started))
            _remember(job, client, project, out, name, values, wf)
        if not wait:
            runs_ = [{"prompt_id": j["id"], "status": "queued", "url": client.url,
                      "resume": nextsteps.resume([j["id"]]), **({"values": v} if v else {})}
                     for j, v, _, _ in jobs]
            return RunResult(runs_, root, [], 0, queued_only=True, url=client.url)
        for job, values, wf, started in jobs:
            final = client.wait(job, reporter, max_wait=max_wait, cancel=cancel)
            records.append(record(client, final, values, wf, root, time.monotonic() - started))
    except KeyboardInterrupt:
        for job, *_ in jobs:
            try:
                client.cancel(job)
            except ComfyError:
                pass
        raise Interrupted("interrupted: our jobs on the server were cancelled") from None
    finally:
        reporter.done()
    failed = [r for r in records if r["status"] != "success"]
    return RunResult(records, root, [], 1 if failed else 0, url=client.url)


def record(client, job, values, wf, root, elapsed):
    """One run record, as pipeline.job_record gives it for a native server."""
    status = STATUS.get(job["status"], job["status"])
    out = {"prompt_id": job["id"], "status": status, "url": client.url, "elapsed_s": round(elapsed, 3),
           "outputs": download_outputs(client, job, root, wf) if job["status"] == "succeeded" else []}
    if values:
        out["values"] = values
    err = job.get("error") or {}
    if status == "error":
        node = str(err.get("node_id") or "")
        out["error"] = {"node_id": err.get("node_id"), "class_type": err.get("class_type"),
                        "title": ((wf.get(node) or {}).get("_meta") or {}).get("title"),
                        "exception_type": err.get("code"),
                        "exception_message": (err.get("message") or "").strip()}
    elif status == "lost":
        out["error"] = {"message": f"the server no longer knows job {job['id']} (expired)"}
    return out


def download_outputs(client, job, root, wf):
    """Every output the job lists, fetched through its own link into `root` (never overwriting),
    in the record shape of a native run (outputs.collect)."""
    saved = []
    for o in job.get("outputs") or []:
        node = wf.get(str(o["node_id"])) or {}
        item = {"node": str(o["node_id"]), "class_type": node.get("class_type"),
                "title": (node.get("_meta") or {}).get("title"), "from_cache": bool(job.get("outputs_reused")),
                "kind": o.get("type"), "filename": o["name"], "asset_id": o["id"]}
        chunks = []

        def write(fh, o=o):
            chunks.append(client.download(o, lambda b: (fh.write(b), item["kind"] == "text" and chunks.append(b))))

        path = outputs.publish_new(files.safe_join(root, "", o["name"]), write, root)
        if item["kind"] == "text":
            item["text"] = b"".join(c for c in chunks if isinstance(c, bytes)).decode("utf-8", "replace")
        saved.append(dict(item, path=str(path), bytes=chunks[-1]))
    return saved


def _check(api, info, name, source, reporter):
    """The graph's structure and values against the schemas this machine has. Its model and input
    lists belong to another server, so files are left to the server; so are classes they lack."""
    from .. import validation

    unknown = sorted({n.get("class_type") for n in api.values() if isinstance(n, dict)} - set(info))
    if unknown:
        reporter.note(f"{name}: {', '.join(unknown[:5])} not in {source}: the server checks those nodes")
    result = validation.validate(api, info, local_files_known=False)
    errors = [e for e in result["errors"] if e.get("class_type") not in unknown]
    if errors:
        e = errors[0]
        raise CheckFailed(f"{name}: {e['message']}",
                          hint="fix it, or send it unchecked and let the server judge",
                          errors=errors)


def _assets_for_local_files(client, wf, base_dir, reporter):
    """A file input naming a file beside the workflow (or a path) is uploaded as an asset."""
    wf = {k: dict(v, inputs=dict(v.get("inputs") or {})) for k, v in wf.items()}
    for node in wf.values():
        for key, value in node["inputs"].items():
            if key not in FILE_INPUTS or not isinstance(value, str):
                continue
            path = Path(value) if Path(value).is_absolute() else Path(base_dir or ".") / value
            if path.is_file():
                asset = client.upload(path)
                reporter.note(f"uploaded {path.name} as asset {asset['id']}")
                node["inputs"][key] = asset_ref(asset)
    return wf


def _remember(job, client, project, out, name, values, wf):
    from ..pipeline import _now, _write_record

    _write_record(job["id"], {"prompt_id": job["id"], "status": "queued", "url": client.url, "api": "v2",
                              "project": project, "out": str(Path(out).resolve()) if out else None,
                              "values": values, "file": name, "submitted_at": _now(), "workflow": wf})


# -- jobs queued earlier ------------------------------------------------------------------------
def wait(client, job_ids, root, reporter, max_wait=None, cancel=None):
    """Wait for jobs queued earlier, then download their outputs (pipeline.wait on v2)."""
    from ..pipeline import RunResult, recorded

    records = []
    for jid in job_ids:
        started = time.monotonic()
        try:
            final = client.wait(client.job(jid), reporter, max_wait=max_wait, cancel=cancel)
        except KeyboardInterrupt:
            raise Interrupted(f"stopped waiting; job {jid} goes on: {nextsteps.render(nextsteps.resume([jid]))}") from None
        rec = recorded(jid) or {}
        records.append(record(client, final, rec.get("values") or {}, rec.get("workflow") or {}, root,
                              time.monotonic() - started))
    reporter.done()
    return RunResult(records, root, [], 1 if any(r["status"] != "success" for r in records) else 0, url=client.url)


def collect(client, job_ids, root):
    """Download the outputs of finished jobs; CheckFailed for one still going (pipeline.collect on v2)."""
    from ..pipeline import RunResult, recorded

    records = []
    for jid in job_ids:
        job = client.job(jid)
        if job["status"] not in ("succeeded", "failed", "canceled", "expired"):
            raise CheckFailed(f"job {jid} has not finished: it is {job['status']}",
                              hint=f"wait for it with: {nextsteps.render(nextsteps.resume([jid]))}")
        rec = recorded(jid) or {}
        records.append(record(client, job, rec.get("values") or {}, rec.get("workflow") or {}, root, 0.0))
    return RunResult(records, root, [], 1 if any(r["status"] != "success" for r in records) else 0, url=client.url)


def cancel(client, job_ids):
    """Cancel each job and see it stop: {"interrupted", "deleted", "not_found"} as runs.cancel gives.
    A job the server keeps running after it accepted the cancel raises CheckFailed (client.cancel)."""
    from ..errors import ServerError

    done = {"interrupted": [], "deleted": [], "not_found": []}
    for jid in job_ids:
        try:
            before = client.job(jid)
        except ServerError as exc:
            if exc.status == 404:
                done["not_found"].append(jid)
                continue
            raise
        if before["status"] in ("succeeded", "failed", "canceled", "expired"):
            done["not_found"].append(jid)
            continue
        client.cancel(before)
        done["interrupted" if before["status"] == "running" else "deleted"].append(jid)
    return done


def jobs(client, limit=None):
    """The server's job list (`GET /api/v2/jobs`), newest first, in the shape queue.py list prints."""
    return [{"prompt_id": j["id"], "status": j["status"], "created_at": j.get("created_at"),
             "queue_position": j.get("queue_position"), "outputs": len(j.get("outputs") or [])}
            for j in client.jobs(limit=limit)]


def status(client):
    """status.py's answer for a v2 server: its health, and the ComfyUI behind it where it says."""
    from ..errors import ServerTimeout, ServerUnreachable

    try:
        health = client.health()
    except (ServerUnreachable, ServerTimeout) as exc:
        return {"online": False, "reachable": isinstance(exc, ServerTimeout), "url": client.url, "api": "v2",
                "error": exc.message, "hint": exc.hint}
    out = {"online": health.get("status") in ("healthy", "ok"), "reachable": True, "url": client.url, "api": "v2",
           "health": health.get("status"), "upstream": health.get("upstream"),
           # v2 tells nothing of versions, devices or the queue: what it has no route for stays None
           "comfyui_version": None, "frontend_version": None, "devices": [], "queue": None}
    try:
        queued = client.jobs(status="queued")
        running = client.jobs(status="running")
        out["queue"] = {"running": len(running), "pending": len(queued)}
    except ComfyError:
        pass
    return out

"""Offline export: a checked workflow written into a project, ready to drag into ComfyUI.

Files, for a workflow named N in project P (under the projects folder):
  P/workflows/N.json          API format (what `run.py` queues; ComfyUI also opens it)
  P/workflows/N.ui.json       editor format (opens as a laid-out graph in ComfyUI)
  P/workflows/N.receipt.json  what was checked against: verdict, inventory, ComfyUI version, time
An existing set is never replaced: the next free name (N-2, N-3, ...) is taken, unless force.
"""

import re
from datetime import datetime, timezone
from pathlib import Path

from . import config, conversion, files, validation, workflow
from . import inventory as inventory_mod
from .errors import CheckFailed, InputError
from .nextsteps import flag, step

FORMATS = ("api", "ui", "both")
SUFFIXES = {"api": ".json", "ui": ".ui.json", "receipt": ".receipt.json"}
HOW_TO_LOAD = ("open ComfyUI in the browser and drag {file} onto the canvas "
               "(or use Workflow > Open and pick it)")


def export_workflow(workflow_obj, project, name=None, fmt="api", force=False, inventory=None,
                    allow_invalid=False, keep_unknown=False):
    """Validate and write a workflow (either format) into projects/<project>/workflows/.

    Returns the receipt dict, with "files" naming every path written. Raises CheckFailed when
    the server would reject the workflow (nothing is written) unless allow_invalid.
    """
    if fmt not in FORMATS:
        raise InputError(f"format {fmt!r}: use one of {', '.join(FORMATS)}")
    inv = inventory or inventory_mod.load()
    source_fmt = workflow.detect_format(workflow_obj)
    if source_fmt is None:
        raise InputError(f"not a ComfyUI workflow: {workflow.describe(workflow_obj)}")
    workflow_obj = workflow.unwrap(workflow_obj) if source_fmt == workflow.API else workflow_obj
    schema = conversion.as_schema(inv.object_info)
    api = (workflow_obj if source_fmt == workflow.API
           else conversion.ui_to_api(workflow_obj, schema, keep_unknown,
                                     frontend_version=conversion.frontend_served_by(inv.record.get("system_stats"))))
    report = validation.validate_against(api, inv)
    if report["verdict"] == validation.REJECTED and not allow_invalid:
        raise CheckFailed(f"ComfyUI would reject this workflow: {first_error(report)}",
                          hint=f"fix it ({step('validate', 'FILE')} shows every problem), or export anyway with "
                               f"{flag('allow_invalid')}",
                          errors=report["errors"])
    contents = {"api": api} if fmt in ("api", "both") else {}
    if fmt in ("ui", "both"):
        contents["ui"] = (workflow_obj if source_fmt == workflow.UI
                          else conversion.api_to_ui(api, schema, keep_unknown))
    folder = project_folder(project)
    receipt = receipt_for(project, source_fmt, fmt, report, inv)
    stem = write_set(folder, clean_name(name), contents, receipt, force)
    return receipt | {"name": stem}


def first_error(report):
    err = report["errors"][0] if report["errors"] else {}
    where = f"node {err.get('node_id')} ({err.get('class_type')}): " if err.get("node_id") else ""
    return where + (err.get("message") or "rejected")


def project_folder(project):
    if not project or not str(project).strip():
        raise InputError("no project given", hint=f"pass {flag('project', 'NAME')} (or set COMFYUI_PROJECT)")
    root = config.projects_dir()
    return files.safe_join(root, files.safe_part(project), "workflows")


def clean_name(name):
    """A file stem from a user's name: no folders, no .json / .api / .ui ending."""
    stem = Path(str(name or "workflow")).name
    stem = re.sub(r"(\.(api|ui|receipt))?\.json$", "", stem, flags=re.I)
    return files.safe_part(stem)


def receipt_for(project, source_fmt, fmt, report, inv):
    return {
        "project": project,
        "format": fmt,
        "source_format": source_fmt,
        "verdict": report["verdict"],
        "errors": report["errors"],
        "warnings": report["warnings"],
        "inventory": {"source": inv.source, "kind": inv.kind, "hash": inv.hash,
                      "taken_at": inv.taken_at, "url": inv.url},
        "comfyui_version": inv.comfyui_version,
        "exported_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def write_set(folder, stem, contents, receipt, force):
    """Write the files under one free stem (or over the old set with force); returns the stem."""
    for _ in range(100):
        if not force:
            others = [SUFFIXES["ui"], SUFFIXES["receipt"]]
            stem = files.free_name(folder / f"{stem}{SUFFIXES['api']}", others).name[:-len(SUFFIXES["api"])]
        paths = {kind: folder / f"{stem}{SUFFIXES[kind]}" for kind in [*contents, "receipt"]}
        receipt["files"] = {kind: str(p) for kind, p in paths.items()}
        primary = paths.get("ui") if "api" not in paths else paths["api"]
        receipt["how_to_load"] = HOW_TO_LOAD.format(file=paths.get("ui", primary).name)
        try:
            for kind, obj in [*contents.items(), ("receipt", receipt)]:
                files.write_json(paths[kind], obj, overwrite=force)
            return stem
        except FileExistsError:  # someone wrote that name meanwhile: take the next one
            continue
    raise InputError(f"{folder}: could not find a free file name for {stem!r}")


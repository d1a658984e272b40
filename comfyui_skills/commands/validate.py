"""validate.py: would ComfyUI accept these workflows? Checked offline against the inventory."""

from .. import cli, conversion, inventory, workflow
from ..errors import InputError
from ..validation import validate_against

EPILOG = """\
examples:
  python scripts/validate.py workflow_api.json
  python scripts/validate.py projects/demo/workflows/*.json --json
  python scripts/validate.py wf.json --object-info object_info.json   # a raw GET /object_info dump
  python scripts/validate.py wf.json --inventory state/inventory.json

The inventory is, first found: --object-info, --inventory, state/inventory.json (take it with
`python scripts/inventory.py`), else the core-node inventory bundled with the pack (which knows
no models or input files: those checks become warnings).

An editor (UI-format) workflow is converted to API format first, as run.py does (following the
frontend the inventory's server pins, else the newest), and the result is validated; stderr
says so. Its node ids are then the API ones (`outer:inner` inside subgraphs).

verdicts (what ComfyUI's POST /prompt would answer):
  ok        accepted whole
  partial   accepted, but some output nodes are dropped for errors
  rejected  refused (HTTP 400)

--json prints one line per file:
  {"file", "verdict", "errors": [{"node_id", "class_type", "type", "input_name", "message", "hint"}],
   "warnings": [...same shape...]}
A file that cannot be read gets "verdict": null and an "error".

exit codes: 0 every file ok, 1 some file partial or rejected, 2 a file unreadable, not a
workflow or an editor workflow too broken to convert, or bad usage.
"""


def build_parser():
    p = cli.parser("validate.py", "Check API-format workflows the way ComfyUI would, and say how to fix them.",
                   EPILOG, server=False)
    p.add_argument("files", nargs="+", metavar="FILE", help="workflow JSON files (API or editor format)")
    add_inventory_options(p, "validate against")
    return p


def add_inventory_options(p, purpose):
    """--object-info / --inventory: where the commands that work offline read the node schema."""
    src = p.add_mutually_exclusive_group()
    src.add_argument("--object-info", metavar="PATH", help=f"a raw /object_info dump to {purpose}")
    src.add_argument("--inventory", metavar="PATH", help="an inventory snapshot (default: state/inventory.json)")


def chosen_inventory(args):
    return inventory.load(path=args.inventory, object_info_path=args.object_info)


def run(args):
    inv = chosen_inventory(args)
    cli.note(f"validating against {inv.source}" + (
        "; models and input files are unknown, so those checks are only warnings" if inv.bundled else ""))
    worst = 0
    for path in args.files:
        report = check_file(path, inv)
        cli.emit(args, report, _text(report))
        worst = max(worst, 2 if report["verdict"] is None else 0 if report["verdict"] == "ok" else 1)
    return worst


def check_file(path, inv):
    """The JSON-line report for one file; unreadable files get verdict None and an error."""
    try:
        wf = load_api(path, inv)
    except InputError as exc:
        err = {"node_id": None, "class_type": None, "type": exc.details.get("kind", "unreadable_file"),
               "input_name": None, "message": exc.message, "hint": exc.hint}
        return {"file": str(path), "verdict": None, "error": exc.message, "errors": [err], "warnings": []}
    result = validate_against(wf, inv)
    return {"file": str(path), **result}


def load_api(path, inv):
    """The API-format workflow in a file, an editor workflow converted as run.py would; InputError
    for anything else."""
    fmt, obj = workflow.load(path)
    if fmt != workflow.UI:
        return obj
    cli.note(f"note: {path} is an editor workflow; validating its API-format conversion")
    try:
        # unknown node types come through, so the check names them the way the server would
        return conversion.ui_to_api(obj, inv.object_info, keep_unknown=True,
                                    frontend_version=conversion.frontend_served_by(inv.record.get("system_stats")))
    except InputError as exc:
        exc.message = f"{path}: cannot convert this editor workflow: {exc.message}"
        raise


def _text(report):
    if report["verdict"] is None:
        err = report["errors"][0]
        return f"{report['file']}: cannot validate: {err['message']}" + (f"\n  hint: {err['hint']}" if err["hint"] else "")
    lines = [f"{report['file']}: {report['verdict']}"]
    for label, items in (("error", report["errors"]), ("warning", report["warnings"])):
        for item in items:
            lines.append(f"  {label}: {item['message']}")
            if item.get("hint"):
                lines.append(f"    hint: {item['hint']}")
    return "\n".join(lines)

"""validate.py: would ComfyUI accept these workflows? Checked offline against the inventory."""

from .. import cli, conversion, inventory, workflow
from ..errors import InputError
from ..schema import partner_nodes
from ..validation import validate_against

EPILOG = """\
examples:
  python scripts/validate.py workflow_api.json
  python scripts/validate.py projects/demo/workflows/*.json --json
  python scripts/validate.py wf.json --object-info object_info.json   # a raw GET /object_info dump
  python scripts/validate.py wf.json --inventory state/inventory.json
  python scripts/validate.py ComfyUI_00001_.png   # the workflow a saved image, audio or video carries

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
A file that cannot be read gets "verdict": null and an "error". A workflow read out of an image,
audio or video file adds "source": what was read, from where.

exit codes: 0 every file ok, 1 some file partial or rejected, 2 a file unreadable, not a
workflow or an editor workflow too broken to convert, or bad usage.
"""


def build_parser():
    p = cli.parser("validate.py", "Check API-format workflows the way ComfyUI would, and say how to fix them.",
                   EPILOG, server=False)
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="workflow JSON files (API or editor format), or images/audio/video ComfyUI saved")
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
        wf, source = load_api(path, inv)
    except InputError as exc:
        err = {"node_id": None, "class_type": None, "type": exc.details.get("kind", "unreadable_file"),
               "input_name": None, "message": exc.message, "hint": exc.hint}
        return {"file": str(path), "verdict": None, "error": exc.message, "errors": [err], "warnings": []}
    if source:
        cli.note(f"read {source}")
    result = validate_against(wf, inv)
    alternatives = _installed_alternatives(wf, inv) if result["verdict"] != "ok" else {}
    if alternatives:  # beside each download: what is here already (run.py FILE --use-installed)
        result["installed_alternatives"] = alternatives
    paid = partner_nodes(wf, inv.object_info)
    if paid:  # accepted like any node, but each run spends the user's Comfy credits
        result["spends_credits"] = paid
    return {"file": str(path), **({"source": source} if source else {}), **result}


def _installed_alternatives(wf, inv):
    """{missing model file: installed file of the same family and kind} (substitute.py)."""
    from .. import substitute

    if not inv.models or inv.bundled:
        return {}
    return substitute.alternatives(wf, inv.object_info, inv.models, inv.identities)


def load_api(path, inv):
    """(API-format workflow, where it came from or None) in a file; InputError for anything else.

    An editor workflow (a .json file, or embedded in an image or video) is converted as run.py and
    the frontend would before queueing it; an embedded one that does not convert falls back to the
    API prompt saved beside it."""
    loaded = workflow.read(path)
    if loaded.format != workflow.UI:
        return loaded.workflow, loaded.source
    try:
        # unknown node types come through, so the check names them the way the server would
        api = conversion.ui_to_api(loaded.workflow, inv.object_info, keep_unknown=True,
                                   frontend_version=conversion.frontend_served_by(inv.record.get("system_stats")),
                                   blueprints=inv.record.get("global_subgraphs"))
    except InputError as exc:
        if loaded.embedded is not None and loaded.also is not None:
            return loaded.also, (f"the API prompt embedded in {path}: its editor workflow does not convert "
                                 f"({exc.message})")
        exc.message = f"{path}: cannot convert this editor workflow: {exc.message}"
        raise
    if loaded.source:
        return api, f"{loaded.source}, converted to API format"
    cli.note(f"note: {path} is an editor workflow; validating its API-format conversion")
    return api, None


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
    for missing, installed in (report.get("installed_alternatives") or {}).items():
        lines.append(f"  installed alternative: {installed} (same family as {missing}); "
                     f"run it with: python scripts/run.py {report['file']} --use-installed")
    if report.get("spends_credits"):
        nodes = ", ".join(f"#{n} {c}" for n, c in sorted(report["spends_credits"].items()))
        lines.append(f"  spends credits: partner (API) nodes {nodes} call a paid service on every run "
                     "(run.py needs --allow-api)")
    return "\n".join(lines)

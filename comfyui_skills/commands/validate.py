"""validate.py: would ComfyUI accept these workflows? Checked offline against the inventory."""

from .. import cli, engine, inventory

EPILOG = """\
examples:
  python scripts/validate.py workflow_api.json
  python scripts/validate.py projects/demo/workflows/*.json --json
  python scripts/validate.py wf.json --object-info object_info.json   # a raw GET /object_info dump
  python scripts/validate.py wf.json --inventory state/inventory.json
  python scripts/validate.py wf.json --url http://127.0.0.1:8188   # what that server has now
  python scripts/validate.py ComfyUI_00001_.png   # the workflow a saved image, audio or video carries

The inventory is, first found: --object-info, --inventory, state/inventory.json (take it with
`python scripts/inventory.py`), else the core-node inventory bundled with the pack (which knows
no models or input files: those checks become warnings). --url reads it from that running
server instead, as inventory.py would, and writes nothing.

The rules follow the server's release where they changed (its version from the snapshot or the
server; a raw dump's fields show the oldest release it can be; unknown counts as 0.3.64).

An editor (UI-format) workflow is converted to API format first, as run.py does (following the
frontend the inventory's server pins, else the newest), and the result is validated; stderr
says so. Its node ids are then the API ones (`outer:inner` inside subgraphs).

verdicts (what ComfyUI's POST /prompt would answer):
  ok        accepted whole
  partial   accepted, but some output nodes are dropped for errors
  rejected  refused (HTTP 400)

--json prints one line per file:
  {"file", "inventory", "verdict", "errors": [{"node_id", "class_type", "type", "input_name", "message", "hint"}],
   "warnings": [...same shape...]}
A file that cannot be read gets "verdict": null and an "error". A workflow read out of an image,
audio or video file adds "source": what was read, from where; an editor workflow adds "note".

exit codes: 0 every file ok, 1 some file partial or rejected, 2 a file unreadable, not a
workflow or an editor workflow too broken to convert, or bad usage.
"""


def build_parser():
    p = cli.parser("validate.py", "Check API-format workflows the way ComfyUI would, and say how to fix them.",
                   EPILOG, server=False)
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="workflow JSON files (API or editor format), or images/audio/video ComfyUI saved")
    add_inventory_options(p, "validate against", live=True)
    return p


def add_inventory_options(p, purpose, live=False):
    """--object-info / --inventory: where the commands that work offline read the node schema;
    with `live`, --url: read it from a running server instead."""
    src = p.add_mutually_exclusive_group()
    src.add_argument("--object-info", metavar="PATH", help=f"a raw /object_info dump to {purpose}")
    src.add_argument("--inventory", metavar="PATH", help="an inventory snapshot (default: state/inventory.json)")
    if live:
        src.add_argument("--url", metavar="URL", help=f"{purpose} this running ComfyUI: its nodes, version, "
                         "node replacements, models and input files, read now (nothing is written)")


def chosen_inventory(args):
    if getattr(args, "url", None):
        return server_inventory(cli.client_from(args))
    return inventory.load(path=args.inventory, object_info_path=args.object_info)


def server_inventory(client):
    """What a snapshot of the server would hold, read now and kept in memory only."""
    record = inventory.take_snapshot(client)
    version = record.get("comfyui_version")
    return inventory.Inventory(record["object_info"], kind="snapshot", record=record, url=client.url,
                               source=f"the server at {client.url} (ComfyUI {version or 'version unknown'})",
                               models=record.get("models"), input_files=record.get("input_files"),
                               comfyui_version=version, taken_at=record.get("taken_at"))


def run(args):
    inv = chosen_inventory(args)
    cli.note(f"validating against {inv.source}" + (
        "; models and input files are unknown, so those checks are only warnings" if inv.bundled else ""))
    worst = 0
    reporter = cli.NoteReporter()
    for path in args.files:
        report = engine.check_file(path, inv, reporter)
        cli.emit(args, report, _text(report))
        worst = max(worst, 2 if report["verdict"] is None else 0 if report["verdict"] == "ok" else 1)
    return worst


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

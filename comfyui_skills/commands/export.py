"""export.py: check a workflow offline and write it into a project, ready to load in ComfyUI."""

from .. import cli, config, export, workflow
from .validate import add_inventory_options, chosen_inventory
from ..errors import InputError

EPILOG = """\
examples:
  python scripts/export.py portrait.json --project client-a
  python scripts/export.py portrait.json --project client-a --name final --format both
  python scripts/export.py editor_file.json --project client-a --format ui --json
  python scripts/export.py wf.json --project client-a --name final --force   # replace final.*

files written, for --name N in projects/<project>/workflows/:
  N.json           API format (--format api or both; what run.py queues)
  N.ui.json        editor format (--format ui or both; opens as a laid-out graph)
  N.receipt.json   validation verdict, errors and warnings, inventory source/hash, ComfyUI
                   version, export time, and the paths written
An existing N.* is never replaced: the next free name (N-2, N-3, ...) is used, unless --force.
N defaults to the input file's name.

The input may be API or editor format (detected). It is checked against --object-info /
--inventory, else state/inventory.json, else the core-node inventory bundled with the pack (the
output says which; with the bundled one, model and input files cannot be checked). A workflow
ComfyUI would reject is not written (exit 1) unless --allow-invalid.

To load the result: open ComfyUI, drag the .ui.json (or .json) file onto the canvas, or use
Workflow > Open.

exit codes: 0 written, 1 ComfyUI would reject it (nothing written), 2 bad input or usage.
"""


def build_parser():
    p = cli.parser("export.py", "Validate a workflow offline and write it into a project.", EPILOG, server=False)
    p.add_argument("file", metavar="FILE", help="workflow file (API or editor format); - for stdin")
    p.add_argument("--project", default=config.default_project(),
                   help="project name under projects/ (default: $COMFYUI_PROJECT)")
    p.add_argument("--name", help="file name stem (default: the input file's name)")
    p.add_argument("--format", choices=export.FORMATS, default="api", help="what to write (default: api)")
    p.add_argument("--force", action="store_true", help="replace existing files of that name")
    add_inventory_options(p, "check against")
    p.add_argument("--allow-invalid", action="store_true", help="write it even if ComfyUI would reject it")
    p.add_argument("--keep-unknown", action="store_true",
                   help="copy node types the inventory lacks through when converting")
    return p


def run(args):
    if not args.project:
        raise InputError("no project given", hint="pass --project NAME (or set COMFYUI_PROJECT)")
    inv = chosen_inventory(args)
    loaded = workflow.read(args.file)
    if loaded.source:
        cli.note(f"read {loaded.source}")
    obj = loaded.workflow
    name = args.name or (None if args.file == "-" else args.file)
    receipt = export.export_workflow(obj, args.project, name, args.format, args.force, inv,
                                     allow_invalid=args.allow_invalid, keep_unknown=args.keep_unknown)
    cli.emit(args, receipt, text(receipt))
    return 0


def text(receipt):
    inv = receipt["inventory"]
    lines = [f"wrote {path}" for kind, path in receipt["files"].items() if kind != "receipt"]
    lines.append(f"receipt: {receipt['files']['receipt']}")
    lines.append(f"validation: {receipt['verdict']} against {inv['source']} "
                 f"(ComfyUI {receipt['comfyui_version'] or 'version unknown'}, {inv['hash'][:19]}…)")
    if inv["kind"] == "bundled":
        lines.append("note: checked against the bundled core inventory; model and input files were not checked")
    for problem in receipt["errors"] + receipt["warnings"]:
        lines.append(f"  {problem['message']}")
    lines.append(f"to load it: {receipt['how_to_load']}")
    return "\n".join(lines)

"""convert.py: editor (UI) workflows to API format, exactly as the frontend exports them, and back."""

import json
from pathlib import Path

from .. import cli, conversion, files, workflow
from .validate import add_inventory_options, chosen_inventory
from ..errors import InputError

EPILOG = """\
examples:
  python scripts/convert.py my_workflow.json > my_workflow.api.json
  python scripts/convert.py templates/*.json --out-dir api/ --object-info object_info.json
  python scripts/convert.py prompt.api.json --to ui > prompt.ui.json
  python scripts/convert.py odd.json --keep-unknown     # copy nodes ComfyUI lacks through as they are
  python scripts/convert.py ComfyUI_00001_.png > wf.api.json   # the workflow a saved file carries

The input format (API or editor) is detected. Without --to, an editor workflow becomes API format
and an API workflow becomes an editor workflow. The API output equals the official frontend's
"Export (API)", `_meta.title` included. An editor file from --to ui opens in ComfyUI as a tidy
graph (drag it onto the canvas, or Workflow > Open); converting it back gives the same API JSON.

Frontend: where official frontends export differently (newer ones add the node pack's
`cnr_id`/`ver` to `_meta`, name some nodes differently, send other widgets, run nothing inside a
muted or bypassed subgraph node, turn legacy group nodes (`extra.groupNodes`) into subgraphs with
new node ids where older ones expand them as `ID:index`; each rule starts at the first release
that has it), the output follows --frontend VERSION, else the one the server of the inventory
(--inventory or state/inventory.json) pins in its system stats, else the newest recorded one. An
editor file's own extra.frontendVersion names the frontend that saved it, not the one that will
run it, so it does not decide.

Node schema: --object-info (a raw /object_info dump), --inventory (a snapshot), else
state/inventory.json, else the core-node inventory bundled with the pack.

One file without --out-dir prints to stdout; with --out-dir each result is written as
DIR/<same file name> (an existing file there is replaced only with --force); a workflow read out
of an image, audio or video file (PNG, WebP, FLAC, Ogg/Opus, MP3, MP4/MOV, WebM/MKV: its editor
workflow, else its API prompt; a note on stderr says which) is written as DIR/<stem>.<api|ui>.json.

exit codes: 0 converted, 2 a file is unreadable, not a workflow, or broken (the message names
the node), 1 some files failed while others converted.
"""


def build_parser():
    p = cli.parser("convert.py", "Convert ComfyUI workflows between editor (UI) and API format.",
                   EPILOG, server=False)
    p.add_argument("files", nargs="+", metavar="FILE", help="workflow files (API or editor format, or images/audio/video ComfyUI saved); - for stdin")
    add_inventory_options(p, "read node schemas from")
    p.add_argument("--to", choices=["api", "ui"], help="target format (default: the other one)")
    p.add_argument("--out-dir", metavar="DIR", help="write DIR/<file name> for each input")
    p.add_argument("--force", action="store_true", help="replace existing files in --out-dir")
    p.add_argument("--frontend", metavar="VERSION",
                   help="export as this official frontend version does (default: the one the inventory's server pins, "
                        f"else the newest, {conversion.NEWEST_FRONTEND})")
    p.add_argument("--keep-unknown", action="store_true",
                   help="copy nodes the schema does not know through, best effort, instead of failing")
    return p


def load_schema(args):
    """(the node schema, the frontend version to follow), loaded once for every file."""
    inv = chosen_inventory(args)
    if args.frontend:
        conversion.parse_frontend_version(args.frontend)  # a bad version fails once, before any file
    frontend = args.frontend or conversion.frontend_served_by(inv.record.get("system_stats"))
    return conversion.as_schema(inv.object_info), frontend


def convert(obj, fmt, target, schema, keep_unknown=False, frontend_version=None):
    """(target format, converted workflow) for one loaded workflow."""
    target = target or (workflow.API if fmt == workflow.UI else workflow.UI)
    if fmt == target:
        return target, obj
    if target == workflow.API:
        return target, conversion.ui_to_api(obj, schema, keep_unknown, frontend_version=frontend_version)
    return target, conversion.api_to_ui(obj, schema, keep_unknown)


def run(args):
    if len(args.files) > 1 and not args.out_dir:
        raise InputError("several files need --out-dir DIR (one file alone prints to stdout)")
    schema, frontend = load_schema(args)
    failed = 0
    for name in args.files:
        try:
            convert_one(args, name, schema, frontend)
        except InputError as exc:
            if len(args.files) == 1:
                raise
            failed += 1
            cli.note(f"error: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
    if failed:
        cli.note(f"{failed} of {len(args.files)} files not converted")
        return 1
    return 0


def convert_one(args, name, schema, frontend):
    loaded = workflow.read(name)
    fmt, obj = loaded.format, loaded.workflow
    if loaded.source:
        cli.note(f"read {loaded.source}")
    try:
        target, out = convert(obj, fmt, args.to, schema, args.keep_unknown, frontend)
    except InputError as exc:
        exc.message = f"{name}: {exc.message}"
        raise
    text = json.dumps(out, indent=2, ensure_ascii=False) + "\n"
    if not args.out_dir:
        print(text, end="")
        return
    stem = f"stdin.{target}.json" if name == "-" else Path(name).name if loaded.source is None \
        else f"{Path(name).stem}.{target}.json"  # never a JSON text under an image's name
    dest = files.safe_join(args.out_dir, "", stem)
    try:
        files.atomic_write(dest, text, overwrite=args.force)
    except FileExistsError:
        raise InputError(f"{dest} exists already", hint="use --force to replace it, or another --out-dir") from None
    if args.json:
        print(json.dumps({"file": name, "from": fmt, "to": target, "written": str(dest),
                          **({"source": loaded.source} if loaded.source else {})}), flush=True)

"""templates.py: the official templates the server serves: list, show what one needs, get it as API JSON."""

from pathlib import Path

from .. import cli, config, conversion, engine, files, generate, templates
from ..units import human_bytes

EPILOG = """\
examples:
  python scripts/templates.py list --task text-to-image --runnable
  python scripts/templates.py list --media video --search wan
  python scripts/templates.py show default
  python scripts/templates.py get default              saved as projects/default/workflows/default.json
  python scripts/templates.py get flux_dev_full_text_to_image --json

The index and template files come from the server (/templates/index.json and /templates/NAME.json),
or, with the server down, from the snapshot `inventory.py` keeps in state/templates/. `show` and
`--runnable` check node classes and model files against the server (or the inventory snapshot);
partner (API) templates spend credits and are marked so.

""" + cli.wrap("tasks: " + ", ".join(generate.TASKS)) + """

exit codes: 0 done; 1 (show) the template cannot run here; 2 bad usage or unknown name (the
nearest names are given); 3 no server and no snapshot; 4 server error; 5 server too slow.
"""


def build_parser():
    p, sub = cli.subcommands("templates.py", "List, inspect and fetch the official ComfyUI templates a server serves.", EPILOG)
    ls = cli.subcommand(sub, "list", "templates, filtered by task, media or words")
    ls.add_argument("--task", choices=list(generate.TASKS), help="only templates for this task")
    ls.add_argument("--media", choices=["image", "video", "audio", "3d"], help="only this kind of output")
    ls.add_argument("--search", metavar="WORDS", help="words in the name, title, description or tags")
    ls.add_argument("--runnable", action="store_true", help="only those this server can run now")
    ls.add_argument("--api", action="store_true", help="include partner (API) templates, which spend credits")
    show = cli.subcommand(sub, "show", "what a template makes and needs, and what this server lacks")
    show.add_argument("name")
    get = cli.subcommand(sub, "get", "a template in API format, saved under projects/<project>/workflows/")
    get.add_argument("name")
    get.add_argument("--force", action="store_true", help="replace an existing file of that name")
    return p


def run(args):
    catalog = _catalog(args)
    return {"list": cmd_list, "show": cmd_show, "get": cmd_get}[args.command](args, catalog)


def _catalog(args):
    return engine.template_catalog(cli.settings_from(args), cli.NoteReporter() if not args.json else None)


def cmd_list(args, catalog):
    out = engine.list_templates(catalog, task=args.task, media=args.media, text=args.search,
                                partner=None if args.api else False, runnable=args.runnable)
    text = "\n".join(f"{r['name']:48} {r['title']}" + ("  [API: spends credits]" if r["partner"] else "")
                     for r in out["templates"]) or "no template matches"
    cli.emit(args, out, text)
    return 0


def cmd_show(args, catalog):
    info = engine.show_template(catalog, args.name)
    lines = [f"{info['name']}: {info['title']} ({info['media']})", f"  {info['description']}" if info['description'] else ""]
    if info["spends_credits"]:
        lines.append("  uses partner (API) nodes: runs spend Comfy credits (generate.py needs --allow-api)")
    lines.append(f"  nodes: {len(info['node_classes'])} classes" +
                 (f", missing: {', '.join(n['class_type'] for n in info['missing_nodes'])}" if info["missing_nodes"]
                  else ", all installed"))
    for n in info["model_files"]:
        swap = info["swaps"].get(n["name"])
        state = "present" if n["present"] else f"-> {swap['use']} (same family)" if swap else "MISSING"
        lines.append(f"  model {n['directory']}/{n['name']}: {state}" +
                     (f"  {n['url']}" if not n["present"] and n.get("url") else ""))
    if info["size"]:
        lines.append(f"  download size {human_bytes(info['size'])}")
    lines.append("  runnable here" if info["runnable"] else "  not runnable here yet")
    cli.emit(args, info, "\n".join(x for x in lines if x))
    return 0 if info["runnable"] else 1


def cmd_get(args, catalog):
    t = templates.find(catalog.index, args.name)
    api = conversion.ui_to_api(catalog.load_template(t.name), catalog.object_info, frontend_version=catalog.frontend)
    folder = config.projects_dir() / (args.project or "default") / "workflows"
    path = folder / f"{Path(t.name).name}.json"
    if not args.force:
        path = files.free_name(path)
    files.write_json(path, api)
    cli.emit(args, {"name": t.name, "path": str(path), "nodes": len(api)},
             f"saved {path} ({len(api)} nodes)\n  run it: python scripts/run.py {path}")
    return 0

"""inventory.py: snapshot what a ComfyUI install has, show what changed, search nodes and models."""

import sys
from pathlib import Path

from .. import cli, engine, inventory
from ..errors import InputError
from ..units import human_bytes

EPILOG = """\
examples:
  python scripts/inventory.py                         snapshot the server into state/inventory.json
  python scripts/inventory.py diff                    what changed between the last two snapshots
  python scripts/inventory.py nodes "LATENT->IMAGE"   nodes taking a LATENT and giving an IMAGE
  python scripts/inventory.py nodes upscale --output IMAGE
  python scripts/inventory.py nodes "->MODEL" --json
  python scripts/inventory.py show KSampler           one node's inputs, ranges, options, outputs
  python scripts/inventory.py models                  model folders and file counts
  python scripts/inventory.py models checkpoints      one folder's files: size, family, kind, how known
  python scripts/inventory.py --object-info dump.json nodes sampler   search a raw /object_info dump
  python scripts/inventory.py check                   state/inventory.json against the inventory JSON Schema

The first word is what to do: snapshot (the default), diff [OLD], nodes [QUERY], show CLASS,
models [FOLDER], check [PATH]. The older flag spellings (--diff, --nodes QUERY, --show CLASS,
--models, --check) do the same.

--nodes QUERY: words must all appear in the class name, display name, category, python module
or an input/output type (case-insensitive). "A->B" means: has a linkable input of type A and an
output of type B; either side may be empty ("LATENT->", "->IMAGE"). --input/--output do the same.

Searches read the inventory: --object-info PATH, else --inventory PATH, else state/inventory.json,
else the core-node inventory bundled with the pack (no model lists: `models` with no snapshot
takes one when the server answers). Refresh the snapshot after installing models or custom
nodes, or updating ComfyUI.

exit codes: 0 done (also when a search finds nothing), 2 bad usage or unreadable inventory,
3 server not reachable, 4 server error. --diff exits 0 whether or not something changed.
--check exits 0 for a valid file, 1 for one that breaks the schema (the first error's path and
message, and how many more), 2 for a file that cannot be read as JSON.
"""


SUBCOMMANDS = ("snapshot", "diff", "nodes", "show", "models", "check")


class _Parser(cli.Parser):
    """Takes `inventory.py nodes QUERY` (the pack's subcommand style, as queue.py and templates.py)
    and the older `inventory.py --nodes QUERY` that skills and notes already show; and lets
    `nodes "->IMAGE"` through, where argparse would take the leading dash for a flag."""

    def parse_known_args(self, args=None, namespace=None):
        args = list(sys.argv[1:] if args is None else args)
        first = _first_word(args)
        if first is not None and args[first] in SUBCOMMANDS:
            word = args.pop(first)
            if word != "snapshot":
                args.insert(first, f"--{word}")
        for i, arg in enumerate(args[:-1]):
            if arg == "--nodes" and args[i + 1].startswith("->"):
                args[i:i + 2] = [f"--nodes={args[i + 1]}"]
                break
        return super().parse_known_args(args, namespace)


# flags whose next word is their value, never a subcommand
_VALUED = {"--url", "--project", "--api-key", "--timeout", "--input", "--output", "--limit", "--inventory",
           "--object-info"}


def _first_word(args):
    """Index of the first word that is neither a flag nor a flag's value."""
    i = 0
    while i < len(args):
        if args[i] in _VALUED:
            i += 2
        elif args[i].startswith("-"):
            i += 1
        else:
            return i
    return None


def build_parser():
    p = cli.parser("inventory.py", "Snapshot a ComfyUI install (nodes, models, embeddings, extensions, "
                                   "system stats) into state/inventory.json; diff and search it.", EPILOG)
    what = p.add_argument_group("what to do (default: take a snapshot)")
    what.add_argument("--diff", nargs="?", const="", metavar="OLD",
                      help="compare state/inventory.json with the snapshot before it (or with OLD, "
                           "an inventory or /object_info dump)")
    what.add_argument("--nodes", metavar="QUERY", nargs="?", const="", help="search node classes")
    what.add_argument("--input", metavar="TYPE", help="with --nodes: takes an input of TYPE")
    what.add_argument("--output", metavar="TYPE", help="with --nodes: gives an output of TYPE")
    what.add_argument("--show", metavar="CLASS_TYPE", help="one node class in full")
    what.add_argument("--models", metavar="FOLDER", nargs="?", const="", help="model folders, or one folder's files")
    what.add_argument("--check", metavar="PATH", nargs="?", const="",
                      help="check an inventory file (default state/inventory.json) against the JSON Schema "
                           "comfyui_skills/data/inventory.schema.json")
    what.add_argument("--limit", type=int, default=40, help="most results to print (0: all; default 40)")
    src = p.add_argument_group("inventory to read (searches, --diff)")
    src.add_argument("--inventory", metavar="PATH", help="an inventory file (default state/inventory.json)")
    src.add_argument("--object-info", metavar="PATH", help="a raw /object_info dump")
    p.__class__ = _Parser
    return p


def run(args):
    if args.check is not None:
        return run_check(args)
    if args.diff is not None:
        return run_diff(args)
    if args.nodes is not None or args.input or args.output:
        return run_nodes(args)
    if args.show:
        return run_show(args)
    if args.models is not None:
        return run_models(args)
    return run_snapshot(args)


def _load(args):
    inv = inventory.load(path=args.inventory, object_info_path=args.object_info)
    if not args.json:
        cli.note(f"from {inv.source}")
    return inv


# -- snapshot ---------------------------------------------------------------------------------------

def run_snapshot(args):
    client = cli.client_from(args)
    record = inventory.take_snapshot(client, progress=None if args.json else cli.note)
    new = inventory.from_record(record, inventory.state_path(), "new snapshot")
    old = _current_or_none()
    saved = inventory.save_snapshot(record)
    change = inventory.diff(old, new) if old else None
    info = _snapshot_summary(record, saved, change)
    info["templates"], why = inventory.save_templates(client)
    if why:
        info["errors"]["templates"] = why
    cli.emit(args, info, _snapshot_text(info))
    return 0


def _current_or_none():
    path = inventory.state_path()
    if not path.is_file():
        return None
    try:
        return inventory.load_file(path)
    except InputError as exc:
        cli.note(f"note: the previous snapshot does not load, so it is replaced without a diff ({exc.message})")
        return None


def _snapshot_summary(record, saved, change):
    models = record.get("models") or {}
    info = {"path": str(saved["path"]), "previous": str(saved["previous"]) if saved["previous"] else None,
            "url": record["url"], "taken_at": record["taken_at"], "comfyui_version": record["comfyui_version"],
            "nodes": record["node_count"], "hash": record["hash"],
            "models": {f: len(v) for f, v in models.items()},
            "embeddings": len(record.get("embeddings") or []), "extensions": len(record.get("extensions") or []),
            "input_files": len(record.get("input_files") or []), "errors": record.get("errors") or {},
            # None where the server has no such route (0.3.64)
            "node_replacements": _count(record.get("node_replacements")),
            "blueprints": _names(record.get("global_subgraphs"))}
    info["changes"] = _counts(change) if change else None
    return info


def _count(mapping):
    return sum(len(v) if isinstance(v, list) else 1 for v in mapping.values()) if isinstance(mapping, dict) else None


def _names(blueprints):
    if not isinstance(blueprints, dict):
        return None
    return sorted(str(e.get("name") or k) for k, e in blueprints.items() if isinstance(e, dict))


def _snapshot_text(info):
    files = sum(info["models"].values())
    lines = [f"snapshot: {info['nodes']} nodes, {files} model files in {len(info['models'])} folders, "
             f"{info['embeddings']} embeddings, {info['templates']} templates, "
             f"ComfyUI {info['comfyui_version'] or '?'} "
             f"from {info['url']} -> {info['path']}"]
    if info["node_replacements"] is not None:
        lines.append(f"node replacements: {info['node_replacements']} (the server applies them before checking "
                     "a prompt; validate.py does too)")
    if info["blueprints"] is not None:
        shown = ", ".join(info["blueprints"][:8]) + (" ..." if len(info["blueprints"]) > 8 else "")
        lines.append(f"subgraph blueprints: {len(info['blueprints'])}" + (f": {shown}" if shown else ""))
    for route, why in info["errors"].items():
        lines.append(f"missing: {route}: {why}")
    if info["changes"] is not None:
        lines.append("changes since the previous snapshot: " + (_counts_text(info["changes"]) or "none")
                     + (" (details: python scripts/inventory.py --diff)" if _counts_text(info["changes"]) else ""))
    return "\n".join(lines)


def _counts(change):
    return {"version": change["version"], "nodes_added": len(change["nodes_added"]),
            "nodes_removed": len(change["nodes_removed"]), "inputs_changed": len(change["inputs_changed"]),
            "outputs_changed": len(change["outputs_changed"]),
            "models_added": sum(map(len, change["models_added"].values())),
            "models_removed": sum(map(len, change["models_removed"].values())),
            "input_files_added": len(change["input_files_added"]),
            "input_files_removed": len(change["input_files_removed"])}


def _counts_text(counts):
    words = [f"{counts[k]} {k.replace('_', ' ')}" for k in counts if k != "version" and counts[k]]
    if counts["version"]:
        words.insert(0, f"ComfyUI {counts['version']['from']} -> {counts['version']['to']}")
    return ", ".join(words)


# -- check ----------------------------------------------------------------------------------------

def run_check(args):
    path = Path(args.check) if args.check else inventory.state_path()
    data = inventory.read_file(path)
    errors = inventory.schema_errors(data)
    out = {"path": str(path), "valid": not errors, "errors": errors}
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more; --json lists them all)" if len(errors) > 1 else ""
        text = f"{path}: not valid: {first['path']}: {first['message']}{more}"
        if not inventory.is_record(data) and inventory.is_object_info(data):
            text += " (it is a raw /object_info dump, not an inventory file)"
    else:
        text = f"{path}: valid"
    cli.emit(args, out, text)
    return 1 if errors else 0


# -- diff -------------------------------------------------------------------------------------------

def run_diff(args):
    new = inventory.load(path=args.inventory, object_info_path=args.object_info)
    old_path = Path(args.diff) if args.diff else inventory.prev_path()
    if not args.diff and not old_path.is_file():
        raise InputError(f"no previous snapshot to compare with ({old_path} does not exist)",
                         hint="take a snapshot now and another after the change: python scripts/inventory.py; "
                              "or name one: --diff OLD")
    old = inventory.load_file(old_path)
    change = inventory.diff(old, new)
    change["workflows"] = inventory.broken_workflows(old, new)
    cli.emit(args, change, _diff_text(change, args.limit))
    return 0


def _diff_text(change, limit):
    lines = [f"from {change['from']['source']}", f"  to {change['to']['source']}"]
    if not change["changed"]:
        lines.append("no changes")
    if change["version"]:
        lines.append(f"ComfyUI {change['version']['from']} -> {change['version']['to']}")
    for key, sign in (("nodes_added", "+ node"), ("nodes_removed", "- node")):
        lines += _capped([f"{sign} {n}" for n in change[key]], limit)
    lines += _capped([f"~ {c['class_type']}.{c['input']}: {c['change']} {_short(c['from'])} -> {_short(c['to'])}"
                      for c in change["inputs_changed"]], limit)
    lines += [f"~ {c['class_type']} outputs {c['from']} -> {c['to']}" for c in change["outputs_changed"]]
    for key, sign in (("models_added", "+ model"), ("models_removed", "- model")):
        lines += _capped([f"{sign} {folder}/{name}" for folder, names in change[key].items() for name in names], limit)
    lines += [f"+ input file {n}" for n in change["input_files_added"]]
    lines += [f"- input file {n}" for n in change["input_files_removed"]]
    if change["workflows"]:
        for w in change["workflows"]:
            first = w["errors"][0] if w["errors"] else {}
            why = first.get("message") if isinstance(first, dict) else first
            lines.append(f"! {w['file']} no longer validates ({w['verdict']}): {why}")
    return "\n".join(lines)


def _short(value):
    text = "-" if value is None else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _capped(lines, limit):
    if limit and len(lines) > limit:
        return lines[:limit] + [f"  ... {len(lines) - limit} more (--limit 0 shows all, --json gives everything)"]
    return lines


# -- searches ---------------------------------------------------------------------------------------

def run_nodes(args):
    out = engine.search_nodes(_load(args), args.nodes or "", args.input, args.output)
    out["query"] = args.nodes
    nodes = out["nodes"]
    shown = nodes[:args.limit] if args.limit else nodes
    lines = [_node_line(n) for n in shown]
    if len(shown) < len(nodes):
        lines.append(f"... {len(nodes) - len(shown)} more (--limit 0 shows all)")
    if not nodes:
        lines.append("no node matches")
    cli.emit(args, out, "\n".join(lines))
    return 0


def _node_line(n):
    ins = ", ".join(i.get("accepts", i["type"]) or "?" for i in n["inputs"]
                    if i["section"] != "hidden" and i.get("accepts", i["type"]) not in _WIDGETS)
    outs = ", ".join(o["type"] for o in n["outputs"])
    flags = "".join(f" [{f}]" for f in ("deprecated", "experimental") if n[f])
    label = n["class_type"] if n["display_name"] == n["class_type"] else f"{n['class_type']} ({n['display_name']})"
    return f"{label}  {n['category']}  {ins or '-'} -> {outs or '-'}{flags}"


_WIDGETS = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


def run_show(args):
    info = engine.show_node(_load(args), args.show)
    cli.emit(args, info, _show_text(info))
    return 0


def _show_text(n):
    lines = [f"{n['class_type']} ({n['display_name']})  category {n['category']}  module {n['python_module']}"]
    for i in n["inputs"]:
        extra = [f"{k}={i[k]}" for k in ("default", "min", "max", "step") if k in i]
        if "options" in i:
            opts = i["options"]
            extra.append(f"options ({len(opts)}): " + ", ".join(map(str, opts[:12])) + (" ..." if len(opts) > 12 else ""))
        if "match_type" in i:
            extra.append(f"match type {i['match_type']['template']} ({i['match_type']['types']})")
        if "grows" in i:
            names = i["grows"]["names"]
            extra.append(f"grows {names[0]} ... {names[-1]} ({len(names)} at most, {i['grows']['required']} required)"
                         if names else "grows (no slots)")
        lines.append(f"  in  {i['section']:<8} {i['name']}: {i['type']}  {'  '.join(extra)}".rstrip())
        for key, subs in (i.get("option_inputs") or {}).items():
            brought = ", ".join(f"{s['name']}: {s['type']}" for s in subs) or "nothing"
            lines.append(f"        when {key!r}: {brought}")
    for o in n["outputs"]:
        lines.append(f"  out {o['name']}: {o['type']}" + (" (list)" if o["is_list"] else "")
                     + (f"  match type {o['match_type']}" if "match_type" in o else ""))
    if n["output_node"]:
        lines.append("  output node")
    return "\n".join(lines)


def run_models(args):
    folder = args.models or None
    out = engine.list_models(cli.settings_from(args), _load(args), folder,
                             may_snapshot=not (args.inventory or args.object_info),
                             reporter=None if args.json else cli.NoteReporter())
    cli.emit(args, out, _models_text(out["folders"], folder, args.limit))
    return 0


def _models_text(listing, folder, limit):
    if not folder:
        lines = [f"{f}: {len(files)} files" + _total(files) for f, files in listing.items() if files]
        empty = [f for f, files in listing.items() if not files]
        return "\n".join(lines + ([f"empty: {', '.join(empty)}"] if empty else []))
    files = listing[folder]
    lines = [_file_line(e) for e in files]
    return "\n".join(_capped(lines, limit)) if files else f"{folder}: no files"


def _file_line(e):
    """name  size  family/variant kind (how, confidence)  PROBLEM"""
    line = f"{e['name']}  {human_bytes(e['size']) if e['size'] is not None else ''}".rstrip()
    if e.get("family"):
        fam = e["family"] + (f"/{e['variant']}" if e.get("variant") else "")
        line += f"  {fam} {e.get('kind')} (by {e.get('how')}, {e.get('confidence')})"
    if e.get("problem"):
        line += f"  NOT USABLE: {e['problem']}"
    return line


def _total(files):
    sizes = [e["size"] for e in files if e["size"] is not None]
    return f", {human_bytes(sum(sizes))}" if sizes else ""

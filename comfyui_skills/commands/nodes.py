"""nodes.py: which custom node packs a workflow needs, and installing one through ComfyUI-Manager."""

from .. import cli, engine, inventory, nodepacks, workflow
from ..errors import TransportError

EPILOG = """\
examples:
  python scripts/nodes.py need my_workflow.json        # classes the server lacks, and the packs that have them
  python scripts/nodes.py install comfyui-videohelpersuite
  python scripts/nodes.py install https://github.com/city96/ComfyUI-GGUF --json

need reads the workflow (API or editor format) against the server's /object_info (the last
inventory snapshot when no server answers) and names each missing class's pack: from
ComfyUI-Manager's node map when the server has the Manager, else from the few packs the pack
knows by name. install queues the pack with the Manager, starts its queue and follows it;
ComfyUI loads a new pack only when it restarts. Without the Manager it prints the comfy-cli and
git lines to run where the server lives.

exit codes: 0 nothing missing / installed (restart needed); 1 classes missing, or the install
failed or could not be done over HTTP; 2 bad usage; 3 server unreachable; 4 server error.
"""


def build_parser():
    p, sub = cli.subcommands("nodes.py", "Custom node packs: what a workflow needs, and installing one.", EPILOG)
    n = cli.subcommand(sub, "need", "node classes a workflow uses that the server lacks, with their packs")
    n.add_argument("file", metavar="FILE")
    i = cli.subcommand(sub, "install", "install a node pack through the server's ComfyUI-Manager")
    i.add_argument("pack", metavar="PACK", help="the Manager's id, title or repository URL of the pack")
    return p


def run(args):
    return COMMANDS[args.command](args)


def cmd_need(args):
    _, wf = workflow.load(args.file)
    client = cli.client_from(args)
    try:
        object_info, where = client.object_info(), client.url
    except TransportError:
        inv = inventory.load()
        object_info, where, client = inv.object_info, inv.source, None
    missing = nodepacks.missing_classes(wf, object_info)
    found = nodepacks.providers(missing, client)
    packs = {}
    for cls, pack in found.items():
        if pack:
            packs[pack.id] = pack
    result = {"file": args.file, "checked_against": where, "missing": missing,
              "packs": [dict(p.as_dict(), install=nodepacks.shell_lines(p.id, {"repository": p.repository}))
                        for p in packs.values()],
              "unknown": [c for c, p in found.items() if p is None]}
    if not missing:
        text = f"{args.file}: the server has every node class it uses"
    else:
        lines = [f"{args.file}: {len(missing)} node class(es) missing on {where}"]
        for p in packs.values():
            lines.append(f"  {p.id} ({p.repository or 'repository unknown'}; from the {p.source} list): "
                         f"{', '.join(p.classes)}")
        if result["unknown"]:
            lines.append(f"  no known pack: {', '.join(result['unknown'])} (ComfyUI-Manager's "
                         "Install Missing Custom Nodes may know)")
        text = "\n".join(lines)
    cli.emit(args, result, text)
    return 1 if missing else 0


def cmd_install(args):
    done = engine.install_nodes(cli.settings_from(args), args.pack, reporter=None if args.json else _Notes())
    if not done.get("installed", True):
        cli.emit(args, done, done["note"] + ":\n" + "\n".join(f"  {line}" for line in done["commands"]))
        return 1
    cli.emit(args, done, f"installed {done['pack']}; {done['restart']}")
    return 0


class _Notes:
    def note(self, text):
        cli.note(text)


COMMANDS = {"need": cmd_need, "install": cmd_install}

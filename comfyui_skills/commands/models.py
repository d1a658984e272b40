"""models.py: what a workflow needs that the server lacks (`need`), and getting it (`download`)."""

import threading
from urllib.parse import urlsplit

from .. import cli, downloads, engine, inventory, models, placement
from ..errors import InputError, TransportError
from ..progress import Progress
from . import validate as validate_cmd

EPILOG = """\
examples:
  python scripts/models.py need my_workflow.json          # model files and node packs the server lacks
  python scripts/models.py need --template flux_schnell   # the same for an official template
  python scripts/models.py need my_workflow.json --download   # fetch every file it lacks, then check it again
  python scripts/models.py need --template default --download --path /data/models/checkpoints
  python scripts/models.py download https://huggingface.co/org/repo/resolve/main/x.safetensors --folder loras
  python scripts/models.py download v1-5-pruned-emaonly-fp16.safetensors    # a file references/models.md lists
  python scripts/models.py download URL --folder checkpoints --sha256 HEX --workflow my_api.json
  python scripts/models.py download URL --folder vae --path /data/models/vae   # one of several folders
  python scripts/models.py guide pony                     # how to prompt a family (or: guide FILE)

Where it goes: straight into the server's own folder when that folder is on this machine (the
server's /experiment/models lists its paths, extra_model_paths.yaml roots included; --path picks
one when there are several); else through ComfyUI-Manager's model queue when the server has the
Manager and the file is in its list; else the exact curl / hf / wget commands to run where the
server lives. With no server reachable, --path is used as given.

A download resumes from its .part file when run again; the file gets its name only when whole
and, with --sha256, only when it matches. An existing file is never overwritten. HF_TOKEN is
sent only to huggingface.co, CIVITAI_API_TOKEN only to civitai.com (https, never across a
redirect to another host).

need --download gets every missing file whose link is known, each the way download does, then
refreshes the inventory and says whether the workflow now runs (models.py need --help).

exit codes (download): 0 the file is in place; 1 the download failed or was refused (hash, HTML
page, full or read-only disk) or only commands were printed; 2 bad usage or an existing file;
3 a host was unreachable; 4 server error; 130 Ctrl-C (the .part file stays for a resume).
exit codes (need): see models.py need --help.
"""


NEED_EPILOG = """\
examples:
  python scripts/models.py need my_workflow.json
  python scripts/models.py need my_workflow.json --download
  python scripts/models.py need --template default --download --json

--download fetches each missing file whose link is known (the workflow's properties.models, else
references/models.md) into the server's folder (or through its ComfyUI-Manager, else prints the
commands to run where it lives), checks hashes where known, refreshes the inventory snapshot and
checks the workflow again. --json adds "downloads": [{name, folder, how: downloaded | manager |
commands | failed | no_source, path, bytes, sha256, error, todo, rename}], "check" (validate.py's
verdict, errors, warnings), "inventory" and "runnable" (nothing missing and the check says ok).

exit codes: 0 nothing missing (with --download: and the check says ok); 1 something still missing,
a download failed or only commands were printed; 2 bad usage; 3 server unreachable with
--download; 130 Ctrl-C (a .part file stays, and the next run resumes it).
"""


def build_parser():
    p, sub = cli.subcommands("models.py", "Get model files into the server's model folders.", EPILOG)
    d = cli.subcommand(sub, "download", "fetch a model file (URL, or a file name the pack knows) into a folder")
    d.add_argument("source", metavar="URL|NAME")
    d.add_argument("--folder", help="model folder (checkpoints, loras, vae, ...); known files bring their own")
    d.add_argument("--name", help="file name to save as (default: from the server or the URL)")
    d.add_argument("--sha256", metavar="HEX", help="expected sha256: a mismatch keeps nothing")
    d.add_argument("--path", metavar="DIR", help="which of the server's folders to write to (when several)")
    d.add_argument("--workflow", metavar="FILE", help="afterwards, say whether this API workflow can run")
    d.add_argument("--quiet", action="store_true", help="no progress on stderr")
    n = cli.subcommand(sub, "need", "model files and custom nodes a workflow or template needs that the server lacks",
                       NEED_EPILOG)
    n.add_argument("file", nargs="?", metavar="FILE", help="a workflow (JSON, or an image/video ComfyUI saved)")
    n.add_argument("--template", metavar="NAME", help="an official template instead of a file")
    n.add_argument("--download", action="store_true",
                   help="fetch every missing model file whose source is known, then check the workflow again")
    n.add_argument("--path", metavar="DIR", action="append",
                   help="with --download: which folder to write to where the server reads one from several "
                        "(repeat for several model folders)")
    n.add_argument("--quiet", action="store_true", help="no progress on stderr")
    g = cli.subcommand(sub, "guide", "how to prompt a family: prompt style, size, sampler, steps, cfg, sources")
    g.add_argument("what", metavar="FAMILY|FILE", help="a family id (sdxl, pony, flux1...) or a model file name")
    return p


def run(args):
    return COMMANDS[args.command](args)


def cmd_guide(args):
    """The prompting guide of a family, or of an installed file's family (the snapshot's identity
    of it when there is one: its header; else its name)."""
    from ..recipes import guide

    try:
        ids = inventory.load().identities
    except InputError:
        ids = None
    found = guide.guide(args.what, ids)
    cli.emit(args, found, guide.text(found))
    return 0


def cmd_download(args):
    url, folder = _source(args)
    reporter = Progress(enabled=not args.quiet)
    stop = threading.Event()
    client = cli.client_from(args)
    try:
        try:
            placed = placement.place(client, url, folder, name=args.name, sha256=args.sha256, path=args.path,
                                     reporter=reporter, cancel=stop)
        except TransportError:
            if not args.path:
                raise
            # no server to ask: the folder given is where it goes
            got = downloads.download(url, args.path, name=args.name, sha256=args.sha256, reporter=reporter,
                                     cancel=stop)
            placed = placement.Placed("downloaded", folder, got.path.name, str(got.path), got,
                                      note="no server answered: saved where --path says")
            client = None
    except KeyboardInterrupt:
        stop.set()
        raise
    finally:
        reporter.done()
    result = placed.as_dict()
    lines = []
    if placed.how == "downloaded":
        d = placed.downloaded
        lines.append(f"saved {placed.path} ({d.bytes} bytes, sha256 {d.sha256})"
                     + (f"; {d.resumed_from} bytes were already there" if d.resumed_from else ""))
    elif placed.how == "manager":
        lines.append(f"ComfyUI-Manager installed {placed.name} into the server's {folder} folder")
    else:
        lines.append(placed.note)
        lines += [f"  {c}" for c in placed.commands]
    if placed.how != "commands" and client is not None:
        result["inventory"], result["workflow"] = _refresh(client, args.workflow)
        if result["workflow"]:
            lines.append(validate_cmd._text(result["workflow"]))
    elif args.workflow:
        result["workflow"] = None
    if placed.note and placed.how != "commands":
        lines.append(placed.note)
    cli.emit(args, result, "\n".join(lines))
    return 1 if placed.how == "commands" else 0


def _source(args):
    found = placement.source(args.source, args.folder, args.name, args.sha256)
    args.name, args.sha256 = found.name, found.sha256
    return found.url, found.folder


def _refresh(client, workflow_path):
    """A fresh inventory snapshot (the new file in its lists), and the workflow's verdict against it."""
    saved = inventory.save_snapshot(inventory.take_snapshot(client))
    report = engine.check_file(workflow_path, inventory.load(), cli.NoteReporter()) if workflow_path else None
    return {"saved": str(saved["path"])}, report


def cmd_need(args):
    if (args.file is None) == (args.template is None):
        raise InputError("give a workflow FILE or --template NAME (one of the two)")
    stop = threading.Event()
    try:
        got = engine.needs(cli.settings_from(args), workflow_path=args.file, template=args.template,
                           download=args.download, paths=args.path or (), reporter_for=_file_progress(args),
                           cancel=stop, reporter=cli.NoteReporter())
    except KeyboardInterrupt:
        stop.set()
        raise
    text = (_download_text(got.name, got.outcome, args.url) if got.outcome else
            _need_text(got.name, got.found, args.url))
    cli.emit(args, got.as_dict(), text)
    return 0 if got.runnable else 1


def _file_progress(args):
    """One progress display per file on stderr, after a line saying which file it is."""
    def reporter_for(need, k, total):
        if need.url and need.folder:
            cli.note(f"[{k}/{total}] {need.folder}/{need.name}" + (f" ({need.size})" if need.size else "") +
                     f" from {urlsplit(need.url).hostname}")
        return Progress(enabled=not args.quiet)
    return reporter_for


def _need_text(name, found, url=None):
    from ..nextsteps import render

    lines = [f"{name}: " + ("has everything it needs here" if found.runnable else
                            f"{len(found.missing)} thing(s) missing here")]
    for m in found.models:
        if m.present:
            lines.append(f"  have   {m.folder}/{m.name}" + (f"  (set it to {m.use!r}: the server lists it so)"
                                                          if m.use else ""))
        else:
            lines.append(f"  NEED   {m.folder or '?'}/{m.name}" + (f"  {m.size}" if m.size else "") +
                         (f"\n         $ {render(m.fetch, url)}" if m.fetch else f"\n         no known source: {m.url or 'search for it'}"))
            if m.alternative:
                lines.append(f"         or use the installed {m.alternative} (same family): run.py FILE --use-installed")
    for n in found.nodes:
        lines.append(f"  NEED   node {n.name}" + (f" (pack {n.pack})" if n.pack else "") +
                     (f"\n         $ {render(n.fetch, url)}" if n.fetch else ""))
    if found.partner_nodes:
        lines.append(f"  partner (API) nodes spend credits: {', '.join(found.partner_nodes)}")
    return "\n".join(lines)


def _download_text(name, outcome, url=None):
    from ..nextsteps import render

    fetched = outcome.fetched
    lines = [f"{name}: " + (f"{len(fetched)} model file(s) to fetch" if fetched else "no model file to fetch")]
    for f in fetched:
        where = f"{f.need.folder or '?'}/{f.need.name}"
        if f.how == "downloaded":
            d = f.placed.downloaded
            lines.append(f"  got      {where} -> {f.placed.path} ({d.bytes} bytes, sha256 {d.sha256})"
                         + (f"; {d.resumed_from} bytes were already there" if d.resumed_from else ""))
        elif f.how == "manager":
            lines.append(f"  got      {where}: {f.placed.note}")
        elif f.how == "commands":
            lines.append(f"  ELSEWHERE {where}: {f.placed.note}")
            lines += [f"           $ {c}" for c in f.placed.commands]
        elif f.how == "failed":
            err = f.error
            lines.append(f"  FAILED   {where}: {err['message']}" + (f" ({err['hint']})" if err.get("hint") else ""))
            lines.append(f"           $ {render(f.todo, url)}")
        else:
            lines.append(f"  NO SOURCE {where}: no link in the workflow nor in {models.REFERENCE}; find its "
                         "download address (where the workflow came from, huggingface.co, civitai.com), then")
            lines.append(f"           $ {render(f.todo, url)}")
        if f.rename:
            lines.append(f"           then set it to {f.rename!r} in node(s) {', '.join(f.need.nodes)}")
    for n in outcome.after.nodes:
        lines.append(f"  NEED     node {n.name}" + (f" (pack {n.pack})" if n.pack else "") +
                     (f"\n           $ {render(n.fetch, url)}" if n.fetch else ""))
    for m in outcome.after.models:
        if m.present and m.use:
            lines.append(f"  have     {m.folder}/{m.name}: set it to {m.use!r} (the server lists it so)")
    check = outcome.check or {}
    if outcome.runnable:
        lines.append(f"runnable now: the server has everything {name} needs, and the check says ok")
    else:
        still = len(outcome.after.missing)
        lines.append("not runnable yet: " + (f"{still} thing(s) still missing" if still else "nothing is missing")
                     + (f"; the check says {check.get('verdict')}" if check else ""))
        for e in (check.get("errors") or [])[:8]:
            lines.append(f"  error: {e.get('message')}")
    return "\n".join(lines)


COMMANDS = {"download": cmd_download, "need": cmd_need, "guide": cmd_guide}

"""run.py: validate, queue, wait (WebSocket, else polling), download every output; offline fallback."""

from .. import cli, edits, engine, nextsteps, pipeline, references
from ..errors import InputError
from ..progress import Progress

EPILOG = """\
examples:
  python scripts/run.py projects/examples/workflows/solid-color.json
  python scripts/run.py wf.json --set 3.seed=42 --set 'Positive.text=a red fox'
  python scripts/run.py wf.json --prompt "a red fox" --seed 7 --size 768x512   # slots found from the graph
  python scripts/run.py wf.json --show-slots                                    # what those flags would set
  python scripts/run.py wf.json --sweep 3.cfg=4,6,8 --sweep 3.steps=10,20   # 6 prompts
  python scripts/run.py wf.json --seeds 4 --json
  python scripts/run.py --again PROMPT_ID --seeds 3     # an earlier run once more, with changes
  python scripts/run.py --again projects/default/outputs/ComfyUI_00001_.png   # remake an output file
  python scripts/run.py wf.json --lora my_style:0.7 --image last --region top-third
  python scripts/run.py wf.json --no-wait            # prints the prompt id at once
  python scripts/queue.py wait PROMPT_ID             # ...and collects it later, from any process
  python scripts/run.py wf.json --out /tmp/renders --previews
  python scripts/run.py wf.json --use-installed      # missing models -> installed ones of the same family

outputs land in projects/<project>/outputs/ (project "default" unless --project), server
subfolders kept, never over an existing file. Ctrl-C interrupts our own prompt (or removes it from
the queue) and exits 130. When no server answers, the workflow is validated against the inventory
and exported instead ("status": "offline", exit 0; --online-only makes that exit 3).

exit codes: 0 success (or offline export); 1 rejected, failed, interrupted, lost, or still running
when --max-wait ran out; 2 bad input;
3 no server (with --online-only), or it stopped answering mid-wait for longer than 120 s;
4 the server answered with an error; 5 the server took a call but gave no answer within --timeout
(busy or stuck: never exported offline); 130 Ctrl-C.
"""


def build_parser():
    p = cli.parser("run.py", "Run a workflow on ComfyUI and download its outputs.", EPILOG)
    cli.add_api_flag(p)
    p.add_argument("file", nargs="?", help="workflow JSON (API format; an editor workflow is converted first)")
    p.add_argument("--again", metavar="PROMPT_ID",
                   help="instead of a file: the workflow an earlier run queued (or was refused), as it was; "
                        "or an output FILE: the run that made it")
    p.add_argument("--set", action="append", default=[], metavar="NODE.INPUT=VALUE",
                   help="change an input; NODE is an id or a title (repeatable)")
    p.add_argument("--sweep", action="append", default=[], metavar="NODE.INPUT=a,b,c",
                   help="queue one prompt per value; several --sweep combine (cartesian)")
    p.add_argument("--seeds", type=cli.positive_int, metavar="N", help="queue N prompts with random seeds")
    s = p.add_argument_group("slots (found from the graph, whatever the titles: see --show-slots)")
    s.add_argument("--prompt", metavar="TEXT", help="the positive prompt")
    s.add_argument("--negative", metavar="TEXT", help="the negative prompt")
    s.add_argument("--seed", type=int, help="the noise seed")
    s.add_argument("--size", metavar="WxH", help="width x height of the empty latent or media")
    s.add_argument("--length", type=cli.positive_int, help="frames, for video")
    s.add_argument("--batch", type=cli.positive_int, help="how many images in one prompt")
    s.add_argument("--steps", type=cli.positive_int, help="sampler steps")
    s.add_argument("--cfg", type=float, help="guidance scale")
    s.add_argument("--denoise", type=float, help="how much of an input image to change (0-1)")
    s.add_argument("--image", action="append", metavar="PATH",
                   help="input image/video/audio (repeatable, in node order): a path, last, last:N, PROMPT_ID:N")
    s.add_argument("--prefix", metavar="TEXT", help="output file name prefix")
    s.add_argument("--show-slots", action="store_true", help="print the slots found and exit (nothing is sent)")
    p.add_argument("--out", help="download folder (default: projects/<project>/outputs)")
    p.add_argument("--previews", action="store_true", help="also download temp previews (PreviewImage)")
    p.add_argument("--no-validate", action="store_true", help="send without checking first")
    p.add_argument("--no-wait", action="store_true", help="print the prompt id(s) and return at once")
    p.add_argument("--max-wait", type=cli.positive_float, metavar="SECONDS",
                   help="stop waiting after this long (the prompt keeps running; resume with queue.py wait)")
    p.add_argument("--poll", action="store_true", help="do not use the WebSocket; poll /history")
    p.add_argument("--online-only", action="store_true", help="exit 3 instead of exporting when no server answers")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--allow-api", action="store_true",
                   help="run partner (API) nodes, which spend Comfy credits (refused otherwise)")
    p.add_argument("--use-installed", action="store_true",
                   help="swap each missing model for an installed file of the same family and kind; leave a "
                        "missing LoRA out; say each change")
    cli.add_edit_flags(p)
    return p


def slot_values(args):
    """The slot flags, as engine.run takes them (None: not given)."""
    return {"images": args.image, **{k: getattr(args, k) for k in (
        "prompt", "negative", "seed", "size", "length", "batch", "steps", "cfg", "denoise", "prefix")}}


def run(args):
    if args.show_slots:
        return show_slots(args)
    if (args.file is None) == (args.again is None):
        raise InputError("give a workflow file or --again PROMPT_ID (one of the two)",
                         hint="see python scripts/run.py --help")
    reporter = Progress(enabled=not args.quiet and not args.no_wait)
    if args.image:
        args.image = [references.resolve(i, "image", args.project).path for i in args.image]
    result = engine.run(
        cli.settings_from(args), workflow_path=args.file, again=args.again, sets=args.set, sweeps=args.sweep,
        seeds=args.seeds, slots=slot_values(args), out=args.out, previews=args.previews,
        check=not args.no_validate, wait=not args.no_wait, max_wait=args.max_wait, websocket=not args.poll,
        online_only=args.online_only, allow_api=args.allow_api, use_installed=args.use_installed,
        edits=edits.from_args(args, args.image[0] if args.image else None, reporter, args.project),
        reporter=reporter)
    return show(args, result)


def show_slots(args):
    from ..slots import describe

    found, source = pipeline.find_slots_in(args.file)
    cli.emit(args, {"file": args.file, "inventory": source, "slots": found.as_dict()},
             "\n".join(describe(found)))
    return 0


def show(args, result, data=None):
    """Print a RunResult as run.py and queue.py do: short text, or the JSON (`data`, else the
    result's own) with --json."""
    data = data if data is not None else result.as_dict()
    if result.offline is not None:
        off = result.offline
        cli.emit(args, data, f"offline: exported {off['path']}\n  to run it: {off['load']}")
        return 0
    if result.queued_only:
        ids = "\n".join(r["prompt_id"] for r in result.runs)
        cli.emit(args, data, ids)
        return 0
    for r in result.runs:
        explain(args, r)
    text = "\n".join(text_of(r) for r in result.runs)
    if len(result.runs) > 1:
        counts = result.counts()
        text += f"\n{len(result.runs)} prompts: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + \
                f"; {sum(len(r['outputs']) for r in result.runs)} outputs in {result.folder}"
    if result.contact_sheet:
        text += f"\ncontact sheet: {result.contact_sheet}"
    cli.emit(args, data, text)
    return result.exit_code


def explain(args, r):
    """The failure, on stderr, in words."""
    pid = r["prompt_id"]
    if r["status"] == "error" and "exception_type" in r.get("error", {}):
        e = r["error"]
        who = f"#{e['node_id']} {e['class_type']}" + (f" '{e['title']}'" if e.get("title") else "")
        cli.note(f"error: prompt {pid} failed at node {who}: {e['exception_type']}: {e['exception_message']}\n"
                 f"  explain it with: {nextsteps.render(e['diagnose'], args.url)}")
    elif r["status"] == "interrupted":
        at = r.get("interrupted_at") or {}
        cli.note(f"prompt {pid} was interrupted" + (f" at node #{at.get('node_id')} {at.get('class_type')}"
                                                     if at.get("node_id") else ""))
    elif r["status"] == "lost":
        cli.note(f"error: {r['error']['message']}")
    elif r["status"] in ("queued", "running"):
        cli.note(f"prompt {pid} is still {r['status']} (stopped waiting after --max-wait); "
                 f"resume with: {nextsteps.render(r['resume'], args.url)}")


def text_of(r):
    head = f"{r['status']}: prompt {r['prompt_id']}"
    if r.get("values"):
        head += f" ({pipeline.values_text(r['values'])})"
    if r["status"] in ("success", "error", "interrupted"):
        head += f" in {r['elapsed_s']:.2f} s"
    lines = [head]
    for o in r["outputs"]:
        if o["kind"] == "text":
            lines.append(f"  text #{o['node']} {o['class_type']}: {o['text'][:200]}  -> {o['path']}")
        else:
            cache = ", cached" if o.get("from_cache") else ""
            lines.append(f"  {o['path']}  ({o['bytes']} B, {o['kind']}, #{o['node']} {o['class_type']}{cache})")
    return "\n".join(lines)

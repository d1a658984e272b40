"""queue.py: see and steer the server's queue; pick up a run from any process (wait, outputs)."""

import time

from .. import cli, engine, outputs, pipeline, runs
from ..errors import CheckFailed
from ..progress import Progress
from . import run as run_cmd

EPILOG = """\
examples:
  python scripts/queue.py list
  python scripts/queue.py wait 3f2a...        # wait for a prompt queued earlier (run.py --no-wait)
  python scripts/queue.py outputs 3f2a... --out /tmp/renders
  python scripts/queue.py cancel 3f2a... 9b1c...   # pending ones removed, a running one interrupted
  python scripts/queue.py interrupt 3f2a...   # only if that prompt is the one running
  python scripts/queue.py interrupt           # whatever is running now
  python scripts/queue.py history --max 5 --json
  python scripts/queue.py clear               # remove every pending prompt (the running one stays)
  python scripts/queue.py free                # unload models and free memory

wait and outputs find the server and the output folder a prompt was queued with by run.py (noted
in state/runs/), so they work from any process; --url / --out override. Ctrl-C during wait stops
waiting but leaves the prompt running.

exit codes: 0 done; 1 a prompt failed, was interrupted, is unknown or not finished (outputs);
2 bad usage; 3 server unreachable; 4 server error; 130 Ctrl-C.
"""

def build_parser():
    p, sub = cli.subcommands("queue.py", "List, cancel, interrupt and collect prompts on a ComfyUI server.", EPILOG)
    cli.subcommand(sub, "list", "running and pending prompts")
    c = cli.subcommand(sub, "cancel", "remove pending prompts, interrupt a running one (by id: never another prompt)")
    cli.add_api_flag(c, suppress=True)
    c.add_argument("prompt_ids", nargs="+", metavar="PROMPT_ID")
    cli.subcommand(sub, "clear", "remove every pending prompt")
    i = cli.subcommand(sub, "interrupt", "interrupt the running prompt (only PROMPT_ID, when given)")
    i.add_argument("prompt_id", nargs="?", metavar="PROMPT_ID")
    h = cli.subcommand(sub, "history", "finished prompts, newest first, or one prompt's record")
    h.add_argument("prompt_id", nargs="?", metavar="PROMPT_ID")
    h.add_argument("--max", type=int, default=20, help="how many entries (default: %(default)s)")
    w = cli.subcommand(sub, "wait", "wait for prompts, then download their outputs")
    cli.add_api_flag(w, suppress=True)
    w.add_argument("prompt_ids", nargs="+", metavar="PROMPT_ID")
    w.add_argument("--max-wait", type=cli.positive_float, metavar="SECONDS", help="stop waiting after this long")
    w.add_argument("--poll", action="store_true", help="do not use the WebSocket; poll")
    w.add_argument("--quiet", action="store_true", help="no progress on stderr")
    for sp in (w, cli.subcommand(sub, "outputs", "download the outputs of finished prompts")):
        if sp is not w:
            sp.add_argument("prompt_ids", nargs="+", metavar="PROMPT_ID")
            cli.add_api_flag(sp, suppress=True)
        sp.add_argument("--out", help="download folder (default: the one the prompt was run for)")
        sp.add_argument("--previews", action="store_true", help="also download temp previews")
    cli.subcommand(sub, "free", "unload models and free memory")
    return p


def run(args):
    return COMMANDS[args.command](args)


# -- list / cancel / clear / interrupt / free ---------------------------------------------------
def cmd_list(args):
    listed = engine.queue_list(cli.settings_from(args))
    lines = [f"running: {x['prompt_id']} ({x['summary']})" for x in listed["running"]]
    lines += [f"pending {x['position']}: {x['prompt_id']} ({x['summary']})" for x in listed["pending"]]
    cli.emit(args, listed, "\n".join(lines) or f"the queue at {listed['url']} is empty")
    return 0


def cmd_cancel(args):
    on_v2 = pipeline.v2_target(args.prompt_ids, cli.settings_from(args))
    if on_v2:
        from ..v2 import run as v2run

        done = v2run.cancel(on_v2[0], args.prompt_ids)
    else:
        done = runs.cancel(cli.client_from(args), args.prompt_ids)
    lines = [f"interrupted {p}" for p in done["interrupted"]] + [f"removed {p} from the queue" for p in done["deleted"]]
    lines += [f"not queued or running (finished, or unknown): {p}" for p in done["not_found"]]
    cli.emit(args, done, "\n".join(lines))
    return 1 if done["not_found"] else 0


def cmd_clear(args):
    client = cli.client_from(args)
    pending = [p for p, place in client.queue().places().items() if place > 0]
    client.clear_queue()
    cli.emit(args, {"removed": len(pending), "prompt_ids": pending},
             f"removed {len(pending)} pending prompt(s); the running one, if any, carries on")
    return 0


def cmd_interrupt(args):
    client = cli.client_from(args)
    places = client.queue().places()
    running = [p for p, place in places.items() if place == 0]
    if args.prompt_id and args.prompt_id not in running:
        where = "pending (use: queue.py cancel ID)" if args.prompt_id in places else "not queued or running"
        raise CheckFailed(f"prompt {args.prompt_id} is not running: it is {where}")
    client.interrupt(args.prompt_id)
    target = [args.prompt_id] if args.prompt_id else running
    cli.emit(args, {"interrupted": target},
             f"interrupted {', '.join(target)}" if target else "nothing was running")
    return 0


def cmd_free(args):
    client = cli.client_from(args)
    client.free()
    cli.emit(args, {"freed": True, "url": client.url}, f"asked {client.url} to unload models and free memory")
    return 0


# -- history ------------------------------------------------------------------------------------
def cmd_history(args):
    client = cli.client_from(args)
    if args.prompt_id:
        entry = client.history(args.prompt_id)
        if entry is None:
            raise CheckFailed(f"{client.url} has no history for prompt {args.prompt_id}",
                              hint="it may still be queued (queue.py list), or the server was restarted")
        info = _summary(args.prompt_id, entry)
        _add_settings([info])
        cli.emit(args, info, _summary_text(info))
        return 0
    items = [_summary(pid, e) for pid, e in reversed(list(client.recent_history(args.max).items()))]
    _add_settings(items)
    cli.emit(args, {"url": client.url, "history": items},
             "\n".join(_summary_text(i) for i in items) or "no history")
    return 0


def _summary(prompt_id, entry):
    job = runs.Job(prompt_id)
    job.entry, job.state = entry, "finished"
    job.workflow = runs.prompt_of(entry)
    items = outputs.collect(entry, job.workflow)
    ended = job.server_end()
    out = {"prompt_id": prompt_id, "status": job.outcome(), "server_s": job.server_seconds(),
           "ended_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(ended)) if ended else None,
           "outputs": [{k: v for k, v in i.items() if k != "key"} for i in items], "_workflow": job.workflow}
    failure = job.failure()
    if failure:
        out["failure"] = {k: failure.get(k) for k in ("kind", "node_id", "node_type", "exception_type",
                                                      "exception_message") if failure.get(k) is not None}
    return out


def _add_settings(items):
    """Each prompt's settings (prompt, seed, model, LoRAs, size...): from its run record when this
    pack queued it, else read from the graph the server kept, against the inventory."""
    from .. import inventory, settings

    info = None
    for item in items:
        wf = item.pop("_workflow", None) or {}
        rec = pipeline.recorded(item["prompt_id"]) or {}
        if rec.get("settings"):
            item["settings"] = rec["settings"]
            continue
        if info is None:
            info = inventory.load().object_info
        item["settings"] = settings.of(wf, info)


def _summary_text(info):
    files = [o.get("filename") or repr(o.get("text", ""))[:40] for o in info["outputs"]]
    line = f"{info['prompt_id']}  {info['status']}"
    if info.get("ended_at"):
        line += f"  {info['ended_at']}"
    if info.get("server_s") is not None:
        line += f"  {info['server_s']:.2f}s"
    shown = {k: info.get("settings", {}).get(k) for k in ("seed", "model", "steps")}
    if info.get("settings", {}).get("prompt"):
        line += f"  {str(info['settings']['prompt'])[:50]!r}"
    line += "".join(f"  {k}={v}" for k, v in shown.items() if v is not None)
    if info.get("failure"):
        f = info["failure"]
        line += f"  at #{f.get('node_id')} {f.get('node_type')}: {f.get('exception_type', '')} " \
                f"{(f.get('exception_message') or '').strip()[:120]}"
    return line + (f"  {', '.join(files[:4])}" + (" ..." if len(files) > 4 else "") if files else "")


# -- wait / outputs -----------------------------------------------------------------------------
def cmd_wait(args):
    result = engine.wait(cli.settings_from(args), args.prompt_ids, out=args.out, previews=args.previews,
                         max_wait=args.max_wait, websocket=not args.poll, reporter=Progress(enabled=not args.quiet))
    return run_cmd.show(args, result)


def cmd_outputs(args):
    return run_cmd.show(args, engine.collect(cli.settings_from(args), args.prompt_ids, out=args.out,
                                             previews=args.previews))


COMMANDS = {"list": cmd_list, "cancel": cmd_cancel, "clear": cmd_clear, "interrupt": cmd_interrupt,
            "history": cmd_history, "wait": cmd_wait, "outputs": cmd_outputs, "free": cmd_free}

"""diagnose.py: name the cause of a failed run, the node, the evidence, and the commands that fix it."""

import json
import re
import sys
from pathlib import Path

from .. import cli, engine
from ..errors import InputError

EPILOG = """\
examples:
  python scripts/diagnose.py --last               the newest run.py run: refused before it ran, or queued
  python scripts/diagnose.py 0ea16f50-9701-4ec5-9a32-8e10779323d4     a prompt id: reads /history, /queue, the log
  python scripts/diagnose.py answer.json          a saved /prompt error body, /history answer or entry,
                                                  WebSocket messages or a run.py --json result
  python scripts/run.py wf.json --json | python scripts/diagnose.py -
  python scripts/diagnose.py comfyui.log --json   pasted log or traceback text
  python scripts/diagnose.py tests/fixtures/failures/oom_cpu.json

causes: server_unreachable, server_error, prompt_lost, model_missing, model_corrupt,
model_wrong_type, node_missing, input_file_missing, out_of_memory, model_family_mismatch,
shape_mismatch, device_mismatch, dtype_mismatch, file_missing, interrupted, still_running,
wait_timeout, cached_run, no_failure, bad_link, the server's validation types
(required_input_missing, bad_linked_input, return_type_mismatch, invalid_input_type,
value_smaller_than_min, value_bigger_than_max, value_not_in_list, custom_validation_failed,
invalid_prompt, invalid_dynamic_input, prompt_no_outputs, prompt_outputs_failed_validation;
replacement_failed from the pack's own check), or unrecognised. references/troubleshooting.md
explains each. Commands in fixes with <angle brackets> need your value (your workflow file...).

exit codes: 0 a diagnosis was made (even "unrecognised"); 2 unreadable input; 3 a prompt id was
given and the server does not answer (the diagnosis says so); 4 the server answered with an error.
"""

MAX_BYTES = 64 * 1024 * 1024


def build_parser():
    p = cli.parser("diagnose.py", "Explain a failed ComfyUI run: cause, node, evidence, fixes.", EPILOG)
    p.add_argument("source", nargs="?", default=None, metavar="PROMPT_ID | FILE | -",
                   help="a prompt id, a file (JSON or log text), or - for stdin (default)")
    p.add_argument("--last", action="store_true",
                   help="the newest run recorded in state/runs/ (also one refused before it was queued)")
    return p


def run(args):
    settings = cli.settings_from(args)
    if args.last:
        if args.source is not None:
            raise InputError("give either --last or a PROMPT_ID | FILE | -, not both")
        return show(args, *engine.diagnose(settings, last=True))
    source = args.source or "-"
    if source == "-" and sys.stdin.isatty():
        raise InputError("nothing to diagnose: give a prompt id, a file, or pipe the failure into -",
                         hint="python scripts/diagnose.py PROMPT_ID")
    if source == "-" or Path(source).is_file():
        return show(args, *engine.diagnose(settings, evidence=read_source(source)))
    if looks_like_prompt_id(source):
        return show(args, *engine.diagnose(settings, prompt_id=source))
    raise InputError(f"{source}: no such file, and not a prompt id",
                     hint="give a prompt id (as /prompt or run.py printed it), a file, or - for stdin")


def show(args, out, code):
    cli.emit(args, out, render(out))
    return code


def looks_like_prompt_id(text):
    return bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{3,127}", text)) and not text.endswith(("json", "log", "txt"))


def read_source(source):
    """JSON when it parses, else the text itself (a log or traceback)."""
    name = "stdin" if source == "-" else source
    try:
        if source == "-":
            raw = sys.stdin.buffer.read(MAX_BYTES + 1)
        else:
            with open(source, "rb") as fh:
                raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise InputError(f"{name}: larger than {MAX_BYTES // 2**20} MiB; pass the relevant part of the log")
    text = raw.decode("utf-8-sig", errors="replace")
    if not text.strip():
        raise InputError(f"{name}: empty", hint="give a prompt id, a saved server answer, or log text")
    if text.lstrip()[:1] in "[{":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass  # a log line may start with "[" too
        except RecursionError:
            raise InputError(f"{name}: JSON nested too deeply to be anything ComfyUI wrote") from None
    return text


def render(d):
    where = f" at {d['class_type']} node {d['node_id']}" if d.get("node_id") else ""
    lines = [f"cause: {d['cause']}{where} ({d['confidence']} confidence; read from {d['input_description']})",
             d["summary"]]
    if d["evidence"]:
        lines.append("evidence:")
        for e in d["evidence"]:
            for i, part in enumerate(str(e).splitlines()):
                lines.append(("  > " if i == 0 else "    ") + part)
    if d["fixes"]:
        lines.append("fix:")
        for i, f in enumerate(d["fixes"], 1):
            lines.append(f"  {i}. {f['text']}")
            if f.get("command"):
                lines.append(f"     $ {f['command']}")
    for p in d.get("problems") or []:
        where = f" at {p['class_type']} node {p['node_id']}" if p.get("node_id") else ""
        lines.append(f"also: {p['cause']}{where}: {p['summary']}")
    return "\n".join(lines)

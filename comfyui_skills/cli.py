"""What every script shares: the common flags, output on the right stream, exit codes.

A command module defines `build_parser()` and `run(args) -> int`; `main()` turns any
ComfyError into one readable line (or a JSON object with --json) and its exit code.
"""

import argparse
import gc
import json
import sys
import textwrap
import traceback

from . import config
from .config import DEFAULT_TIMEOUT
from .errors import ComfyError, Interrupted


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line plus a pointer to --help, exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def wrap(text):
    """A paragraph laid out as the hand-written parts of --help are: 100 columns, words whole."""
    return textwrap.fill(text, 100, break_on_hyphens=False)


def parser(prog, description, epilog=None, server=True):
    # the epilogs are laid out by hand (examples in columns); a one-sentence description is wrapped
    p = Parser(prog=prog, description=wrap(description), epilog=epilog,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    if server:
        add_server_flags(p)
    return p


def add_server_flags(p):
    g = p.add_argument_group("server")
    g.add_argument("--url", help="ComfyUI address (default: project manifest, $COMFYUI_URL, http://127.0.0.1:8188)")
    g.add_argument("--project", default=config.default_project(),
                   help="project name under projects/ (its project.yaml may give the url)")
    g.add_argument("--api-key", default=None, help="API key (default: $COMFYUI_API_KEY)")
    g.add_argument("--timeout", type=positive_float, default=DEFAULT_TIMEOUT,
                   help="seconds to wait for each API call (default: %(default)s)")


def add_api_flag(p, suppress=False):
    """--api, for the commands that also drive a Comfy API v2 server."""
    p.add_argument("--api", choices=("auto", "native", "v2"), default=argparse.SUPPRESS if suppress else None,
                   help="ComfyUI's own routes, or Comfy API v2 (Comfy Cloud, Comfy API deployments, "
                        "comfy-api-proxy); default $COMFYUI_API, else auto: v2 where the server speaks only v2")


MASK_HELP = ("a mask image of the input's size: WHITE is repainted, BLACK kept (as LoadImageMask reads "
             "its red channel); also last, last:N, PROMPT_ID:N")


def add_edit_flags(p):
    """The chat-loop options generate.py and run.py share (edits.from_args reads them)."""
    from .masks import REGIONS

    g = p.add_argument_group("chat loop (LoRAs, masks, earlier outputs)")
    g.add_argument("--lora", action="append", default=[], metavar="NAME[:STRENGTH[:CLIP]]",
                   help="apply a LoRA file (extension optional), strength 1 unless given; repeatable, in order")
    g.add_argument("--trigger", action="store_true", help="add the LoRAs' trigger words to the prompt")
    g.add_argument("--mask", metavar="FILE", help=MASK_HELP)
    g.add_argument("--region", metavar="NAME", help="repaint only this part: " + ", ".join(REGIONS))
    g.add_argument("--box", metavar="X,Y,W,H", help="repaint only this box: pixels, or percent (10%%,0,50%%,50%%)")
    return g


def subcommands(prog, description, epilog):
    """(parser, subparsers) for a script whose first word is what to do (queue.py list ...)."""
    p = parser(prog, description, epilog)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    return p, sub


def subcommand(sub, name, help_text, epilog=None):
    """A subcommand that also takes the common flags after its name (`queue.py list --json`)."""
    sp = sub.add_parser(name, help=help_text, description=wrap(help_text), epilog=epilog,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    sp.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
    sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    sp.add_argument("--url", default=argparse.SUPPRESS, help="ComfyUI address")
    sp.add_argument("--project", default=argparse.SUPPRESS, help="project name under projects/")
    sp.add_argument("--api-key", default=argparse.SUPPRESS, help="API key")
    sp.add_argument("--timeout", type=positive_float, default=argparse.SUPPRESS,
                    help=f"seconds per API call (default: {DEFAULT_TIMEOUT:g})")
    return sp


def positive_int(text):
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return n


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above zero")
    return value


def settings_from(args):
    """The common flags as `config.Settings` (the manifest and environment filling the rest)."""
    return config.Settings.resolve(url=getattr(args, "url", None), project=getattr(args, "project", None),
                                   api_key=getattr(args, "api_key", None),
                                   timeout=getattr(args, "timeout", DEFAULT_TIMEOUT),
                                   max_wait=getattr(args, "max_wait", None), api=getattr(args, "api", None))


def client_from(args, connect_timeout=None, probe=False):
    return settings_from(args).client(connect_timeout=connect_timeout, probe=probe)


def emit(args, obj, text=None):
    """One JSON object on stdout with --json, else short text (or the JSON, pretty, when no text)."""
    from .nextsteps import rendered

    obj = rendered(obj, getattr(args, "url", None))  # the library's next steps, spelled as commands
    if args.json:
        print(json.dumps(obj, ensure_ascii=False), flush=True)
    elif text is not None:
        if text:
            print(text, flush=True)
    else:
        print(json.dumps(obj, indent=2, ensure_ascii=False), flush=True)


def note(message):
    """Human messages and progress always go to stderr."""
    print(message, file=sys.stderr, flush=True)


class NoteReporter:
    """A reporter for offline library calls: their notes go to stderr, as cli.note."""

    def note(self, text):
        note(text)


def main(module, argv=None):
    """Run a command module; never let a traceback out unless --debug."""
    if not gc.isenabled():  # paused by bootstrap.ensure_dependencies() while the script imported its
        gc.freeze()         # modules: what they made lives as long as the process, so later
        gc.enable()         # collections need not walk it
    p = module.build_parser()
    args = p.parse_args(argv)
    try:
        return module.run(args) or 0
    except KeyboardInterrupt:
        note("interrupted")
        return Interrupted.exit_code
    except ComfyError as exc:
        if args.debug:
            traceback.print_exc()
        report_error(args, exc)
        return exc.exit_code
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug of ours: say so plainly, keep the traceback behind --debug
        if args.debug:
            raise
        note(f"{p.prog}: internal error: {type(exc).__name__}: {exc} (run again with --debug for the traceback)")
        return 1


def report_error(args, exc):
    if args.json:
        from .nextsteps import rendered

        print(json.dumps(rendered(exc.as_dict(), getattr(args, "url", None)), ensure_ascii=False), flush=True)
    from .nextsteps import NextStep, render

    line = f"error: {exc.message}"
    if isinstance(exc.hint, NextStep):  # a command to run next: on its own line, ready to paste
        line += f"\n  $ {render(exc.hint, getattr(args, 'url', None))}"
    elif exc.hint:
        line += f" ({exc.hint})"
    note(line)

"""What to do next, as data: the library names an action and its options, and each face spells it.

Library code returns `NextStep`s (a command to run) and `Flag`s (an option to add) in results,
errors and messages instead of writing `python scripts/…` or `--flag` by hand. This module is the
one place that knows how they are spelled in each face:

- the command line: `python scripts/queue.py wait ID`, `--allow-api`, with `--url` where the
  command would not find the server by itself;
- the MCP server: the tool and its arguments, `queue {"action": "wait", "prompt_ids": ["ID"]}`,
  `allow_api=true`.

The face is per call (a context variable): the MCP server renders in its face while it handles a
tool call, on whatever thread; everything else sees the command line. A `NextStep` or `Flag`
formatted into a message (`f"... {step(...)}"`) is spelled in the face of the call that formats it.
"""

import contextlib
import contextvars
import json
import shlex
from dataclasses import dataclass

CLI, MCP = "cli", "mcp"
_face = contextvars.ContextVar("comfyui_skills_face", default=CLI)

# These read files and the inventory snapshot, never the server: a --url would be noise.
OFFLINE_SCRIPTS = frozenset({"validate", "convert", "export"})

# action (script, subcommand or None) -> (MCP tool, fixed arguments, the argument positional values go to,
# whether that argument is a list). An action without a tool is shown as its command in both faces.
TOOLS = {
    ("queue", "wait"): ("queue", {"action": "wait"}, "prompt_ids", True),
    ("queue", "outputs"): ("queue", {"action": "outputs"}, "prompt_ids", True),
    ("queue", "list"): ("queue", {"action": "list"}, None, False),
    ("queue", "cancel"): ("queue", {"action": "cancel"}, "prompt_ids", True),
    ("models", "download"): ("download_model", {}, "source", False),
    ("models", "need"): ("needs", {}, "workflow_path", False),
    ("nodes", "install"): ("install_nodes", {}, "pack", False),
    ("diagnose", None): ("diagnose", {}, "prompt_id", False),
    ("upload", None): ("upload", {}, "path", False),
    ("run", None): ("run", {}, "workflow_path", False),
    ("validate", None): ("validate", {}, "workflow_path", False),
    ("convert", None): ("convert", {}, "workflow_path", False),
    ("status", None): ("status", {}, None, False),
    ("generate", None): ("generate", {}, "request", False),
    ("templates", "show"): ("show_template", {}, "name", False),
    ("templates", "list"): ("list_templates", {}, None, False),
}
SUBCOMMANDS = {"queue", "models", "nodes", "templates"}
# a script option -> its MCP argument and how the value turns: None keeps it; a constant replaces it
MCP_ARGS = {
    "no_validate": ("validate", False), "no_wait": ("wait", False), "image": ("images", "list"),
    "set": ("set", "list"), "sweep": ("sweep", "list"), "original": ("mask_of", None),
}


# options that take no value (store_true): in the MCP face they are `name=true`
SWITCHES = frozenset({"allow_api", "online_only", "keep_unknown", "allow_invalid", "download", "previews",
                      "overwrite", "last", "dry_run", "force", "poll", "quiet"})


def face():
    return _face.get()


@contextlib.contextmanager
def in_face(name):
    """Spell next steps and flags as `name` (CLI or MCP) within this block, in this context only."""
    token = _face.set(name)
    try:
        yield
    finally:
        _face.reset(token)


@dataclass(frozen=True)
class Flag:
    """An option of a command (`name` as a Python identifier), with a value or as a switch."""

    name: str
    value: object = None

    def __str__(self):
        return render_flag(self)


@dataclass(frozen=True)
class NextStep:
    """A pack command: `script`, its positional `args`, its `options` ((name, value) pairs; True:
    a switch).

    `finds_server`: the command finds its server by itself (a prompt id recorded in
    state/runs/ names the server it was queued on), so the server is left out.
    """

    script: str
    args: tuple = ()
    finds_server: bool = False
    options: tuple = ()

    def __str__(self):
        return render(self)

    @property
    def action(self):
        sub = self.args[0] if self.script in SUBCOMMANDS and self.args else None
        return (self.script, sub)


def flag(name, value=None):
    return Flag(name, value)


def step(script, *args, finds_server=False, **options):
    """`step("models", "download", url, folder="loras")`: options by their Python names."""
    return NextStep(script, tuple(str(a) for a in args), finds_server,
                    tuple((k, v) for k, v in options.items() if v is not None and v is not False))


def resume(prompt_ids):
    """Wait for these prompts from any process (queue wait; run records name their server)."""
    ids = list(prompt_ids)
    return step("queue", "wait", *ids[:3], *(["..."] if len(ids) > 3 else []), finds_server=True)


def render(next_step, url=None):
    """The step as the current face spells it, naming the server (`url`) where it must."""
    if not isinstance(next_step, NextStep):
        return next_step
    if face() == MCP and next_step.action in TOOLS:
        return render_tool(next_step, url)
    return render_command(next_step, url)


def render_command(next_step, url=None):
    """`python scripts/<script>.py <args> --<option> ...`, with --url when the server is not found otherwise."""
    parts = ["python", f"scripts/{next_step.script}.py"]
    parts += [_quoted(a) for a in next_step.args]
    for name, value in next_step.options:
        parts += [cli_flag(name)] + ([] if value is True else [_quoted(str(value))])
    if url and next_step.script not in OFFLINE_SCRIPTS and not next_step.finds_server:
        parts += ["--url", url]
    return " ".join(parts)


def render_tool(next_step, url=None):
    """`tool {"argument": value, ...}`: the MCP tool call that does what the command does."""
    tool, fixed, positional, many = TOOLS[next_step.action]
    args = list(next_step.args[1:] if next_step.action[1] else next_step.args)
    out = dict(fixed)
    if positional and args:
        out[positional] = args if many else args[0]
    for name, value in next_step.options:
        key, value = _mcp_arg(name, value)
        out[key] = value
    if url and next_step.script not in OFFLINE_SCRIPTS and not next_step.finds_server:
        out["url"] = url
    return f"{tool} {json.dumps(out, ensure_ascii=False)}"


def render_flag(f):
    if face() == MCP:
        key, turn = MCP_ARGS.get(f.name, (f.name, None))
        if f.value is None and f.name in SWITCHES:
            return f"{key}=true"
        if f.value is None and turn in (None, "list"):
            return key  # the argument's name: what to give it is said around it
        key, value = _mcp_arg(f.name, f.value)
        return f"{key}={json.dumps(value, ensure_ascii=False)}"
    return cli_flag(f.name) + ("" if f.value is None else f" {f.value}")


def cli_flag(name):
    return "--" + name.replace("_", "-")


def _mcp_arg(name, value):
    key, turn = MCP_ARGS.get(name, (name, None))
    if turn == "list":
        return key, [value]
    if turn is not None:
        return key, turn
    return key, value


def rendered(obj, url=None):
    """`obj` (a result: dicts, lists) with every NextStep in it rendered in the current face."""
    if isinstance(obj, (NextStep, Flag)):
        return render(obj, url) if isinstance(obj, NextStep) else str(obj)
    if isinstance(obj, dict):
        return {k: rendered(v, url) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [rendered(v, url) for v in obj]
    return obj


def _quoted(arg):
    # placeholders (<workflow.json>, the "..." of a long list) are shown as written
    return arg if arg == "..." or (arg.startswith("<") and arg.endswith(">")) or shlex.quote(arg) == arg \
        else shlex.quote(arg)

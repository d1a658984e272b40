"""What to do next, as data: the library names a pack command, and `render` spells it.

Library code returns `NextStep`s in results and errors instead of writing `python scripts/…`
by hand; the command line, the diagnosis and the MCP server render them here, the one place
that knows how a command is spelled and when it needs `--url`.
"""

import shlex
from dataclasses import dataclass

# These read files and the inventory snapshot, never the server: a --url would be noise.
OFFLINE_SCRIPTS = frozenset({"validate", "convert", "export"})


@dataclass(frozen=True)
class NextStep:
    """`python scripts/<script>.py <args>`.

    `finds_server`: the command finds its server by itself (a prompt id recorded in
    state/runs/ names the server it was queued on), so --url is left out.
    """

    script: str
    args: tuple = ()
    finds_server: bool = False

    def __str__(self):
        return render(self)


def step(script, *args, finds_server=False):
    return NextStep(script, tuple(str(a) for a in args), finds_server)


def resume(prompt_ids):
    """Wait for these prompts from any process (queue.py wait; run records name their server)."""
    ids = list(prompt_ids)
    return step("queue", "wait", *ids[:3], *(["..."] if len(ids) > 3 else []), finds_server=True)


def render(next_step, url=None):
    """The command a person or agent runs, with --url when the server is not found otherwise."""
    if not isinstance(next_step, NextStep):
        return next_step
    parts = ["python", f"scripts/{next_step.script}.py"]
    parts += [a if _as_typed(a) else shlex.quote(a) for a in next_step.args]
    if url and next_step.script not in OFFLINE_SCRIPTS and not next_step.finds_server:
        parts += ["--url", url]
    return " ".join(parts)


def rendered(obj, url=None):
    """`obj` (a result: dicts, lists) with every NextStep in it rendered as a command."""
    if isinstance(obj, NextStep):
        return render(obj, url)
    if isinstance(obj, dict):
        return {k: rendered(v, url) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [rendered(v, url) for v in obj]
    return obj


def _as_typed(arg):
    # placeholders (<workflow.json>, the "..." of a long list) and flags already quoted are shown as written
    return arg == "..." or (arg.startswith("<") and arg.endswith(">")) or shlex.quote(arg) == arg

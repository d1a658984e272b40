"""Run every script under a Python that has the pack's dependencies, or say in one line how to get one.

An agent host runs `python scripts/run.py` with whatever Python it has. Each script calls
`ensure_dependencies()` before importing anything else: when this interpreter lacks a dependency,
the script is started again, same arguments and environment, with the pack's own environment
(`.venv/` or `venv/` in the pack root); without one it prints the set-up command and exits 2.

Standard library only, and written for old Pythons too: it runs before anything is known about
the interpreter.
"""

import gc
import importlib.util
import os
import sys
from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parent.parent
MIN_PYTHON = (3, 9)
# import name -> the distribution that provides it (pyproject.toml's dependencies)
DEPENDENCIES = (("requests", "requests"), ("yaml", "pyyaml"), ("jsonschema", "jsonschema"),
                ("websocket", "websocket-client"), ("PIL", "pillow"))
# pyproject.toml's optional extras a script may need on top: extra -> ((import name, distribution),)
EXTRAS = {"mcp": (("mcp", "mcp"),)}
ENV_DIRS = (".venv", "venv")
# Set in the re-started process: if the pack's environment lacks the dependencies too, it must
# report rather than start itself again.
REEXEC_GUARD = "COMFYUI_SKILLS_REEXEC"
EXIT_NO_ENVIRONMENT = 2


def missing_dependencies(extra=None):
    """What this interpreter lacks, by the names pip knows. Finding a module does not import it:
    importing all four would cost every script ~200 ms that most commands never spend."""
    wanted = DEPENDENCIES + EXTRAS.get(extra, ())
    missing = [dist for module, dist in wanted if importlib.util.find_spec(module) is None]
    if sys.version_info < MIN_PYTHON:
        missing.insert(0, "Python >= %d.%d" % MIN_PYTHON)
    return missing


def pack_python(root=PACK_ROOT):
    """The interpreter of the pack's own environment, or None when it has none."""
    relative = ("Scripts", "python.exe") if os.name == "nt" else ("bin", "python")
    for name in ENV_DIRS:
        candidate = Path(root, name, *relative)
        if candidate.is_file():
            return candidate
    return None


def is_running(python):
    """Whether `python` is this interpreter's environment. A venv's python is often a symlink to
    the system one, so the environment (sys.prefix) tells them apart, not the resolved file."""
    return Path(sys.prefix).resolve() == python.parent.parent.resolve()


def setup_command(root=PACK_ROOT, extra=None):
    import shlex  # lazily, as only a failing start needs it

    target = '".[%s]"' % extra if extra else "."
    if os.name == "nt":
        return 'cd "%s" && python -m venv .venv && .venv\\Scripts\\pip install -q -e %s' % (root, target)
    return "cd %s && python3 -m venv .venv && .venv/bin/pip install -q -e %s" % (shlex.quote(str(root)), target)


def ensure_dependencies(extra=None):
    """Return when this interpreter can run the pack; else re-run the script with the pack's
    environment, or print what is missing and the set-up command and exit 2.

    extra: an optional extra of pyproject.toml the script needs too ("mcp")."""
    missing = missing_dependencies(extra)
    if not missing:
        os.environ.pop(REEXEC_GUARD, None)  # a script this one starts gets its own check
        # The script imports its modules next: ~300 of them, every object they make lives until the
        # process ends, and the cyclic collector would walk them again and again as they are made
        # (~4% of a run's start-up). cli.main() turns it back on, with those objects set aside.
        gc.disable()
        return
    python = pack_python()
    if python is not None and not is_running(python) and not os.environ.get(REEXEC_GUARD):
        os.environ[REEXEC_GUARD] = "1"
        argv = [str(python)] + sys.argv
        sys.stdout.flush()
        sys.stderr.flush()
        if os.name == "nt":  # Windows' execv starts a new process and drops the exit code
            import subprocess
            sys.exit(subprocess.call(argv))
        os.execv(str(python), argv)
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "comfyui-skills"
    sys.stderr.write("%s: error: %s (%s) lacks %s; set up the pack's environment once: %s\n"
                     % (script, "the pack's environment" if python is not None else "this Python",
                        sys.executable, ", ".join(missing), setup_command(extra=extra)))
    sys.exit(EXIT_NO_ENVIRONMENT)

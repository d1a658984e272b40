import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from double import comfy_any, comfy_double  # noqa: F401  (registers the test double fixtures for every test)

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CONFORMANCE = SHARED / "conformance"


def pytest_terminal_summary(terminalreporter):
    # CI has nothing on the default address; a dev box often has ComfyUI there, and a test that
    # falls back to the default would pass here and fail on CI (it happened once).
    with socket.socket() as probe:
        probe.settimeout(0.2)
        if probe.connect_ex(("127.0.0.1", 8188)) == 0:
            terminalreporter.write_line("warning: something listens on 127.0.0.1:8188, the default address; "
                                        "CI has nothing there, so a pass here may not hold on CI", yellow=True)


def pytest_collection_modifyitems(config, items):
    live_url = os.environ.get("COMFYUI_URL")
    for item in items:
        if "live" in item.keywords and not live_url:
            item.add_marker(pytest.mark.skip(reason="live test: set COMFYUI_URL to a real ComfyUI"))
        if "conformance" in item.keywords and not CONFORMANCE.is_dir():
            item.add_marker(pytest.mark.skip(reason="../shared/conformance is absent"))


@pytest.fixture
def live_url():
    return os.environ["COMFYUI_URL"]


@pytest.fixture
def pack_env(tmp_path, monkeypatch):
    """State and projects in a temp folder, so tests never touch the pack's own."""
    env = dict(os.environ)
    env["COMFYUI_SKILLS_STATE"] = str(tmp_path / "state")
    env["COMFYUI_SKILLS_PROJECTS"] = str(tmp_path / "projects")
    env.pop("COMFYUI_URL", None)
    env.pop("COMFYUI_API_KEY", None)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("COMFYUI_URL", raising=False)
    monkeypatch.delenv("COMFYUI_API_KEY", raising=False)
    return env


def script(name, *args, env=None, stdin=None, timeout=60, cwd=None):
    """Run scripts/<name>.py as a user would; returns CompletedProcess with text output."""
    return subprocess.run([sys.executable, str(ROOT / "scripts" / f"{name}.py"), *map(str, args)],
                          capture_output=True, text=True, env=env, input=stdin, timeout=timeout,
                          cwd=cwd or ROOT)


def closed_port():
    """A loopback port nothing listens on: connecting to it is refused at once."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(name, *args, env):
    """scripts/<name>.py running in the background, for tests that signal or race it."""
    return subprocess.Popen([sys.executable, str(ROOT / "scripts" / f"{name}.py"), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_until(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False

import os
import socket
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.double import comfy_any, comfy_double  # noqa: F401  (registers the test double fixtures for every test)

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


def live_servers():
    """[(url, home or None)]: the real ComfyUIs the live tests run against, each test once per server.

    COMFYUI_URLS is a comma-separated list; COMFYUI_HOMES, also comma-separated, pairs an install
    with each URL by position (an empty entry: none), for the tests that start a ComfyUI of their
    own from that install. Without COMFYUI_URLS, COMFYUI_URL and COMFYUI_HOME name one server."""
    urls = [u.strip() for u in os.environ.get("COMFYUI_URLS", "").split(",") if u.strip()]
    if not urls:
        url = os.environ.get("COMFYUI_URL", "").strip()
        return [(url, os.environ.get("COMFYUI_HOME") or None)] if url else []
    given = os.environ.get("COMFYUI_HOMES")
    homes = [h.strip() or None for h in given.split(",")] if given else []
    if len(homes) > len(urls):
        raise pytest.UsageError(f"COMFYUI_HOMES names {len(homes)} installs for {len(urls)} COMFYUI_URLS")
    return list(zip(urls, homes + [None] * (len(urls) - len(homes))))


def server_id(url, seen):
    """A readable test id: the server's ComfyUI version, else (or when two share one) its host:port."""
    address = url.split("://", 1)[-1].rstrip("/")
    try:
        import requests
        version = requests.get(("" if "://" in url else "http://") + url.rstrip("/") + "/system_stats",
                               timeout=15).json()["system"]["comfyui_version"]  # a busy server is slow
    except Exception:  # down or not a ComfyUI: the address still names it, and its tests will say why
        version = None
    name = version if version and version not in seen else address
    seen.add(name)
    return name


def pytest_generate_tests(metafunc):
    # every test that needs a live server (through live_url or comfy_home) runs once per server;
    # session scope groups a server's tests together, so module fixtures start once per server
    if "live_server" in metafunc.fixturenames:
        servers = live_servers()
        if servers:
            if not hasattr(pytest_generate_tests, "ids"):
                seen = set()
                pytest_generate_tests.ids = [server_id(url, seen) for url, _ in servers]
            metafunc.parametrize("live_server", servers, ids=pytest_generate_tests.ids, indirect=True,
                                 scope="session")


def pytest_collection_modifyitems(config, items):
    live = bool(live_servers())
    for item in items:
        if "live" in item.keywords and config.pluginmanager.hasplugin("xdist"):
            # one worker runs every live test, in order: parallel jobs on one CPU-bound ComfyUI
            # would only queue behind each other and run into their timeouts
            item.add_marker(pytest.mark.xdist_group("live"))
        if "live" in item.keywords and not live:
            item.add_marker(pytest.mark.skip(reason="live test: set COMFYUI_URL (or COMFYUI_URLS) to a real ComfyUI"))
        if "conformance" in item.keywords and not CONFORMANCE.is_dir():
            item.add_marker(pytest.mark.skip(reason="../shared/conformance is absent"))


@pytest.fixture(scope="session")
def live_server(request):
    """(url, home) of the real ComfyUI this test runs against (see live_servers)."""
    if not hasattr(request, "param"):
        pytest.skip("live test: set COMFYUI_URL (or COMFYUI_URLS) to a real ComfyUI")
    return request.param


@pytest.fixture(scope="session")
def live_url(live_server):
    url = live_server[0].rstrip("/")
    return url if "://" in url else f"http://{url}"


@pytest.fixture(scope="session")
def comfy_home(live_server):
    """The install of the live server: for tests that start a private ComfyUI of their own from it,
    or add files to its models/ (and remove them)."""
    home = live_server[1]
    if not home or not (Path(home) / "main.py").is_file():
        pytest.skip(f"no ComfyUI install for {live_server[0]}: set COMFYUI_HOME (or COMFYUI_HOMES, paired "
                    "with COMFYUI_URLS) to one with a .venv to run a private instance")
    return Path(home)


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
    """scripts/<name>.py running in the background, for tests that signal or race it.

    The script gets Ctrl-C as a terminal gives it even when the suite itself was started as a
    background job (`pytest &`, nohup), whose children inherit SIGINT ignored; the tests that send
    SIGINT check what a user pressing Ctrl-C sees."""
    return subprocess.Popen([sys.executable, str(ROOT / "scripts" / f"{name}.py"), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_until(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False

"""Scripts started by a Python that lacks the pack's dependencies (comfyui_skills/bootstrap.py).

An agent host runs `python scripts/X.py` with the Python it has. The scripts must then run with the
pack's own `.venv`, or say in one line how to make one: never a ModuleNotFoundError traceback.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

DEPENDENCIES = ("requests", "yaml", "jsonschema", "websocket")
SCRIPTS = sorted(p.stem for p in (ROOT / "scripts").glob("*.py"))
EXAMPLE = ROOT / "projects" / "examples" / "workflows" / "solid-color.json"
SETUP = "python3 -m venv .venv && .venv/bin/pip install -q -e ."


def venv_python(env_dir):
    return Path(env_dir, "Scripts", "python.exe") if os.name == "nt" else Path(env_dir, "bin", "python")


def make_venv(env_dir):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, timeout=120)
    return venv_python(env_dir)


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory):
    """An interpreter without requests, pyyaml, jsonschema, websocket-client (checked, not assumed)."""
    python = make_venv(tmp_path_factory.mktemp("bare") / "env")
    probe = "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) for m in sys.argv[1:]))"
    assert subprocess.run([str(python), "-c", probe, *DEPENDENCIES], timeout=30).returncode == 0
    return python


def copy_pack(root):
    """The pack's code in a folder of its own: where the bootstrap looks for `.venv`."""
    skip = shutil.ignore_patterns("__pycache__")
    for part in ("scripts", "comfyui_skills"):
        shutil.copytree(ROOT / part, root / part, ignore=skip)
    return root


@pytest.fixture(scope="module")
def pack_with_venv(tmp_path_factory):
    """A pack whose `.venv` has the dependencies: a venv whose site-packages points (a .pth file)
    at the folders this test run imports them from."""
    root = copy_pack(tmp_path_factory.mktemp("pack-venv"))
    python = make_venv(root / ".venv")
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    homes = {str(Path(importlib.util.find_spec(m).origin).parent.parent) for m in DEPENDENCIES}
    Path(purelib, "test-dependencies.pth").write_text("\n".join(sorted(homes)) + "\n")
    return root


@pytest.fixture(scope="module")
def pack_without_deps_venv(tmp_path_factory):
    root = copy_pack(tmp_path_factory.mktemp("pack-empty-venv"))
    make_venv(root / ".venv")
    return root


def run_with(python, pack, name, *args, env=None):
    return subprocess.run([str(python), str(pack / "scripts" / f"{name}.py"), *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=60)


def assert_one_line_setup_hint(r, pack, missing_words, setup=SETUP):
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stdout == "" and "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert all(word in lines[0] for word in missing_words)
    assert f"cd {pack} && {setup}" in lines[0]


def test_a_python_without_the_dependencies_runs_the_script_with_the_packs_venv(bare_python, pack_with_venv, pack_env):
    r = run_with(bare_python, pack_with_venv, "status", "--help", env=pack_env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: status.py") and r.stderr == ""

    r = run_with(bare_python, pack_with_venv, "validate", EXAMPLE, "--json", env=pack_env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout.splitlines()[0])["verdict"] == "ok"


def test_the_re_run_keeps_arguments_and_exit_code(bare_python, pack_with_venv, pack_env):
    r = run_with(bare_python, pack_with_venv, "validate", pack_with_venv / "nowhere.json", env=pack_env)
    assert r.returncode == 2 and "nowhere.json: no such file" in r.stdout + r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("name", SCRIPTS)
def test_without_a_venv_every_script_says_how_to_set_one_up(bare_python, tmp_path, name, pack_env):
    pack = copy_pack(tmp_path)
    r = run_with(bare_python, pack, name, "--help", env=pack_env)
    deps = ["requests", "pyyaml", "jsonschema", "websocket-client"]
    if name == "mcp_server":  # needs the mcp extra on top, and says to install it with the rest
        assert_one_line_setup_hint(r, pack, deps + ["mcp"], SETUP[:-1] + '".[mcp]"')
    else:
        assert_one_line_setup_hint(r, pack, deps)


def test_a_venv_without_the_dependencies_is_reported_not_re_run_forever(bare_python, pack_without_deps_venv, pack_env):
    pack = pack_without_deps_venv
    for python in (bare_python, venv_python(pack / ".venv")):  # re-run into it, or started by it
        r = run_with(python, pack, "status", "--help", env=pack_env)
        assert_one_line_setup_hint(r, pack, ["the pack's environment", "requests"])


@pytest.mark.skipif(os.name == "nt", reason="a shell-script interpreter wrapper")
def test_a_venv_python_that_is_another_interpreter_is_re_run_into_once(bare_python, tmp_path, pack_env):
    # A wrapper (a shim, or a venv rebuilt elsewhere) whose sys.prefix is not the .venv folder:
    # only the re-run guard stops the script from starting itself again and again.
    pack = copy_pack(tmp_path)
    wrapper = venv_python(pack / ".venv")
    wrapper.parent.mkdir(parents=True)
    wrapper.write_text(f'#!/bin/sh\nexec "{bare_python}" "$@"\n')
    wrapper.chmod(0o755)
    r = run_with(bare_python, pack, "status", "--help", env=pack_env)
    assert_one_line_setup_hint(r, pack, ["the pack's environment", "requests"])

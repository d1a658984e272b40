"""Live: model files land in a real ComfyUI's own folders and show in its /models lists.

Our own ComfyUI 0.3.64 (COMFYUI_HOME, port 8198, a base directory under tmp, never the shared
one) with an extra_model_paths.yaml root; files come from a loopback file server that counts
what it sends. Full-disk and read-only folders are a 1 MiB tmpfs and a read-only bind mount
(root only; skipped otherwise).
"""

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import script, start
from fileserver import FileServer
from helpers_models import safetensors_bytes

PORT = 8198
COMFY = Path(os.environ.get("COMFYUI_HOME") or "/nonexistent")
pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def comfy(tmp_path_factory):
    if not (COMFY / "main.py").is_file():
        pytest.skip("set COMFYUI_HOME to a ComfyUI install (with .venv) to run a private instance")
    base = tmp_path_factory.mktemp("comfy8198")
    extra = base / "extra"
    for d in ("input", "output", "temp", "user", "models/loras", "models/vae", "custom_nodes", "extra/loras"):
        (base / d).mkdir(parents=True, exist_ok=True)
    (base / "extra_model_paths.yaml").write_text(f"mine:\n  base_path: {extra}\n  loras: loras\n")
    log = open(base / "server.log", "ab")
    proc = subprocess.Popen([str(COMFY / ".venv/bin/python"), "main.py", "--cpu", "--listen", "127.0.0.1",
                             "--port", str(PORT), "--base-directory", str(base),
                             "--extra-model-paths-config", str(base / "extra_model_paths.yaml")],
                            cwd=COMFY, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{PORT}"
    end = time.monotonic() + 120
    while time.monotonic() < end:
        try:
            if requests.get(url + "/system_stats", timeout=1).ok:
                break
        except requests.RequestException:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"our ComfyUI on {PORT} did not start; see {base / 'server.log'}")
    yield {"url": url, "base": base, "extra": extra}
    proc.kill()  # our own process, by its id
    proc.wait(10)


@pytest.fixture
def files():
    with FileServer() as s:
        yield s


def listed(comfy, folder):
    return requests.get(f"{comfy['url']}/models/{folder}", timeout=10).json()


def download(comfy, env, *args):
    return script("models", "download", *args, "--url", comfy["url"], "--quiet", env=env, timeout=120)


def test_a_file_lands_in_the_servers_folder_and_its_list(comfy, files, pack_env):
    data = safetensors_bytes(3 * 2**20, seed=1)
    files.add("/vae/tiny_vae.safetensors", data)
    r = download(comfy, pack_env, files.url("/vae/tiny_vae.safetensors"), "--folder", "vae",
                 "--sha256", hashlib.sha256(data).hexdigest())
    assert r.returncode == 0, r.stderr
    assert (comfy["base"] / "models/vae/tiny_vae.safetensors").read_bytes() == data
    assert "tiny_vae.safetensors" in listed(comfy, "vae")
    snapshot = json.loads((Path(pack_env["COMFYUI_SKILLS_STATE"]) / "inventory.json").read_text())
    assert "tiny_vae.safetensors" in snapshot["models"]["vae"]  # the inventory was refreshed


def test_a_workflow_becomes_runnable_once_its_file_is_there(comfy, files, pack_env, tmp_path):
    wf = tmp_path / "wf.json"
    wf.write_text(json.dumps({"1": {"class_type": "VAELoader", "inputs": {"vae_name": "wf_vae.safetensors"}}}))
    files.add("/vae/wf_vae.safetensors", safetensors_bytes(2**20, seed=2))
    r = download(comfy, pack_env, files.url("/vae/wf_vae.safetensors"), "--folder", "vae", "--workflow", wf,
                 "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)["workflow"]
    assert not any("wf_vae" in e["message"] for e in report["errors"]), report


def test_several_folders_need_a_path_and_the_extra_one_works(comfy, files, pack_env):
    data = safetensors_bytes(2**20, seed=3)
    files.add("/l/extra_lora.safetensors", data)
    r = download(comfy, pack_env, files.url("/l/extra_lora.safetensors"), "--folder", "loras")
    assert r.returncode == 2 and "--path" in r.stderr and str(comfy["extra"] / "loras") in r.stderr
    r = download(comfy, pack_env, files.url("/l/extra_lora.safetensors"), "--folder", "loras",
                 "--path", comfy["extra"] / "loras")
    assert r.returncode == 0, r.stderr
    assert (comfy["extra"] / "loras/extra_lora.safetensors").read_bytes() == data
    assert "extra_lora.safetensors" in listed(comfy, "loras")


def test_a_download_killed_half_way_resumes_without_fetching_again(comfy, files, pack_env):
    size = 24 * 2**20
    data = safetensors_bytes(size, seed=4)
    files.add("/vae/big_vae.safetensors", data)
    files.pace = 0.1
    part = comfy["base"] / "models/vae/big_vae.safetensors.part"
    p = start("models", "download", files.url("/vae/big_vae.safetensors"), "--folder", "vae",
              "--url", comfy["url"], "--quiet", env=pack_env)
    end = time.monotonic() + 60
    while time.monotonic() < end and not (part.exists() and part.stat().st_size >= 6 * 2**20):
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)  # our own child, by its id
    p.wait(10)
    kept = part.stat().st_size
    assert 0 < kept < size
    files.pace = 0.0
    r = download(comfy, pack_env, files.url("/vae/big_vae.safetensors"), "--folder", "vae",
                 "--sha256", hashlib.sha256(data).hexdigest(), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["resumed_from"] == kept
    assert files.sent[-1] == ("/vae/big_vae.safetensors", f"bytes={kept}-", size - kept)  # only the rest
    assert not part.exists() and "big_vae.safetensors" in listed(comfy, "vae")


def test_a_wrong_hash_leaves_nothing_in_the_folder(comfy, files, pack_env):
    files.add("/vae/bad_vae.safetensors", safetensors_bytes(2**20, seed=5))
    r = download(comfy, pack_env, files.url("/vae/bad_vae.safetensors"), "--folder", "vae", "--sha256", "1" * 64)
    assert r.returncode == 1 and "does not match" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not [n for n in os.listdir(comfy["base"] / "models/vae") if n.startswith("bad_vae")]
    assert "bad_vae.safetensors" not in listed(comfy, "vae")


@pytest.mark.parametrize("kind", ["full", "ro"])
def test_a_full_or_read_only_extra_folder_gives_one_line_and_no_file(comfy, files, pack_env, kind):
    where = comfy["extra"] / "loras"
    cmd = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)] if kind == "full" \
        else ["mount", "--bind", "-o", "ro", str(where), str(where)]
    if os.geteuid() != 0 or subprocess.run(cmd, capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a small tmpfs or a read-only folder")
    try:
        files.add(f"/l/{kind}.safetensors", safetensors_bytes(3 * 2**20, seed=6))
        files.no_length.add(f"/l/{kind}.safetensors")  # the size shows only when the disk fills
        r = download(comfy, pack_env, files.url(f"/l/{kind}.safetensors"), "--folder", "loras", "--path", where)
        assert r.returncode == 1, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and ("no space" in r.stderr or "read-only" in r.stderr)
        assert "Traceback" not in r.stderr and not [n for n in os.listdir(where) if n.startswith(kind)]
    finally:
        subprocess.run(["umount", str(where)], capture_output=True)

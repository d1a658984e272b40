"""Live: model files land in a real ComfyUI's own folders and show in its /models lists.

The server is the one at COMFYUI_URL when it runs on this machine with an extra_model_paths.yaml
root for `loras` (its /experiment/models says where its folders are); otherwise our own ComfyUI
(COMFYUI_HOME, a free port, a base directory under tmp) started with such a root. Every case runs
for a folder of the server's base directory and for the one extra_model_paths.yaml gives. Files
come from a loopback file server that counts what it sends; names are new each run, so a server
kept between runs holds nothing of ours. Full-disk and read-only folders are a 1 MiB tmpfs and a
read-only bind mount over the folder (root only; skipped otherwise).
"""

import hashlib
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from conftest import script, start
from support.fileserver import FileServer
from support.model_files import safetensors_bytes

RUN = uuid.uuid4().hex[:8]  # this run's file names
pytestmark = pytest.mark.live


def server_folders(url):
    """{folder: [paths on this machine]} of a loopback server, or None for one elsewhere."""
    if urlsplit(url if "://" in url else f"http://{url}").hostname not in ("127.0.0.1", "localhost", "::1"):
        return None
    try:
        listed = requests.get(f"{url.rstrip('/')}/experiment/models", timeout=10).json()
    except (requests.RequestException, ValueError):
        return None
    return {e["name"]: [Path(p) for p in e["folders"] if Path(p).is_dir()] for e in listed}


def layout(url):
    """The folders the tests write to, from the server's own list: base (…/models/<f>) and extra."""
    folders = server_folders(url) or {}
    base = {f: next((p for p in paths if p.parent.name == "models"), None) for f, paths in folders.items()}
    extra = [p for p in folders.get("loras", []) if p != base.get("loras")]
    if not (base.get("loras") and base.get("vae") and base.get("upscale_models") and extra):
        return None
    return {"url": url.rstrip("/"), "loras": base["loras"], "extra_loras": extra[0], "vae": base["vae"],
            "upscale_models": base["upscale_models"], "vae_paths": folders["vae"]}


@pytest.fixture(scope="module")
def comfy(live_server, live_url, tmp_path_factory):
    given = live_url
    found = layout(given)
    if found:
        yield found
        return
    home = Path(live_server[1] or "/nonexistent")
    if not (home / "main.py").is_file():
        pytest.skip(f"{given} is not a ComfyUI on this machine with an extra_model_paths.yaml root for loras; "
                    "set COMFYUI_HOME (or COMFYUI_HOMES) to a ComfyUI install (with .venv) to start one")
    base = tmp_path_factory.mktemp("comfy-downloads")
    extra = base / "extra"
    for d in ("input", "output", "temp", "user", "models/loras", "models/vae", "models/upscale_models",
              "custom_nodes", "extra/loras"):
        (base / d).mkdir(parents=True, exist_ok=True)
    (base / "extra_model_paths.yaml").write_text(f"mine:\n  base_path: {extra}\n  loras: loras\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(base / "server.log", "ab")
    proc = subprocess.Popen([str(home / ".venv/bin/python"), "main.py", "--cpu", "--listen", "127.0.0.1",
                             "--port", str(port), "--base-directory", str(base),
                             "--extra-model-paths-config", str(base / "extra_model_paths.yaml")],
                            cwd=home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 120
    while time.monotonic() < end:
        try:
            if requests.get(url + "/system_stats", timeout=1).ok:
                break
        except requests.RequestException:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"our ComfyUI on {port} did not start; see {base / 'server.log'}")
    try:
        yield layout(url)
    finally:
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


WHERE = ["loras", "extra_loras"]  # the base directory's loras folder, and extra_model_paths.yaml's


def name(stem):
    return f"{stem}_{RUN}.safetensors"


@pytest.mark.parametrize("where", WHERE)
def test_a_file_lands_in_the_servers_folder_and_its_list(comfy, files, pack_env, where):
    data, n = safetensors_bytes(3 * 2**20, seed=1), name(f"lands_{where}")
    files.add(f"/l/{n}", data)
    r = download(comfy, pack_env, files.url(f"/l/{n}"), "--folder", "loras", "--path", comfy[where],
                 "--sha256", hashlib.sha256(data).hexdigest())
    assert r.returncode == 0, r.stderr
    assert (comfy[where] / n).read_bytes() == data
    assert n in listed(comfy, "loras")
    snapshot = json.loads((Path(pack_env["COMFYUI_SKILLS_STATE"]) / "inventory.json").read_text())
    assert n in snapshot["models"]["loras"]  # the inventory was refreshed


def test_a_workflow_becomes_runnable_once_its_file_is_there(comfy, files, pack_env, tmp_path):
    n = name("wf_vae")
    wf = tmp_path / "wf.json"
    wf.write_text(json.dumps({"1": {"class_type": "VAELoader", "inputs": {"vae_name": n}}}))
    files.add(f"/vae/{n}", safetensors_bytes(2**20, seed=2))
    r = download(comfy, pack_env, files.url(f"/vae/{n}"), "--folder", "vae", "--path", comfy["vae"],
                 "--workflow", wf, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)["workflow"]
    assert not any(n in e["message"] for e in report["errors"]), report


def test_several_folders_need_a_path(comfy, files, pack_env):
    n = name("which")
    files.add(f"/l/{n}", safetensors_bytes(2**20, seed=3))
    r = download(comfy, pack_env, files.url(f"/l/{n}"), "--folder", "loras")
    assert r.returncode == 2 and "--path" in r.stderr and str(comfy["extra_loras"]) in r.stderr
    assert files.served == 0 and not (comfy["loras"] / n).exists() and not (comfy["extra_loras"] / n).exists()


@pytest.mark.parametrize("where", WHERE)
def test_a_download_killed_half_way_resumes_without_fetching_again(comfy, files, pack_env, where):
    size, n = 24 * 2**20, name(f"big_{where}")
    data = safetensors_bytes(size, seed=4)
    files.add(f"/l/{n}", data)
    files.pace = 0.1
    part = comfy[where] / (n + ".part")
    p = start("models", "download", files.url(f"/l/{n}"), "--folder", "loras", "--path", comfy[where],
              "--url", comfy["url"], "--quiet", env=pack_env)
    end = time.monotonic() + 60
    while time.monotonic() < end and not (part.exists() and part.stat().st_size >= 6 * 2**20):
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)  # our own child, by its id
    p.wait(10)
    kept = part.stat().st_size
    assert 0 < kept < size and not (comfy[where] / n).exists()
    files.pace = 0.0
    r = download(comfy, pack_env, files.url(f"/l/{n}"), "--folder", "loras", "--path", comfy[where],
                 "--sha256", hashlib.sha256(data).hexdigest(), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["resumed_from"] == kept
    assert files.sent[-1] == (f"/l/{n}", f"bytes={kept}-", size - kept)  # only the rest
    assert not part.exists() and n in listed(comfy, "loras")


@pytest.mark.parametrize("where", WHERE)
def test_a_wrong_hash_leaves_nothing_in_the_folder(comfy, files, pack_env, where):
    n = name(f"bad_{where}")
    files.add(f"/l/{n}", safetensors_bytes(2**20, seed=5))
    r = download(comfy, pack_env, files.url(f"/l/{n}"), "--folder", "loras", "--path", comfy[where],
                 "--sha256", "1" * 64)
    assert r.returncode == 1 and "does not match" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not [f for f in os.listdir(comfy[where]) if f.startswith(n)]
    assert n not in listed(comfy, "loras")


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("kind", ["full", "ro"])
def test_a_full_or_read_only_folder_gives_one_line_and_no_file(comfy, files, pack_env, kind, where):
    folder = comfy[where]
    cmd = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)] if kind == "full" \
        else ["mount", "--bind", "-o", "ro", str(folder), str(folder)]
    if os.geteuid() != 0 or subprocess.run(cmd, capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a small tmpfs or a read-only folder")
    try:
        n = name(f"{kind}_{where}")
        files.add(f"/l/{n}", safetensors_bytes(3 * 2**20, seed=6))
        files.no_length.add(f"/l/{n}")  # the size shows only when the disk fills
        r = download(comfy, pack_env, files.url(f"/l/{n}"), "--folder", "loras", "--path", folder)
        assert r.returncode == 1, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and ("no space" in r.stderr or "read-only" in r.stderr)
        assert "Traceback" not in r.stderr and not [f for f in os.listdir(folder) if f.startswith(n)]
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def test_need_download_fetches_what_a_workflow_lacks_and_it_then_checks_ok(comfy, files, pack_env, tmp_path):
    """models.py need FILE --download end to end: an editor workflow whose properties.models (as
    the official templates carry them) point at the loopback file server, two files in two
    folders, one of which the server reads from two places (--path picks)."""
    from comfyui_skills import conversion

    vae, upscaler = name("need_vae"), name("need_upscaler").replace(".safetensors", ".pth")
    vae_data, up_data = safetensors_bytes(2 * 2**20, seed=7), b"\x80\x02}q\x00." + bytes(4096)
    files.add(f"/vae/{vae}", vae_data)
    files.add(f"/up/{upscaler}", up_data)
    api = {"1": {"class_type": "VAELoader", "inputs": {"vae_name": vae}},
           "2": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
           "3": {"class_type": "VAEDecode", "inputs": {"samples": ["2", 0], "vae": ["1", 0]}},
           "4": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": upscaler}},
           "5": {"class_type": "ImageUpscaleWithModel", "inputs": {"upscale_model": ["4", 0], "image": ["3", 0]}},
           "6": {"class_type": "PreviewImage", "inputs": {"images": ["5", 0]}}}
    object_info = requests.get(f"{comfy['url']}/object_info", timeout=60).json()
    ui = conversion.api_to_ui(api, object_info)
    for node in ui["nodes"]:
        if node["type"] == "VAELoader":
            node.setdefault("properties", {})["models"] = [
                {"name": vae, "directory": "vae", "url": files.url(f"/vae/{vae}"),
                 "hash": hashlib.sha256(vae_data).hexdigest(), "hash_type": "SHA256"}]
        if node["type"] == "UpscaleModelLoader":
            node.setdefault("properties", {})["models"] = [
                {"name": upscaler, "directory": "upscale_models", "url": files.url(f"/up/{upscaler}")}]
    wf = tmp_path / "need.json"
    wf.write_text(json.dumps(ui))
    extra = ["--path", comfy["vae"]] if len(comfy["vae_paths"]) > 1 else []
    r = script("models", "need", wf, "--download", "--url", comfy["url"], *extra, "--json", env=pack_env,
               timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["missing_before"] == 2 and out["runnable"] is True and out["check"]["verdict"] == "ok"
    assert sorted(d["how"] for d in out["downloads"]) == ["downloaded", "downloaded"]
    assert (comfy["vae"] / vae).read_bytes() == vae_data and (comfy["upscale_models"] / upscaler).read_bytes() == up_data
    assert vae in listed(comfy, "vae") and upscaler in listed(comfy, "upscale_models")
    assert f"[1/2] vae/{vae}" in r.stderr and f"[2/2] upscale_models/{upscaler}" in r.stderr

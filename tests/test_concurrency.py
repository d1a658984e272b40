"""Many run.py processes at once against one server: each gets exactly its own outputs."""

import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

SOLID = ROOT / "projects" / "examples" / "workflows" / "solid-color.json"
N = 20


def test_twenty_parallel_runs_each_get_exactly_their_own_outputs(comfy_double, pack_env, tmp_path):
    comfy_double.node_seconds = 0.05
    out_dir = tmp_path / "shared-out"  # one folder for all: names from the server collide on purpose
    procs = [subprocess.Popen([sys.executable, str(ROOT / "scripts" / "run.py"), str(SOLID), "--url", comfy_double.url,
                               "--json", "--out", str(out_dir), "--set", f"1.color={i}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=pack_env)
             for i in range(N)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out))

    ids = [r["prompt_id"] for r in results]
    assert len(set(ids)) == N
    paths = [Path(o["path"]) for r in results for o in r["outputs"]]
    assert len(paths) == N and len(set(paths)) == N
    on_disk = sorted(p for p in out_dir.rglob("*") if p.is_file())
    assert on_disk == sorted(paths)  # nothing clobbered, nothing extra, no .part left
    for i, r in enumerate(results):
        entry = comfy_double.history[r["prompt_id"]]
        assert entry["prompt"][2]["1"]["inputs"]["color"] == i  # the prompt this process sent
        [server_file] = entry["outputs"]["2"]["images"]
        [o] = r["outputs"]
        assert o["filename"] == server_file["filename"]  # the file its own prompt made
        assert Path(o["path"]).name == server_file["filename"]
        assert Path(o["path"]).read_bytes() == comfy_double.files[("output", "examples", o["filename"])]
    assert {r["url"] for r in results} == {comfy_double.url}


def test_parallel_runs_of_the_same_file_names_into_one_folder_never_overwrite(comfy_double, pack_env, tmp_path):
    """The server reuses a name (its counter restarts, e.g. after a restart): ours get -2, -3..."""
    from comfyui_skills import outputs
    from comfyui_skills.api import ComfyUI
    from concurrent.futures import ThreadPoolExecutor

    item = {"kind": "image", "node": "9", "filename": "example.png", "subfolder": "", "type": "input"}
    root = tmp_path / "o"
    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(lambda _: outputs.download(ComfyUI(comfy_double.url), item, root), range(16)))
    names = sorted(Path(d["path"]).name for d in done)
    assert len(set(names)) == 16 and "example.png" in names and "example-16.png" in names
    assert sorted(p.name for p in (root / "input").iterdir()) == names  # type input: its own folder

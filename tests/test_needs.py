"""What a workflow needs that the server lacks, and the command that fetches each piece."""

import gzip
import shlex
import json
from pathlib import Path

from comfyui_skills import needs
from comfyui_skills.nextsteps import render

HERE = Path(__file__).resolve().parent
OBJECT_INFO = json.loads(gzip.decompress((HERE / "recordings" / "object_info.json.gz").read_bytes()))
TEMPLATES = json.loads(gzip.decompress((HERE / "recordings" / "templates" / "templates.json.gz").read_bytes()))
DEFAULT = TEMPLATES["/templates/default.json"]["body"]


def test_a_missing_checkpoint_comes_with_its_link_folder_and_the_download_command():
    found = needs.of_workflow(DEFAULT, OBJECT_INFO)
    [ckpt] = found.models
    assert not found.runnable and not ckpt.present and ckpt.folder == "checkpoints"
    assert ckpt.url.startswith("https://huggingface.co/") and ckpt.size
    # the link's ?download=true would be a shell glob: the command quotes it
    assert render(ckpt.fetch) == f"python scripts/models.py download {shlex.quote(ckpt.url)} --folder checkpoints"


def test_a_file_listed_under_a_subfolder_is_present_with_the_value_to_use():
    found = needs.of_workflow(DEFAULT, OBJECT_INFO, {"checkpoints": ["SD15/v1-5-pruned-emaonly-fp16.safetensors"]})
    [ckpt] = found.models
    assert ckpt.present and ckpt.use == "SD15/v1-5-pruned-emaonly-fp16.safetensors" and ckpt.fetch is None
    assert found.runnable


def test_an_unknown_node_class_names_its_pack_and_install_command():
    wf = {"1": {"class_type": "VHS_VideoCombine", "inputs": {}}}
    found = needs.of_workflow(wf, OBJECT_INFO)
    [node] = found.nodes
    assert node.pack == "comfyui-videohelpersuite"
    assert render(node.fetch) == "python scripts/nodes.py install comfyui-videohelpersuite"


def test_models_need_names_what_a_template_lacks_and_exits_1(comfy_double, pack_env):
    from conftest import script

    r = script("models", "need", "--template", "default", "--url", comfy_double.url, env=pack_env)
    assert r.returncode == 1, r.stderr
    assert "NEED   checkpoints/v1-5-pruned-emaonly-fp16.safetensors" in r.stdout
    assert "$ python scripts/models.py download" in r.stdout
    comfy_double.add_model("checkpoints", "SD15/v1-5-pruned-emaonly-fp16.safetensors", "CheckpointLoaderSimple.ckpt_name")
    r = script("models", "need", "--template", "default", "--url", comfy_double.url, "--json", env=pack_env)
    assert r.returncode == 0 and json.loads(r.stdout)["models"][0]["use"] == "SD15/v1-5-pruned-emaonly-fp16.safetensors"


def test_models_download_by_a_known_name_finds_its_link_and_folder(comfy_double, pack_env):
    # no server folder on this machine and no Manager: the exact commands to run where the server lives
    from conftest import script

    r = script("models", "download", "v1-5-pruned-emaonly-fp16.safetensors", "--url", comfy_double.url, "--json",
               env=pack_env)
    assert "Traceback" not in r.stderr
    out = json.loads(r.stdout)
    assert out["folder"] == "checkpoints" and out["name"] == "v1-5-pruned-emaonly-fp16.safetensors"
    assert any("huggingface.co/Comfy-Org/stable-diffusion-v1-5-archive" in c for c in out.get("commands") or [])


# -- models.py need --download ----------------------------------------------------------------------
import copy
import time
import hashlib
import os

import pytest

from support.fileserver import FileServer
from support.model_files import safetensors_bytes


def template_with(files, **model):
    """The default template (SD1.5, as recorded) asking for another checkpoint, its link in its
    own properties.models (as the official templates carry them)."""
    wf = copy.deepcopy(DEFAULT)
    node = next(n for n in wf["nodes"] if n["type"] == "CheckpointLoaderSimple")
    node["widgets_values"] = [model["name"]]
    node["properties"]["models"] = [dict(model, directory="checkpoints")]
    return wf


@pytest.fixture
def served(comfy_double, tmp_path):
    """A loopback file server, and a double whose checkpoints folder is a real folder here."""
    local = tmp_path / "models" / "checkpoints"
    local.mkdir(parents=True)
    comfy_double.model_paths["checkpoints"] = [str(local)]
    comfy_double.lists_disk("checkpoints", "CheckpointLoaderSimple.ckpt_name")
    with FileServer() as srv:
        yield srv, local


def need_download(comfy_double, env, wf_path, *extra):
    from conftest import script

    return script("models", "need", wf_path, "--download", "--url", comfy_double.url, *extra, env=env, timeout=120)


def write_wf(tmp_path, wf, name="wf.json"):
    path = tmp_path / name
    path.write_text(json.dumps(wf))
    return path


def test_need_download_fetches_the_file_checks_its_hash_and_says_the_workflow_now_runs(
        comfy_double, pack_env, tmp_path, served):
    srv, local = served
    data = safetensors_bytes(2 * 2**20 + 77, seed=3)
    srv.add("/m/tiny_need.safetensors", data)
    wf = template_with(srv, name="tiny_need.safetensors", url=srv.url("/m/tiny_need.safetensors"),
                       hash=hashlib.sha256(data).hexdigest(), hash_type="SHA256")
    r = need_download(comfy_double, pack_env, write_wf(tmp_path, wf), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["runnable"] is True and out["missing_before"] == 1 and out["missing"] == 0
    [got] = out["downloads"]
    assert got["how"] == "downloaded" and got["url_from"] == "workflow" and got["sha256"] == hashlib.sha256(data).hexdigest()
    assert (local / "tiny_need.safetensors").read_bytes() == data and os.listdir(local) == ["tiny_need.safetensors"]
    assert out["check"]["verdict"] == "ok"
    snapshot = json.loads((tmp_path / "state" / "inventory.json").read_text())
    assert "tiny_need.safetensors" in snapshot["models"]["checkpoints"]  # the inventory was refreshed
    assert "[1/1] checkpoints/tiny_need.safetensors from 127.0.0.1" in r.stderr
    assert "tiny_need.safetensors: 2.0 MiB of 2.0 MiB (100%)" in r.stderr  # the file's own progress


def test_need_download_text_says_runnable_and_a_second_run_has_nothing_to_fetch(
        comfy_double, pack_env, tmp_path, served):
    srv, local = served
    srv.add("/m/again.safetensors", safetensors_bytes(2**20, seed=4))
    path = write_wf(tmp_path, template_with(srv, name="again.safetensors", url=srv.url("/m/again.safetensors")))
    r = need_download(comfy_double, pack_env, path, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "got      checkpoints/again.safetensors ->" in r.stdout and "runnable now" in r.stdout
    assert "%" not in r.stderr  # --quiet: no progress
    before = srv.served
    r = need_download(comfy_double, pack_env, path)
    assert r.returncode == 0 and "no model file to fetch" in r.stdout and srv.served == before


def test_need_download_a_wrong_hash_keeps_nothing_and_exits_1(comfy_double, pack_env, tmp_path, served):
    srv, local = served
    srv.add("/m/bad.safetensors", safetensors_bytes(2**20, seed=5))
    wf = template_with(srv, name="bad.safetensors", url=srv.url("/m/bad.safetensors"), hash="0" * 64)
    r = need_download(comfy_double, pack_env, write_wf(tmp_path, wf), "--json")
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    [failed] = out["downloads"]
    assert failed["how"] == "failed" and "does not match" in failed["error"]["message"]
    assert failed["todo"].startswith("python scripts/models.py download http://127.0.0.1:")
    assert out["runnable"] is False and os.listdir(local) == []


def test_need_download_a_file_with_no_known_source_says_what_to_do(comfy_double, pack_env, tmp_path, served):
    wf = template_with(None, name="someones_finetune.safetensors")
    r = need_download(comfy_double, pack_env, write_wf(tmp_path, wf))
    assert r.returncode == 1, r.stderr
    assert "NO SOURCE checkpoints/someones_finetune.safetensors" in r.stdout
    assert ("$ python scripts/models.py download <url> --folder checkpoints --name someones_finetune.safetensors "
            f"--url {comfy_double.url}") in r.stdout
    assert "not runnable yet: 1 thing(s) still missing" in r.stdout


def test_need_download_keeps_the_workflows_subfolder(comfy_double, pack_env, tmp_path, served):
    srv, local = served
    srv.add("/m/sub.safetensors", safetensors_bytes(2**20, seed=6))
    wf = template_with(srv, name="SD15/sub.safetensors", url=srv.url("/m/sub.safetensors"))
    r = need_download(comfy_double, pack_env, write_wf(tmp_path, wf), "--json")
    assert r.returncode == 0, r.stderr
    assert (local / "SD15" / "sub.safetensors").is_file()
    assert json.loads(r.stdout)["downloads"][0]["saved_as"] == "SD15/sub.safetensors"


def test_need_download_leaves_a_file_the_server_has_in_a_subfolder_and_names_the_value(
        comfy_double, pack_env, tmp_path, served):
    srv, local = served
    (local / "SDXL").mkdir()
    (local / "SDXL" / "elsewhere.safetensors").write_bytes(safetensors_bytes(2**20))
    srv.add("/m/elsewhere.safetensors", safetensors_bytes(2**20, seed=7))
    wf = template_with(srv, name="elsewhere.safetensors", url=srv.url("/m/elsewhere.safetensors"))
    r = need_download(comfy_double, pack_env, write_wf(tmp_path, wf))
    assert srv.served == 0 and "no model file to fetch" in r.stdout
    assert "set it to 'SDXL/elsewhere.safetensors'" in r.stdout
    assert r.returncode == 1 and "not runnable yet" in r.stdout  # the value as saved is not in the list


def test_need_download_with_two_folders_here_asks_for_path_then_uses_it(comfy_double, pack_env, tmp_path, served):
    srv, local = served
    extra = tmp_path / "extra" / "checkpoints"
    extra.mkdir(parents=True)
    comfy_double.model_paths["checkpoints"] = [str(local), str(extra)]
    srv.add("/m/two.safetensors", safetensors_bytes(2**20, seed=8))
    path = write_wf(tmp_path, template_with(srv, name="two.safetensors", url=srv.url("/m/two.safetensors")))
    r = need_download(comfy_double, pack_env, path, "--json")
    assert r.returncode == 1
    [failed] = json.loads(r.stdout)["downloads"]
    assert "choose one with --path" in failed["error"]["message"] and str(extra) in failed["error"]["hint"]
    r = need_download(comfy_double, pack_env, path, "--path", extra)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (extra / "two.safetensors").is_file() and os.listdir(local) == []


def test_need_download_with_the_folder_elsewhere_prints_the_commands(comfy_double, pack_env, tmp_path):
    r = need_download(comfy_double, pack_env, write_wf(tmp_path, DEFAULT), "--json")
    assert r.returncode == 1
    [placed] = json.loads(r.stdout)["downloads"]
    assert placed["how"] == "commands" and placed["path"] == \
        "/srv/comfy-double/models/checkpoints/v1-5-pruned-emaonly-fp16.safetensors"
    assert any(c.startswith("hf download Comfy-Org/stable-diffusion-v1-5-archive") for c in placed["commands"])


def test_need_download_without_a_server_is_exit_3(pack_env, tmp_path):
    from conftest import closed_port, script

    r = script("models", "need", write_wf(tmp_path, DEFAULT), "--download",
               "--url", f"127.0.0.1:{closed_port()}", env=pack_env)
    assert r.returncode == 3 and "--download needs the server" in r.stderr and "Traceback" not in r.stderr


def test_path_without_download_is_refused(pack_env, tmp_path):
    from conftest import script

    r = script("models", "need", write_wf(tmp_path, DEFAULT), "--path", str(tmp_path), env=pack_env)
    assert r.returncode == 2 and "--path goes with --download" in r.stderr


def test_need_download_stopped_with_ctrl_c_keeps_the_part_and_the_next_run_resumes_it(
        comfy_double, pack_env, tmp_path, served):
    import signal

    from conftest import start

    srv, local = served
    size = 12 * 2**20
    data = safetensors_bytes(size, seed=10)
    srv.add("/m/slow.safetensors", data)
    srv.pace = 0.1
    path = write_wf(tmp_path, template_with(srv, name="slow.safetensors", url=srv.url("/m/slow.safetensors"),
                                            hash=hashlib.sha256(data).hexdigest()))
    part = local / "slow.safetensors.part"
    p = start("models", "need", path, "--download", "--url", comfy_double.url, env=pack_env)
    end = time.monotonic() + 60
    while time.monotonic() < end and not (part.exists() and part.stat().st_size >= 3 * 2**20):
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)  # our own child, by its id
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130 and "interrupted" in err and "Traceback" not in err
    kept = part.stat().st_size
    assert 0 < kept < size and not (local / "slow.safetensors").exists()
    srv.pace = 0.0
    r = need_download(comfy_double, pack_env, path, "--json")
    assert r.returncode == 0, r.stderr
    [got] = json.loads(r.stdout)["downloads"]
    assert got["resumed_from"] == kept and srv.sent[-1] == ("/m/slow.safetensors", f"bytes={kept}-", size - kept)
    assert (local / "slow.safetensors").read_bytes() == data and not part.exists()

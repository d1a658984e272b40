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

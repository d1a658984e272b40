"""Node packs and model placement against the double: with and without ComfyUI-Manager.

The Manager's answers are the ones 3.37.1 gave offline (tests/recordings/manager/).
"""

import json

import pytest

from conftest import script
from comfyui_skills import nodepacks, placement
from comfyui_skills.api import ComfyUI
from comfyui_skills.errors import CheckFailed, InputError
from support.fileserver import FileServer
from support.model_files import safetensors_bytes

VHS_WORKFLOW = {"1": {"class_type": "VHS_LoadVideo", "inputs": {}},
                "2": {"class_type": "KSampler", "inputs": {}},
                "3": {"class_type": "NoSuchNodeAnywhere", "inputs": {}}}


def write(tmp_path, wf):
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(wf))
    return path


@pytest.mark.parametrize("manager,source", [("3.37.1", "manager"), (None, "known")])
def test_need_names_the_pack_of_each_missing_class(comfy_double, pack_env, tmp_path, manager, source):
    comfy_double.manager = manager
    r = script("nodes", "need", write(tmp_path, VHS_WORKFLOW), "--url", comfy_double.url, "--json", env=pack_env)
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert out["missing"] == ["NoSuchNodeAnywhere", "VHS_LoadVideo"] and out["unknown"] == ["NoSuchNodeAnywhere"]
    (pack,) = out["packs"]
    assert pack["source"] == source and pack["classes"] == ["VHS_LoadVideo"]
    assert pack["repository"].lower() == "https://github.com/kosinkadink/comfyui-videohelpersuite"


def test_need_with_every_class_present_exits_0(comfy_double, pack_env, tmp_path):
    r = script("nodes", "need", write(tmp_path, {"1": {"class_type": "KSampler", "inputs": {}}}),
               "--url", comfy_double.url, env=pack_env)
    assert r.returncode == 0 and "every node class" in r.stdout


def test_install_without_the_manager_prints_the_lines_to_run(comfy_double, pack_env):
    r = script("nodes", "install", "comfyui-videohelpersuite", "--url", comfy_double.url, env=pack_env)
    assert r.returncode == 1
    assert "comfy node install comfyui-videohelpersuite" in r.stdout
    assert "git clone https://github.com/Kosinkadink/ComfyUI-VideoHelperSuite" in r.stdout


def test_install_through_the_manager_queues_starts_and_reports_what_it_could_not_do(comfy_double):
    comfy_double.manager = "3.37.1"
    client = ComfyUI(comfy_double.url)
    with pytest.raises(CheckFailed, match="not installed"):
        nodepacks.install(client, "https://github.com/city96/ComfyUI-GGUF", poll=0.01)
    ((kind, body),) = comfy_double.manager_queue
    assert kind == "install" and body["files"] == ["https://github.com/city96/ComfyUI-GGUF"]
    # 3.37.1 serves queue/start as a GET: the POST got 405 and the GET followed
    starts = [(m, p) for m, p, _ in comfy_double.requests if p == "/manager/queue/start"]
    assert starts == [("POST", "/manager/queue/start"), ("GET", "/manager/queue/start")]


def test_a_pack_the_manager_does_not_list_is_refused(comfy_double):
    comfy_double.manager = "3.37.1"
    with pytest.raises(InputError, match="no node pack"):
        nodepacks.install(ComfyUI(comfy_double.url), "surely-no-such-pack")


def test_a_folder_on_this_machine_gets_the_file(comfy_double, tmp_path):
    local = tmp_path / "loras"
    local.mkdir()
    comfy_double.model_paths["loras"] = [str(local), str(tmp_path / "output/loras")]  # the 2nd is absent
    assert placement.local_folders(ComfyUI(comfy_double.url), "loras") == [local]
    with FileServer() as srv:
        srv.add("/x.safetensors", safetensors_bytes(2**20))
        placed = placement.place(ComfyUI(comfy_double.url), srv.url("/x.safetensors"), "loras",
                                 token_for=lambda url: {})
    assert placed.how == "downloaded" and (local / "x.safetensors").is_file()


def test_no_folder_here_and_no_manager_gives_exact_commands(comfy_double, pack_env):
    url = "https://huggingface.co/org/repo/resolve/main/lora_x.safetensors"
    r = script("models", "download", url, "--folder", "loras", "--url", comfy_double.url, "--json", env=pack_env)
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert out["how"] == "commands" and out["path"] == "/srv/comfy-double/models/loras/lora_x.safetensors"
    assert "hf download org/repo lora_x.safetensors --local-dir /srv/comfy-double/models/loras" in out["commands"]
    assert any(c.startswith("curl -L --fail -C -") and "$HF_TOKEN" in c for c in out["commands"])
    assert "hf_" not in r.stdout + r.stderr


def test_the_manager_route_sends_its_own_list_entry(comfy_double):
    comfy_double.manager = "3.37.1"
    client = ComfyUI(comfy_double.url)
    entry = placement.manager_entry(client, "https://example.invalid/other", "cosmos_cv8x8x8_1.0.safetensors")
    assert entry["save_path"] == "default" and entry["base"] == "Cosmos-1.0"
    with pytest.raises(CheckFailed, match="does not list"):  # offline, as recorded: no file arrives
        placement.through_manager(client, entry, "vae", poll=0.01)
    assert comfy_double.manager_queue == [("install-model", entry)]


def test_several_folders_here_need_a_choice(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    with pytest.raises(InputError, match="--path"):
        placement.choose([a, b], None, "loras")
    assert placement.choose([a, b], str(b), "loras") == b
    with pytest.raises(InputError, match="not one of"):
        placement.choose([a, b], str(tmp_path / "elsewhere"), "loras")


# -- ComfyUI-Manager 4 (ComfyUI 0.33.0 --enable-manager), as recorded offline ----------------------
def v4_posts(double, path):
    return [(m, headers.get("Content-Type")) for m, p, headers in double.requests if p == path]


def test_install_through_manager_4_ends_in_one_line_with_its_reason(comfy_double, pack_env):
    comfy_double.manager = "4.2.2"
    r = script("nodes", "install", "comfyui-videohelpersuite", "--url", comfy_double.url, env=pack_env)
    assert r.returncode == 1 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert "no ComfyUI-Manager" not in r.stderr and "Traceback" not in r.stderr
    # the registry was out of reach, as recorded: the Manager's own words, then what would help
    assert lines[-1].startswith("error: ComfyUI-Manager V4.2.2 could not do the install of comfyui-videohelpersuite: "
                                "Cannot resolve install target: 'comfyui-videohelpersuite@latest'")
    assert "repository URL" in lines[-1]
    ((kind, body),) = comfy_double.manager_queue
    assert kind == "install" and body["params"]["id"] == "comfyui-videohelpersuite"
    assert body["params"]["selected_version"] == "latest" and body["client_id"] and body["ui_id"]
    # the queue was started by a POST with a JSON body (a form content type is refused)
    assert v4_posts(comfy_double, "/v2/manager/queue/start")[0] == ("POST", "application/json")


def test_a_git_pack_through_manager_4_reports_the_clone_failure(comfy_double, pack_env):
    comfy_double.manager = "4.2.2"
    r = script("nodes", "install", "https://github.com/city96/ComfyUI-GGUF", "--url", comfy_double.url, "--json",
               env=pack_env)
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["error"] == "CheckFailed" and out["manager_task"] == comfy_double.manager_queue[0][1]["ui_id"]
    assert "git" in out["result"].lower() and "https://github.com/city96/ComfyUI-GGUF" in out["result"]
    assert out["result"].splitlines()[0] in r.stderr.strip().splitlines()[-1]
    ((_, body),) = comfy_double.manager_queue
    assert body["params"]["id"] == "ComfyUI-GGUF" and body["params"]["selected_version"] == "unknown"


def test_need_reads_manager_4s_node_map(comfy_double, pack_env, tmp_path):
    comfy_double.manager = "4.2.2"
    r = script("nodes", "need", write(tmp_path, VHS_WORKFLOW), "--url", comfy_double.url, "--json", env=pack_env)
    (pack,) = json.loads(r.stdout)["packs"]
    assert pack["source"] == "manager" and pack["classes"] == ["VHS_LoadVideo"]
    assert any(p == "/v2/customnode/getmappings" for _, p, _ in comfy_double.requests)


def test_a_model_through_manager_4_any_url_and_its_failure(comfy_double, pack_env):
    comfy_double.manager = "4.2.2"
    url = "https://huggingface.co/org/repo/resolve/main/lora_y.safetensors"
    r = script("models", "download", url, "--folder", "loras", "--url", comfy_double.url, env=pack_env)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith(
        f"error: ComfyUI-Manager V4.2.2 could not do the download of lora_y.safetensors: Model installation error: {url}")
    ((kind, body),) = comfy_double.manager_queue
    assert kind == "install-model" and body["url"] == url and body["save_path"] == "loras"
    assert body["filename"] == "lora_y.safetensors" and body["client_id"] and body["ui_id"]


def test_a_url_with_a_query_never_goes_to_manager_4(comfy_double, pack_env):
    comfy_double.manager = "4.2.2"
    url = "https://civitai.com/api/download/models/1?token=sekrit"
    r = script("models", "download", url, "--folder", "loras", "--name", "z.safetensors", "--url", comfy_double.url,
               "--json", env=pack_env)
    assert r.returncode == 1 and json.loads(r.stdout)["how"] == "commands"
    assert comfy_double.manager_queue == []


def test_a_task_manager_4_refuses_names_the_setting_that_allows_it(comfy_double, pack_env):
    comfy_double.manager, comfy_double.manager_refuses = "4.2.2", True
    r = script("nodes", "install", "comfyui-videohelpersuite", "--url", comfy_double.url, "--json", env=pack_env)
    assert r.returncode == 1 and json.loads(r.stdout)["result"] == "failed"
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ComfyUI-Manager V4.2.2 refused the install of comfyui-videohelpersuite: "
                           "its security policy does not allow it")
    assert "security_level = normal" in line and "user/__manager/config.ini" in line and "installed" not in line

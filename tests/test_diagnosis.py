"""diagnose.py names the right cause and node for every failure recorded from a real ComfyUI.

The corpus in tests/fixtures/failures/ was recorded by record_failures.py from ComfyUI 0.3.64:
each file holds what a user would have (the /prompt answer, WebSocket messages, the /history
entry, /queue, the server log) and `expect`, the cause a human read from that evidence.
"""

import gzip
import json
import re
import shlex
import uuid

import pytest

from comfyui_skills import diagnosis
from conftest import ROOT, closed_port, script

CORPUS = ROOT / "tests" / "fixtures" / "failures"
CASES = sorted(p for p in CORPUS.glob("*.json") if p.name != "torch_messages.json")
TORCH = json.loads((CORPUS / "torch_messages.json").read_text())


def load(path):
    return json.loads(path.read_text())


def run_json(*args, env=None, stdin=None):
    r = script("diagnose", *args, "--json", env=env, stdin=stdin)
    assert "Traceback" not in r.stderr, r.stderr
    return r, json.loads(r.stdout)


def test_the_corpus_has_what_the_issue_asks_for():
    causes = {load(p)["expect"]["cause"] for p in CASES}
    assert {"model_corrupt", "model_missing", "node_missing", "out_of_memory", "interrupted",
            "server_unreachable", "cached_run", "value_bigger_than_max", "value_smaller_than_min",
            "value_not_in_list", "invalid_input_type"} <= causes
    assert len(CASES) >= 25


# -- every recording, whole, through the script ----------------------------------------------------
@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_recorded_failure_names_cause_and_node(path, pack_env):
    want = load(path)["expect"]
    r, out = run_json(path, env=pack_env)
    assert r.returncode == 0
    assert (out["cause"], out["node_id"], out["class_type"]) == (want["cause"], want["node_id"], want["class_type"])
    assert out["input"] == "recording"
    assert out["evidence"] and all(isinstance(e, str) and e for e in out["evidence"])
    assert out["confidence"] in ("high", "medium", "low")


# -- each piece a user might hold on its own --------------------------------------------------------
def parts(name):
    rec = load(CORPUS / f"{name}.json")
    body = (rec.get("prompt_response") or {}).get("body")
    return rec, body


PROMPT_ERRORS = [p.stem for p in CASES if (load(p).get("prompt_response") or {}).get("status") == 400]
EXEC_FAILURES = [p.stem for p in CASES if any(m["type"] in ("execution_error", "execution_interrupted")
                                               for m in load(p).get("ws") or [])]


@pytest.mark.parametrize("name", PROMPT_ERRORS)
def test_a_saved_prompt_error_body_alone(name):
    rec, body = parts(name)
    assert diagnosis.detect_kind(body) == "prompt_error"
    d = diagnosis.diagnose(diagnosis.gather(body))
    assert (d["cause"], d["node_id"]) == (rec["expect"]["cause"], rec["expect"]["node_id"])


@pytest.mark.parametrize("name", EXEC_FAILURES)
def test_a_history_answer_alone_and_ws_messages_alone(name):
    rec = load(CORPUS / f"{name}.json")
    for piece, kind in ((rec["history"], "history"), (rec["ws"], "ws_messages")):
        assert diagnosis.detect_kind(piece) == kind
        d = diagnosis.diagnose(diagnosis.gather(piece))
        assert (d["cause"], d["node_id"]) == (rec["expect"]["cause"], rec["expect"]["node_id"]), kind


@pytest.mark.parametrize("name", EXEC_FAILURES)
def test_a_history_entry_alone(name):
    rec = load(CORPUS / f"{name}.json")
    entry = rec["history"][rec["prompt_id"]]
    assert diagnosis.detect_kind(entry) == "history_entry"
    assert diagnosis.diagnose(diagnosis.gather(entry))["cause"] == rec["expect"]["cause"]


LOG_CAUSES = {  # what the server log alone shows; it never names the node of an execution error
    "corrupt_checkpoint_empty": "model_corrupt", "corrupt_checkpoint_html": "model_corrupt",
    "corrupt_checkpoint_partial": "model_corrupt", "corrupt_checkpoint_ckpt": "model_corrupt",
    "wrong_model_type": "model_wrong_type", "oom_cpu": "out_of_memory",
    "text_encoder_wrong_family": "model_family_mismatch", "interrupted": "interrupted",
    "post_not_json": "server_error", "unrecognised_clip_layout": "unrecognised",
    **{n: load(CORPUS / f"{n}.json")["expect"]["cause"] for n in PROMPT_ERRORS},
}


@pytest.mark.parametrize("name,cause", sorted(LOG_CAUSES.items()))
def test_pasted_log_text_alone(name, cause, pack_env):
    rec = load(CORPUS / f"{name}.json")
    r, out = run_json("-", env=pack_env, stdin=rec["log"])
    assert out["input"] == "log"
    assert out["cause"] == cause
    if name in PROMPT_ERRORS and rec["expect"]["node_id"] and cause != "prompt_no_outputs":
        assert out["node_id"] == rec["expect"]["node_id"]  # validation lines name the node
    assert out["confidence"] in ("medium", "low")  # text is weaker than the server's answer


@pytest.mark.parametrize("m", TORCH["messages"], ids=lambda m: m["call"][:40])
def test_real_torch_messages(m):
    node = "KSampler" if m["cause"] == "model_family_mismatch" else "ImageBlend"
    f = diagnosis.classify_exception(m["message"], "3", node, [m["message"]], diagnosis.Commands())
    assert f["cause"] == m["cause"]


# -- what the diagnosis says --------------------------------------------------------------------
def test_missing_model_names_folder_and_download_from_models_md(pack_env):
    _, out = run_json(CORPUS / "missing_model.json", env=pack_env)
    assert "models/checkpoints" in out["summary"] and "sd_xl_base_1.0.safetensors" in out["summary"]
    cmds = [f["command"] for f in out["fixes"] if f["command"]]
    # the pack's own commands first: the file by the name the pack knows, or all the workflow lacks
    assert cmds[:2] == ["python scripts/models.py download sd_xl_base_1.0.safetensors",
                        "python scripts/models.py need <workflow.json> --download"]
    assert "python scripts/inventory.py --models checkpoints" in cmds
    assert not any(c.startswith("comfy ") for c in cmds)


def test_missing_custom_node_gives_the_packs_own_commands_first(pack_env):
    _, out = run_json(CORPUS / "missing_custom_node.json", "--url", "127.0.0.1:8189", env=pack_env)
    cmds = [f["command"] for f in out["fixes"] if f["command"]]
    assert cmds[:2] == ["python scripts/nodes.py need <workflow.json> --url 127.0.0.1:8189",
                        "python scripts/nodes.py install comfyui-videohelpersuite --url 127.0.0.1:8189"]
    assert "comfy node install comfyui-videohelpersuite" in cmds[2:]  # comfy-cli only as an alternative
    assert not any("/manager/queue" in c for c in cmds)


def test_unknown_pack_resolved_from_the_workflow():
    f = diagnosis.node_missing("5", "SomeNodeNobodyKnows", "quote", diagnosis.Commands())
    cmds = [x["command"] for x in f["fixes"]]
    assert cmds[:2] == ["python scripts/nodes.py need <workflow.json>", "python scripts/nodes.py install <pack>"]
    assert "comfy node install-deps --workflow=<workflow.json>" in cmds[2:]


def test_oom_on_cpu_suggests_freeing_memory_and_smaller_jobs(pack_env):
    _, out = run_json(CORPUS / "oom_cpu.json", env=pack_env)
    assert "RAM" in out["summary"] and "4.0 TiB" in out["summary"]
    assert any(f["command"] == "python scripts/queue.py free" for f in out["fixes"])


def test_gpu_oom_suggests_lowvram_and_tiled_decode():
    text = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"
    f = diagnosis.classify_exception(text, "8", "VAEDecode", [text], diagnosis.Commands())
    assert f["cause"] == "out_of_memory" and "VRAM" in f["summary"]
    assert "python main.py --lowvram" in [x["command"] for x in f["fixes"]]
    assert any("VAEDecodeTiled" in x["text"] for x in f["fixes"])


def test_further_problems_are_listed():
    body = {"error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
                      "details": "", "extra_info": {}},
            "node_errors": {
                "3": {"class_type": "KSampler", "dependent_outputs": ["9"], "errors": [
                    {"type": "value_smaller_than_min", "message": "Value 0 smaller than min of 1", "details": "steps",
                     "extra_info": {"input_name": "steps"}}]},
                "4": {"class_type": "CheckpointLoaderSimple", "dependent_outputs": ["9"], "errors": [
                    {"type": "value_not_in_list", "message": "Value not in list",
                     "details": "ckpt_name: 'x.safetensors' not in []", "extra_info": {"input_name": "ckpt_name"}}]}}}
    d = diagnosis.diagnose(diagnosis.gather(body))
    assert d["cause"] == "value_smaller_than_min" and d["node_id"] == "3"
    assert [(p["cause"], p["node_id"]) for p in d["problems"]] == [("model_missing", "4")]


def test_run_py_result_is_read(pack_env):
    rec = load(CORPUS / "corrupt_checkpoint_empty.json")
    ws_error = next(m["data"] for m in rec["ws"] if m["type"] == "execution_error")
    result = {"prompt_id": rec["prompt_id"], "status": "error", "url": "http://127.0.0.1:8188", "outputs": [],
              "error": {"node_id": ws_error["node_id"], "class_type": ws_error["node_type"],
                        "exception_type": ws_error["exception_type"],
                        "exception_message": ws_error["exception_message"].strip()}}
    _, out = run_json("-", env=pack_env, stdin=json.dumps(result))
    assert out["input"] == "run_result"
    assert (out["cause"], out["node_id"], out["class_type"]) == ("model_corrupt", "1", "CheckpointLoaderSimple")


def test_run_py_result_still_running_is_a_wait_timeout(pack_env):
    result = {"prompt_id": "p1", "status": "running", "resume": "python scripts/queue.py wait p1"}
    _, out = run_json("-", env=pack_env, stdin=json.dumps(result))
    assert out["cause"] == "wait_timeout"
    assert "python scripts/queue.py wait p1" in [f["command"] for f in out["fixes"]]


def test_unknown_text_is_unrecognised_with_its_evidence(pack_env):
    text = "Traceback (most recent call last):\n  File \"x.py\", line 1, in f\nZeroDivisionError: division by zero\n"
    r, out = run_json("-", env=pack_env, stdin=text)
    assert r.returncode == 0
    assert out["cause"] == "unrecognised" and out["confidence"] == "low"
    assert "ZeroDivisionError: division by zero" in out["evidence"]


def test_text_output_is_short_and_readable(pack_env):
    r = script("diagnose", CORPUS / "corrupt_checkpoint_html.json", env=pack_env)
    assert r.returncode == 0
    assert r.stdout.startswith("cause: model_corrupt at CheckpointLoaderSimple node 1 (high confidence")
    assert "header too large" in r.stdout and "$ python scripts/inventory.py --models" in r.stdout


@pytest.mark.parametrize("args,words", [
    (["no/such/file.json"], "no such file"),
    (["-"], "empty"),
])
def test_bad_input_is_one_line_exit_2(args, words, pack_env):
    r = script("diagnose", *args, env=pack_env, stdin="")
    assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr


def test_prompt_id_with_server_down_is_diagnosed_exit_3(pack_env):
    port = closed_port()
    r, out = run_json(str(uuid.uuid4()), "--url", f"127.0.0.1:{port}", env=pack_env)
    assert r.returncode == 3
    assert out["input"] == "live" and out["cause"] == "server_unreachable"
    assert f"python scripts/status.py --url 127.0.0.1:{port}" in [f["command"] for f in out["fixes"]]


# -- every command a diagnosis prints is real ---------------------------------------------------
FOREIGN = [  # commands of ComfyUI, comfy-cli, Hugging Face's CLI and curl, in the forms we print
    r"comfy node install [\w.-]+", r"comfy node install-deps --workflow=<workflow\.json>",
    r"comfy node update all", r"comfy update (comfy|all)",
    r"python main\.py (--lowvram|--cpu|--force-fp32|--listen 127\.0\.0\.1 --port \d+)", r"hf auth login",
    r"curl -s http://127\.0\.0\.1:\d+/internal/logs",
]


def all_printed_commands():
    found = set()
    for path in CASES:
        d = diagnosis.diagnose(diagnosis.gather(load(path)))
        for f in [d] + d["problems"]:
            found.update(x["command"] for x in f["fixes"] if x["command"])
    for m in TORCH["messages"]:
        f = diagnosis.classify_exception(m["message"], "1", "KSampler", [], diagnosis.Commands())
        found.update(x["command"] for x in f["fixes"] if x["command"])
    for text in ("CUDA out of memory", "mystery", "FileNotFoundError: x"):
        f = diagnosis.classify_exception(text, "1", "X", [], diagnosis.Commands())
        found.update(x["command"] for x in f["fixes"] if x["command"])
    found.update(x["command"] for x in diagnosis.node_missing("1", "Unknown", "", diagnosis.Commands())["fixes"]
                 if x["command"])
    return sorted(found)


PRINTED = all_printed_commands()


def test_commands_are_the_packs_or_known_real_ones():
    for c in PRINTED:
        if c.startswith("python scripts/"):
            assert re.fullmatch(r"python scripts/(status|queue|inventory|validate|run|upload|convert|diagnose|models|"
                                r"nodes)\.py.*", c)
        else:
            assert any(re.fullmatch(p, c) for p in FOREIGN), c


@pytest.fixture
def placeholders(tmp_path):
    wf = tmp_path / "workflow.json"
    wf.write_text(json.dumps(load(CORPUS / "cached_rerun.json")["workflow"]))
    png = tmp_path / "photo.png"
    png.write_bytes(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                                  "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"))
    inv = tmp_path / "inventory.json"  # inventory.py's snapshot of the server the corpus was recorded on
    inv.write_bytes(gzip.decompress((CORPUS / "inventory-with-broken-models.json.gz").read_bytes()))
    return {"<workflow.json>": str(wf), "<image file>": str(png), "<prompt id>": str(uuid.uuid4()),
            "<inventory>": str(inv),
            "<new seed>": "7", "<query>": "save", "<node>.<input>=<new value>": "1.width=8",
            "<pack>": "comfyui-videohelpersuite"}


@pytest.mark.parametrize("command", [c for c in PRINTED if c.startswith("python scripts/")])
def test_pack_commands_run(command, placeholders, pack_env):
    """Each runs for real against a closed port: parsed and carried out up to the server (exit 3), or offline."""
    for k, v in placeholders.items():
        command = command.replace(k, v)
    words = shlex.split(command)
    assert not [w for w in words if "<" in w], command
    name = words[1].split("/")[1][:-3]
    extra = {"inventory": ["--inventory", placeholders["<inventory>"]],  # the recorded server's lists
             "validate": [], "convert": []}.get(name, ["--url", f"127.0.0.1:{closed_port()}"])
    if words[2:3] == ["wait"]:
        extra += ["--max-wait", "2"]
    r = script(name, *words[2:], *extra, env=pack_env, timeout=60)
    assert "Traceback" not in r.stderr, r.stderr
    assert "--help)" not in r.stderr and "unrecognized arguments" not in r.stderr, r.stderr
    assert r.returncode in (0, 1, 3), (command, r.returncode, r.stderr)



# -- the fixes a diagnosis suggests, carried out against the double ---------------------------------
def suggested(name, url, prefix):
    """The first command starting `prefix` ("models.py download") that a diagnosis of corpus case
    `name` suggests, as the script's arguments."""
    d = diagnosis.diagnose(diagnosis.gather(load(CORPUS / f"{name}.json")), url=url)
    for f in d["fixes"]:
        if (f["command"] or "").startswith(f"python scripts/{prefix} "):
            return shlex.split(f["command"])[2:]
    raise AssertionError(f"no {prefix} fix for {name}: {d['fixes']}")


def test_the_model_download_fix_goes_through_the_managers_queue_and_says_why_no_file_came(comfy_double, pack_env):
    # the server's checkpoints folder is not on this machine, so the Manager installs it; the
    # recorded Manager had no internet: its queue ends and no file arrives (recordings/manager/)
    comfy_double.manager = "3.37.1"
    words = suggested("missing_model", comfy_double.url, "models.py download")
    assert words[:2] == ["download", "sd_xl_base_1.0.safetensors"]
    r = script("models", *words, env=pack_env, timeout=60)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "ComfyUI-Manager finished its queue but checkpoints does not list sd_xl_base_1.0.safetensors" in r.stderr
    [(kind, entry)] = comfy_double.manager_queue
    assert kind == "install-model" and entry["filename"] == "sd_xl_base_1.0.safetensors"


def test_the_workflow_fetch_fix_gets_the_file_and_the_workflow_then_runs(comfy_double, pack_env, tmp_path):
    from comfyui_skills import conversion
    from support.fileserver import FileServer
    from support.model_files import safetensors_bytes
    import hashlib

    rec = load(CORPUS / "missing_model.json")
    ui = conversion.api_to_ui(rec["workflow"], comfy_double.object_info)
    loader = next(n for n in ui["nodes"] if n["type"] == "CheckpointLoaderSimple")
    data = safetensors_bytes(2**20 + 5, seed=9)
    local = tmp_path / "checkpoints"
    local.mkdir()
    comfy_double.model_paths["checkpoints"] = [str(local)]
    comfy_double.lists_disk("checkpoints", "CheckpointLoaderSimple.ckpt_name")
    with FileServer() as srv:
        srv.add("/sdxl/sd_xl_base_1.0.safetensors", data)
        # the workflow carries its own link and hash, as the official templates' editor files do
        loader["properties"]["models"] = [{"name": "sd_xl_base_1.0.safetensors", "directory": "checkpoints",
                                           "url": srv.url("/sdxl/sd_xl_base_1.0.safetensors"),
                                           "hash": hashlib.sha256(data).hexdigest(), "hash_type": "SHA256"}]
        wf = tmp_path / "workflow.json"
        wf.write_text(json.dumps(ui))
        words = [str(wf) if w == "<workflow.json>" else w
                 for w in suggested("missing_model", comfy_double.url, "models.py need")]
        assert words == ["need", str(wf), "--download", "--url", comfy_double.url]
        r = script("models", *words, "--json", env=pack_env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["runnable"] is True and out["check"]["verdict"] == "ok"
    assert (local / "sd_xl_base_1.0.safetensors").read_bytes() == data


def test_the_node_install_fix_goes_through_the_managers_queue(comfy_double, pack_env, tmp_path):
    comfy_double.manager = "3.37.1"
    wf = tmp_path / "workflow.json"
    wf.write_text(json.dumps(load(CORPUS / "missing_custom_node.json")["workflow"]))
    need = [str(wf) if w == "<workflow.json>" else w for w in suggested("missing_custom_node", comfy_double.url, "nodes.py need")]
    r = script("nodes", *need, "--json", env=pack_env)
    assert r.returncode == 1, r.stderr
    [pack] = json.loads(r.stdout)["packs"]
    # the Manager's offline list names it by its repository's name; its install takes either id
    assert pack["id"].lower() == "comfyui-videohelpersuite" and pack["source"] == "manager"
    d = diagnosis.diagnose(diagnosis.gather(load(CORPUS / "missing_custom_node.json")), url=comfy_double.url)
    install = shlex.split(next(f["command"] for f in d["fixes"] if "nodes.py install" in (f["command"] or "")))[2:]
    r = script("nodes", *install, env=pack_env, timeout=60)
    # the recorded Manager had no internet: the install was queued and started, and nothing came of it
    assert r.returncode == 1 and "ComfyUI-Manager ran its queue but ComfyUI-VideoHelperSuite is not installed" in r.stderr
    [(kind, body)] = comfy_double.manager_queue
    assert kind == "install" and body["id"] == pack["id"]


# -- a live server ------------------------------------------------------------------------------
@pytest.mark.live
def test_live_prompt_id_of_an_oom_failure(live_url, pack_env):
    import requests
    wf = {"1": {"class_type": "EmptyImage", "inputs": {"width": 16384, "height": 16384, "batch_size": 4096,
                                                         "color": 0}},
          "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}
    pid = requests.post(f"{live_url}/prompt", json={"prompt": wf}, timeout=30).json()["prompt_id"]
    for _ in range(100):
        if requests.get(f"{live_url}/history/{pid}", timeout=30).json():
            break
        import time
        time.sleep(0.2)
    r, out = run_json(pid, "--url", live_url, env=pack_env)
    assert r.returncode == 0
    assert (out["input"], out["cause"], out["node_id"], out["class_type"]) == ("live", "out_of_memory", "1", "EmptyImage")

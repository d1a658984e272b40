"""The two faces agree: each MCP tool and its script twin, given the same input against the double,
give the same JSON (bar what differs by nature: prompt ids, times, file names, the way a next step
is spelled), and the partner key travels the same way in both.

Both faces run in this process: the script through `cli.main` (stdout captured), the tool through
the MCP server's own `call_tool` and `as_result`, which is what a host receives.
"""

import json

import pytest

pytest.importorskip("mcp")

from conftest import ROOT  # noqa: E402
from support.record import tiny_png  # noqa: E402
from comfyui_skills import cli, config, mcp_server  # noqa: E402
from comfyui_skills.commands import (convert, diagnose, generate, inventory, models, nodes, queue, run, status,  # noqa: E402
                                     templates, upload, validate)

SOLID = ROOT / "projects" / "examples" / "workflows" / "solid-color.json"
FAILURES = ROOT / "tests" / "fixtures" / "failures"
PAID = {"1": {"class_type": "OpenAIDalle2", "inputs": {"prompt": "a fox", "seed": 0, "size": "256x256", "n": 1}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "paid"}}}
KEY = "comfyui-" + "p" * 40
# What differs between two runs of the same thing, whichever face ran it.
VOLATILE = {"from_cache", "prompt_id", "elapsed_s", "server_s", "latency_ms", "noticed_via", "number", "path", "folder",
            "filename", "saved", "taken_at", "submitted_at", "receipt", "ref", "name", "uploaded_at"}


def script_json(capsys, module, *argv):
    code = cli.main(module, [*map(str, argv), "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out.strip().splitlines()[-1])


def tool_json(url, name, args, **settings):
    s = config.Settings.resolve(url=url, max_wait=settings.pop("max_wait", None))
    reply = mcp_server.call_tool(s, name, args)
    result = mcp_server.as_result(reply, s, url=url)
    return result, result.structuredContent


def same(a, b):
    """a == b but for volatile values and next steps (each face spells those its own way)."""
    return normal(a) == normal(b)


def normal(obj, key=None):
    if isinstance(obj, dict):
        return {k: normal(v, k) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [normal(v) for v in obj]
    if isinstance(obj, str) and key in STEP_FIELDS:
        return "<next step>"  # a command, or a hint naming options: each face spells those its own way
    return obj


STEP_FIELDS = {"resume", "diagnose", "fetch", "load", "todo", "command", "hint"}


def check(capsys, url, module, argv, tool, args, code=0):
    """The script and the tool on the same input: the same JSON, the same success or failure."""
    got, cli_out = script_json(capsys, module, *argv)
    r, mcp_out = tool_json(url, tool, args)
    if not same(cli_out, mcp_out):
        diff(cli_out, mcp_out)
    assert same(cli_out, mcp_out), (cli_out, mcp_out)
    assert got == code and r.isError == (code != 0), (got, r.content[0].text)
    return cli_out, mcp_out


def test_status(comfy_double, pack_env, capsys):
    check(capsys, comfy_double.url, status, ["--url", comfy_double.url], "status", {})


def test_validate_a_file_and_an_editor_workflow(comfy_double, pack_env, capsys, tmp_path):
    check(capsys, comfy_double.url, validate, [SOLID], "validate", {"workflow_path": str(SOLID)})
    ui = tmp_path / "solid.ui.json"
    assert not tool_json(comfy_double.url, "convert", {"workflow_path": str(SOLID), "out_path": str(ui)})[0].isError
    out, _ = check(capsys, comfy_double.url, validate, [ui], "validate", {"workflow_path": str(ui)})
    assert out["verdict"] == "ok" and "editor workflow" in out["note"]


def test_run_with_sets_and_slots(comfy_double, pack_env, capsys):
    check(capsys, comfy_double.url, run, [SOLID, "--url", comfy_double.url, "--set", "1.width=32"],
          "run", {"workflow_path": str(SOLID), "set": ["1.width=32"]})


def test_run_with_allow_api_sends_the_partner_key_in_both_faces_and_shows_it_in_neither(
        comfy_double, pack_env, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("COMFY_API_KEY", KEY)
    wf = tmp_path / "paid.json"
    wf.write_text(json.dumps(PAID))
    refused = check(capsys, comfy_double.url, run, [wf, "--url", comfy_double.url], "run",
                    {"workflow_path": str(wf)}, code=1)
    assert "Comfy credits" in refused[0]["message"] and not comfy_double.posted
    outs = check(capsys, comfy_double.url, run, [wf, "--url", comfy_double.url, "--allow-api", "--no-wait"], "run",
                 {"workflow_path": str(wf), "allow_api": True, "wait": False})
    assert [p["extra_data"].get("api_key_comfy_org") for p in comfy_double.posted] == [KEY, KEY]
    assert KEY not in json.dumps(outs)
    assert not any(KEY in p.read_text() for p in (tmp_path / "state").rglob("*.json"))


def test_generate_runs_and_dry_runs_alike(comfy_double, pack_env, capsys, monkeypatch):
    monkeypatch.setenv("COMFY_API_KEY", KEY)
    comfy_double.add_model("checkpoints", "tiny-random-sd15.safetensors", "CheckpointLoaderSimple.ckpt_name")
    base = ["a red fox", "--url", comfy_double.url, "--size", "64x64", "--steps", "2", "--seed", "5"]
    args = {"request": "a red fox", "size": "64x64", "steps": 2, "seed": 5}
    check(capsys, comfy_double.url, generate, base + ["--dry-run"], "generate", dict(args, dry_run=True))
    out, _ = check(capsys, comfy_double.url, generate, base + ["--allow-api"], "generate", dict(args, allow_api=True))
    assert out["template"] == "default" and out["status"] == "success"
    assert [p["extra_data"].get("api_key_comfy_org") for p in comfy_double.posted] == [KEY, KEY]
    check(capsys, comfy_double.url, generate, ["a red fox", "--url", comfy_double.url, "--template", "defualt"],
          "generate", {"request": "a red fox", "template": "defualt"}, code=2)


def test_queue_wait_outputs_list_and_cancel(comfy_double, pack_env, capsys):
    code, first = script_json(capsys, run, SOLID, "--url", comfy_double.url, "--no-wait")
    pid = first["prompt_id"]
    check(capsys, comfy_double.url, queue, ["wait", pid], "queue", {"action": "wait", "prompt_ids": [pid]})
    check(capsys, comfy_double.url, queue, ["outputs", pid, "--url", comfy_double.url], "queue",
          {"action": "outputs", "prompt_ids": [pid]})
    check(capsys, comfy_double.url, queue, ["outputs", "nope-1234", "--url", comfy_double.url], "queue",
          {"action": "outputs", "prompt_ids": ["nope-1234"]}, code=1)


def test_upload(comfy_double, pack_env, capsys, tmp_path):
    png = tmp_path / "photo.png"
    png.write_bytes(tiny_png((200, 30, 30)))
    check(capsys, comfy_double.url, upload, [png, "--url", comfy_double.url, "--subfolder", "p"], "upload",
          {"path": str(png), "subfolder": "p"})


def test_diagnose_a_saved_failure(comfy_double, pack_env, capsys):
    check(capsys, comfy_double.url, diagnose, [FAILURES / "oom_cpu.json"], "diagnose",
          {"path": str(FAILURES / "oom_cpu.json")})


def test_templates_list_and_show(comfy_double, pack_env, capsys):
    check(capsys, comfy_double.url, templates, ["list", "--url", comfy_double.url, "--task", "text-to-image"],
          "list_templates", {"task": "text-to-image", "limit": 1000})
    shown, _ = check(capsys, comfy_double.url, templates, ["show", "default", "--url", comfy_double.url],
                     "show_template", {"name": "default"}, code=1)  # the double has no checkpoint: not runnable
    assert shown["missing_models"] and "CheckpointLoaderSimple" in shown["node_classes"]


def diff(a, b, path=""):
    a, b = normal(a), normal(b)
    if isinstance(a, dict) and isinstance(b, dict):
        for k in set(a) | set(b):
            if k not in a or k not in b:
                print("only in", "cli" if k in a else "mcp", path + "/" + k)
            else:
                diff(a[k], b[k], path + "/" + k)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, f"{path}[{i}]")
    elif a != b:
        print("differs", path, repr(a)[:200], repr(b)[:200])


def test_needs_of_a_template(comfy_double, pack_env, capsys):
    out, _ = check(capsys, comfy_double.url, models, ["need", "--template", "default", "--url", comfy_double.url],
                   "needs", {"template": "default"}, code=1)
    assert out["runnable"] is False and out["models"][0]["folder"] == "checkpoints"


def test_install_nodes_without_the_manager(comfy_double, pack_env, capsys):
    check(capsys, comfy_double.url, nodes, ["install", "comfyui-videohelpersuite", "--url", comfy_double.url],
          "install_nodes", {"pack": "comfyui-videohelpersuite"}, code=1)


def test_download_model_where_only_commands_can_do_it(comfy_double, pack_env, capsys):
    url = "https://civitai.com/api/download/models/1?type=Model"
    check(capsys, comfy_double.url, models, ["download", url, "--folder", "loras", "--name", "style.safetensors",
                                             "--url", comfy_double.url],
          "download_model", {"source": url, "folder": "loras", "name": "style.safetensors"}, code=1)


def test_diagnose_a_prompt_id_and_the_last_run(comfy_double, pack_env, capsys):
    code, ran = script_json(capsys, run, SOLID, "--url", comfy_double.url)
    pid = ran["prompt_id"]
    out, _ = check(capsys, comfy_double.url, diagnose, [pid, "--url", comfy_double.url], "diagnose", {"prompt_id": pid})
    assert out["input"] == "live" and out["cause"] == "no_failure"
    check(capsys, comfy_double.url, diagnose, ["--last"], "diagnose", {"last": True})


def test_queue_list_and_cancel(comfy_double, pack_env, capsys):
    comfy_double.pause()
    code, first = script_json(capsys, run, SOLID, "--url", comfy_double.url, "--no-wait")
    pid = first["prompt_id"]
    check(capsys, comfy_double.url, queue, ["list", "--url", comfy_double.url], "queue", {"action": "list"})
    check(capsys, comfy_double.url, queue, ["cancel", "nope-1234", "--url", comfy_double.url], "queue",
          {"action": "cancel", "prompt_ids": ["nope-1234"]}, code=1)
    comfy_double.resume()
    assert pid


def test_search_nodes(comfy_double, pack_env, capsys):
    check(capsys, comfy_double.url, inventory, ["--nodes", "LATENT->IMAGE"], "search_nodes",
          {"query": "LATENT->IMAGE", "limit": 200})
    check(capsys, comfy_double.url, inventory, ["--show", "KSampler"], "search_nodes", {"class_type": "KSampler"})


def test_list_models_with_and_without_a_snapshot(comfy_double, pack_env, capsys):
    comfy_double.add_model("checkpoints", "tiny.safetensors", "CheckpointLoaderSimple.ckpt_name")
    check(capsys, comfy_double.url, inventory, ["--models", "checkpoints", "--url", comfy_double.url], "list_models",
          {"folder": "checkpoints"})  # the first takes the snapshot, the second reads it
    out, _ = check(capsys, comfy_double.url, inventory, ["--models", "--url", comfy_double.url], "list_models", {})
    assert "checkpoints" in out["folders"]

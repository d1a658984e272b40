"""The MCP server driven by the MCP SDK's own client, against the test double.

Most tests talk to the server in this process through the SDK's in-memory transport (the same
server object `serve_stdio` runs, the same JSON-RPC messages, without starting a Python per
test); a few start scripts/mcp_server.py as a host would (stdio, streamable HTTP) end to end.
They check what a host sees: the tool list and schemas, results, images inline, tool errors,
progress notifications, cancellation.
"""

import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

mcp = pytest.importorskip("mcp")
import anyio  # noqa: E402  (mcp brings it)
import jsonschema  # noqa: E402
from mcp import types  # noqa: E402
from mcp.client.session import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402
from mcp.shared.exceptions import McpError  # noqa: E402
from mcp.shared.memory import create_connected_server_and_client_session  # noqa: E402

from comfyui_skills import cli, mcp_server  # noqa: E402
from comfyui_skills.commands import mcp_server as mcp_command  # noqa: E402

from conftest import ROOT, closed_port, wait_until  # noqa: E402
from support.record import tiny_png  # noqa: E402

SERVER = ROOT / "scripts" / "mcp_server.py"
SOLID = ROOT / "projects" / "examples" / "workflows" / "solid-color.json"
SLOTS_DEFAULT = ROOT / "tests" / "fixtures" / "slots" / "default.json"
FAILURES = ROOT / "tests" / "fixtures" / "failures"
TOOLS = {"status", "search_nodes", "list_models", "list_templates", "show_template", "validate", "run", "queue",
         "upload", "convert", "diagnose", "generate", "needs", "download_model", "install_nodes", "model_guide", "gallery"}


def serve(env, *flags):
    return StdioServerParameters(command=sys.executable, args=[str(SERVER), *map(str, flags)], env=env,
                                 cwd=str(ROOT))


@contextlib.contextmanager
def environment(env):
    """os.environ as `env` for the block, as the server process would see it."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def session(env, body, *flags):
    """Run `await body(session)` against the server, started with `flags`, in this process."""
    with environment(env):
        args = mcp_command.build_parser().parse_args([str(f) for f in flags])
        settings = mcp_command.settings_of(args)
        server = mcp_server.build_server(settings)

        async def main():
            async with create_connected_server_and_client_session(server) as s:
                return await body(s)
        return anyio.run(main)


def stdio_session(env, body, *flags):
    """The same, against scripts/mcp_server.py started as a host starts it (stdio)."""
    async def main():
        async with stdio_client(serve(env, *flags)) as (read, write):
            async with ClientSession(read, write) as s:
                await s.initialize()
                return await body(s)
    return anyio.run(main)


def call(env, url, name, args=None, *flags):
    return session(env, lambda s: s.call_tool(name, args or {}), "--url", url, *flags)


def command(name, *argv):
    """scripts/<name>.py run in this process (the pack_env environment): its stdout."""
    import importlib
    import io
    from contextlib import redirect_stderr, redirect_stdout

    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        code = cli.main(importlib.import_module(f"comfyui_skills.commands.{name}"), [str(a) for a in argv])
    assert code == 0, out.getvalue()
    return out.getvalue()


def data(result):
    assert result.content[0].type == "text"
    return json.loads(result.content[0].text)


def error_line(result):
    assert result.isError, result.content[0].text
    text = result.content[0].text
    assert "Traceback" not in text and "\n" not in text, text
    return text


# -- listing --------------------------------------------------------------------------------------
def test_every_tool_is_listed_with_a_valid_schema_and_a_description(comfy_double, pack_env):
    tools = session(pack_env, lambda s: s.list_tools(), "--url", comfy_double.url).tools
    check_tools(tools)


def test_over_stdio_a_host_lists_the_tools_and_runs_a_workflow_to_an_inline_image(comfy_double, pack_env):
    async def body(s):
        return (await s.list_tools()).tools, await s.call_tool("run", {"workflow_path": str(SOLID)})

    tools, r = stdio_session(pack_env, body, "--url", comfy_double.url)
    assert {t.name for t in tools} == TOOLS
    assert data(r)["status"] == "success" and [c.type for c in r.content] == ["text", "image"]


def check_tools(tools):
    assert {t.name for t in tools} == TOOLS
    for t in tools:
        jsonschema.Draft202012Validator.check_schema(t.inputSchema)
        jsonschema.Draft7Validator.check_schema(t.inputSchema)
        assert t.inputSchema["type"] == "object" and t.inputSchema["additionalProperties"] is False
        assert 20 < len(t.description) < 400, t.name


def test_an_argument_the_schema_refuses_is_a_tool_error(comfy_double, pack_env):
    r = call(pack_env, comfy_double.url, "search_nodes", {"limit": 0})
    assert "tool search_nodes: argument limit: 0 is less than the minimum of 1" in error_line(r)
    r = call(pack_env, comfy_double.url, "status", {"adress": "x"})
    assert "adress" in error_line(r)
    r = call(pack_env, comfy_double.url, "run", {"workflow_path": str(SOLID), "set": [3]})
    assert "argument set[0]: 3 is not of type 'string'" in error_line(r)
    assert comfy_double.posted == []


# -- status, inventory, templates -----------------------------------------------------------------
def test_status_reports_the_server_and_an_absent_one(comfy_double, pack_env):
    up = data(call(pack_env, comfy_double.url, "status"))
    assert up["online"] is True and up["comfyui_version"] == "0.3.64"
    down = call(pack_env, comfy_double.url, "status", {"url": f"127.0.0.1:{closed_port()}"})
    assert data(down)["online"] is False and data(down)["reachable"] is False


def test_status_with_a_bad_url_is_one_line(comfy_double, pack_env):
    assert "javascript:alert(1)" in error_line(call(pack_env, comfy_double.url, "status", {"url": "javascript:alert(1)"}))


def test_search_nodes_by_types_and_one_class_in_full(comfy_double, pack_env):
    found = data(call(pack_env, comfy_double.url, "search_nodes", {"query": "LATENT->IMAGE", "limit": 50}))
    assert "VAEDecode" in [n["class_type"] for n in found["nodes"]]
    ks = data(call(pack_env, comfy_double.url, "search_nodes", {"class_type": "KSampler"}))
    assert "euler" in next(i for i in ks["inputs"] if i["name"] == "sampler_name")["options"]
    assert "'KSamplr' is not a node class" in error_line(
        call(pack_env, comfy_double.url, "search_nodes", {"class_type": "KSamplr"}))


def test_list_models_takes_a_snapshot_when_there_is_none(comfy_double, pack_env):
    down = call(pack_env, comfy_double.url, "list_models", {"url": f"127.0.0.1:{closed_port()}"})
    assert "no model lists" in error_line(down)  # no snapshot, and no server to take one from
    comfy_double.add_model("checkpoints", "tiny.safetensors", "CheckpointLoaderSimple.ckpt_name")
    listed = data(call(pack_env, comfy_double.url, "list_models", {"folder": "checkpoints"}))
    assert [m["name"] for m in listed["folders"]["checkpoints"]] == ["tiny.safetensors"]
    assert "no model folder 'chekpoints'" in error_line(
        call(pack_env, comfy_double.url, "list_models", {"folder": "chekpoints"}))


def test_templates_list_filter_and_show(comfy_double, pack_env):
    everything = data(call(pack_env, comfy_double.url, "list_templates", {"limit": 1000, "partner": None}))
    t2i = data(call(pack_env, comfy_double.url, "list_templates", {"task": "text-to-image", "limit": 1000}))
    assert 0 < t2i["count"] < everything["count"]
    assert all("text to image" in [tag.lower().replace("-", " ") for tag in t["tags"]] for t in t2i["templates"])
    r = call(pack_env, comfy_double.url, "show_template", {"name": "default", "include_workflow": True})
    shown = data(r)
    assert shown["name"] == "default" and isinstance(shown["workflow"]["nodes"], list)
    assert "CheckpointLoaderSimple" in shown["node_classes"]
    assert shown["missing_models"] and not shown["runnable"] and r.isError  # the double lists no model files
    assert "defualt" in error_line(call(pack_env, comfy_double.url, "show_template", {"name": "defualt"}))


# -- validate, convert ----------------------------------------------------------------------------
def test_validate_a_file_an_inline_workflow_and_a_bad_one(comfy_double, pack_env):
    assert data(call(pack_env, comfy_double.url, "validate", {"workflow_path": str(SOLID)}))["verdict"] == "ok"
    wf = json.loads(SOLID.read_text())
    wf["1"]["inputs"]["width"] = -5
    bad = data(call(pack_env, comfy_double.url, "validate", {"workflow": wf}))
    assert bad["verdict"] == "rejected" and bad["errors"][0]["input_name"] == "width"
    missing = error_line(call(pack_env, comfy_double.url, "validate", {"workflow_path": "/nope/wf.json"}))
    assert "/nope/wf.json" in missing
    both = error_line(call(pack_env, comfy_double.url, "validate", {"workflow_path": str(SOLID), "workflow": wf}))
    assert "not both" in both


def test_convert_to_editor_and_back_gives_the_same_prompt(comfy_double, pack_env, tmp_path):
    ui = data(call(pack_env, comfy_double.url, "convert", {"workflow_path": str(SOLID)}))
    assert ui["to"] == "ui" and len(ui["workflow"]["nodes"]) == 2
    back = data(call(pack_env, comfy_double.url, "convert", {"workflow": ui["workflow"], "to": "api"}))
    assert back["workflow"] == json.loads(SOLID.read_text())
    out = tmp_path / "solid.ui.json"
    written = data(call(pack_env, comfy_double.url, "convert", {"workflow_path": str(SOLID), "out_path": str(out)}))
    assert written["written"] == str(out) and json.loads(out.read_text())["nodes"]
    assert "exists already" in error_line(call(pack_env, comfy_double.url, "convert",
                                               {"workflow_path": str(SOLID), "out_path": str(out)}))
    assert "not a ComfyUI workflow" in error_line(call(pack_env, comfy_double.url, "convert", {"workflow": {"a": 1}}))


# -- run ------------------------------------------------------------------------------------------
def test_run_returns_the_image_inline_and_on_disk(comfy_double, pack_env):
    r = call(pack_env, comfy_double.url, "run", {"workflow_path": str(SOLID)})
    assert not r.isError, r.content[0].text
    out = data(r)
    assert out["status"] == "success"
    path = Path(out["outputs"][0]["path"])
    images = [c for c in r.content if c.type == "image"]
    assert len(images) == 1 and images[0].mimeType == "image/png"
    assert base64.b64decode(images[0].data) == path.read_bytes()
    assert str(path).startswith(pack_env["COMFYUI_SKILLS_PROJECTS"])
    assert r.structuredContent["prompt_id"] == out["prompt_id"]


def test_run_sets_and_slots_reach_the_prompt(comfy_double, pack_env):
    comfy_double.add_model("checkpoints", "v1-5-pruned-emaonly-fp16.safetensors", "CheckpointLoaderSimple.ckpt_name")
    r = call(pack_env, comfy_double.url, "run", {
        "workflow_path": str(SLOTS_DEFAULT), "prompt": "a red fox", "negative": "blurry", "seed": 7,
        "width": 320, "height": 448, "steps": 4, "set": ["3.cfg=5.5"]})
    assert data(r)["status"] == "success", r.content[0].text
    sent = comfy_double.posted[-1]["prompt"]
    assert (sent["6"]["inputs"]["text"], sent["7"]["inputs"]["text"]) == ("a red fox", "blurry")
    assert (sent["3"]["inputs"]["seed"], sent["3"]["inputs"]["steps"], sent["3"]["inputs"]["cfg"]) == (7, 4, 5.5)
    assert (sent["5"]["inputs"]["width"], sent["5"]["inputs"]["height"]) == (320, 448)


def test_generate_turns_a_sentence_into_an_inline_image_on_the_installed_checkpoint(comfy_double, pack_env):
    comfy_double.add_model("checkpoints", "tiny-random-sd15.safetensors", "CheckpointLoaderSimple.ckpt_name")
    r = call(pack_env, comfy_double.url, "generate", {"request": "a red fox", "size": "64x64", "steps": 2})
    assert not r.isError, r.content[0].text
    out = data(r)
    assert out["status"] == "success" and out["template"] == "default"
    assert out["models"][0]["name"] == "tiny-random-sd15.safetensors"
    assert [c.type for c in r.content].count("image") == 1
    sent = comfy_double.posted[-1]["prompt"]
    assert any(n["inputs"].get("text") == "a red fox" for n in sent.values())


def test_generate_with_nothing_installed_is_a_tool_error_naming_what_to_fetch(comfy_double, pack_env):
    r = call(pack_env, comfy_double.url, "generate", {"request": "a red fox"})
    text = r.content[0].text  # the head line, then one line per file it needs
    assert r.isError and "Traceback" not in text
    assert text.startswith("error: nothing installed on this server can do text-to-image")
    assert "models/checkpoints/" in text and 'needs {"template": "default"' in text  # the tool to call


def test_needs_lists_the_missing_checkpoint_with_its_download_command(comfy_double, pack_env):
    r = call(pack_env, comfy_double.url, "needs", {"template": "default"})
    out = data(r)
    assert out["runnable"] is False
    [ckpt] = out["models"]
    assert ckpt["folder"] == "checkpoints" and ckpt["fetch"].startswith('download_model {"source": "https://')
    assert json.loads(ckpt["fetch"].split(" ", 1)[1])["folder"] == "checkpoints"


# -- getting what a workflow lacks ----------------------------------------------------------------
def local_checkpoints(double, tmp_path):
    """The double's checkpoints folder is a real folder here, listed as the server lists its own."""
    local = tmp_path / "models" / "checkpoints"
    local.mkdir(parents=True)
    double.model_paths["checkpoints"] = [str(local)]
    double.lists_disk("checkpoints", "CheckpointLoaderSimple.ckpt_name")
    return local


def with_progress(env, url, name, args):
    seen = []

    async def on_progress(progress, total, message):
        seen.append(message)

    r = session(env, lambda s: s.call_tool(name, args, progress_callback=on_progress), "--url", url)
    return r, seen


def test_download_model_puts_the_file_in_the_servers_folder_with_progress(comfy_double, pack_env, tmp_path):
    import hashlib

    from support.fileserver import FileServer
    from support.model_files import safetensors_bytes

    local = local_checkpoints(comfy_double, tmp_path)
    body = safetensors_bytes(3 * 2**20, seed=11)
    with FileServer() as srv:
        srv.add("/m/mcp_model.safetensors", body)
        r, seen = with_progress(pack_env, comfy_double.url, "download_model", {
            "source": srv.url("/m/mcp_model.safetensors"), "folder": "checkpoints",
            "sha256": hashlib.sha256(body).hexdigest()})
    assert not r.isError, r.content[0].text
    out = data(r)
    assert out["how"] == "downloaded" and (local / "mcp_model.safetensors").read_bytes() == body
    assert out["sha256"] == hashlib.sha256(body).hexdigest() and out["inventory"]["saved"]
    # the first block is reported as it arrives, then one a second at most, and the end
    assert len(seen) >= 2 and all(m.startswith("mcp_model.safetensors: ") for m in seen), seen
    assert "of 3.0 MiB (100%)" not in seen[0] and "3.0 MiB of 3.0 MiB (100%)" in seen[-1], seen


def test_download_model_refuses_a_name_with_a_path_and_fetches_nothing(comfy_double, pack_env, tmp_path):
    from support.fileserver import FileServer

    local_checkpoints(comfy_double, tmp_path)
    with FileServer() as srv:
        srv.add("/m/x.safetensors", b"never sent")
        for name in ("../evil.safetensors", "sub/evil.safetensors"):
            r = call(pack_env, comfy_double.url, "download_model",
                     {"source": srv.url("/m/x.safetensors"), "folder": "checkpoints", "name": name})
            assert "not a plain file name" in error_line(r)
        assert srv.seen == []
    assert not list((tmp_path / "models").rglob("*evil*"))


def test_download_model_never_shows_a_token(comfy_double, pack_env):
    # the folder is not on this machine and there is no Manager: the answer is commands holding
    # the URL; a token in its query and the environment's tokens are hidden in the result
    env = dict(pack_env, HF_TOKEN="hf_sekrit_4242", CIVITAI_API_TOKEN="civ_sekrit_4242")
    r = call(env, comfy_double.url, "download_model", {
        "source": "https://civitai.com/api/download/models/1?token=civ_query_sekrit&type=Model",
        "folder": "loras", "name": "style.safetensors"})
    dumped = json.dumps(r.model_dump(mode="json"))
    assert r.isError and data(r)["how"] == "commands" and data(r)["commands"]
    for secret in ("hf_sekrit_4242", "civ_sekrit_4242", "civ_query_sekrit"):
        assert secret not in dumped
    assert "token=***" in data(r)["commands"][0]


def test_needs_with_download_fetches_the_workflows_file_and_says_it_runs(comfy_double, pack_env, tmp_path):
    import copy
    import gzip

    from support.fileserver import FileServer
    from support.model_files import safetensors_bytes

    local = local_checkpoints(comfy_double, tmp_path)
    templates = json.loads(gzip.decompress((ROOT / "tests/recordings/templates/templates.json.gz").read_bytes()))
    wf = copy.deepcopy(templates["/templates/default.json"]["body"])
    loader = next(n for n in wf["nodes"] if n["type"] == "CheckpointLoaderSimple")
    with FileServer() as srv:
        srv.add("/m/own.safetensors", safetensors_bytes(2**20, seed=12))
        loader["widgets_values"] = ["own.safetensors"]
        loader["properties"]["models"] = [{"name": "own.safetensors", "directory": "checkpoints",
                                           "url": srv.url("/m/own.safetensors")}]
        before = data(call(pack_env, comfy_double.url, "needs", {"workflow": wf}))
        r, seen = with_progress(pack_env, comfy_double.url, "needs", {"workflow": wf, "download": True})
    assert before["runnable"] is False and before["models"][0]["source"] == "workflow"
    out = data(r)
    assert not r.isError and out["runnable"] is True and out["check"]["verdict"] == "ok"
    assert [d["how"] for d in out["downloads"]] == ["downloaded"] and (local / "own.safetensors").is_file()
    assert seen[0] == "[1/1] checkpoints/own.safetensors"


def test_install_nodes_with_and_without_the_manager(comfy_double, pack_env):
    r = call(pack_env, comfy_double.url, "install_nodes", {"pack": "comfyui-videohelpersuite"})
    assert r.isError and data(r)["installed"] is False
    assert "comfy node install comfyui-videohelpersuite" in data(r)["commands"]
    comfy_double.manager = "3.37.1"
    r, seen = with_progress(pack_env, comfy_double.url, "install_nodes", {"pack": "comfyui-videohelpersuite"})
    # recorded offline: the Manager queues and runs the install, and no pack arrives
    assert "ran its queue but ComfyUI-VideoHelperSuite is not installed" in error_line(r)
    assert [k for k, _ in comfy_double.manager_queue] == ["install"]
    assert any(m.startswith("ComfyUI-Manager: ") for m in seen), seen


def test_run_bad_inputs_are_one_line_tool_errors(comfy_double, pack_env):
    assert "neither" in error_line(call(pack_env, comfy_double.url, "run", {}))
    assert "Nope" in error_line(call(pack_env, comfy_double.url, "run",
                                     {"workflow_path": str(SOLID), "set": ["Nope.width=3"]}))
    assert "prompt" in error_line(call(pack_env, comfy_double.url, "run",
                                       {"workflow_path": str(SOLID), "prompt": "a fox"}))
    wf = json.loads(SOLID.read_text())
    wf["1"]["inputs"]["width"] = -5
    rejected = call(pack_env, comfy_double.url, "run", {"workflow": wf})
    assert "would be rejected" in rejected.content[0].text and rejected.isError
    assert comfy_double.posted == []


def test_a_run_past_max_wait_returns_its_id_and_wait_collects_it(comfy_double, pack_env):
    comfy_double.pause()

    async def body(s):
        first = await s.call_tool("run", {"workflow_path": str(SOLID), "max_wait": 0.3})
        comfy_double.resume()
        pid = data(first)["prompt_id"]
        later = await s.call_tool("queue", {"action": "wait", "prompt_ids": [pid]})
        return first, later

    first, later = session(pack_env, body, "--url", comfy_double.url)
    assert not first.isError and data(first)["status"] == "queued"
    assert json.loads(data(first)["resume"].split(" ", 1)[1]) == {"action": "wait", "prompt_ids": [data(first)["prompt_id"]]}
    assert data(later)["status"] == "success"
    assert [c.type for c in later.content] == ["text", "image"]


def test_progress_notifications_follow_the_nodes(comfy_double, pack_env):
    comfy_double.node_seconds = 0.2
    seen = []

    async def on_progress(progress, total, message):
        seen.append((progress, message))

    r = session(pack_env, lambda s: s.call_tool("run", {"workflow_path": str(SOLID)}, progress_callback=on_progress),
                "--url", comfy_double.url)
    assert data(r)["status"] == "success"
    messages = [m for _, m in seen]
    assert any(m.startswith("node ") and "EmptyImage" in m for m in messages), messages
    assert any("SaveImage" in m for m in messages), messages
    assert [p for p, _ in seen] == sorted(p for p, _ in seen) and len(set(p for p, _ in seen)) == len(seen)


def test_cancelling_a_run_from_the_host_removes_our_prompt(comfy_double, pack_env):
    comfy_double.pause()
    other = command("run", SOLID, "--url", comfy_double.url, "--no-wait").strip()

    answers = []

    async def run():
        try:
            await s_holder[0].call_tool("run", {"workflow_path": str(SOLID)})
        except McpError as exc:
            answers.append(exc.error.message)

    s_holder = []

    async def body(s):
        s_holder.append(s)
        async with anyio.create_task_group() as tg:
            request_id = s._request_id  # the id the next request gets
            tg.start_soon(run)
            await anyio.to_thread.run_sync(lambda: wait_until(lambda: len(comfy_double.posted) == 2))
            await s.send_notification(types.ClientNotification(types.CancelledNotification(
                method="notifications/cancelled",
                params=types.CancelledNotificationParams(requestId=request_id, reason="user"))))
            await anyio.to_thread.run_sync(lambda: wait_until(lambda: len(comfy_double.queue) == 1))

    session(pack_env, body, "--url", comfy_double.url)
    assert answers == ["Request cancelled"]
    left = [item[1] for item in comfy_double.queue]
    assert left == [other]  # ours gone, the other client's prompt untouched
    comfy_double.resume()


# -- queue ----------------------------------------------------------------------------------------
def test_queue_list_and_cancel(comfy_double, pack_env):
    comfy_double.pause()
    pid = command("run", SOLID, "--url", comfy_double.url, "--no-wait").strip()

    async def body(s):
        listed = await s.call_tool("queue", {"action": "list"})
        cancelled = await s.call_tool("queue", {"action": "cancel", "prompt_ids": [pid]})
        again = await s.call_tool("queue", {"action": "cancel", "prompt_ids": [pid]})
        empty = await s.call_tool("queue", {"action": "cancel"})
        return listed, cancelled, again, empty

    listed, cancelled, again, empty = session(pack_env, body, "--url", comfy_double.url)
    assert [(p["prompt_id"], p["ours"]) for p in data(listed)["pending"]] == [(pid, True)]
    assert data(cancelled)["deleted"] == [pid] and not cancelled.isError
    assert again.isError and data(again)["not_found"] == [pid]
    assert "needs prompt_ids" in error_line(empty)


def test_queue_outputs_of_a_finished_prompt_and_of_an_unknown_one(comfy_double, pack_env):
    pid = json.loads(command("run", SOLID, "--url", comfy_double.url, "--json"))["prompt_id"]
    got = call(pack_env, comfy_double.url, "queue", {"action": "outputs", "prompt_ids": [pid]})
    assert data(got)["status"] == "success" and any(c.type == "image" for c in got.content)
    assert "no history for prompt nope-1234" in error_line(
        call(pack_env, comfy_double.url, "queue", {"action": "outputs", "prompt_ids": ["nope-1234"]}))


# -- upload, diagnose -----------------------------------------------------------------------------
def test_upload_an_image_and_refuse_a_text_file(comfy_double, pack_env, tmp_path):
    png = tmp_path / "photo.png"
    png.write_bytes(tiny_png((200, 30, 30)))
    up = data(call(pack_env, comfy_double.url, "upload", {"path": str(png), "subfolder": "mcp"}))
    assert up["ref"] == "mcp/photo.png" and comfy_double.files[("input", "mcp", "photo.png")] == png.read_bytes()
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert "notes.txt" in error_line(call(pack_env, comfy_double.url, "upload", {"path": str(text)}))


def test_diagnose_a_saved_failure_a_prompt_id_and_nothing(comfy_double, pack_env):
    oom = data(call(pack_env, comfy_double.url, "diagnose", {"path": str(FAILURES / "oom_cpu.json")}))
    assert oom["cause"] == "out_of_memory"
    pid = json.loads(command("run", SOLID, "--url", comfy_double.url, "--json"))["prompt_id"]
    live = data(call(pack_env, comfy_double.url, "diagnose", {"prompt_id": pid}))
    assert live["input"] == "live" and live["cause"] == "no_failure"
    assert "one of prompt_id" in error_line(call(pack_env, comfy_double.url, "diagnose"))


# -- secrets, transports --------------------------------------------------------------------------
def test_the_api_key_never_shows_and_goes_only_to_the_configured_server(comfy_double, pack_env):
    env = dict(pack_env, COMFYUI_API_KEY="sk-secret-4242")
    port = comfy_double.url.rsplit(":", 1)[1]

    async def body(s):
        out = [await s.call_tool("status", {}),
               await s.call_tool("status", {"url": f"http://localhost:{port}"}),
               await s.call_tool("diagnose", {"text": "error with key sk-secret-4242 in it"}),
               await s.call_tool("status", {"url": "http://sk-secret-4242"})]
        return out

    results = session(env, body, "--url", comfy_double.url)
    for r in results:
        assert "sk-secret-4242" not in json.dumps(r.model_dump(mode="json"))
    stats = [q for q in comfy_double.requests if q[1] == "/system_stats"]
    keyed = [q[2].get("Authorization") for q in stats]
    assert keyed[0] == "Bearer sk-secret-4242" and keyed[1] is None


def test_http_transport_on_loopback_and_only_there(comfy_double, pack_env):
    from mcp.client import streamable_http

    # renamed in mcp 1.2x; the old name stays as a deprecated alias
    connect = getattr(streamable_http, "streamable_http_client", None) or streamable_http.streamablehttp_client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(SERVER), "--url", comfy_double.url, "--http", str(port)],
                            env=pack_env, stderr=subprocess.PIPE, text=True)
    try:
        assert "MCP server (streamable HTTP) at http://127.0.0.1:" in proc.stderr.readline()

        async def main():
            async with connect(f"http://127.0.0.1:{port}/mcp") as (read, write, _):
                async with ClientSession(read, write) as s:
                    await s.initialize()
                    return (await s.list_tools()).tools, await s.call_tool("status", {})

        tools, status = anyio.run(main)
        assert {t.name for t in tools} == TOOLS and data(status)["online"] is True
    finally:
        proc.terminate()
        proc.wait(10)


def test_http_on_another_address_without_a_token_is_refused_in_one_line(pack_env, capsys):
    assert cli.main(mcp_command, ["--http", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "needs a token" in err and err.count("\n") == 1


def test_http_beyond_loopback_only_with_a_bearer_token(comfy_double, pack_env):
    import httpx
    from mcp.client import streamable_http

    def connect_with(url, token, http):
        if hasattr(streamable_http, "streamable_http_client"):  # mcp 1.2x: headers ride an httpx client
            return streamable_http.streamable_http_client(url, http_client=http)
        return streamable_http.streamablehttp_client(url, headers={"Authorization": f"Bearer {token}"})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(pack_env, COMFYUI_MCP_TOKEN="tok-7f3d2c1b")
    proc = subprocess.Popen([sys.executable, str(SERVER), "--url", comfy_double.url, "--http", str(port),
                             "--host", "0.0.0.0"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert "(bearer token required)" in proc.stderr.readline()
        # bound to every address; the test reaches it on loopback only
        url = f"http://127.0.0.1:{port}/mcp"
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "tok-7f3d2c1b"}):
            r = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                           headers={"Accept": "application/json, text/event-stream", **headers})
            assert r.status_code == 401 and "Bearer" in r.headers["www-authenticate"]

        async def main(token):
            # the SDK's client, given an httpx client that carries the header on every request
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
                async with connect_with(url, token, http) as (read, write, _):
                    async with ClientSession(read, write) as s:
                        await s.initialize()
                        return await s.call_tool("status", {})

        assert data(anyio.run(main, "tok-7f3d2c1b"))["online"] is True
        with pytest.raises(Exception):
            anyio.run(main, "tok-wrong")
    finally:
        proc.terminate()
        proc.wait(10)


def test_without_the_mcp_package_the_script_says_how_to_get_it(pack_env, tmp_path):
    # A Python that finds everything but mcp: the pack's deps via the path, mcp hidden.
    blocker = tmp_path / "mcp.py"
    blocker.write_text("raise ImportError('hidden for this test', name='mcp')\n")
    env = dict(pack_env, PYTHONPATH=str(tmp_path), COMFYUI_SKILLS_REEXEC="1")
    r = subprocess.run([sys.executable, str(SERVER)], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "mcp" in r.stderr and ".[mcp]" in r.stderr
    assert "Traceback" not in r.stderr


def test_install_nodes_through_manager_4_is_an_error_with_its_reason(comfy_double, pack_env):
    comfy_double.manager = "4.2.2"
    r = call(pack_env, comfy_double.url, "install_nodes", {"pack": "comfyui-videohelpersuite"})
    assert r.isError and "Cannot resolve install target" in error_line(r)
    assert "no ComfyUI-Manager" not in error_line(r)


def test_model_guide_gives_a_familys_prompting_and_settings_with_the_source(comfy_double, pack_env):
    out = data(call(pack_env, comfy_double.url, "model_guide", {"what": "pony"}))
    assert out["family"] == "pony" and out["settings"]["clip_skip"] == 2 and "score_9" in out["prompt_style"]
    out = data(call(pack_env, comfy_double.url, "model_guide", {"what": "flux1-schnell.safetensors"}))
    assert out["family"] == "flux1" and out["settings"]["steps"] == 4
    assert "no recipe or guide" in error_line(call(pack_env, comfy_double.url, "model_guide",
                                                   {"what": "wan2.1_t2v_1.3B_fp16.safetensors"}))


def test_gallery_answers_what_was_made(comfy_double, pack_env):
    r = call(pack_env, comfy_double.url, "run", {"workflow_path": str(SOLID), "set": ["1.color=3"]})
    assert not r.isError, r.content[0].text
    first = data(r)["prompt_id"]
    g = call(pack_env, comfy_double.url, "gallery", {"since": "today"})
    made = data(g)
    assert made["count"] == 1 and made["outputs"][0]["prompt_id"] == first
    assert made["outputs"][0]["filled"] == {"1.color": 3}

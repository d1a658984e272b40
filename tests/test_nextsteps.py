"""Next steps and flags are data; each face spells them: commands on the command line, tool calls
with their arguments in the MCP server."""

import json

import pytest

from comfyui_skills import nextsteps
from comfyui_skills.nextsteps import MCP, flag, in_face, render, resume, step


def test_the_command_line_spells_scripts_and_flags():
    assert render(step("models", "download", "https://x/y.safetensors", folder="loras", sha256=None)) == \
        "python scripts/models.py download https://x/y.safetensors --folder loras"
    assert render(step("models", "need", "<workflow.json>", download=True)) == \
        "python scripts/models.py need <workflow.json> --download"
    assert render(step("status"), url="127.0.0.1:8190") == "python scripts/status.py --url 127.0.0.1:8190"
    assert render(resume(["a", "b"]), url="127.0.0.1:8190") == "python scripts/queue.py wait a b"
    assert f"add {flag('allow_api')}" == "add --allow-api" and str(flag("path", "/m")) == "--path /m"


def test_the_mcp_server_spells_the_tool_and_its_arguments():
    with in_face(MCP):
        wait = render(resume(["a", "b"]))
        fetch = render(step("models", "download", "https://x/y.safetensors", folder="loras"))
        status = render(step("status"), url="127.0.0.1:8190")
        no_tool = render(step("inventory"))
        flags = [str(flag("allow_api")), str(flag("no_validate")), str(flag("set", "3.seed=1")), str(flag("url"))]
    assert wait == 'queue {"action": "wait", "prompt_ids": ["a", "b"]}'
    assert fetch == 'download_model {"source": "https://x/y.safetensors", "folder": "loras"}'
    assert status == 'status {"url": "127.0.0.1:8190"}'
    assert no_tool == "python scripts/inventory.py"  # no tool does it: the command stays
    assert flags == ["allow_api=true", "validate=false", 'set=["3.seed=1"]', "url"]
    assert str(flag("allow_api")) == "--allow-api"  # outside the block: the command line again


def test_every_tool_a_step_renders_to_exists_with_those_arguments():
    pytest.importorskip("mcp")
    from comfyui_skills import mcp_server

    for (script, sub), (tool, fixed, positional, _) in nextsteps.TOOLS.items():
        props = mcp_server.TOOLS_BY_NAME[tool].input_schema["properties"]
        assert set(fixed) | ({positional} if positional else set()) <= set(props), (script, sub)
    for name, (arg, _) in nextsteps.MCP_ARGS.items():
        assert any(arg in t.input_schema["properties"] for t in mcp_server.TOOLS), name


def test_a_step_rendered_for_mcp_is_a_call_the_tool_takes():
    pytest.importorskip("mcp")
    import jsonschema

    from comfyui_skills import mcp_server

    steps = [resume(["a"]), step("queue", "outputs", "p", out="DIR", finds_server=True), step("diagnose", last=True),
             step("models", "need", template="default", download=True), step("run", "wf.json", set="3.seed=1"),
             step("upload", "FILE"), step("nodes", "install", "pack"), step("templates", "show", "default")]
    with in_face(MCP):
        for s in steps:
            tool, args = render(s).split(" ", 1)
            jsonschema.validate(json.loads(args), mcp_server.TOOLS_BY_NAME[tool].input_schema)

"""The MCP run tool against a real ComfyUI ($COMFYUI_URL): a model-free workflow's image comes back
inline and on disk, byte-identical to what the server's /view serves."""

import base64
import json
from pathlib import Path

import pytest
import requests

pytest.importorskip("mcp")
from test_mcp import SOLID, call, data  # noqa: E402

pytestmark = pytest.mark.live


def test_run_tool_returns_the_servers_own_bytes_inline_and_on_disk(live_url, pack_env):
    wf = json.loads(SOLID.read_text())
    wf["2"]["inputs"]["filename_prefix"] = "mcp-live/solid"
    r = call(pack_env, live_url, "run", {"workflow": wf, "max_wait": 300})
    assert not r.isError, r.content[0].text
    out = data(r)
    assert out["status"] == "success"
    saved = out["outputs"][0]
    on_disk = Path(saved["path"]).read_bytes()
    inline = base64.b64decode(next(c for c in r.content if c.type == "image").data)
    view = requests.get(f"{live_url}/view", params={"filename": saved["filename"], "subfolder": saved["subfolder"],
                                                    "type": saved["type"]}, timeout=30)
    view.raise_for_status()
    assert inline == on_disk == view.content
    assert view.content[:8] == b"\x89PNG\r\n\x1a\n"

"""Live: installing a node pack through the real server's ComfyUI-Manager.

Skipped when the server at COMFYUI_URL has no Manager. On a server without internet (as the
project's 0.33.0 with --enable-manager, Manager 4.2.2) the install cannot succeed: it must still
go through the Manager's queue, and end in one line with the Manager's own reason, exit 1, never
"has no ComfyUI-Manager". The Manager's task record on the server must say the same.
"""

import json

import pytest
import requests

from conftest import script

pytestmark = pytest.mark.live


def manager_of(url):
    """(version, generation) of the server's Manager, or None."""
    for path, generation in (("/manager/version", 3), ("/v2/manager/version", 4)):
        try:
            resp = requests.get(url + path, timeout=10)
        except requests.RequestException:
            return None
        if resp.status_code == 200 and resp.text.strip()[:1] == "V":
            return resp.text.strip(), generation
    return None


@pytest.fixture
def managed(live_url):
    url = live_url.rstrip("/")
    found = manager_of(url)
    if found is None:
        pytest.skip(f"{url} has no ComfyUI-Manager")
    return url, found


def test_install_goes_through_the_managers_queue_and_reports_its_answer(managed, pack_env):
    url, (version, generation) = managed
    r = script("nodes", "install", "comfyui-videohelpersuite", "--url", url, "--json", env=pack_env, timeout=900)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert "no ComfyUI-Manager" not in r.stdout + r.stderr
    if r.returncode == 0:  # a server with internet: the pack is there (a restart loads it)
        assert json.loads(r.stdout)["installed"] is True
        return
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and lines[-1].startswith("error: ComfyUI-Manager")
    if generation < 4:
        return  # 3.x keeps no task record to compare with
    out = json.loads(r.stdout)
    assert version in lines[-1] and out["result"] and out["result"].splitlines()[0] in lines[-1]
    record = requests.get(url + "/v2/manager/queue/history", params={"ui_id": out["manager_task"]},
                          timeout=10).json()["history"]
    assert record["kind"] == "install" and record["params"]["id"] == "comfyui-videohelpersuite"
    assert record["status"]["status_str"] == "error" and record["result"] == out["result"]
    if record["result"] == "failed":  # its security policy said no: the setting is named
        assert "security_level" in lines[-1]

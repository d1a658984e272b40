import json
import time

import pytest

from conftest import closed_port, script



def test_closed_port_is_offline_exit_3_fast(pack_env):
    start = time.monotonic()
    r = script("status", "--json", "--url", f"127.0.0.1:{closed_port()}", env=pack_env)
    elapsed = time.monotonic() - start
    assert r.returncode == 3
    out = json.loads(r.stdout)
    assert out["online"] is False
    assert "not running" in out["error"]
    assert elapsed < 2.0
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("url,words", [
    ("ftp://127.0.0.1:8188", "only http"),
    ("http://127.0.0.1:99999", "port"),
    ("http://a b", "not a valid"),
])
def test_malformed_url_is_one_line_exit_2(pack_env, url, words):
    r = script("status", "--url", url, env=pack_env)
    assert r.returncode == 2
    assert words in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_unknown_flag_exit_2(pack_env):
    r = script("status", "--frobnicate", env=pack_env)
    assert r.returncode == 2
    assert "--help" in r.stderr


@pytest.mark.live
def test_live_status_reports_version_and_cpu(live_url, pack_env):
    r = script("status", "--json", "--url", live_url, env=pack_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["online"] is True
    assert out["comfyui_version"]
    assert any(d["type"] == "cpu" for d in out["devices"])
    assert out["queue"] == {"running": out["queue"]["running"], "pending": out["queue"]["pending"]}

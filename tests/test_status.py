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
    if "--cpu" in (out["argv"] or []):
        assert out["gpu"] is False and out["mode"] == "cpu"
        assert "CPU only, no GPU" in script("status", "--url", live_url, env=pack_env).stdout
    assert out["queue"] == {"running": out["queue"]["running"], "pending": out["queue"]["pending"]}


def test_cpu_server_is_said_to_have_no_gpu(comfy_double, pack_env):
    # the double replays the /system_stats of a ComfyUI started with --cpu
    r = script("status", "--url", comfy_double.url, env=pack_env)
    assert r.returncode == 0, r.stderr
    assert "CPU only, no GPU" in r.stdout
    assert "VRAM" not in r.stdout and "system RAM" in r.stdout
    out = json.loads(script("status", "--json", "--url", comfy_double.url, env=pack_env).stdout)
    assert out["gpu"] is False and out["mode"] == "cpu"
    assert out["devices"][0]["memory"] == "system RAM"
    assert not any(k.startswith("vram") for d in out["devices"] for k in d)


class _Stats:
    """A client whose /system_stats has the shape server.py builds (ComfyUI a125cd84, system_stats)."""
    url = "http://gpu-box:8188"

    def __init__(self, devices):
        self.devices = devices

    def system_stats(self):
        return {"system": {"os": "posix", "ram_total": 64 * 2**30, "ram_free": 60 * 2**30}, "devices": self.devices}

    def places(self):
        return {}


def test_a_gpu_device_among_others_makes_gpu_mode_and_only_it_is_vram():
    from comfyui_skills.status import probe
    cuda = {"name": "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync", "type": "cuda", "index": 0,
            "vram_total": 24 * 2**30, "vram_free": 23 * 2**30}
    cpu = {"name": "cpu", "type": "cpu", "index": None, "vram_total": 64 * 2**30, "vram_free": 60 * 2**30}
    info = probe(_Stats([cuda, cpu]))
    assert info["gpu"] is True and info["mode"] == "gpu" and "mode_note" not in info
    assert [d["memory"] for d in info["devices"]] == ["VRAM", "system RAM"]

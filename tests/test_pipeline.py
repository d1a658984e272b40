"""The whole run as one library call: what generate, the MCP server and any script build on."""

import json
import threading

import pytest

from conftest import ROOT, closed_port, wait_until
from comfyui_skills import pipeline
from comfyui_skills.config import Settings
from comfyui_skills.errors import CheckFailed, Interrupted, ServerTimeout
from comfyui_skills.progress import Reporter

SOLID = ROOT / "projects" / "examples" / "workflows" / "solid-color.json"


class Recorder(Reporter):
    """A caller's reporter: keeps what the run told it."""

    def __init__(self):
        self.events = []

    def note(self, text):
        self.events.append(("note", text))

    def node(self, k, total, node_id, class_type, title):
        self.events.append(("node", node_id, class_type))

    def queued(self, position):
        self.events.append(("queued", position))

    def done(self):
        self.events.append(("done",))


def test_a_run_from_plain_arguments_returns_its_files(comfy_double, pack_env, tmp_path):
    seen = Recorder()
    result = pipeline.run_file(SOLID, settings=Settings.resolve(url=comfy_double.url), out=tmp_path / "o", reporter=seen)
    assert result.status == "success" and result.exit_code == 0
    [path] = result.files
    assert open(path, "rb").read() == comfy_double.rec.sample_bytes["png"]
    assert [e for e in seen.events if e[0] == "node"] and seen.events[-1] == ("done",)
    assert result.as_dict()["outputs"][0]["path"] == path


def test_library_callers_hear_nothing_unless_they_pass_a_reporter(comfy_double, pack_env, tmp_path, capsys):
    pipeline.run_file(SOLID, settings=Settings.resolve(url=comfy_double.url), out=tmp_path / "o")
    assert capsys.readouterr() == ("", "")


def test_the_caller_cancels_and_our_prompt_is_removed(comfy_double, pack_env, tmp_path):
    comfy_double.pause()  # it stays pending until cancelled
    cancel = threading.Event()
    outcome = {}

    def go():
        try:
            pipeline.run_file(SOLID, settings=Settings.resolve(url=comfy_double.url), out=tmp_path / "o", cancel=cancel)
        except Interrupted as exc:
            outcome["error"] = exc

    t = threading.Thread(target=go)
    t.start()
    assert wait_until(lambda: comfy_double.posted)
    cancel.set()
    t.join(10)
    assert not t.is_alive() and "removed 1 pending" in outcome["error"].message
    assert comfy_double.queue == []
    assert not (tmp_path / "o").exists()  # nothing ran, nothing was downloaded


def test_warnings_come_back_with_the_result(comfy_double, pack_env, tmp_path):
    wf = json.loads(SOLID.read_text())
    wf["2"]["inputs"]["no_such_input"] = 1  # the server ignores it; a careful user wants to know
    result = pipeline.run(wf, name="edited", settings=Settings.resolve(url=comfy_double.url), out=tmp_path / "o")
    assert result.status == "success"
    assert any("no_such_input" in w for w in result.warnings)


def test_a_rejected_workflow_raises_before_anything_is_sent(comfy_double, pack_env):
    wf = json.loads(SOLID.read_text())
    wf["1"]["inputs"]["width"] = -5
    with pytest.raises(CheckFailed, match="would be rejected"):
        pipeline.run(wf, settings=Settings.resolve(url=comfy_double.url))
    assert not comfy_double.posted


def test_no_server_means_an_offline_export_but_a_slow_one_does_not(comfy_double, pack_env):
    result = pipeline.run_file(SOLID, settings=Settings.resolve(url=f"127.0.0.1:{closed_port()}"))
    assert result.status == "offline" and result.offline["path"].endswith(".json")
    comfy_double.delay = 1.0
    with pytest.raises(ServerTimeout):
        pipeline.run_file(SOLID, settings=Settings.resolve(url=comfy_double.url, timeout=0.2))


PAID = {"1": {"class_type": "OpenAIDalle2", "inputs": {"prompt": "a fox", "seed": 0, "size": "256x256", "n": 1}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "paid"}}}


def test_partner_nodes_never_run_unasked(comfy_double, pack_env):
    with pytest.raises(CheckFailed, match="spend Comfy credits: #1 OpenAIDalle2") as err:
        pipeline.run(PAID, settings=Settings.resolve(url=comfy_double.url))
    assert "--allow-api" in err.value.hint and not comfy_double.posted


def test_asked_the_key_goes_in_extra_data_and_nowhere_else(comfy_double, pack_env, tmp_path):
    import subprocess
    import sys

    key = "comfyui-" + "k" * 40
    wf = tmp_path / "paid.json"
    wf.write_text(json.dumps(PAID))
    env = dict(pack_env, COMFY_API_KEY=key)
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "run.py"), str(wf), "--url", comfy_double.url,
                        "--allow-api", "--no-wait", "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    [posted] = comfy_double.posted
    assert posted["extra_data"]["api_key_comfy_org"] == key
    assert key not in r.stdout + r.stderr
    state = tmp_path / "state"
    assert not any(key in p.read_text() for p in state.rglob("*.json"))
    v = subprocess.run([sys.executable, str(ROOT / "scripts" / "validate.py"), str(wf)], capture_output=True,
                       text=True, env=env, timeout=60)
    assert "spends credits: partner (API) nodes #1 OpenAIDalle2" in v.stdout

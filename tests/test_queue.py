"""queue.py against the ComfyUI double: list, cancel, clear, interrupt, history, wait, outputs, free.

Every test runs twice, against the double as 0.3.64 and as a newer server (`comfy_any`): where
the pack reads the newer server's /api/jobs, the user must see the same."""

import json
import time
from pathlib import Path

import requests

from conftest import ROOT, script

SOLID = ROOT / "projects" / "examples" / "workflows" / "solid-color.json"


def queue_ids(url):
    q = requests.get(url + "/queue", timeout=5).json()
    return [x[1] for x in q["queue_running"]], [x[1] for x in q["queue_pending"]]


def post(url, color, client_id="someone-else"):
    wf = json.loads(SOLID.read_text())
    wf["1"]["inputs"]["color"] = color
    return requests.post(url + "/prompt", json={"prompt": wf, "client_id": client_id}).json()["prompt_id"]


def test_list_shows_running_and_pending(comfy_any, pack_env):
    comfy_any.pause()
    a, b = post(comfy_any.url, 1), post(comfy_any.url, 2)
    r = script("queue", "list", "--url", comfy_any.url, "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [p["prompt_id"] for p in out["pending"]] == [a, b]
    assert [p["position"] for p in out["pending"]] == [1, 2] and out["running"] == []
    r = script("queue", "list", "--url", comfy_any.url, env=pack_env)
    assert f"pending 1: {a}" in r.stdout and "EmptyImage" in r.stdout


def test_cancel_deletes_pending_and_leaves_others(comfy_any, pack_env):
    comfy_any.pause()
    a, b = post(comfy_any.url, 1), post(comfy_any.url, 2)
    r = script("queue", "cancel", b, "--url", comfy_any.url, "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["deleted"] == [b]
    assert queue_ids(comfy_any.url) == ([], [a])
    assert comfy_any.interrupts == [] and comfy_any.cancels == ([b] if comfy_any.newer else [])


def test_cancel_interrupts_a_running_prompt_by_its_own_id(comfy_any, pack_env):
    comfy_any.node_seconds = 2.0
    a = post(comfy_any.url, 1)
    running, _ = queue_ids(comfy_any.url)
    assert running == [a]
    r = script("queue", "cancel", a, "--url", comfy_any.url, env=pack_env)
    assert r.returncode == 0 and f"interrupted {a}" in r.stdout
    # a newer server is asked to cancel that job (it interrupts it only while it runs); 0.3.64,
    # which lacks the route, gets /interrupt naming the prompt
    if comfy_any.newer:
        assert comfy_any.cancels == [a] and comfy_any.interrupts == []
    else:
        assert comfy_any.interrupts == [{"prompt_id": a}]
    deadline = time.monotonic() + 10
    while a not in comfy_any.history and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "execution_interrupted" in json.dumps(comfy_any.history[a]["status"])


def test_cancel_unknown_id_is_exit_1(comfy_any, pack_env):
    r = script("queue", "cancel", "no-such-id", "--url", comfy_any.url, env=pack_env)
    assert r.returncode == 1 and "not queued or running" in r.stdout


def test_interrupt_refuses_a_prompt_that_is_not_running(comfy_any, pack_env):
    comfy_any.pause()
    a = post(comfy_any.url, 1)
    r = script("queue", "interrupt", a, "--url", comfy_any.url, env=pack_env)
    assert r.returncode == 1 and "pending" in r.stderr and "cancel" in r.stderr
    assert comfy_any.interrupts == []


def test_clear_removes_pending_only(comfy_any, pack_env):
    comfy_any.pause()
    post(comfy_any.url, 1), post(comfy_any.url, 2)
    r = script("queue", "clear", "--url", comfy_any.url, "--json", env=pack_env)
    assert r.returncode == 0 and json.loads(r.stdout)["removed"] == 2
    assert queue_ids(comfy_any.url) == ([], [])


def test_free_and_history(comfy_any, pack_env):
    r = script("run", SOLID, "--url", comfy_any.url, "--json", env=pack_env)
    pid = json.loads(r.stdout)["prompt_id"]
    r = script("queue", "free", "--url", comfy_any.url, env=pack_env)
    assert r.returncode == 0 and "unload models" in r.stdout
    r = script("queue", "history", "--url", comfy_any.url, "--json", env=pack_env)
    assert [h["prompt_id"] for h in json.loads(r.stdout)["history"]] == [pid]
    r = script("queue", "history", pid, "--url", comfy_any.url, "--json", env=pack_env)
    one = json.loads(r.stdout)
    assert one["status"] == "success" and one["outputs"][0]["filename"] == "solid_00001_.png"
    r = script("queue", "history", "nope", "--url", comfy_any.url, env=pack_env)
    assert r.returncode == 1 and "no history" in r.stderr


def test_outputs_of_a_finished_prompt_from_another_process(comfy_any, pack_env, tmp_path):
    pid = post(comfy_any.url, 5)
    script("queue", "wait", pid, "--url", comfy_any.url, "--out", tmp_path / "first", env=pack_env)
    r = script("queue", "outputs", pid, "--url", comfy_any.url, "--out", tmp_path / "o", "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    [o] = json.loads(r.stdout)["outputs"]
    assert Path(o["path"]).read_bytes() == requests.get(
        comfy_any.url + "/view", params={"filename": o["filename"], "subfolder": "examples"}).content


def test_outputs_of_an_unfinished_prompt_says_wait(comfy_any, pack_env):
    comfy_any.pause()
    pid = post(comfy_any.url, 6)
    r = script("queue", "outputs", pid, "--url", comfy_any.url, env=pack_env)
    assert r.returncode == 1 and "queued at position 1" in r.stderr and f"queue.py wait {pid}" in r.stderr


def test_wait_for_someone_elses_prompt_does_not_cancel_it(comfy_any, pack_env):
    comfy_any.pause()
    pid = post(comfy_any.url, 7)
    r = script("queue", "wait", pid, "--url", comfy_any.url, "--max-wait", "0.5", "--json", env=pack_env)
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["status"] == "queued" and out["resume"] == f"python scripts/queue.py wait {pid}"
    assert queue_ids(comfy_any.url) == ([], [pid])


def test_wait_several_prompts_one_summary(comfy_any, pack_env):
    ids = [post(comfy_any.url, c) for c in (10, 11, 12)]
    r = script("queue", "wait", *ids, "--url", comfy_any.url, "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["counts"] == {"success": 3} and [x["prompt_id"] for x in out["runs"]] == ids


def test_subcommand_flags_after_the_name_and_help(comfy_any, pack_env):
    r = script("queue", "list", "--json", "--url", comfy_any.url, env=pack_env)
    assert r.returncode == 0 and json.loads(r.stdout)["running"] == []
    r = script("queue", "--help", env=pack_env)
    assert "queue.py wait" in r.stdout and "examples:" in r.stdout
    r = script("queue", "frobnicate", env=pack_env)
    assert r.returncode == 2

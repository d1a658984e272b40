"""Faults: the server dies, stalls, answers garbage or forgets; the disk fills; the user presses Ctrl-C.

Each case ends in one readable error line, the exit code of the interface contract, and no file on
disk that looks whole but is not. Against the double here; the `live` ones start their own ComfyUI.
"""

import contextlib
import errno
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import ROOT, script, start, wait_until

from comfyui_skills import outputs
from comfyui_skills.errors import InputError

SOLID = ROOT / "projects" / "examples" / "workflows" / "solid-color.json"
WINDOW = "2"  # seconds a vanished server is retried mid-wait, instead of 120




def queue_of(double):
    return [x[1] for x in double.running.values()], [x[1] for x in double.queue]


def files_in(folder):
    return sorted(p for p in Path(folder).rglob("*") if p.is_file()) if Path(folder).exists() else []


def one_clear_error(stderr):
    """The last line is the error; no traceback anywhere."""
    assert "Traceback" not in stderr, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") or "interrupted" in last, stderr
    return last


def no_part_files(folder):
    return not [p for p in Path(folder).rglob("*") if p.name.endswith(".part")]


@pytest.fixture
def env(pack_env):
    return dict(pack_env, COMFYUI_SKILLS_RETRY_WINDOW=WINDOW)


# -- the server dies ----------------------------------------------------------------------------
def test_server_restarted_mid_run_reports_the_prompt_lost(comfy_double, env, tmp_path):
    comfy_double.node_seconds = 1.0
    p = start("run", SOLID, "--url", comfy_double.url, "--json", "--out", tmp_path / "o", env=env)
    assert wait_until(lambda: queue_of(comfy_double)[0])
    comfy_double.go_down()
    time.sleep(0.5)
    comfy_double.come_back()  # a fresh process: the prompt is gone with the old one
    out, err = p.communicate(timeout=30)
    assert p.returncode == 1, err
    assert json.loads(out)["status"] == "lost"
    assert "no longer knows prompt" in one_clear_error(err) and "run it again" in err
    assert files_in(tmp_path / "o") == []


def test_server_killed_for_good_mid_run_gives_up_after_the_window_with_exit_3(comfy_double, env, tmp_path):
    comfy_double.node_seconds = 2.0
    p = start("run", SOLID, "--url", comfy_double.url, "--out", tmp_path / "o", env=env)
    assert wait_until(lambda: queue_of(comfy_double)[0])
    pid = queue_of(comfy_double)[0][0]
    comfy_double.go_down()
    t0 = time.monotonic()
    _, err = p.communicate(timeout=30)
    assert p.returncode == 3, err
    assert time.monotonic() - t0 < 10
    line = one_clear_error(err)
    assert "gave up after 2 s" in line and f"queue.py wait {pid}" in line
    assert "retrying for up to 2 s" in err
    assert files_in(tmp_path / "o") == []


def test_queue_wait_on_a_closed_port_exits_3_at_once(pack_env):
    t0 = time.monotonic()
    r = script("queue", "wait", "0b5e3c1e-aaaa-4bbb-8ccc-000000000000", "--url", "127.0.0.1:9", env=pack_env)
    assert r.returncode == 3
    assert time.monotonic() - t0 < 5
    line = one_clear_error(r.stderr)
    assert "not running at http://127.0.0.1:9" in line and "queue.py wait 0b5e3c1e" in line
    assert len(r.stderr.strip().splitlines()) == 1


def test_queue_wait_retries_a_server_that_fails_mid_wait(comfy_double, env, tmp_path):
    comfy_double.pause()  # the prompt waits in the queue until the server has failed and healed
    r = script("run", SOLID, "--url", comfy_double.url, "--no-wait", "--out", tmp_path / "o", env=env)
    pid = r.stdout.strip()
    seen = len(comfy_double.requests)
    p = start("queue", "wait", pid, "--poll", "--json", env=env)
    # wait has seen the server once it read the queue (a fixed sleep lost the race on a busy machine)
    assert wait_until(lambda: any(r[1] == "/queue" for r in comfy_double.requests[seen:]), timeout=15)
    time.sleep(0.1)
    for path in ("/queue", f"/history/{pid}"):
        comfy_double.fail(path, 502)
    time.sleep(1.0)
    for path in ("/queue", f"/history/{pid}"):
        comfy_double.heal(path)
    comfy_double.resume()
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert "HTTP 502" in err and "retrying" in err
    assert json.loads(out)["status"] == "success" and len(files_in(tmp_path / "o")) == 1


# -- the WebSocket ------------------------------------------------------------------------------
@pytest.mark.parametrize("after", [0, 3])
def test_websocket_dropped_the_run_still_completes_by_polling(comfy_double, env, tmp_path, after):
    comfy_double.drop_ws(after=after)
    comfy_double.node_seconds = 0.3
    r = script("run", SOLID, "--url", comfy_double.url, "--json", "--out", tmp_path / "o", env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "success" and out["noticed_via"] == "polling"
    [f] = files_in(tmp_path / "o")
    assert f.read_bytes() == comfy_double.rec.sample_bytes["png"]
    assert "polling /history meanwhile" in r.stderr and "-+-+-" not in r.stderr  # no header dump


# -- slow answers -------------------------------------------------------------------------------
def test_responses_delayed_past_the_timeout_exit_5_with_one_line(comfy_double, env):
    # A server that takes the request and says nothing is busy or stuck, not absent: its own
    # exit code and message, not "not running" (exit 3).
    comfy_double.delay = 1.5
    t0 = time.monotonic()
    r = script("queue", "list", "--url", comfy_double.url, "--timeout", "0.3", env=env)
    assert r.returncode == 5
    line = one_clear_error(r.stderr)
    assert "got no answer within 0.3 s" in line and "busy or stuck" in line and "not running" not in line
    assert len(r.stderr.strip().splitlines()) == 1
    r = script("run", SOLID, "--url", comfy_double.url, "--timeout", "0.3", "--online-only", env=env)
    assert r.returncode == 5 and "no answer within 0.3 s" in one_clear_error(r.stderr)
    assert time.monotonic() - t0 < 10
    assert not comfy_double.posted


def test_responses_delayed_past_the_timeout_never_fall_back_to_an_offline_export(comfy_double, env):
    # The user asked for a run on a server that is there: exporting instead would pass a busy
    # server off as no server, and the job would silently not run.
    comfy_double.delay = 1.5
    r = script("run", SOLID, "--url", comfy_double.url, "--timeout", "0.3", "--json", env=env)
    assert r.returncode == 5, r.stderr
    out = json.loads(r.stdout)
    assert out["error"] == "ServerTimeout" and "no answer within 0.3 s" in out["message"]
    assert "exported the workflow instead" not in r.stderr and "status" not in out
    assert not list(Path(env["COMFYUI_SKILLS_PROJECTS"]).rglob("*.json"))


def test_answers_slow_past_the_timeout_mid_run_are_retried(comfy_double, env, tmp_path):
    comfy_double.pause()
    p = start("run", SOLID, "--url", comfy_double.url, "--json", "--timeout", "0.4", "--poll",
              "--out", tmp_path / "o", env=env)
    assert wait_until(lambda: queue_of(comfy_double)[1])
    comfy_double.delay, comfy_double.delay_limit = 1.0, 3
    comfy_double.resume()
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert "no answer within 0.4 s" in err and "retrying" in err
    assert json.loads(out)["status"] == "success" and len(files_in(tmp_path / "o")) == 1


# -- errors and garbage -------------------------------------------------------------------------
@pytest.mark.parametrize("path,knob", [("/prompt", "fail"), ("/object_info/SaveImage", "fail"),
                                       ("/prompt", "html"), ("/object_info/EmptyImage", "truncated")])
def test_500_or_garbage_before_queueing_is_exit_4(comfy_double, env, path, knob):
    if knob == "fail":
        comfy_double.fail(path, 500)
    else:
        comfy_double.garble(path, knob)
    r = script("run", SOLID, "--url", comfy_double.url, env=env)
    assert r.returncode == 4, r.stderr
    line = one_clear_error(r.stderr)
    assert ("HTTP 500" in line) if knob == "fail" else ("HTML" in line or "not JSON" in line or "prompt_id" in line)


def test_truncated_answer_to_post_prompt_says_where_to_look(comfy_double, env):
    comfy_double.garble("/prompt", "truncated")
    r = script("run", SOLID, "--url", comfy_double.url, env=env)
    assert r.returncode == 4
    line = one_clear_error(r.stderr)
    assert "no prompt_id" in line and "queue.py list" in line  # the server may have queued it anyway


@pytest.mark.parametrize("knob", ["fail", "truncated"])
def test_errors_mid_wait_that_persist_end_in_exit_4_with_a_resume_line(comfy_double, env, tmp_path, knob):
    comfy_double.pause()
    p = start("run", SOLID, "--url", comfy_double.url, "--poll", "--out", tmp_path / "o", env=env)
    assert wait_until(lambda: queue_of(comfy_double)[1])
    pid = queue_of(comfy_double)[1][0]
    (comfy_double.fail if knob == "fail" else comfy_double.garble)("/queue", *([500] if knob == "fail" else ["truncated"]))
    _, err = p.communicate(timeout=30)
    assert p.returncode == 4, err
    line = one_clear_error(err)
    assert "gave up after 2 s" in line and f"queue.py wait {pid}" in line
    comfy_double.heal("/queue")
    comfy_double.resume()  # nothing was lost: the prompt is still there to pick up
    r = script("queue", "wait", pid, "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert len(files_in(tmp_path / "o")) == 1


class Forgetful(dict):
    """A history that drops every entry: cleared by someone the moment it is written."""

    def __setitem__(self, key, value):
        pass


def test_history_missing_the_entry_is_reported_lost(comfy_double, env, tmp_path):
    comfy_double.history = Forgetful()
    r = script("run", SOLID, "--url", comfy_double.url, "--json", "--out", tmp_path / "o", env=env)
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["status"] == "lost" and "has no entry" in out["error"]["message"]
    assert "history cleared or disabled" in one_clear_error(r.stderr)
    assert files_in(tmp_path / "o") == []


def test_history_answering_garbage_after_finish_is_exit_4_with_a_retry_line(comfy_double, env, tmp_path):
    comfy_double.pause()
    p = start("run", SOLID, "--url", comfy_double.url, "--json", "--out", tmp_path / "o", env=env)
    assert wait_until(lambda: queue_of(comfy_double)[1])
    pid = queue_of(comfy_double)[1][0]
    comfy_double.garble(f"/history/{pid}", "html")
    comfy_double.resume()
    out, err = p.communicate(timeout=30)
    assert p.returncode == 4, err
    assert json.loads(out)["status"] == "lost"
    assert f"queue.py outputs {pid}" in one_clear_error(err)


# -- downloads ----------------------------------------------------------------------------------
def test_view_failing_half_way_is_exit_4_and_leaves_no_file(comfy_double, env, tmp_path):
    comfy_double.break_view = True
    r = script("run", SOLID, "--url", comfy_double.url, "--out", tmp_path / "o", env=env)
    assert r.returncode == 4, r.stderr
    line = one_clear_error(r.stderr)
    assert "connection broke" in line and "queue.py outputs" in line and "cannot write" not in line
    assert files_in(tmp_path / "o") == []


@contextlib.contextmanager
def tmpfs(path, options):
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_output_folder_read_only_is_exit_2_and_the_files_can_be_fetched_later(comfy_double, env, tmp_path):
    with tmpfs(tmp_path / "ro", "ro,size=64k") as ro:
        r = script("run", SOLID, "--url", comfy_double.url, "--json", "--out", ro / "out", env=env)
        assert r.returncode == 2
        line = one_clear_error(r.stderr)
        assert "cannot write outputs to" in line and "Read-only file system" in line
        pid = [x for x in comfy_double.history][0]
        assert f"queue.py outputs {pid} --out DIR" in line
    r = script("queue", "outputs", pid, "--out", tmp_path / "good", "--url", comfy_double.url, env=env)
    assert r.returncode == 0 and len(files_in(tmp_path / "good")) == 1


def test_disk_full_is_exit_2_and_leaves_no_partial_file(comfy_double, env, tmp_path):
    comfy_double.add_file("output", "", "big.png", comfy_double.rec.sample_bytes["png"] + bytes(80_000))
    with tmpfs(tmp_path / "full", "size=64k") as full:
        r = script("queue", "outputs", "x", "--url", comfy_double.url, env=env)  # a warm-up: no history
        assert r.returncode == 1
        comfy_double.history["p1"] = {"prompt": [0, "p1", {}, {}, []], "status": {"messages": []},
                                      "outputs": {"9": {"images": [{"filename": "big.png", "subfolder": "",
                                                                    "type": "output"}]}}}
        r = script("queue", "outputs", "p1", "--url", comfy_double.url, "--out", full, env=env)
        assert r.returncode == 2
        assert "No space left on device" in one_clear_error(r.stderr)
        assert files_in(full) == []


def test_disk_full_in_process_leaves_no_partial_file(comfy_double, tmp_path, monkeypatch):
    from comfyui_skills.api import ComfyUI

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    item = {"kind": "image", "node": "9", "filename": "example.png", "subfolder": "", "type": "input"}
    with pytest.raises(InputError, match="No space left on device"):
        outputs.download_all(ComfyUI(comfy_double.url), [item], tmp_path / "o", previews=True)
    assert files_in(tmp_path / "o") == []


# -- Ctrl-C at every stage ----------------------------------------------------------------------
def _part_seen(folder):
    return lambda: any(p.name.endswith(".part") for p in Path(folder).rglob("*")) if Path(folder).exists() else False


@pytest.mark.parametrize("stage", ["before_queue", "pending", "running", "downloading"])
def test_ctrl_c_at_every_stage_exits_130_and_leaves_nothing_behind(comfy_double, env, tmp_path, stage):
    out_dir = tmp_path / "o"
    if stage == "before_queue":
        comfy_double.delay = 3.0  # run.py is still asking the server what it has
    elif stage == "pending":
        comfy_double.pause()
    elif stage == "running":
        comfy_double.node_seconds = 3.0
    else:
        comfy_double.view_seconds = 4.0
    p = start("run", SOLID, "--url", comfy_double.url, "--out", out_dir, env=env)
    ready = {"before_queue": lambda: len(comfy_double.requests) >= 1,
             "pending": lambda: queue_of(comfy_double)[1],
             "running": lambda: queue_of(comfy_double)[0],
             "downloading": _part_seen(out_dir)}[stage]
    assert wait_until(ready, 15), stage
    time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    if stage == "before_queue":
        comfy_double.delay = 0.0
    _, err = p.communicate(timeout=20)
    assert p.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err.strip().splitlines()[-1]
    assert no_part_files(tmp_path) and files_in(out_dir) == []
    assert wait_until(lambda: queue_of(comfy_double) == ([], []))  # a running node finishes its step first
    if stage == "before_queue":
        assert not comfy_double.posted
    elif stage == "pending":
        assert "removed 1 pending" in err and comfy_double.interrupts == []
    elif stage == "running":
        assert len(comfy_double.interrupts) == 1 and comfy_double.interrupts[0].get("prompt_id")
        assert wait_until(lambda: comfy_double.history)
        assert "execution_interrupted" in json.dumps(list(comfy_double.history.values())[0]["status"])
    else:
        assert comfy_double.interrupts == []  # it had finished: nothing to stop on the server


# -- live: our own ComfyUI on port 8195 ---------------------------------------------------------
LIVE_PORT = 8195


class OwnComfy:
    """A real ComfyUI of our own (never the shared one): killed and started at will."""

    def __init__(self, home, base):
        self.home, self.base = home, base  # home: a ComfyUI install with its .venv
        self.url = f"http://127.0.0.1:{LIVE_PORT}"
        self.proc = None
        for d in ("input", "output", "temp", "user", "models", "custom_nodes"):
            (base / d).mkdir(parents=True, exist_ok=True)

    def start(self, timeout=90):
        log = open(self.base / "server.log", "ab")
        self.proc = subprocess.Popen(
            [str(self.home / ".venv" / "bin" / "python"), "main.py", "--cpu", "--listen", "127.0.0.1",
             "--port", str(LIVE_PORT), "--base-directory", str(self.base)],
            cwd=self.home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.proc.poll() is None:
            try:
                if requests.get(self.url + "/system_stats", timeout=1).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.3)
        raise RuntimeError(f"our ComfyUI on {LIVE_PORT} did not start; see {self.base / 'server.log'}")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # our own process, by its id
            self.proc.wait(10)


@pytest.fixture
def own_comfy(comfy_home, tmp_path_factory):
    server = OwnComfy(comfy_home, tmp_path_factory.mktemp("comfy8195")).start()
    try:
        yield server
    finally:
        server.kill()


def slow_workflow(seconds_hint=4096):
    """Model-free but slow on a CPU: a big image blurred hard, several times."""
    wf = {"1": {"class_type": "EmptyImage", "inputs": {"width": seconds_hint, "height": seconds_hint,
                                                         "batch_size": 1, "color": 255}}}
    prev = "1"
    for i in range(2, 6):
        wf[str(i)] = {"class_type": "ImageBlur", "inputs": {"image": [prev, 0], "blur_radius": 31, "sigma": 10.0}}
        prev = str(i)
    wf["9"] = {"class_type": "SaveImage", "inputs": {"images": [prev, 0], "filename_prefix": "fault"}}
    return wf


def _running(url):
    try:
        return requests.get(url + "/queue", timeout=2).json()["queue_running"]
    except (requests.RequestException, ValueError):
        return []


@pytest.mark.live
def test_live_server_killed_and_restarted_mid_run(own_comfy, env, tmp_path):
    wf = tmp_path / "slow.json"
    wf.write_text(json.dumps(slow_workflow()))
    p = start("run", wf, "--url", own_comfy.url, "--json", "--out", tmp_path / "o", env=env)
    assert wait_until(lambda: _running(own_comfy.url), 60)
    own_comfy.kill()
    own_comfy.start()
    out, err = p.communicate(timeout=120)
    assert p.returncode in (1, 3), err
    assert json.loads(out)["status"] == "lost"
    one_clear_error(err)
    assert files_in(tmp_path / "o") == []


@pytest.mark.live
def test_live_server_killed_for_good_mid_run_exits_3(own_comfy, env, tmp_path):
    wf = tmp_path / "slow.json"
    wf.write_text(json.dumps(slow_workflow()))
    p = start("run", wf, "--url", own_comfy.url, "--out", tmp_path / "o", env=env)
    assert wait_until(lambda: _running(own_comfy.url), 60)
    own_comfy.kill()
    _, err = p.communicate(timeout=60)
    assert p.returncode == 3, err
    assert "gave up after 2 s" in one_clear_error(err)


@pytest.mark.live
@pytest.mark.parametrize("stage", ["pending", "running"])
def test_live_ctrl_c_stops_our_prompt(own_comfy, env, tmp_path, stage):
    wf = tmp_path / "slow.json"
    wf.write_text(json.dumps(slow_workflow()))
    if stage == "pending":  # someone else's prompt runs first, so ours waits
        other = slow_workflow()
        other["1"]["inputs"]["color"] = 1
        requests.post(own_comfy.url + "/prompt", json={"prompt": other, "client_id": "someone-else"}, timeout=10)
    p = start("run", wf, "--url", own_comfy.url, "--out", tmp_path / "o", env=env)

    def ours_in(key):
        q = requests.get(own_comfy.url + "/queue", timeout=2).json()[key]
        return [x for x in q if (x[3] or {}).get("client_id") != "someone-else"]

    assert wait_until(lambda: ours_in("queue_pending" if stage == "pending" else "queue_running"), 60)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "Traceback" not in err
    assert wait_until(lambda: not ours_in("queue_pending") and not ours_in("queue_running"), 60)
    assert no_part_files(tmp_path) and files_in(tmp_path / "o") == []


@pytest.mark.live
def test_live_view_of_a_missing_file_and_unwritable_folder(own_comfy, env, tmp_path):
    wf = tmp_path / "small.json"
    wf.write_text(SOLID.read_text())
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    r = script("run", wf, "--url", own_comfy.url, "--out", blocker / "o", env=env)
    assert r.returncode == 2 and "cannot write outputs to" in one_clear_error(r.stderr)
    r = script("queue", "wait", "0b5e3c1e-aaaa-4bbb-8ccc-000000000000", "--url", f"127.0.0.1:{LIVE_PORT + 1}",
               env=env)
    assert r.returncode == 3

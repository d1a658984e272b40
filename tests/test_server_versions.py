"""Where a newer ComfyUI changed an answer, the pack works with it and with 0.3.64 alike.

The newer shapes come from Comfy-Org/ComfyUI server.py at 5e14d797 and comfy_execution/jobs.py
at dfb874a6 (the double's `newer` mode cites each); 0.3.64's are recorded
(tests/recordings/server/0.3.64.json, rest.json). Tests taking `comfy_any` run against both.
"""

import json
import time
import uuid
from pathlib import Path

import pytest

from conftest import ROOT, script

from comfyui_skills import api
from comfyui_skills.api import ComfyUI
from comfyui_skills.errors import InputError

SOLID = ROOT / "projects" / "examples" / "workflows" / "solid-color.json"
GiB = 2**30


def requested(double, method, path):
    return [r for r in double.requests if r[0] == method and r[1] == path]


# -- /system_stats: every device -----------------------------------------------------------------
def test_a_cpu_server_is_cpu_only_on_both(comfy_any, pack_env):
    r = script("status", "--url", comfy_any.url, env=pack_env)
    assert r.returncode == 0, r.stderr
    assert "mode: CPU only, no GPU" in r.stdout
    [device] = [line for line in r.stdout.splitlines() if line.startswith("device:")]
    assert device.startswith("device: cpu (cpu), system RAM ")  # one device, no role: nothing to tell apart
    out = json.loads(script("status", "--json", "--url", comfy_any.url, env=pack_env).stdout)
    assert out["mode"] == "cpu" and out["gpu_count"] == 0 and len(out["devices"]) == 1
    assert out["os"] == ("linux" if comfy_any.newer else "posix")  # as recorded: 0.33.0 gives sys.platform, 0.3.64 os.name


def test_a_newer_gpu_server_shows_every_gpu_and_which_runs_the_prompts(comfy_double, pack_env):
    comfy_double.newer = True
    comfy_double.gpus = [("NVIDIA GeForce RTX 4090", 24 * GiB, 20 * GiB), ("NVIDIA GeForce RTX 3090", 24 * GiB, 23 * GiB)]
    r = script("status", "--url", comfy_double.url, env=pack_env)
    assert r.returncode == 0, r.stderr
    devices = [line for line in r.stdout.splitlines() if line.startswith("device:")]
    assert devices == ["device: cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync (cuda, runs the prompts), "
                       "VRAM 20.0 GiB free of 24.0 GiB",
                       "device: cuda:1 NVIDIA GeForce RTX 3090 : cudaMallocAsync (cuda, used only by multi-GPU "
                       "nodes), VRAM 23.0 GiB free of 24.0 GiB"]
    assert "mode:" not in r.stdout and "CPU" not in r.stdout
    out = json.loads(script("status", "--json", "--url", comfy_double.url, env=pack_env).stdout)
    assert out["mode"] == "gpu" and out["gpu"] is True and out["gpu_count"] == 2
    assert [d["primary"] for d in out["devices"]] == [True, False]


def test_a_0364_gpu_server_lists_its_one_device_as_before(comfy_double, pack_env):
    comfy_double.gpus = [("NVIDIA GeForce RTX 4090", 24 * GiB, 20 * GiB), ("NVIDIA GeForce RTX 3090", 24 * GiB, 23 * GiB)]
    r = script("status", "--url", comfy_double.url, env=pack_env)
    assert r.returncode == 0, r.stderr
    devices = [line for line in r.stdout.splitlines() if line.startswith("device:")]
    assert devices == ["device: cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync (cuda), VRAM 20.0 GiB free of 24.0 GiB"]
    assert "mode:" not in r.stdout


def test_a_cpu_first_device_is_cpu_mode_even_beside_a_gpu():
    # No server read or recorded sends this shape (a --cpu server lists the CPU alone): the
    # rule is that prompts run on devices[0], which newer servers keep the primary device.
    from comfyui_skills.status import probe

    class Stats:
        url = "http://box:8188"

        def system_stats(self):
            return {"system": {}, "devices": [
                {"name": "cpu", "type": "cpu", "index": None, "vram_total": GiB, "vram_free": GiB},
                {"name": "cuda:0 X : native", "type": "cuda", "index": 0, "vram_total": GiB, "vram_free": GiB}]}

        def places(self):
            return {}

    info = probe(Stats())
    assert info["mode"] == "cpu" and info["gpu"] is False and info["gpu_count"] == 1
    assert "--cpu" in info["mode_note"]


# -- /api/jobs -----------------------------------------------------------------------------------
def test_run_by_polling_finds_every_output_on_both(comfy_any, pack_env, tmp_path):
    r = script("run", SOLID, "--url", comfy_any.url, "--poll", "--json", "--out", tmp_path / "o", env=pack_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "success" and out["noticed_via"] == "polling"
    [o] = out["outputs"]
    assert Path(o["path"]).read_bytes() == comfy_any.rec.sample_bytes["png"]
    jobs = requested(comfy_any, "GET", "/api/jobs")
    if comfy_any.newer:  # the polls read the light job list, never the queue with every graph in it
        assert len(jobs) >= 2 and not requested(comfy_any, "GET", "/queue")
    else:  # asked once, answered 404, not asked again: /queue from then on
        assert len(jobs) == 1 and requested(comfy_any, "GET", "/queue")


@pytest.mark.parametrize("status", [500, 404])
def test_a_newer_server_whose_job_list_fails_is_polled_through_queue(comfy_double, pack_env, tmp_path, status):
    comfy_double.newer = True
    comfy_double.fail("/api/jobs", status)  # a bug in the job list, or a proxy that hides the route
    r = script("run", SOLID, "--url", comfy_double.url, "--poll", "--json", "--out", tmp_path / "o", env=pack_env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "success" and len(list((tmp_path / "o").rglob("*.png"))) == 1
    assert len(requested(comfy_double, "GET", "/api/jobs")) == 1 and requested(comfy_double, "GET", "/queue")


def test_queue_wait_positions_and_outputs_on_both(comfy_any, pack_env, tmp_path):
    comfy_any.pause()
    client = ComfyUI(comfy_any.url)
    wf = json.loads(SOLID.read_text())
    first = client.submit(wf, "someone").prompt_id
    wf["1"]["inputs"]["color"] = 3
    second = client.submit(wf, "someone").prompt_id
    assert client.places() == {first: 1, second: 2}
    r = script("queue", "outputs", second, "--url", comfy_any.url, env=pack_env)
    assert r.returncode == 1 and "queued at position 2" in r.stderr
    comfy_any.resume()
    r = script("queue", "wait", first, second, "--url", comfy_any.url, "--json", "--out", tmp_path / "o",
               env=pack_env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["counts"] == {"success": 2} and len(list((tmp_path / "o").rglob("*.png"))) == 2


def test_the_job_routes_where_the_server_has_them(comfy_any):
    client = ComfyUI(comfy_any.url)
    r = client.submit(json.loads(SOLID.read_text()), "someone", prompt_id=str(uuid.uuid4()))
    client2 = ComfyUI(comfy_any.url)
    page = client2.jobs()
    if not comfy_any.newer:  # 0.3.64: no such route (a bare 404, recorded), so no jobs but no error
        assert page is None and client2.has_jobs is False and client2.job(r.prompt_id) is None
        return
    for _ in range(100):
        job = client2.job(r.prompt_id)
        if job.finished:
            break
        time.sleep(0.05)
    assert job.status == "completed" and job.raw["outputs"]["2"]["images"][0]["filename"].startswith("solid_")
    assert isinstance(job.create_time, int) and job.outputs_count == 1
    page = client2.jobs(statuses=("completed",), limit=5)
    assert [j.id for j in page.jobs] == [r.prompt_id] and page.total == 1 and not page.has_more
    assert client2.job(str(uuid.uuid4())) is None and client2.has_jobs is True
    with pytest.raises(InputError, match="unknown job status 'done'"):
        client2.jobs(statuses=("done",))


# -- prompt ids ----------------------------------------------------------------------------------
def test_the_pack_names_each_prompt_with_a_canonical_uuid(comfy_any, pack_env):
    r = script("run", SOLID, "--url", comfy_any.url, "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    [sent] = comfy_any.posted
    assert sent["prompt_id"] == str(uuid.UUID(sent["prompt_id"])) == json.loads(r.stdout)["prompt_id"]
    assert sent["prompt_id"] in comfy_any.history


# fixed ids, so every collection (each xdist worker's) names the same tests
@pytest.mark.parametrize("bad", ["rec-1", "CD374B60-BEBF-4AF0-B725-68C1158C2FA0",
                                 "{1916e229-0b70-48a9-b3ce-1b0372d1d3c9}", 7])
def test_a_prompt_id_that_is_not_canonical_is_refused_before_sending(comfy_any, bad):
    # 0.3.64 would take these (recordings/server/0.3.64.json); a newer server refuses them all
    with pytest.raises(InputError, match="not a UUID in lowercase hyphenated form") as err:
        ComfyUI(comfy_any.url).submit(json.loads(SOLID.read_text()), "c", prompt_id=bad)
    assert "uuid4" in err.value.hint and not comfy_any.posted


def test_a_server_refusing_the_prompt_id_says_so_in_one_line(comfy_any, monkeypatch):
    monkeypatch.setattr(api, "canonical_prompt_id", lambda value: True)  # as if our check let it through
    client = ComfyUI(comfy_any.url)
    wf = json.loads(SOLID.read_text())
    if not comfy_any.newer:
        assert client.submit(wf, "c", prompt_id="rec-1").prompt_id == "rec-1"  # as recorded
        return
    with pytest.raises(InputError) as err:
        client.submit(wf, "c", prompt_id="rec-1")
    assert "refused prompt id 'rec-1': prompt_id must be a valid UUID" in err.value.message
    assert "\n" not in err.value.message and "omit it" in err.value.hint
    assert not comfy_any.queue and not comfy_any.history


def test_a_post_whose_answer_never_came_names_the_prompt_and_wait_collects_it(comfy_any, pack_env, tmp_path):
    comfy_any.prompt_answer_seconds = 3.0  # the server queues it; its answer arrives too late
    r = script("run", SOLID, "--url", comfy_any.url, "--timeout", "1", "--out", tmp_path / "o", env=pack_env)
    assert r.returncode == 5, r.stderr
    [sent] = comfy_any.posted
    pid = sent["prompt_id"]
    assert f"it may have been queued as prompt {pid}" in r.stderr and f"queue.py wait {pid}" in r.stderr
    assert "Traceback" not in r.stderr
    record = json.loads((Path(pack_env["COMFYUI_SKILLS_STATE"]) / "runs" / f"{pid}.json").read_text())
    assert record["status"] == "unanswered" and record["url"] == comfy_any.url
    r = script("queue", "wait", pid, "--json", env=pack_env)  # no --url: the record names the server
    assert r.returncode == 0, r.stderr
    [o] = json.loads(r.stdout)["outputs"]
    assert Path(o["path"]).is_relative_to(tmp_path / "o") and Path(o["path"]).is_file()  # the run's --out


@pytest.mark.live
def test_live_server_takes_our_prompt_id_and_says_whether_it_has_jobs(live_url, pack_env, tmp_path):
    r = script("run", SOLID, "--url", live_url, "--poll", "--json", "--out", tmp_path / "o", env=pack_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    pid = out["prompt_id"]
    assert pid == str(uuid.UUID(pid)) and out["status"] == "success" and out["outputs"]
    record = json.loads((Path(pack_env["COMFYUI_SKILLS_STATE"]) / "runs" / f"{pid}.json").read_text())
    assert record["prompt_id"] == pid  # the id we sent is the one the server ran it under
    client = ComfyUI(live_url)
    page = client.jobs(limit=1)
    assert (page is None) == (client.has_jobs is False)
    if page is not None:  # a newer server
        assert client.job(pid).status == "completed"

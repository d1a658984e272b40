"""run.py against the ComfyUI double: what a user sees on stdout, stderr, in exit codes and on disk."""

import json
import signal
import time
from pathlib import Path

import pytest
import requests

from conftest import ROOT, script, start, wait_until

from comfyui_skills import overrides, runs
from comfyui_skills.errors import InputError

SOLID = ROOT / "projects" / "examples" / "workflows" / "solid-color.json"


def closed_port():
    """Port 9 (discard): nothing listens there on a test box, and no test double can take it."""
    return 9


def write_wf(tmp_path, wf, name="wf.json"):
    path = tmp_path / name
    path.write_text(json.dumps(wf))
    return path


def text_wf():
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": 16, "height": 16, "batch_size": 2, "color": 1}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "t"}},
            "3": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
            "4": {"class_type": "StringConcatenate", "inputs": {"string_a": "a", "string_b": "b", "delimiter": "-"}},
            "5": {"class_type": "PreviewAny", "inputs": {"source": ["4", 0]}}}




def running_ids(url):
    q = requests.get(url + "/queue", timeout=5).json()
    return [x[1] for x in q["queue_running"]], [x[1] for x in q["queue_pending"]]


# -- success ------------------------------------------------------------------------------------
def test_run_downloads_the_png_byte_identical_to_view(comfy_double, pack_env, tmp_path):
    r = script("run", SOLID, "--url", comfy_double.url, "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "success" and out["noticed_via"] == "websocket"
    [png] = out["outputs"]
    assert png["kind"] == "image" and png["node"] == "2" and png["class_type"] == "SaveImage"
    path = Path(png["path"])
    assert path.parent == Path(pack_env["COMFYUI_SKILLS_PROJECTS"]) / "default" / "outputs" / "examples"
    view = requests.get(comfy_double.url + "/view", params={"filename": png["filename"],
                                                            "subfolder": "examples", "type": "output"}).content
    assert path.read_bytes() == view and png["bytes"] == len(view)
    assert "node 2/2: #2 SaveImage 'Save'" in r.stderr
    assert not list(path.parent.glob(".*.part"))


def test_every_output_kind_text_and_previews_only_when_asked(comfy_double, pack_env, tmp_path):
    wf = write_wf(tmp_path, text_wf())
    r = script("run", wf, "--url", comfy_double.url, "--json", "--out", tmp_path / "o", env=pack_env)
    out = json.loads(r.stdout)
    kinds = sorted((o["kind"], o["type"] if "type" in o else None) for o in out["outputs"])
    assert kinds == [("image", "output"), ("image", "output"), ("text", None)]
    text = next(o for o in out["outputs"] if o["kind"] == "text")
    assert text["text"] == "a-b" and Path(text["path"]).read_text() == "a-b"
    r = script("run", wf, "--url", comfy_double.url, "--json", "--out", tmp_path / "p", "--previews", env=pack_env)
    out = json.loads(r.stdout)
    temps = [o for o in out["outputs"] if o.get("type") == "temp"]
    assert len(temps) == 2 and all("/temp/" in o["path"] for o in temps)
    assert all(o["from_cache"] for o in out["outputs"])  # the same graph again: all cached


def test_animated_output_is_reported_as_animated(comfy_double, pack_env, tmp_path):
    wf = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 2, "color": 3}},
          "2": {"class_type": "SaveAnimatedWEBP", "inputs": {"images": ["1", 0], "filename_prefix": "anim/a",
                                                             "fps": 6.0, "lossless": False, "quality": 80,
                                                             "method": "default"}}}
    r = script("run", write_wf(tmp_path, wf), "--url", comfy_double.url, "--json", env=pack_env)
    [o] = json.loads(r.stdout)["outputs"]
    assert o["kind"] == "animated" and o["path"].endswith(".webp") and "/anim/" in o["path"]


def test_never_overwrites_an_existing_file(comfy_double, pack_env, tmp_path):
    out_dir = tmp_path / "o"
    (out_dir / "examples").mkdir(parents=True)
    mine = out_dir / "examples" / "solid_00001_.png"
    mine.write_bytes(b"mine")
    r = script("run", SOLID, "--url", comfy_double.url, "--json", "--out", out_dir, env=pack_env)
    out = json.loads(r.stdout)
    assert mine.read_bytes() == b"mine"
    assert out["outputs"][0]["path"].endswith("solid_00001_-2.png")


def test_set_by_title_is_typed_by_the_schema(comfy_double, pack_env):
    r = script("run", SOLID, "--url", comfy_double.url, "--set", "Solid colour.width=32",
               "--set", "2.filename_prefix=x/y", "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    sent = comfy_double.posted[-1]["prompt"]
    assert sent["1"]["inputs"]["width"] == 32 and sent["2"]["inputs"]["filename_prefix"] == "x/y"
    assert "/x/y_00001_.png" in json.loads(r.stdout)["outputs"][0]["path"]


@pytest.mark.parametrize("flag,words", [
    ("1.width=wide", "not a valid INT"),
    ("1.widht=3", "has no input 'widht'"),
    ("Nope.width=3", "no node with id or title 'Nope'"),
    ("width=3", "expected NODE.INPUT=VALUE"),
    ("2.images=3", "takes a link of type IMAGE"),
])
def test_bad_set_is_exit_2_with_one_clear_line(comfy_double, pack_env, flag, words):
    r = script("run", SOLID, "--url", comfy_double.url, "--set", flag, env=pack_env)
    assert r.returncode == 2
    assert words in r.stderr and "Traceback" not in r.stderr
    assert not comfy_double.posted


# -- validation and rejection -------------------------------------------------------------------
def test_validation_stops_a_bad_workflow_before_sending(comfy_double, pack_env):
    r = script("run", SOLID, "--url", comfy_double.url, "--set", "1.width=0", env=pack_env)
    assert r.returncode == 1
    assert "would be rejected" in r.stderr and "width" in r.stderr and "--no-validate" in r.stderr
    assert not comfy_double.posted


def test_server_rejection_names_the_problem(comfy_double, pack_env, tmp_path):
    wf = write_wf(tmp_path, {"1": {"class_type": "NoSuchNode", "inputs": {}},
                             "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}})
    r = script("run", wf, "--url", comfy_double.url, "--no-validate", env=pack_env)
    assert r.returncode == 1
    assert "rejected the workflow" in r.stderr and "NoSuchNode" in r.stderr


# -- failures -----------------------------------------------------------------------------------
def test_execution_error_names_node_exception_and_diagnose(comfy_double, pack_env, tmp_path):
    comfy_double.add_file("input", "", "broken.png", b"this is not an image")
    wf = write_wf(tmp_path, {"1": {"class_type": "LoadImage", "inputs": {"image": "broken.png"},
                                   "_meta": {"title": "Photo"}},
                             "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "e"}}})
    # the double's recorded /object_info does not list files added later, so skip our check
    r = script("run", wf, "--url", comfy_double.url, "--json", "--no-validate", env=pack_env)
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["status"] == "error"
    e = out["error"]
    assert (e["node_id"], e["class_type"], e["title"]) == ("1", "LoadImage", "Photo")
    assert "cannot identify image file" in e["exception_message"]
    assert e["diagnose"] == f"python scripts/diagnose.py {out['prompt_id']}"
    assert "#1 LoadImage 'Photo'" in r.stderr and "diagnose.py" in r.stderr


def test_run_interrupted_from_elsewhere_reports_interrupted(comfy_double, pack_env):
    comfy_double.node_seconds = 1.0
    p = start("run", SOLID, "--url", comfy_double.url, "--json", env=pack_env)
    assert wait_until(lambda: running_ids(comfy_double.url)[0])
    requests.post(comfy_double.url + "/interrupt", json={})
    out, err = p.communicate(timeout=20)
    assert p.returncode == 1, err
    assert json.loads(out)["status"] == "interrupted"
    assert "was interrupted" in err


def test_ctrl_c_interrupts_our_running_prompt_and_exits_130(comfy_double, pack_env):
    comfy_double.node_seconds = 2.0
    p = start("run", SOLID, "--url", comfy_double.url, env=pack_env)
    assert wait_until(lambda: running_ids(comfy_double.url)[0])
    pid = running_ids(comfy_double.url)[0][0]
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=20)
    assert p.returncode == 130
    assert comfy_double.interrupts == [{"prompt_id": pid}]
    assert "interrupted" in err and "Traceback" not in err


def test_ctrl_c_removes_our_pending_prompt(comfy_double, pack_env):
    comfy_double.pause()
    p = start("run", SOLID, "--url", comfy_double.url, env=pack_env)
    assert wait_until(lambda: running_ids(comfy_double.url)[1])
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=20)
    assert p.returncode == 130
    assert running_ids(comfy_double.url) == ([], [])
    assert comfy_double.interrupts == []
    assert "removed 1 pending" in err


def test_socket_dropped_falls_back_to_polling(comfy_double, pack_env):
    comfy_double.drop_ws(after=1)
    comfy_double.node_seconds = 0.2
    r = script("run", SOLID, "--url", comfy_double.url, "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["noticed_via"] == "polling" and Path(out["outputs"][0]["path"]).is_file()
    assert "polling /history meanwhile" in r.stderr


def test_polling_path_notices_within_half_a_second(comfy_double, pack_env):
    comfy_double.node_seconds = 0.3
    r = script("run", SOLID, "--url", comfy_double.url, "--json", "--poll", env=pack_env)
    out = json.loads(r.stdout)
    assert out["noticed_via"] == "polling"
    assert out["latency_ms"] < 500


def test_broken_download_leaves_no_file(comfy_double, pack_env, tmp_path):
    comfy_double.break_view = True
    r = script("run", SOLID, "--url", comfy_double.url, "--out", tmp_path / "o", env=pack_env)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    left = [p for p in (tmp_path / "o").rglob("*") if p.is_file()]
    assert left == []


def test_unwritable_output_folder_is_a_clear_error(comfy_double, pack_env, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should be")
    r = script("run", SOLID, "--url", comfy_double.url, "--out", blocker / "out", env=pack_env)
    assert r.returncode == 2
    assert "cannot write outputs to" in r.stderr and "queue.py outputs" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) <= 4
    assert blocker.read_text().startswith("a file")


def test_history_forgotten_after_finish_is_reported_lost(comfy_double, pack_env):
    comfy_double.pause()
    r = script("run", SOLID, "--url", comfy_double.url, "--no-wait", env=pack_env)
    pid = r.stdout.strip()
    requests.post(comfy_double.url + "/queue", json={"delete": [pid]})
    r = script("queue", "wait", pid, "--url", comfy_double.url, "--json", env=pack_env)
    assert r.returncode == 1
    assert json.loads(r.stdout)["status"] == "lost" and "no longer knows" in r.stderr


# -- no-wait, sweeps -----------------------------------------------------------------------------
def test_no_wait_then_queue_wait_collects_outputs(comfy_double, pack_env):
    comfy_double.node_seconds = 0.3
    r = script("run", SOLID, "--url", comfy_double.url, "--no-wait", "--json", env=pack_env)
    queued = json.loads(r.stdout)
    assert queued["status"] == "queued" and queued["resume"].endswith(queued["prompt_id"])
    r = script("queue", "wait", queued["prompt_id"], "--json", env=pack_env)  # no --url: run.py's note
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "success" and Path(out["outputs"][0]["path"]).is_file()


def test_sweep_is_cartesian_with_one_summary(comfy_double, pack_env):
    r = script("run", SOLID, "--url", comfy_double.url, "--json",
               "--sweep", "1.color=1,2,3", "--sweep", "1.width=8,16", env=pack_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "success" and out["counts"] == {"success": 6} and out["outputs"] == 6
    combos = {(run["values"]["1.color"], run["values"]["1.width"]) for run in out["runs"]}
    assert combos == {(c, w) for c in (1, 2, 3) for w in (8, 16)}
    assert len({run["outputs"][0]["path"] for run in out["runs"]}) == 6


def test_seeds_without_a_seed_input_is_exit_2(comfy_double, pack_env):
    r = script("run", SOLID, "--url", comfy_double.url, "--seeds", "3", env=pack_env)
    assert r.returncode == 2 and "no seed" in r.stderr


# -- servers ------------------------------------------------------------------------------------
def test_offline_exports_and_exits_0(pack_env):
    r = script("run", SOLID, "--url", f"127.0.0.1:{closed_port()}", "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "offline" and Path(out["path"]).is_file()
    assert json.loads(Path(out["path"]).read_text()) == json.loads(SOLID.read_text())
    assert "run.py" in out["load"]


def test_online_only_exits_3(pack_env):
    r = script("run", SOLID, "--url", f"127.0.0.1:{closed_port()}", "--online-only", env=pack_env)
    assert r.returncode == 3 and "not running" in r.stderr


def test_manifest_with_several_servers_picks_a_reachable_one(comfy_double, pack_env):
    proj = Path(pack_env["COMFYUI_SKILLS_PROJECTS"]) / "p"
    proj.mkdir(parents=True)
    (proj / "project.yaml").write_text(f"urls:\n  - 127.0.0.1:{closed_port()}\n  - {comfy_double.url}\n")
    r = script("run", SOLID, "--project", "p", "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["url"] == comfy_double.url and "/p/outputs/" in out["outputs"][0]["path"]


# -- the pieces ---------------------------------------------------------------------------------
def test_overrides_type_values_and_refuse_ambiguous_titles():
    info = {"KSampler": {"input": {"required": {"seed": ["INT", {}], "cfg": ["FLOAT", {}],
                                                "sampler_name": [["euler", "dpm"], {}]},
                                   "optional": {"flag": ["BOOLEAN", {}]}}}}
    wf = {"3": {"class_type": "KSampler", "inputs": {"seed": 1, "cfg": 7.0, "sampler_name": "euler"},
                "_meta": {"title": "Sampler"}},
          "4": {"class_type": "KSampler", "inputs": {}, "_meta": {"title": "Twin"}},
          "5": {"class_type": "KSampler", "inputs": {}, "_meta": {"title": "Twin"}}}
    out, applied = overrides.apply_sets(wf, info, ["Sampler.seed=42", "3.cfg=5", "sampler.flag=yes",
                                                   "3.sampler_name=dpm"])
    assert out["3"]["inputs"] == {"seed": 42, "cfg": 5.0, "sampler_name": "dpm", "flag": True}
    assert wf["3"]["inputs"]["seed"] == 1  # the original is untouched
    with pytest.raises(InputError, match="names nodes 4, 5"):
        overrides.apply_sets(wf, info, ["Twin.seed=1"])
    axes = overrides.sweep_axes(wf, info, ["3.cfg=4,5"], seeds=2)
    plans = overrides.variants(wf, axes)
    assert len(plans) == 4 and {p[1]["3"]["inputs"]["cfg"] for p in plans} == {4.0, 5.0}


def test_partial_acceptance_names_the_outputs_that_will_not_be_produced():
    rec = json.loads((ROOT / "tests" / "fixtures" / "runs" / "partial_prompt_answer.json").read_text())
    wf, body = rec["request"]["prompt"], rec["body"]
    [d] = runs.dropped_outputs(body["node_errors"], wf)
    assert d["node_id"] == "4" and d["label"] == "#4 SaveImage" and d["because_of"] == ["3"]
    [line] = runs.node_error_lines(body["node_errors"], wf)
    assert "#3 ImageBlur input 'blur_radius': value_smaller_than_min" in line


def test_slow_server_answers_still_end_in_a_result(comfy_double, pack_env):
    comfy_double.delay = 0.3
    r = script("run", SOLID, "--url", comfy_double.url, "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    assert Path(json.loads(r.stdout)["outputs"][0]["path"]).is_file()


def test_local_input_file_is_uploaded_and_named_in_the_prompt(comfy_double, pack_env, tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(comfy_double.rec.sample_bytes["png"])
    wf = write_wf(tmp_path, {"1": {"class_type": "LoadImage", "inputs": {"image": "photo.png"}},
                             "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "u"}}})
    # --no-validate: the double's recorded LoadImage list cannot grow with the upload
    r = script("run", wf, "--url", comfy_double.url, "--json", "--no-validate", env=pack_env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "uploaded" in r.stderr and "photo.png" in r.stderr
    assert comfy_double.files[("input", "", "photo.png")] == photo.read_bytes()
    assert comfy_double.posted[-1]["prompt"]["1"]["inputs"]["image"] == "photo.png"


def test_several_servers_the_shortest_queue_wins(comfy_double, pack_env):
    from support.double import ComfyDouble
    busy = ComfyDouble().start()
    try:
        busy.pause()
        for c in (1, 2):
            wf = json.loads(SOLID.read_text())
            wf["1"]["inputs"]["color"] = c
            requests.post(busy.url + "/prompt", json={"prompt": wf, "client_id": "other"})
        proj = Path(pack_env["COMFYUI_SKILLS_PROJECTS"]) / "two"
        proj.mkdir(parents=True)
        (proj / "project.yaml").write_text(f"urls: [{busy.url}, {comfy_double.url}]\n")
        r = script("run", SOLID, "--project", "two", "--json", env=pack_env)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["url"] == comfy_double.url and "using " + comfy_double.url in r.stderr
        assert not busy.posted[2:]
    finally:
        busy.stop()


def test_a_node_that_reports_steps_shows_them_on_stderr(comfy_double, pack_env, tmp_path):
    recorded = json.loads((ROOT / "tests/recordings/runs/upscale_progress.json").read_text())
    wf = recorded["posts"][0]["request"]["prompt"]
    comfy_double.add_model("upscale_models", wf["2"]["inputs"]["model_name"], "UpscaleModelLoader.model_name")
    r = script("run", write_wf(tmp_path, wf), "--url", comfy_double.url, "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    steps = [line for line in r.stderr.splitlines() if "step" in line]
    assert steps and all("#3 ImageUpscaleWithModel" in line for line in steps)
    assert len(steps) <= 5 and "step 6/6" in steps[-1]  # quarter marks on a log, not every tile
    assert json.loads(r.stdout)["status"] == "success"


def test_progress_is_sparse_without_a_terminal_and_notes_a_long_run():
    import io
    from comfyui_skills.progress import Progress
    now = [0.0]
    out = io.StringIO()
    p = Progress(stream=out, tty=False, clock=lambda: now[0])
    p.resume_hint = "python scripts/queue.py wait ID"
    p.queued(3)
    p.node(1, 2, "3", "KSampler", "Sampler")
    for v in range(1, 21):
        p.step(v, 20)
    steps = [x for x in out.getvalue().splitlines() if "step" in x]
    assert len(steps) <= 5 and steps[-1].endswith("step 20/20  0.0s")  # quarter marks, not 20 lines
    now[0] = 601.0
    p.tick()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("queued at position 3")
    assert "node 1/2: #3 KSampler 'Sampler'" in lines[1]
    assert any("still running after 10m01s" in x and "queue.py wait ID" in x for x in lines)


def test_a_node_that_is_not_an_object_is_a_malformed_file(tmp_path, pack_env):
    wf = tmp_path / "wf.json"
    wf.write_text('{"1": 5, "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}')
    r = script("run", wf, "--url", "127.0.0.1:9", env=pack_env)
    assert r.returncode == 2
    assert "node 1 is 5, not a node" in r.stderr and "internal error" not in r.stderr


def test_a_cached_rerun_that_ends_before_the_queue_answers_still_takes_time(comfy_double, pack_env, tmp_path):
    """The server answers a fully cached prompt within a millisecond, often before the pack has read
    POST /prompt's reply: elapsed_s counts from the moment it was sent, never below zero."""
    comfy_double.node_seconds = 0.0
    for n in range(3):
        r = script("run", SOLID, "--url", comfy_double.url, "--json", "--out", tmp_path / f"o{n}", env=pack_env)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["elapsed_s"] >= 0 and out["elapsed_s"] >= out["server_s"] - 0.01, out

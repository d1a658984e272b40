"""Run records in state/runs/: a refused run leaves one, `diagnose.py --last` reads the newest, and
one missing checkpoint gets one diagnosis whichever check (ours or the server's) found it."""

import json
from pathlib import Path

import pytest

from conftest import ROOT, script

T2I = ROOT / "projects" / "examples" / "workflows" / "text-to-image.json"
SOLID = ROOT / "projects" / "examples" / "workflows" / "solid-color.json"
INSTALLED = "tiny-random-sd15.safetensors"  # what the server the refusal was recorded on had


def same_server_as_recording(double):
    double.add_model("checkpoints", INSTALLED, "CheckpointLoaderSimple.ckpt_name")


def last(url, env):
    r = script("diagnose", "--last", "--json", env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def assert_missing_checkpoint(d):
    assert (d["cause"], d["node_id"], d["class_type"]) == ("model_missing", "4", "CheckpointLoaderSimple")
    assert d["model"]["nearest"][0] == INSTALLED
    assert any(INSTALLED in f["text"] for f in d["fixes"])
    downloads = [f["command"] for f in d["fixes"] if (f["command"] or "").startswith("python scripts/models.py download")]
    assert downloads and "v1-5-pruned-emaonly-fp16.safetensors" in downloads[0]
    assert "outputs" not in d["summary"]  # nothing ran: no word about other outputs
    return {k: d[k] for k in ("cause", "node_id", "class_type", "summary", "fixes", "model")}


def test_a_run_our_validation_refuses_is_recorded_and_points_at_diagnose_last(comfy_double, pack_env):
    same_server_as_recording(comfy_double)
    r = script("run", T2I, "--url", comfy_double.url, env=pack_env)
    assert r.returncode == 1
    assert "explain it with: python scripts/diagnose.py --last" in r.stderr
    assert not comfy_double.posted  # refused here: nothing was sent
    [rec] = [json.loads(p.read_text()) for p in (Path(pack_env["COMFYUI_SKILLS_STATE"]) / "runs").glob("*.json")]
    assert rec["status"] == "rejected" and rec["rejected_by"] == "validation"
    assert rec["url"] == comfy_double.url and rec["file"].endswith("text-to-image.json")
    assert rec["workflow"]["4"]["inputs"]["ckpt_name"] == "v1-5-pruned-emaonly-fp16.safetensors"
    assert rec["errors"][0]["node_id"] == "4" and rec["submitted_at"]
    d = last(comfy_double.url, pack_env)
    assert d["input"] == "run_record"
    assert_missing_checkpoint(d)


def test_one_missing_checkpoint_one_diagnosis_whichever_check_found_it(comfy_double, pack_env):
    same_server_as_recording(comfy_double)
    script("run", T2I, "--url", comfy_double.url, env=pack_env)
    ours = assert_missing_checkpoint(last(comfy_double.url, pack_env))
    r = script("run", T2I, "--url", comfy_double.url, "--no-validate", env=pack_env)
    assert r.returncode == 1 and "diagnose.py --last" in r.stderr
    servers = assert_missing_checkpoint(last(comfy_double.url, pack_env))
    assert ours == servers
    # and the same through a pipe, as the troubleshooter skill shows it
    for flags in ([], ["--no-validate"]):
        piped = script("run", T2I, "--url", comfy_double.url, "--json", *flags, env=pack_env).stdout
        d = json.loads(script("diagnose", "--json", "--url", comfy_double.url, "-", stdin=piped, env=pack_env).stdout)
        assert assert_missing_checkpoint(d) == ours
        assert "is not in models/checkpoints/: ckpt_name" not in json.dumps(d["evidence"])


def test_diagnose_last_of_a_queued_prompt_asks_its_server(comfy_double, pack_env):
    r = script("run", SOLID, "--url", comfy_double.url, "--json", env=pack_env)
    pid = json.loads(r.stdout)["prompt_id"]
    d = last(comfy_double.url, pack_env)  # no --url: the record names the server
    assert d["input"] == "live" and d["run"]["prompt_id"] == pid
    assert d["cause"] == "no_failure"


def test_diagnose_last_with_no_record_is_one_line_exit_2(pack_env):
    r = script("diagnose", "--last", env=pack_env)
    assert r.returncode == 2 and "no run recorded" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.live
def test_live_example_is_refused_and_both_paths_diagnose_it_alike(live_url, pack_env):
    r = script("run", T2I, "--url", live_url, env=pack_env)
    assert r.returncode == 1 and "python scripts/diagnose.py --last" in r.stderr
    ours = assert_missing_checkpoint(last(live_url, pack_env))
    r = script("run", T2I, "--url", live_url, "--no-validate", env=pack_env)
    assert r.returncode == 1
    servers = assert_missing_checkpoint(last(live_url, pack_env))
    assert ours == servers


def test_only_an_accepted_prompt_is_said_to_have_run_its_other_outputs():
    from comfyui_skills import diagnosis
    partial = json.loads((ROOT / "tests" / "fixtures" / "failures" / "partial_outputs_dropped.json").read_text())
    assert "ran the other outputs" in diagnosis.diagnose(diagnosis.gather(partial))["summary"]
    refused = json.loads((ROOT / "tests" / "recordings" / "runs" / "rejections.json").read_text())
    body = refused["exchanges"][1]["response"]["body"]
    as_run_py_prints_it = {"error": "CheckFailed", "message": "the server rejected the workflow",
                           "node_errors": body["node_errors"], "server_error": body["error"]}
    assert "ran the other" not in diagnosis.diagnose(diagnosis.gather(as_run_py_prints_it))["summary"]


def test_each_prompt_of_a_sweep_has_its_own_elapsed_time(comfy_double, pack_env):
    comfy_double.node_seconds = 0.4  # two nodes: ~0.8 s a prompt, run one after another
    r = script("run", SOLID, "--url", comfy_double.url, "--sweep", "1.width=16,24,32", "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    elapsed = [run["elapsed_s"] for run in json.loads(r.stdout)["runs"]]
    assert elapsed == sorted(elapsed) and elapsed[0] < elapsed[-1] - 0.6
    assert elapsed[0] < 1.6  # the first did not wait for the others


def test_again_runs_a_recorded_run_with_changes_and_seeds(comfy_double, pack_env):
    same_server_as_recording(comfy_double)
    script("run", T2I, "--url", comfy_double.url, "--set", "Positive.text=a red fox", env=pack_env)  # refused
    run_id = last(comfy_double.url, pack_env)["run"]["run_id"]
    r = script("run", "--again", run_id, "--set", f"4.ckpt_name={INSTALLED}", "--json", env=pack_env)
    assert r.returncode == 0, r.stderr  # no --url: the record names the server
    pid = json.loads(r.stdout)["prompt_id"]
    sent = comfy_double.posted[-1]["prompt"]
    assert sent["6"]["inputs"]["text"] == "a red fox" and sent["4"]["inputs"]["ckpt_name"] == INSTALLED
    r = script("run", "--again", pid, "--seeds", "3", "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["counts"] == {"success": 3}
    three = [b["prompt"] for b in comfy_double.posted[-3:]]
    assert len({p["3"]["inputs"]["seed"] for p in three}) == 3
    assert all(p["6"]["inputs"]["text"] == "a red fox" and p["4"]["inputs"]["ckpt_name"] == INSTALLED
               for p in three)


def test_again_with_an_unknown_id_or_with_a_file_too_is_one_line(comfy_double, pack_env):
    r = script("run", "--again", "no-such-run", "--url", comfy_double.url, env=pack_env)
    assert r.returncode == 2 and "no-such-run" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = script("run", SOLID, "--again", "x1234", env=pack_env)
    assert r.returncode == 2 and "one of the two" in r.stderr


def test_the_output_fields_the_skill_names_are_the_ones_run_py_prints(comfy_double, pack_env):
    import re
    skill = (ROOT / "skills" / "comfyui-api" / "SKILL.md").read_text()
    named = re.findall(r"`(\w+)`", re.search(r"`outputs\[\]\.path` in the JSON \(with ([^)]*)\)", skill).group(1))
    out = json.loads(script("run", SOLID, "--url", comfy_double.url, "--json", env=pack_env).stdout)
    assert named and set(named) <= set(out["outputs"][0])

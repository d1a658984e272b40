"""bench/bench_startup.py on tiny inputs against the test double: every row is measured, judged
against its target, and the exit code follows the verdicts. (CI has no ComfyUI and no comfy-cli;
the real-server numbers are in bench/results-startup.md.)"""

import json
import re
import subprocess
import sys

from conftest import ROOT

CHECKPOINT = "v1-5-pruned-emaonly-fp16.safetensors"  # what the default template needs


def bench(*args, env):
    return subprocess.run([sys.executable, str(ROOT / "bench" / "bench_startup.py"), *map(str, args)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env, timeout=300)


def rows(text):
    """{metric: (ratio, result)} from the Markdown table."""
    found = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 6 and cells[0] not in ("metric", "---"):
            found[cells[0]] = (cells[3], cells[5])
    return found


def test_run_and_start_up_are_measured_against_their_baselines_and_judged(tmp_path, pack_env, comfy_double):
    comfy_double.add_model("checkpoints", CHECKPOINT, "CheckpointLoaderSimple.ckpt_name")
    dump = tmp_path / "object_info.json"
    dump.write_text(json.dumps(comfy_double.object_info))
    out = tmp_path / "results.md"
    proc = bench("--url", comfy_double.url, "--reps", "1", "--comfy", tmp_path / "no-comfy", "--object-info", dump,
                 "--out", out, env=pack_env)
    assert proc.returncode in (0, 1), proc.stderr
    got = rows(proc.stdout)
    nodes = f"{len(comfy_double.object_info):,}"
    measured = ["run.py end to end (2-node workflow), wall", "run.py end to end (2-node workflow), CPU",
                f"validate.py, 2 nodes vs {nodes}-node dump, wall", f"validate.py, 2 nodes vs {nodes}-node dump, CPU",
                "status.py, wall (for reference)", "generate.py --dry-run, CPU (for reference)"]
    for metric in measured:
        assert re.fullmatch(r"\d+\.\d\dx", got[metric][0]), (metric, got.get(metric))
    judged = [result for _, result in got.values() if result in ("pass", "FAIL")]
    assert len(judged) == 4  # run wall, run CPU, validate wall, validate CPU
    assert got["run.py end to end, vs comfy run --wait, wall (comfy-cli not found)"][1] == "not measured"
    assert proc.returncode == (1 if "FAIL" in judged else 0)
    assert out.read_text() == proc.stdout


def test_without_a_server_the_live_rows_are_skipped_with_a_note(tmp_path, pack_env):
    proc = bench("--url", "http://127.0.0.1:9", "--reps", "1", "--comfy", tmp_path / "no-comfy", "--object-info",
                 tmp_path / "absent.json", "--out", "-", env=pack_env)
    assert proc.returncode == 0, proc.stderr
    assert "no ComfyUI answers at http://127.0.0.1:9: the run, status and generate rows are skipped" in proc.stdout
    assert "absent.json is absent: validation rows skipped" in proc.stdout
    assert not rows(proc.stdout)

"""bench/run.py: runs without comfy-cli, dump or server and says so; judges rows against targets.
bench/bench_download.py: runs on small files and judges the large one."""

import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from table import Row, render  # noqa: E402


def bench(*args, env=None):
    return subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), *map(str, args)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env, timeout=120)


def test_without_comfy_cli_dump_or_server_it_still_prints_a_table_with_notes(tmp_path, pack_env):
    out = tmp_path / "results.md"
    proc = bench("--no-live", "--reps", "1", "--comfy", tmp_path / "no-comfy", "--object-info",
                 tmp_path / "absent.json", "--out", out, env=pack_env)
    assert proc.returncode == 0, proc.stderr
    assert "| Start-up: status.py --help" in proc.stdout
    assert "comfy-cli not found" in proc.stdout
    assert "absent.json is absent: validation and inventory rows skipped" in proc.stdout
    assert out.read_text() == proc.stdout


def test_a_server_off_this_machine_is_refused(tmp_path, pack_env):
    proc = bench("--reps", "1", "--comfy", tmp_path / "no-comfy", "--object-info", tmp_path / "absent.json",
                 "--url", "http://10.1.2.3:8188", "--out", "-", env=pack_env)
    assert proc.returncode == 1
    assert "only talks to a server on this machine" in proc.stderr


def test_rows_are_judged_by_ratio_or_by_absolute_figure():
    faster = Row("validate", 0.2, 1.0, target="≤ 0.33", limit=1 / 3, baseline_name="comfy-cli")
    slower = Row("run", 0.6, 1.0, target="≤ 0.5", limit=0.5, baseline_name="comfy-cli")
    quick = Row("latency", 0.004, 5.0, target="< 50 ms", absolute=0.05, baseline_name="5-s loop")
    unjudged = Row("validate", 0.2, None, target="≤ 0.33", limit=1 / 3, baseline_name="comfy-cli")
    assert (faster.passed, slower.passed, quick.passed, unjudged.passed) == (True, False, True, None)
    table = render([faster, slower, quick, unjudged])
    assert "| validate | 200 ms | 1.00 s (comfy-cli) | 0.20x | ≤ 0.33 | pass |" in table
    assert "| run | 600 ms | 1.00 s (comfy-cli) | 0.60x | ≤ 0.5 | FAIL |" in table
    assert "| latency | 4 ms | 5.00 s (5-s loop) | <0.01x | < 50 ms | pass |" in table
    assert "| validate | 200 ms | n/a | — | ≤ 0.33 | not measured |" in table


@pytest.mark.skipif(shutil.which("curl") is None, reason="the download bench compares against curl")
def test_the_download_bench_times_both_tools_on_the_same_files_and_judges_the_large_one(tmp_path):
    out = tmp_path / "results-download.md"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_download.py"), "--size-mb", "3",
                           "--small-mb", "1", "--reps", "1", "--out", str(out)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr  # 1: at 3 MiB start-up outweighs the transfer, a FAIL
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| 1 MiB |") or line.startswith("| 3 MiB |")]
    assert len(rows) == 2
    target = [line for line in proc.stdout.splitlines() if line.startswith("- target: ours/curl ≤ 1.10 on the 3 MiB")]
    assert len(target) == 1 and target[0].endswith("pass" if proc.returncode == 0 else "FAIL")
    assert proc.stdout in out.read_text()

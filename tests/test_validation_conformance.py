"""The validator agrees with a real ComfyUI (0.3.64, and 0.33.0) on every recorded case (../shared/conformance).

Each set reached 100% once; these tests keep it there. Speed is part of the contract: the 634
synthetic cases in one call, object_info loaded once, well under 2 s.
"""
import subprocess
import sys

import pytest

from conftest import CONFORMANCE, ROOT

pytestmark = pytest.mark.conformance

SCORE = CONFORMANCE / "score.py"


@pytest.mark.parametrize("case_set", ["synthetic", "templates-bare", "templates-models", "template-mutations"])
def test_agrees_with_the_server_on_every_case(case_set):
    r = subprocess.run([sys.executable, str(SCORE), "validate", "--set", case_set, "--show", "20"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    n = {"synthetic": 634, "templates-bare": 172, "templates-models": 172, "template-mutations": 453}[case_set]
    assert f"verdict agrees {n}/{n}, error nodes agree {n}/{n}" in r.stdout


def test_634_synthetic_cases_in_one_call():
    # how fast is measured in bench/, against a baseline, not here
    cases = sorted((CONFORMANCE / "validate" / "synthetic" / "cases").glob("*.json"))
    oi = CONFORMANCE / "object_info" / "comfyui-0.3.64-bare.json"
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "validate.py"), *map(str, cases),
                        "--object-info", str(oi), "--json"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1  # some are rejected, none unreadable
    assert len(r.stdout.splitlines()) == len(cases) == 634


def test_agrees_with_the_server_on_the_newest_templates_through_frontend_1_58():
    newest = CONFORMANCE / "templates-2026"
    r = subprocess.run([sys.executable, str(SCORE), "validate", "--cases", str(newest / "api"),
                        "--verdicts", str(newest / "verdicts.json"),
                        "--object-info", str(newest / "object_info-0.3.64-models-2026.json"), "--show", "20"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "verdict agrees 56/56, error nodes agree 56/56" in r.stdout


@pytest.mark.parametrize("state, verdicts", [("models", "verdicts.json"), ("bare", "verdicts-bare.json")])
def test_agrees_with_a_real_comfyui_0_33_0_on_its_own_templates(state, verdicts):
    # a raw /object_info dump names no version: its fields show a release that checks V3 COMBO lists
    here = CONFORMANCE / "server-0.33.0"
    r = subprocess.run([sys.executable, str(SCORE), "validate", "--cases", str(here / "api"),
                        "--verdicts", str(here / verdicts),
                        "--object-info", str(here / f"object_info-0.33.0-{state}.json"), "--show", "20"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "verdict agrees 90/90, error nodes agree 90/90" in r.stdout

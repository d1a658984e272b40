"""The converter against what the official frontend (1.27.10) exported for 160 templates."""

import json
import subprocess
import sys

import pytest
from conftest import CONFORMANCE, ROOT

from comfyui_skills import conversion

pytestmark = pytest.mark.conformance
CONVERT = CONFORMANCE / "convert"
BARE = CONFORMANCE / "object_info" / "comfyui-0.3.64-bare.json"


def test_score_is_160_of_160_with_meta():
    r = subprocess.run([sys.executable, str(CONFORMANCE / "score.py"), "convert"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    last = r.stdout.strip().splitlines()[-1]
    assert "160/160, identical with _meta 160/160" in last, r.stdout[-2000:]


def test_all_160_in_one_call(tmp_path):
    # how fast is measured in bench/, against a baseline, not here
    names = sorted(p for p in (CONVERT / "ui").iterdir())
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "convert.py"), *map(str, names),
                        "--object-info", str(BARE), "--out-dir", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert len(list(tmp_path.iterdir())) == len(names)


def test_api_to_ui_to_api_gives_back_every_api_file():
    schema = conversion.as_schema(json.loads(BARE.read_text()))
    for path in sorted((CONVERT / "api").iterdir()):
        api = json.loads(path.read_text())
        ui = json.loads(json.dumps(conversion.api_to_ui(api, schema)))
        assert conversion.ui_to_api(ui, schema) == api, path.name

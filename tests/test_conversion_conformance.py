"""The converter against what official frontends exported: 1.27.10 for 160 templates, 1.58.1 for
56 of the newest (templates-2026), 1.49.6 for 90 templates through ComfyUI 0.33.0 (server-0.33.0),
1.36.14, 1.42.15, 1.46.15 and 1.52.7 for the 216 of the first two sets, 1.36.14 (through ComfyUI 0.9.2),
1.38.14 and 1.42.15 for templates of the 0.33.0 set (tests/fixtures/frontend-*)."""

import gzip
import json
import subprocess
import sys

import pytest
from conftest import CONFORMANCE, ROOT

from comfyui_skills import conversion

pytestmark = pytest.mark.conformance
CONVERT = CONFORMANCE / "convert"
BARE = CONFORMANCE / "object_info" / "comfyui-0.3.64-bare.json"
NEWEST = CONFORMANCE / "templates-2026"
SERVER_0_33 = CONFORMANCE / "server-0.33.0"


def score(*args):
    r = subprocess.run([sys.executable, str(CONFORMANCE / "score.py"), "convert", *args], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    return r.stdout.strip().splitlines()[-1], r.stdout[-2000:]


def test_score_is_160_of_160_with_meta_as_frontend_1_27():
    last, out = score("--cmd", f"{sys.executable} scripts/convert.py --frontend 1.27.10")
    assert "160/160, identical with _meta 160/160" in last, out


def test_newest_frontend_sends_the_same_inputs_on_the_1_27_set_but_for_preview_any():
    # 1.58.1 no longer sends PreviewAny's `preview` text (its preview widgets are not serialized);
    # the three templates with a PreviewAny differ in that one input and nowhere else
    last, out = score()
    assert "157/160" in last, out
    assert out.count("PreviewAny") == 6 and '"preview": ""' in out, out


def test_score_on_the_newest_templates_is_56_of_56_with_meta():
    last, out = score("--ui", str(NEWEST / "ui"), "--api", str(NEWEST / "api"),
                      "--object-info", str(NEWEST / "object_info-0.3.64-models-2026.json"))
    assert "56/56, identical with _meta 56/56" in last, out


def server_0_33(*cmd):
    if not SERVER_0_33.is_dir():
        pytest.skip("../shared/conformance/server-0.33.0 is absent")
    return score(*cmd, "--ui", str(SERVER_0_33 / "ui"), "--api", str(SERVER_0_33 / "api"),
                 "--object-info", str(SERVER_0_33 / "object_info-0.33.0-models.json"))


def test_score_on_the_0_33_templates_is_90_of_90_with_meta_as_frontend_1_49():
    last, out = server_0_33("--cmd", f"{sys.executable} scripts/convert.py --frontend 1.49.6")
    assert "90/90, identical with _meta 90/90" in last, out


def test_newest_frontend_differs_on_the_0_33_set_only_in_the_boxed_curve_and_meta():
    # 1.52 and later box a curve as {"__type__": "CURVE", "__value__": ...}; 1.57 and later add the
    # node pack to `_meta`: the one template with curves differs in them, the others in _meta only
    last, out = server_0_33()
    assert "89/90, identical with _meta 7/90" in last, out
    assert out.startswith("basic_image_color_adjustment.json") and "CurveEditor" in out, out


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
        assert conversion.ui_to_api(ui, schema, frontend_version="1.27.10") == api, path.name


@pytest.mark.parametrize("version", ["1.36.14", "1.42.15", "1.46.15", "1.52.7"])
def test_every_export_of_a_recorded_frontend_is_matched_with_meta(version):
    # the 216 templates of the first two sets through that real frontend (tests/fixtures/frontend-*/README.md)
    exports = json.loads(gzip.decompress((ROOT / "tests" / "fixtures" / f"frontend-{version}" / "exports.json.gz")
                                         .read_bytes()))
    schema = conversion.as_schema(json.loads((CONFORMANCE / "object_info" / "comfyui-0.3.64-models.json").read_text()))
    folders = {"convert": CONVERT / "ui", "templates-2026": NEWEST / "ui"}
    assert len(exports) == 216
    for key, prompt in exports.items():
        tag, name = key.split("/")
        workflow = json.loads((folders[tag] / name).read_text())
        assert conversion.ui_to_api(workflow, schema, frontend_version=version) == prompt, key


def lost_links(ours, official):
    """The nodes where the frontend dropped a link into KSampler steps or cfg while loading the file
    (tests/fixtures/frontend-1.36.14/README.md) and sent the widget value: removed from both, after
    checking that the link and a number are all that differ there."""
    nodes = []
    for node_id, node in official.items():
        mine = ours.get(node_id)
        if mine is None or mine == node or node["class_type"] not in ("KSampler", "KSamplerAdvanced"):
            continue
        for name in ("steps", "cfg"):
            if isinstance(mine["inputs"].get(name), list) and isinstance(node["inputs"].get(name), (int, float)):
                del mine["inputs"][name], node["inputs"][name]
                nodes.append(node_id)
    return sorted(set(nodes))


@pytest.mark.parametrize("version,lost", [("1.38.14", 5), ("1.42.15", 0)])
def test_every_export_of_a_recorded_frontend_through_comfyui_0_33_is_matched_with_meta(version, lost):
    path = ROOT / "tests" / "fixtures" / f"frontend-{version}" / "exports-0.33.0.json.gz"
    exports = json.loads(gzip.decompress(path.read_bytes()))
    if not SERVER_0_33.is_dir():
        pytest.skip("../shared/conformance/server-0.33.0 is absent")
    schema = conversion.as_schema(json.loads((SERVER_0_33 / "object_info-0.33.0-models.json").read_text()))
    assert len(exports) == 90
    dropped = []
    for key, prompt in exports.items():
        workflow = json.loads((SERVER_0_33 / "ui" / key.split("/")[1]).read_text())
        ours = conversion.ui_to_api(workflow, schema, frontend_version=version)
        dropped += lost_links(ours, prompt)
        assert ours == prompt, key
    assert len(dropped) == lost


def test_the_exports_of_frontend_1_36_served_by_comfyui_0_9_2_are_matched():
    fixtures = ROOT / "tests" / "fixtures" / "frontend-1.36.14"
    exports = json.loads(gzip.decompress((fixtures / "exports-0.9.2.json.gz").read_bytes()))
    schema = conversion.as_schema(json.loads(gzip.decompress((fixtures / "object_info-0.9.2.json.gz").read_bytes())))
    if not SERVER_0_33.is_dir():
        pytest.skip("../shared/conformance/server-0.33.0 is absent")
    assert len(exports) == 58
    dropped = []
    for key, prompt in exports.items():
        ours = conversion.ui_to_api(json.loads((SERVER_0_33 / "ui" / key.split("/")[1]).read_text()), schema,
                                    frontend_version="1.36.14")
        dropped += lost_links(ours, prompt)
        assert ours == prompt, key
    assert dropped == ["102:3", "257:144"]  # image_qwen_image_edit, video_wanmove_480p

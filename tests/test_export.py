"""export.py: validated, atomic, never clobbering, with a receipt and loading instructions."""

import json

import pytest
from conftest import CONFORMANCE, script

from comfyui_skills import export, inventory

OBJECT_INFO = {
    "EmptyImage": {
        "input": {"required": {"width": ["INT", {"default": 512, "min": 1, "max": 4096}],
                               "height": ["INT", {"default": 512, "min": 1, "max": 4096}],
                               "batch_size": ["INT", {"default": 1, "min": 1, "max": 64}],
                               "color": ["INT", {"default": 0, "min": 0, "max": 16777215}]}},
        "input_order": {"required": ["width", "height", "batch_size", "color"]},
        "output": ["IMAGE"], "output_name": ["IMAGE"], "output_is_list": [False],
        "name": "EmptyImage", "display_name": "EmptyImage", "output_node": False, "category": "image"},
    "PreviewImage": {
        "input": {"required": {"images": ["IMAGE", {}]}, "hidden": {"prompt": "PROMPT"}},
        "input_order": {"required": ["images"]},
        "output": [], "output_name": [], "output_is_list": [],
        "name": "PreviewImage", "display_name": "Preview Image", "output_node": True, "category": "image"},
}
API = {"1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0},
             "_meta": {"title": "EmptyImage"}},
       "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}, "_meta": {"title": "Preview Image"}}}


@pytest.fixture
def setup(tmp_path, pack_env):
    oi = tmp_path / "object_info.json"
    oi.write_text(json.dumps(OBJECT_INFO))
    wf = tmp_path / "tiny.api.json"
    wf.write_text(json.dumps(API))
    return tmp_path, oi, wf, pack_env


def test_export_both_writes_files_receipt_and_says_how_to_load(setup):
    tmp, oi, wf, env = setup
    r = script("export", wf, "--project", "p1", "--format", "both", "--object-info", oi, env=env)
    assert r.returncode == 0, r.stderr
    folder = tmp / "projects" / "p1" / "workflows"
    assert json.loads((folder / "tiny.json").read_text()) == API
    assert json.loads((folder / "tiny.ui.json").read_text())["nodes"]
    receipt = json.loads((folder / "tiny.receipt.json").read_text())
    assert receipt["verdict"] == "ok" and receipt["inventory"]["hash"].startswith("sha256:")
    assert set(receipt["files"]) == {"api", "ui", "receipt"} and receipt["exported_at"]
    assert "drag tiny.ui.json onto the canvas" in r.stdout and "Workflow > Open" in r.stdout


def test_export_never_clobbers_unless_force(setup):
    tmp, oi, wf, env = setup
    for _ in range(2):
        assert script("export", wf, "--project", "p1", "--name", "x", "--object-info", oi, env=env).returncode == 0
    folder = tmp / "projects" / "p1" / "workflows"
    assert (folder / "x.json").exists() and (folder / "x-2.json").exists()
    r = script("export", wf, "--project", "p1", "--name", "x", "--force", "--object-info", oi, "--json", env=env)
    assert json.loads(r.stdout)["name"] == "x" and not (folder / "x-3.json").exists()


def test_rejected_workflow_is_not_written(setup):
    tmp, oi, wf, env = setup
    bad = dict(API, **{"1": dict(API["1"], inputs=dict(API["1"]["inputs"], width=0))})
    wf.write_text(json.dumps(bad))
    r = script("export", wf, "--project", "p1", "--object-info", oi, env=env)
    assert r.returncode == 1 and "node 1" in r.stderr and "--allow-invalid" in r.stderr
    assert not (tmp / "projects" / "p1" / "workflows").exists()
    assert script("export", wf, "--project", "p1", "--object-info", oi, "--allow-invalid", env=env).returncode == 0


def test_bad_input_exits_2(setup):
    tmp, oi, wf, env = setup
    junk = tmp / "junk.json"
    junk.write_text("[1, 2]")
    r = script("export", junk, "--project", "p1", "--object-info", oi, env=env)
    assert r.returncode == 2 and "not a ComfyUI workflow" in r.stderr
    r = script("export", wf, "--object-info", oi, env={k: v for k, v in env.items() if k != "COMFYUI_PROJECT"})
    assert r.returncode == 2 and "--project" in r.stderr


def test_export_workflow_api_for_run_py(setup, tmp_path):
    _, oi, _, _ = setup
    inv = inventory.load(object_info_path=oi)
    receipt = export.export_workflow(API, "p2", "from-run", fmt="both", inventory=inv)
    assert receipt["verdict"] == "ok" and receipt["name"] == "from-run"
    assert json.loads(open(receipt["files"]["api"]).read()) == API


@pytest.mark.conformance
def test_export_an_editor_template(setup):
    tmp, _, _, env = setup
    ui = CONFORMANCE / "convert" / "ui" / "2_pass_pose_worship.json"
    oi = CONFORMANCE / "object_info" / "comfyui-0.3.64-models.json"
    r = script("export", ui, "--project", "p3", "--format", "ui", "--object-info", oi, env=env)
    assert r.returncode == 0, r.stderr
    written = json.loads((tmp / "projects" / "p3" / "workflows" / "2_pass_pose_worship.ui.json").read_text())
    assert written == json.loads(ui.read_text())  # an editor file is kept as the user made it

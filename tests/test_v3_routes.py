"""Routes only newer servers have: node replacements and subgraph blueprints, end to end.

0.3.64 answers 404 for both (recorded in tests/recordings/newer_routes.json), which the pack reads
as "none". Newer servers' answers are the test double's, built as read in the sources:
GET /node_replacements from Comfy-Org/ComfyUI app/node_replace_manager.py at b5d74ccb (applied at
POST /prompt before validation, server.py at 002c3fb9); GET /global_subgraphs[/ID] from
comfyanonymous/ComfyUI app/subgraph_manager.py at f86cc10f. The replacement rule is the
ResizeImagesByLongerEdge entry of comfyanonymous/ComfyUI comfy_extras/nodes_replacements.py at
2d992ebd6ccbd4d1a5f07721e36d0f22185ff0ef, as NodeReplace.as_dict writes it; the blueprint is one
frontend 1.58.1 published (tests/fixtures/v3/pairs/blueprint_added.json).
"""
import copy
import hashlib
import json
from pathlib import Path

from conftest import script

from comfyui_skills.api import ComfyUI
from comfyui_skills.conversion import ui_to_api

PAIRS = Path(__file__).parent / "fixtures" / "v3" / "pairs"
ADDED = json.loads((PAIRS / "blueprint_added.json").read_text())
OI = json.loads((PAIRS / "object_info.json").read_text())["object_info"]

LONGER_EDGE = {"ResizeImagesByLongerEdge": [{
    "new_node_id": "ImageScaleToMaxDimension", "old_node_id": "ResizeImagesByLongerEdge", "old_widget_ids": ["longer_edge"],
    "input_mapping": [{"new_id": "image", "old_id": "images"}, {"new_id": "largest_size", "old_id": "longer_edge"},
                      {"new_id": "upscale_method", "set_value": "lanczos"}],
    "output_mapping": [{"new_idx": 0, "old_idx": 0}]}]}
OLD_RESIZE = {"1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 32, "batch_size": 1, "color": 0}},
              "2": {"class_type": "ResizeImagesByLongerEdge", "inputs": {"images": ["1", 0], "longer_edge": 32}},
              "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}

PATH = "/srv/comfy/custom_nodes/blueprint-pack/subgraphs/Invert and blur.json"
BLUEPRINT_ID = hashlib.sha256(f"custom_node{PATH}".encode()).hexdigest()  # the server's own id rule
BLUEPRINTS = {BLUEPRINT_ID: {"source": "custom_node", "name": "Invert and blur", "path": PATH,
                             "info": {"node_pack": "custom_nodes.blueprint-pack"}, "data": json.dumps(ADDED["blueprint"])}}


def uses_blueprint(ref="Invert and blur"):
    """The workflow frontend 1.58.1 saved after adding the blueprint, with the subgraph node
    naming the blueprint instead of carrying its definition."""
    wf = copy.deepcopy(ADDED["workflow"])
    node = next(n for n in wf["nodes"] if n["type"] == ADDED["built"])
    node["type"] = "SubgraphBlueprint." + ref
    node.pop("widgets_values", None)
    del wf["definitions"]
    return wf


def write(tmp_path, name, obj):
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return path


def test_a_0364_server_has_neither_route(comfy_double):
    client = ComfyUI(comfy_double.url)
    assert client.node_replacements() is None
    assert client.global_subgraphs() is None and client.global_subgraph(BLUEPRINT_ID) is None


def test_a_newer_server_serves_replacements_and_blueprints(comfy_double):
    comfy_double.node_replacements, comfy_double.global_subgraphs = LONGER_EDGE, BLUEPRINTS
    client = ComfyUI(comfy_double.url)
    assert client.node_replacements() == LONGER_EDGE
    listed = client.global_subgraphs()
    assert listed[BLUEPRINT_ID] == {"source": "custom_node", "name": "Invert and blur",
                                    "info": {"node_pack": "custom_nodes.blueprint-pack"}}  # no path, no data
    assert json.loads(client.global_subgraph(BLUEPRINT_ID)["data"]) == ADDED["blueprint"]
    assert client.global_subgraph("0" * 64) is None  # the server answers JSON null


def test_the_snapshot_keeps_them_and_validate_applies_the_replacement(comfy_double, pack_env, tmp_path):
    wf = write(tmp_path, "old.json", OLD_RESIZE)
    assert script("inventory", "--url", comfy_double.url, env=pack_env).returncode == 0
    refused = script("validate", wf, env=pack_env)
    assert refused.returncode == 1 and "'ResizeImagesByLongerEdge' does not exist" in refused.stdout

    comfy_double.node_replacements, comfy_double.global_subgraphs = LONGER_EDGE, BLUEPRINTS
    snap = script("inventory", "--url", comfy_double.url, env=pack_env)
    assert snap.returncode == 0, snap.stderr
    assert "node replacements: 1" in snap.stdout and "subgraph blueprints: 1: Invert and blur" in snap.stdout
    accepted = script("validate", wf, env=pack_env)
    assert accepted.returncode == 0, accepted.stdout
    assert "replaces it with ImageScaleToMaxDimension" in accepted.stdout


def test_run_follows_the_servers_replacements(comfy_double, pack_env, tmp_path):
    wf = write(tmp_path, "old.json", OLD_RESIZE)
    refused = script("run", wf, "--url", comfy_double.url, "--no-wait", env=pack_env)
    assert refused.returncode == 1 and "does not exist" in refused.stdout + refused.stderr
    assert not comfy_double.posted  # refused before anything was sent
    comfy_double.node_replacements = LONGER_EDGE
    ran = script("run", wf, "--url", comfy_double.url, env=pack_env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "replaces it with ImageScaleToMaxDimension" in ran.stdout + ran.stderr
    [posted] = comfy_double.posted
    assert posted["prompt"]["2"]["class_type"] == "ImageScaleToMaxDimension"  # the server replaced it


def test_a_blueprint_named_by_its_node_type_converts_as_the_frontend_inserts_it():
    want = ADDED["prompt"]  # what the frontend exported after inserting the blueprint itself
    assert ui_to_api(uses_blueprint(), OI, frontend_version="1.58.1", blueprints=BLUEPRINTS) == want
    assert ui_to_api(uses_blueprint(BLUEPRINT_ID), OI, frontend_version="1.58.1", blueprints=BLUEPRINTS) == want


def test_a_blueprint_the_server_does_not_serve_is_named(comfy_double, pack_env, tmp_path):
    wf = write(tmp_path, "bp.json", uses_blueprint("Upscale 4x"))
    comfy_double.global_subgraphs = BLUEPRINTS
    r = script("run", wf, "--url", comfy_double.url, "--no-wait", env=pack_env)
    assert r.returncode == 2
    assert "uses subgraph blueprint 'Upscale 4x', which the server does not serve" in r.stderr
    assert "Invert and blur" in r.stderr  # the ones it does serve


def test_run_converts_a_workflow_that_names_a_server_blueprint(comfy_double, pack_env, tmp_path):
    comfy_double.global_subgraphs = BLUEPRINTS
    r = script("run", write(tmp_path, "bp.json", uses_blueprint()), "--url", comfy_double.url, env=pack_env)
    assert r.returncode == 0, r.stdout + r.stderr
    [posted] = comfy_double.posted
    assert {k: (v["class_type"], v["inputs"]) for k, v in posted["prompt"].items()} == \
        {k: (v["class_type"], v["inputs"]) for k, v in ADDED["prompt"].items()}


def test_diagnose_reads_a_newer_servers_missing_node_type(pack_env, tmp_path):
    # the body a 0.38.1 server answers POST /prompt with (execution.py validate_prompt at 04e2a914)
    body = {"error": {"type": "missing_node_type", "message": "Node 'VHS_VideoCombine' not found. The custom node "
                      "may not be installed.", "details": "Node ID '#2'", "extra_info": {
                          "node_id": "2", "class_type": "VHS_VideoCombine", "node_title": "VHS_VideoCombine"}},
            "node_errors": {}}
    r = script("diagnose", write(tmp_path, "body.json", body), "--json", env=pack_env)
    out = json.loads(r.stdout)
    assert out["cause"] == "node_missing" and out["node_id"] == "2" and out["class_type"] == "VHS_VideoCombine"
    assert any("comfy node install comfyui-videohelpersuite" in (f["command"] or "") for f in out["fixes"])


def test_diagnose_explains_a_newer_servers_invalid_dynamic_input(pack_env, tmp_path):
    # node_errors as 0.38.1 words them (execution.py validate_inputs at 04e2a914)
    body = {"error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
                      "details": "", "extra_info": {}},
            "node_errors": {"1": {"class_type": "Rows", "dependent_outputs": ["2"], "errors": [{
                "type": "invalid_dynamic_input", "message": "Invalid dynamic input",
                "details": "Invalid DynamicGroup input key 'rows.01.x'; expected 'rows.<index>.<template field>'.",
                "extra_info": {"input_name": "rows.01.x"}}]}}}
    out = json.loads(script("diagnose", write(tmp_path, "body.json", body), "--json", env=pack_env).stdout)
    assert out["cause"] == "invalid_dynamic_input" and "`rows.01.x`" in out["summary"]
    assert any((f["command"] or "").endswith("inventory.py show Rows") for f in out["fixes"])

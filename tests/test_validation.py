"""validate.py and validation.validate(): the answers a user gets, with the fixes they need.

Fixtures under tests/fixtures/validation/ were recorded from a real ComfyUI 0.3.64.
"""
import copy
import json
import os
import time
from pathlib import Path

import pytest

from conftest import CONFORMANCE, ROOT, closed_port, script
from comfyui_skills import inventory, schema, validation, versions, workflow
from comfyui_skills.validation import validate

FIX = Path(__file__).parent / "fixtures" / "validation"
OI = json.loads((FIX / "object_info_models_subset.json").read_text())["object_info"]
DEFAULT = json.loads((FIX / "default_api.json").read_text())  # the official "default" template, API format


@pytest.fixture
def wf():
    return copy.deepcopy(DEFAULT)


@pytest.fixture
def oi_file(tmp_path):
    p = tmp_path / "object_info.json"
    p.write_text(json.dumps(OI))
    return p


def write(tmp_path, name, content):
    p = tmp_path / name
    p.write_text(content if isinstance(content, str) else json.dumps(content))
    return p


def only(errors, kind=None):
    assert len(errors) == 1, errors
    if kind:
        assert errors[0]["type"] == kind
    return errors[0]


# -- what the server would say, explained ---------------------------------------------------

def test_the_default_template_is_accepted(wf):
    assert validate(wf, OI) == {"verdict": "ok", "errors": [], "warnings": []}


def test_missing_required_input_names_node_class_and_input(wf):
    del wf["3"]["inputs"]["steps"]
    r = validate(wf, OI)
    assert r["verdict"] == "rejected"
    e = only(r["errors"], "required_input_missing")
    assert (e["node_id"], e["class_type"], e["input_name"]) == ("3", "KSampler", "steps")
    assert "node 3 (KSampler)" in e["message"] and "'steps'" in e["message"]
    assert '"steps": 20' in e["hint"]  # the default, ready to paste


def test_bad_enum_gives_did_you_mean(wf):
    wf["3"]["inputs"]["sampler_name"] = "eulr"
    e = only(validate(wf, OI)["errors"], "value_not_in_list")
    assert e["input_name"] == "sampler_name"
    assert "did you mean 'euler'" in e["hint"]


def test_missing_model_names_its_folder_and_nearest_files(wf):
    wf["4"]["inputs"]["ckpt_name"] = "dreamshaper_8_pruned.safetensors"  # wrong case
    e = only(validate(wf, OI)["errors"], "value_not_in_list")
    assert "models/checkpoints/" in e["message"]
    assert "'DreamShaper_8_pruned.safetensors'" in e["hint"]
    assert "ComfyUI/models/checkpoints/" in e["hint"]


def test_model_folder_comes_from_the_inventory_when_it_knows(wf):
    files = OI["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0]
    wf["4"]["inputs"]["ckpt_name"] = "nope.safetensors"
    e = only(validate(wf, OI, models={"my_ckpts": files})["errors"])
    assert "models/my_ckpts/" in e["message"]


def test_value_out_of_range_gives_the_range(wf):
    wf["3"]["inputs"]["steps"] = 0
    e = only(validate(wf, OI)["errors"], "value_smaller_than_min")
    assert "valid range 1..10000" in e["hint"]


def test_strings_are_coerced_like_the_server_does(wf):
    wf["3"]["inputs"]["steps"] = "25"
    wf["3"]["inputs"]["cfg"] = " 7.5 "
    assert validate(wf, OI)["verdict"] == "ok"
    wf["3"]["inputs"]["steps"] = "twenty"
    e = only(validate(wf, OI)["errors"], "invalid_input_type")
    assert e["input_name"] == "steps"


def test_float_into_int_is_accepted_with_a_warning(wf):
    wf["5"]["inputs"]["width"] = 512.9
    r = validate(wf, OI)
    assert r["verdict"] == "ok"
    w = only(r["warnings"], "float_truncated")
    assert "truncated to 512" in w["message"]


def test_wrong_link_type_says_what_is_expected_and_who_makes_it(wf):
    wf["8"]["inputs"]["samples"] = ["4", 0]  # MODEL into LATENT
    e = only(validate(wf, OI)["errors"], "return_type_mismatch")
    assert "expects LATENT" in e["message"] and "which is MODEL" in e["message"]
    assert "KSampler" in e["hint"] and "EmptyLatentImage" in e["hint"]


def test_link_to_missing_node_and_slot(wf):
    wf["8"]["inputs"]["vae"] = ["40", 2]
    e = only(validate(wf, OI)["errors"], "link_to_missing_node")
    assert e["node_id"] == "8"
    wf["8"]["inputs"]["vae"] = ["4", 5]
    e = only(validate(wf, OI)["errors"], "link_slot_out_of_range")
    assert "2=VAE (VAE)" in e["hint"]
    wf["8"]["inputs"]["vae"] = [4, 2]
    e = only(validate(wf, OI)["errors"], "link_to_missing_node")
    assert 'node ids are strings' in e["hint"]


def test_unknown_class_is_invalid_prompt_with_install_hint(wf):
    wf["10"] = {"class_type": "KSamplr", "inputs": {}}
    e = only(validate(wf, OI)["errors"], "invalid_prompt")
    assert e["node_id"] == "10"
    assert "did you mean 'KSampler'" in e["hint"] and "ComfyUI-Manager" in e["hint"]


def test_only_one_output_broken_is_partial(wf):
    wf["10"] = {"class_type": "PreviewImage", "inputs": {"images": ["11", 0]}}
    wf["11"] = {"class_type": "ImageInvert", "inputs": {}}
    r = validate(wf, OI)
    assert r["verdict"] == "partial"
    assert only(r["errors"])["node_id"] == "11"


def test_no_outputs_and_cycles_are_rejected(wf):
    del wf["9"]
    r = validate(wf, OI)
    assert r["verdict"] == "rejected" and only(r["errors"])["type"] == "prompt_no_outputs"
    cyc = {"1": {"class_type": "ImageInvert", "inputs": {"image": ["2", 0]}},
           "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
           "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}
    r = validate(cyc, OI)
    assert r["verdict"] == "rejected"
    assert "2 -> 1 -> 2" in only(r["errors"], "dependency_cycle")["message"]


def test_missing_input_image_says_upload(wf):
    img = {"1": {"class_type": "LoadImage", "inputs": {"image": "astronaut.PNG"}},
           "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}
    e = only(validate(img, OI)["errors"], "custom_validation_failed")
    assert "not in ComfyUI's input folder" in e["message"]
    assert "'astronaut.png'" in e["hint"] and "scripts/upload.py" in e["hint"]
    img["1"]["inputs"]["image"] = "astronaut.png"
    assert validate(img, OI)["verdict"] == "ok"


def test_input_listing_from_the_inventory_counts(wf):
    img = {"1": {"class_type": "LoadImage", "inputs": {"image": "sub/new.png"}},
           "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}
    assert validate(img, OI)["verdict"] == "rejected"
    assert validate(img, OI, input_files=["sub/new.png"])["verdict"] == "ok"


def test_v3_dropdowns_are_not_enforced_by_the_server():
    """Recorded: ComfyUI 0.3.64 queues a V3 COMBO value that is not among its options."""
    cam = {"1": {"class_type": "KlingCameraControls", "inputs": {
        "camera_control_type": "bogus", "horizontal_movement": 1, "vertical_movement": 0, "pan": 0,
        "tilt": 0, "roll": 0, "zoom": 0}}, "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}
    assert validate(cam, OI)["verdict"] == "ok"
    cam["1"]["inputs"]["horizontal_movement"] = 0  # its own check: one movement must be non-zero
    assert only(validate(cam, OI)["errors"])["type"] == "custom_validation_failed"


def test_warnings_for_unreached_nodes_and_unknown_inputs(wf):
    wf["3"]["inputs"]["step"] = 5
    wf["20"] = {"class_type": "EmptyImage", "inputs": {"width": -1}}  # broken but unreachable
    r = validate(wf, OI)
    assert r["verdict"] == "ok"
    kinds = {w["type"]: w for w in r["warnings"]}
    assert "did you mean 'steps'" in kinds["unknown_input"]["hint"]
    assert kinds["unreachable_node"]["node_id"] == "20"


def test_deep_chains_fail_where_the_server_runs_out_of_stack():
    rec = json.loads((FIX / "deep_chains.json").read_text())
    bare_oi = {k: OI[k] for k in ("EmptyImage", "ImageInvert", "PreviewImage")}
    for n, answer in rec["answers"].items():
        wf = {"0": {"class_type": "EmptyImage", "inputs": {"width": 0, "height": 64, "batch_size": 1, "color": 0}}}
        wf.update({str(i): {"class_type": "ImageInvert", "inputs": {"image": [str(i - 1), 0]}}
                   for i in range(1, int(n) + 1)})
        wf["out"] = {"class_type": "PreviewImage", "inputs": {"images": [n, 0]}}
        r = validate(wf, bare_oi)
        assert r["verdict"] == "rejected"
        assert {e["node_id"] for e in r["errors"]} == set(answer["body"]["node_errors"]), n


def test_server_probes_agree():
    """Edge cases replayed against answers a real ComfyUI gave (file paths, coercion, slots...)."""
    rec = json.loads((FIX / "server_probes.json").read_text())
    for name, probe in rec["probes"].items():
        server = set(probe["body"]["node_errors"]) - {"sink"}
        r = validate(copy.deepcopy(probe["prompt"]), rec["object_info"])
        ours = {e["node_id"] for e in r["errors"]} - {"sink"}
        if name == "loadimage '/nonexistent.png'":  # outside input/: we cannot look, so only warn
            assert any(w["type"] == "unchecked_file" for w in r["warnings"])
            continue
        assert ours == server, name


# -- schema ---------------------------------------------------------------------------------

def test_schema_reads_both_dropdown_forms_and_widget_settings():
    s = schema.Schema(OI)
    ks = s.node("KSampler")
    assert [i.name for i in ks.visible_inputs()][:3] == ["model", "seed", "steps"]
    seed = ks.inputs["seed"]
    assert (seed.type, seed.min, seed.section) == ("INT", 0, "required")
    sampler = ks.inputs["sampler_name"]
    assert sampler.type == "COMBO" and sampler.strict_options and "euler" in sampler.options
    cam = s.node("KlingCameraControls").inputs["camera_control_type"]
    assert cam.type == "COMBO" and not cam.strict_options and "simple" in cam.options
    assert s.node("CheckpointLoaderSimple").output_types == ["MODEL", "CLIP", "VAE"]
    assert s.node("SaveImage").output_node and not ks.output_node
    assert s.node("SaveImage").inputs["prompt"].section == "hidden"
    assert s.node("NoSuchNode") is None
    assert "KSampler" in s.producers("LATENT")


# -- the command ----------------------------------------------------------------------------

def test_exit_codes_and_one_json_line_per_file(tmp_path, oi_file, wf, pack_env):
    good = write(tmp_path, "good.json", wf)
    bad_wf = copy.deepcopy(wf)
    bad_wf["3"]["inputs"]["sampler_name"] = "eulr"
    bad = write(tmp_path, "bad.json", bad_wf)
    junk = write(tmp_path, "junk.json", "{not json")
    r = script("validate", good, "--object-info", oi_file, "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["verdict"] == "ok"
    r = script("validate", good, bad, "--object-info", oi_file, "--json", env=pack_env)
    assert r.returncode == 1
    assert [json.loads(line)["verdict"] for line in r.stdout.splitlines()] == ["ok", "rejected"]
    r = script("validate", junk, good, "--object-info", oi_file, "--json", env=pack_env)
    assert r.returncode == 2
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert lines[0]["verdict"] is None and "not valid JSON" in lines[0]["error"]
    assert lines[1]["verdict"] == "ok"  # went on with the other files
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("content,words", [
    ("", "empty"),
    ("[1, 2]", "a JSON list"),
    ('"text"', "a JSON str"),
    ('{"a": 1}', "not a ComfyUI workflow"),
    ("[" * 5000 + "]" * 5000, "nested"),
    ("\xff\xfe", "not UTF-8"),
])
def test_files_that_are_not_workflows_exit_2_without_traceback(tmp_path, oi_file, pack_env, content, words):
    p = tmp_path / "x.json"
    p.write_bytes(content.encode("latin-1") if content == "\xff\xfe" else content.encode())
    r = script("validate", p, "--object-info", oi_file, env=pack_env)
    assert r.returncode == 2
    assert words in r.stdout + r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.conformance
def test_an_editor_workflow_is_converted_then_validated_and_stderr_says_so(tmp_path, pack_env):
    # a recorded template whose API export the server accepted in the models state
    ui = CONFORMANCE / "convert" / "ui" / "2_pass_pose_worship.json"
    oi = CONFORMANCE / "object_info" / "comfyui-0.3.64-models.json"
    r = script("validate", ui, "--object-info", oi, "--json", env=pack_env)
    assert "is an editor workflow; validating its API-format conversion" in r.stderr
    assert json.loads(r.stdout)["verdict"] == "ok" and r.returncode == 0


def test_an_editor_workflow_with_an_unknown_node_is_answered_as_the_server_would(tmp_path, oi_file, pack_env):
    ui = write(tmp_path, "ui.json", {"nodes": [{"id": 3, "type": "NoSuchNode", "inputs": [], "outputs": []}],
                                     "links": [], "version": 0.4})
    r = script("validate", ui, "--object-info", oi_file, "--json", env=pack_env)
    out = json.loads(r.stdout)
    assert r.returncode == 1 and out["verdict"] == "rejected"
    assert out["errors"][0]["node_id"] == "3" and "NoSuchNode" in out["errors"][0]["message"]


def test_a_broken_editor_workflow_exits_2_naming_the_node(tmp_path, oi_file, pack_env):
    ui = write(tmp_path, "ui.json", {"nodes": [{"id": 3, "type": "VAEDecode", "inputs": [
        {"name": "samples", "type": "LATENT", "link": 99}], "outputs": []}], "links": [], "version": 0.4})
    r = script("validate", ui, "--object-info", oi_file, "--json", env=pack_env)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    message = json.loads(r.stdout)["error"]
    assert "cannot convert this editor workflow" in message and "node 3 (VAEDecode)" in message and "99" in message


def test_huge_file_is_refused_quickly(tmp_path, oi_file, pack_env, monkeypatch):
    p = tmp_path / "huge.json"
    with open(p, "wb") as fh:
        fh.truncate(65 * 2**20)  # sparse: 65 MiB of zero bytes, over the 64 MiB limit
    start = time.monotonic()
    r = script("validate", p, "--object-info", oi_file, env=pack_env)
    assert r.returncode == 2 and "too large" in r.stderr + r.stdout
    assert time.monotonic() - start < 5


def test_text_output_shows_message_and_hint(tmp_path, oi_file, wf, pack_env):
    del wf["3"]["inputs"]["steps"]
    r = script("validate", write(tmp_path, "wf.json", wf), "--object-info", oi_file, env=pack_env)
    assert r.returncode == 1
    assert "wf.json: rejected" in r.stdout
    assert "error: node 3 (KSampler) is missing required input 'steps'" in r.stdout
    assert "hint:" in r.stdout
    assert "object_info dump" in r.stderr  # says which inventory it used


def test_bundled_inventory_only_warns_about_models(tmp_path, wf, pack_env):
    r = script("validate", write(tmp_path, "wf.json", wf), "--json", env=pack_env)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["verdict"] == "ok"
    assert any(w["type"] == "unchecked_value_not_in_list" for w in out["warnings"])
    assert "bundled core inventory" in r.stderr


def test_help_has_examples():
    r = script("validate", "--help")
    assert r.returncode == 0 and "examples:" in r.stdout and "--object-info" in r.stdout


def test_a_prompt_request_body_is_validated_as_its_workflow(tmp_path, oi_file, wf, pack_env):
    body = write(tmp_path, "body.json", {"prompt": wf, "client_id": "abc"})
    r = script("validate", body, "--object-info", oi_file, "--json", env=pack_env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["verdict"] == "ok"


VAE_WORKFLOW = {
    "1": {"class_type": "VAELoader", "inputs": {"vae_name": "vae-ft-mse-840000-ema-pruned.safetensors"}},
    "2": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
    "3": {"class_type": "VAEDecode", "inputs": {"samples": ["2", 0], "vae": ["1", 0]}},
    "4": {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}},
}


def test_bundled_inventory_warns_about_a_model_missing_from_a_list_with_fixed_entries(pack_env):
    # VAELoader lists "pixel_space" next to its files: the bundled inventory cannot know the files
    inv = inventory.load_bundled()
    report = validation.validate_against(VAE_WORKFLOW, inv)
    assert report["verdict"] == "ok", report["errors"]
    assert [w["input_name"] for w in report["warnings"]] == ["vae_name"]
    with_files = validation.validate(VAE_WORKFLOW, inv.object_info)  # a server whose list this is
    assert with_files["verdict"] == "rejected"


def test_export_with_the_bundled_inventory_accepts_a_model_it_cannot_see(tmp_path, pack_env):
    r = script("export", write(tmp_path, "vae.json", VAE_WORKFLOW), "--project", "p", env=pack_env)
    assert r.returncode == 0, r.stdout + r.stderr
    receipt = json.loads((tmp_path / "projects" / "p" / "workflows" / "vae.receipt.json").read_text())
    assert receipt["verdict"] == "ok" and receipt["warnings"][0]["type"] == "unchecked_value_not_in_list"


@pytest.mark.parametrize("obj, fmt", [
    ({"1": {"class_type": "PreviewImage", "inputs": {}}, "2": {"inputs": {}}}, "api"),  # server: invalid_prompt
    ({"1": {"class_type": "PreviewImage", "inputs": {}}, "2": "not a node"}, "api"),    # likewise
    ({"prompt": {"1": {"inputs": {}}}, "client_id": "x"}, "api"),                       # a /prompt body
    ({}, "api"),                                                                          # prompt_no_outputs
    ({"nodes": [], "links": [], "version": 0.4}, "ui"),
    ({"schema_version": 1, "object_info": {}}, None),
    ([1, 2], None),
])
def test_one_place_tells_formats_apart_as_leniently_as_the_server(obj, fmt):
    assert workflow.detect_format(obj) == fmt


def test_export_reports_a_node_without_class_type_as_the_server_would(tmp_path, pack_env):
    broken = dict(VAE_WORKFLOW, **{"5": {"inputs": {}}})
    r = script("export", write(tmp_path, "b.json", broken), "--project", "p", "--json", env=pack_env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "node 5 has no class_type" in r.stdout + r.stderr


V3_COMBO_NODE = {"FluxKontextMultiReferenceLatentMethod": {
    # as a newer server's /object_info describes it (../shared/data/object_info/v3-combo-schema-496-nodes.json)
    "input": {"required": {"conditioning": ["CONDITIONING", {}], "reference_latents_method": [
        "COMBO", {"multiselect": False, "options": ["offset", "index", "uxo/uno"]}]}},
    "input_order": {"required": ["conditioning", "reference_latents_method"]},
    "output": ["CONDITIONING"], "output_is_list": [False], "output_name": ["CONDITIONING"],
    "name": "FluxKontextMultiReferenceLatentMethod", "output_node": False, "category": "advanced"}}


@pytest.mark.parametrize("server_version, verdict", [(None, "ok"), ("0.3.64", "ok"), ("0.7.0", "ok"),
                                                     ("0.8.0", "rejected"), ("0.33.0", "rejected"),
                                                     ("0.38.1", "rejected")])
def test_a_v3_combo_value_outside_its_list_is_an_error_only_where_the_server_checks_it(server_version, verdict):
    oi = json.loads((CONFORMANCE / "object_info" / "comfyui-0.3.64-bare.json").read_text())
    oi.update(V3_COMBO_NODE)
    wf = {"1": {"class_type": "FluxKontextMultiReferenceLatentMethod",
                "inputs": {"conditioning": ["2", 0], "reference_latents_method": "index_timestep_zero"}},
          "2": {"class_type": "ConditioningZeroOut", "inputs": {"conditioning": ["3", 0]}},
          "3": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["4", 1], "text": "x"}},
          "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "a.safetensors"}},
          "5": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}
    r = validate(wf, oi, server_version=server_version, local_files_known=False)
    assert r["verdict"] == verdict
    about = [p for p in r["errors"] + r["warnings"] if p["input_name"] == "reference_latents_method"]
    assert len(about) == 1 and "index_timestep_zero" in about[0]["message"]
    if verdict == "ok":
        assert "at run time" in about[0]["message"]


def test_deep_graphs_validate_side_by_side_on_threads():
    # The MCP server checks workflows on worker threads: one check must not shrink Python's
    # recursion limit under another that is deep in a 980-link chain (it used to, on exit).
    import sys
    import threading

    bare_oi = {k: OI[k] for k in ("EmptyImage", "ImageInvert", "PreviewImage")}
    wf = {"0": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}}}
    wf.update({str(i): {"class_type": "ImageInvert", "inputs": {"image": [str(i - 1), 0]}} for i in range(1, 975)})
    wf["out"] = {"class_type": "PreviewImage", "inputs": {"images": ["974", 0]}}
    verdicts, crashes = [], []

    def check():
        try:
            for _ in range(3):
                verdicts.append(validate(wf, bare_oi)["verdict"])
        except RecursionError as exc:
            crashes.append(exc)

    before = sys.getrecursionlimit()
    threads = [threading.Thread(target=check) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not crashes and verdicts == ["ok"] * 12
    assert sys.getrecursionlimit() >= before  # raised at most, never lowered


@pytest.mark.parametrize("server_version, kind", [(None, "invalid_prompt"), ("0.11.1", "invalid_prompt"),
                                                  ("0.12.0", "missing_node_type"), ("v0.33.0", "missing_node_type")])
def test_an_unknown_class_has_the_name_the_servers_release_gives_it(wf, server_version, kind):
    wf["10"] = {"class_type": "KSamplr", "inputs": {}}
    wf["11"] = {"inputs": {}}
    r = validate(wf, OI, server_version=server_version)
    assert r["verdict"] == "rejected"
    assert {(e["node_id"], e["type"]) for e in r["errors"]} == {("10", kind), ("11", kind)}


CYCLE = {"1": {"class_type": "ImageInvert", "inputs": {"image": ["2", 0]}},
         "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
         "3": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
         "4": {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}},
         "5": {"class_type": "PreviewImage", "inputs": {"images": ["6", 0]}},
         "6": {"class_type": "LoadImage", "inputs": {"image": "example.png"}}}


def test_from_0_20_0_every_node_on_a_cycle_is_named_and_the_other_outputs_run():
    oi = OI
    old = validate(CYCLE, oi, server_version="0.19.3")
    assert old["verdict"] == "ok" and not old["errors"]  # dropped output 4, naming nothing (0.3.64 recorded)
    assert any(w["type"] == "dependency_cycle" for w in old["warnings"])
    new = validate(CYCLE, oi, server_version="0.20.0")
    assert new["verdict"] == "partial"
    assert {(e["node_id"], e["type"]) for e in new["errors"]} == {("1", "dependency_cycle"), ("2", "dependency_cycle")}
    assert "1 -> 2 -> 1" in new["errors"][0]["message"]
    alone = {k: v for k, v in CYCLE.items() if k in "1234"}
    assert validate(alone, oi, server_version="0.20.0")["verdict"] == "rejected"


def _without_version_marks(object_info):
    marks = [key for key, _ in versions.FLOOR_MARKERS]
    return {k: {f: v for f, v in node.items() if f not in marks} for k, node in object_info.items()}


def test_a_raw_dump_names_no_version_but_its_fields_show_the_oldest_release_it_can_be(tmp_path):
    oi = json.loads((CONFORMANCE / "server-0.33.0" / "object_info-0.33.0-bare.json").read_text())
    wf = write(tmp_path, "wf.json", {
        "1": {"class_type": "QuadrupleCLIPLoader",
              "inputs": {f"clip_name{i}": "clip_l.safetensors" for i in range(1, 5)}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 0], "text": "x"}},
        "3": {"class_type": "PreviewAny", "inputs": {"source": ["2", 0]}}})
    dumped = write(tmp_path, "oi.json", oi)
    r = script("validate", wf, "--object-info", dumped, "--json")
    report = json.loads(r.stdout)
    assert r.returncode == 1 and report["verdict"] == "rejected"  # as 0.33.0 answers: value_not_in_list
    assert {(e["node_id"], e["type"]) for e in report["errors"]} == {("1", "value_not_in_list")}
    assert "models/text_encoders/" in report["errors"][0]["message"]
    # the same nodes as a 0.3.64 dump would show them: no sign of a newer server, so as 0.3.64 answers
    r = script("validate", wf, "--object-info", write(tmp_path, "old.json", _without_version_marks(oi)), "--json")
    report = json.loads(r.stdout)
    assert r.returncode == 0 and report["verdict"] == "ok"
    assert {w["type"] for w in report["warnings"]} == {"unchecked_value_not_in_list"}
    assert "version unknown" in report["warnings"][0]["message"]


def test_the_servers_own_version_wins_over_what_its_object_info_suggests():
    oi = json.loads((CONFORMANCE / "server-0.33.0" / "object_info-0.33.0-bare.json").read_text())
    wf = {"1": {"class_type": "KSamplr", "inputs": {}}}
    assert validate(wf, oi)["errors"][0]["type"] == "missing_node_type"  # 0.19.0 or newer, by its fields
    assert validate(wf, oi, server_version="0.11.1")["errors"][0]["type"] == "invalid_prompt"
    assert validate(wf, _without_version_marks(oi))["errors"][0]["type"] == "invalid_prompt"


def test_nodes_that_check_their_own_inputs_on_newer_servers():
    oi = json.loads((CONFORMANCE / "server-0.33.0" / "object_info-0.33.0-models.json").read_text())
    combo = {"1": {"class_type": "CustomCombo", "inputs": {"choice": "my own option", "index": 0, "option1": "x"}},
             "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}
    assert validate(combo, oi, server_version="0.33.0")["verdict"] == "ok"  # its options live in the editor
    load3d = {"1": {"class_type": "Load3D", "inputs": {"model_file": "none", "image": "x", "width": 99999,
                                                       "height": 64}},
              "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 2]}}}
    assert validate(load3d, oi, server_version="0.33.0")["verdict"] == "ok"  # **kwargs: width is not checked
    load3d["1"]["inputs"]["model_file"] = "missing.glb"
    e = only(validate(load3d, oi, server_version="0.33.0")["errors"], "custom_validation_failed")
    assert e["node_id"] == "1" and "missing.glb" in e["message"]
    before = validate(load3d, oi, server_version="0.24.0")["errors"]  # the generic checks, before 0.25.0
    assert {e["type"] for e in before} == {"value_not_in_list", "value_bigger_than_max"}


def test_url_checks_against_what_the_running_server_has_now(comfy_double, tmp_path):
    good = ROOT / "projects" / "examples" / "workflows" / "solid-color.json"
    bad = write(tmp_path, "bad.json", {"1": {"class_type": "KSamplr", "inputs": {}}})
    state = tmp_path / "state"
    env = dict(os.environ, COMFYUI_SKILLS_STATE=str(state))
    r = script("validate", good, bad, "--url", comfy_double.url, "--json", env=env)
    reports = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.returncode == 1 and [x["verdict"] for x in reports] == ["ok", "rejected"]
    assert reports[1]["errors"][0]["type"] == "invalid_prompt"  # the double is a 0.3.64
    assert f"the server at {comfy_double.url} (ComfyUI 0.3.64)" in r.stderr
    assert not state.exists()  # nothing written


def test_url_to_no_server_is_one_line():
    r = script("validate", FIX / "default_api.json", "--url", f"http://127.0.0.1:{closed_port()}")
    assert r.returncode not in (0, 1) and r.stderr.count("\n") == 1 and "not running" in r.stderr


MULTI = {"PickMany": {"input": {"required": {"names": ["COMBO", {"multiselect": True, "options": ["a", "b", "c"]}]}},
                      "output": ["STRING"], "output_name": ["STRING"], "name": "PickMany", "output_node": False,
                      "category": "custom"}}


@pytest.mark.parametrize("version, picked, verdict", [
    ("0.21.0", ["a", "c"], "ok"), ("0.21.0", ["a", "x"], "rejected"),  # each item held to the options
    ("0.20.1", ["a", "c"], "rejected"),  # before, the whole list had to be one of them
    ("0.20.1", "a", "ok")])
def test_a_multiselect_list_is_checked_item_by_item_from_0_21_0(version, picked, verdict):
    value = {"__value__": picked} if isinstance(picked, list) else picked  # a bare list would be a link
    wf = {"1": {"class_type": "PickMany", "inputs": {"names": value}},
          "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}
    r = validate(wf, dict(OI, **MULTI), server_version=version)
    assert r["verdict"] == verdict
    if verdict == "rejected":
        assert only(r["errors"], "value_not_in_list")["node_id"] == "1"


@pytest.mark.parametrize("version, verdict", [("0.7.0", "ok"), ("0.8.0", "rejected")])
def test_a_v3_combo_declared_without_options_takes_no_value_where_combos_are_checked(version, verdict):
    # execution.py (0be8a76c): combo_options = extra_info.get("options", [])
    bare = {"Pick": dict(MULTI["PickMany"], name="Pick", input={"required": {"name": ["COMBO", {}]}})}
    wf = {"1": {"class_type": "Pick", "inputs": {"name": "a"}},
          "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}
    assert validate(wf, dict(OI, **bare), server_version=version)["verdict"] == verdict


def test_an_input_a_newer_release_added_is_required_where_the_object_info_says_so():
    wf = {"1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}},
          "2": {"class_type": "ImageScaleToTotalPixels",  # as saved for 0.3.64: no resolution_steps
                "inputs": {"image": ["1", 0], "upscale_method": "nearest-exact", "megapixels": 0.01}},
          "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}
    old = json.loads((CONFORMANCE / "object_info" / "comfyui-0.3.64-bare.json").read_text())
    new = json.loads((CONFORMANCE / "server-0.33.0" / "object_info-0.33.0-bare.json").read_text())
    assert validate(wf, old)["verdict"] == "ok"
    e = only(validate(wf, new)["errors"], "required_input_missing")  # as 0.9.2 and 0.33.0 answer (live test)
    assert e["node_id"] == "2" and e["input_name"] == "resolution_steps"

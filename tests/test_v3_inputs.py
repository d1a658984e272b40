"""Newer servers' dynamic inputs: what validate.py says about prompts that use them, by server version.

The node schemas in tests/fixtures/v3/newer_nodes.json are written out as a newer server serializes
them (its `what` names the files and commits they were read from: Comfy-Org/ComfyUI
comfy_api/latest/_io.py at 04e2a914334246661a77665aa14068a0670e3321, a 0.38.1 tree). The expected
answers follow that tree's execution.py validate_inputs (same commit): a dynamic combo's chosen
option brings `combo.sub` inputs that are checked like any other, a dynamic combo that is missing
or not one of its keys is not checked at all, autogrow slots below `min` are required, and
comfy_execution/validation.py passes every match-type link; releases from 0.10.0 have the same
code for them. 0.3.64 never serves these kinds; on a server older than 0.10.0 or of unknown version
what 0.10.0 refuses is a warning.
"""
import copy
import json
from pathlib import Path

import pytest

from comfyui_skills import inventory
from comfyui_skills.commands.inventory import _show_text
from comfyui_skills.validation import validate

FIX = Path(__file__).parent / "fixtures"
NEWER = json.loads((FIX / "v3" / "newer_nodes.json").read_text())
CORE = json.loads((FIX / "validation" / "object_info_models_subset.json").read_text())["object_info"]
OI = dict(CORE, **NEWER["object_info"])

IMAGE = {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}}
LATENT = {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}}


def resize(**inputs):
    """Image -> ResizeImageMaskNode -> PreviewImage, the resize node's inputs as given."""
    return {"1": copy.deepcopy(IMAGE),
            "2": {"class_type": "ResizeImageMaskNode", "inputs": dict({"input": ["1", 0], "scale_method": "area"},
                                                                       **inputs)},
            "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}


def about(result, name):
    return [p for p in result["errors"] + result["warnings"] if p["input_name"] == name]


# -- dynamic combos --------------------------------------------------------------------------

def test_the_chosen_options_dotted_inputs_are_accepted():
    wf = resize(**{"resize_type": "scale dimensions", "resize_type.width": 320, "resize_type.height": 0,
                   "resize_type.crop": "center"})
    assert validate(wf, OI, server_version="0.38.1") == {"verdict": "ok", "errors": [], "warnings": []}


@pytest.mark.parametrize("version", [None, "0.3.64", "0.9.2", "0.10.0", "0.33.0", "0.38.1", "0.41.0"])
def test_a_sub_input_out_of_range_is_an_error_only_where_the_server_checks_it(version):
    # the dynamic-input code of 04e2a914 is that of every release from 0.10.0 (versions.DYNAMIC_CHECKED)
    wf = resize(**{"resize_type": "scale by multiplier", "resize_type.multiplier": 20.0})
    r = validate(wf, OI, server_version=version)
    [note] = about(r, "resize_type.multiplier")
    assert "20.0 is above the maximum 8.0" in note["message"]
    if version not in (None, "0.3.64", "0.9.2"):
        assert r["verdict"] == "rejected" and note["type"] == "value_bigger_than_max"
    else:
        assert r["verdict"] == "ok" and note["type"] == "unchecked_value_bigger_than_max"
        assert "at run time" in note["message"] and (version or "version unknown") in note["message"]


def test_missing_inputs_of_the_chosen_option_are_named_with_their_dotted_names():
    r = validate(resize(resize_type="scale dimensions"), OI, server_version="0.38.1")
    assert r["verdict"] == "rejected"
    assert sorted(e["input_name"] for e in r["errors"]) == ["resize_type.crop", "resize_type.height",
                                                            "resize_type.width"]
    width = next(e for e in r["errors"] if e["input_name"] == "resize_type.width")
    assert "missing required input 'resize_type.width' (INT)" in width["message"]
    assert '"resize_type.width": 512' in width["hint"]  # the option input's own default


def test_an_input_of_another_option_is_ignored_and_says_which_option_it_belongs_to():
    r = validate(resize(**{"resize_type": "scale by multiplier", "resize_type.multiplier": 2.0,
                           "resize_type.width": 512}), OI, server_version="0.38.1")
    assert r["verdict"] == "ok"
    [note] = about(r, "resize_type.width")
    assert note["type"] == "unknown_input" and "it will be ignored" in note["message"]
    assert "belongs to resize_type 'scale dimensions'" in note["hint"]


@pytest.mark.parametrize("version", [None, "0.38.1"])
def test_a_choice_that_is_not_one_of_the_keys_is_a_warning_the_server_never_checks_it(version):
    r = validate(resize(resize_type="scale by multipler"), OI, server_version=version)
    assert r["verdict"] == "ok"  # 0.38.1 leaves the combo out of what it checks
    [note] = about(r, "resize_type")
    assert note["type"] == "unchecked_value_not_in_list" and "fail when it runs" in note["message"]
    assert note["hint"].startswith("did you mean 'scale by multiplier'")


def test_a_missing_choice_is_a_warning_too():
    r = validate(resize(), OI, server_version="0.38.1")
    assert r["verdict"] == "ok"
    [note] = about(r, "resize_type")
    assert "is missing its choice 'resize_type'" in note["message"] and "scale dimensions" in note["hint"]


def test_nested_dynamic_combos_bring_their_inputs_under_both_names():
    wf = {"1": {"class_type": "DCTestNode", "inputs": {"combo": "option4", "combo.subcombo": "opt1",
                                                       "combo.subcombo.float_x": 1.5}}}
    r = validate(wf, OI, server_version="0.38.1")
    assert r["verdict"] == "rejected"
    assert [e["input_name"] for e in r["errors"]] == ["combo.subcombo.float_y"]
    wf["1"]["inputs"].update({"combo.subcombo": "opt2"})  # opt2's only input, a MASK, is optional
    del wf["1"]["inputs"]["combo.subcombo.float_x"]
    assert validate(wf, OI, server_version="0.38.1")["verdict"] == "ok"


# -- autogrow -----------------------------------------------------------------------------------

def batch(**inputs):
    return {"1": copy.deepcopy(IMAGE), "2": {"class_type": "BatchImagesNode", "inputs": inputs},
            "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}


def test_autogrow_slots_are_accepted_within_their_limits():
    r = validate(batch(**{"images.image0": ["1", 0], "images.image1": ["1", 0], "images.image49": ["1", 0]}), OI,
                 server_version="0.38.1")
    assert r == {"verdict": "ok", "errors": [], "warnings": []}


def test_a_slot_past_the_last_is_ignored_and_the_first_is_required():
    r = validate(batch(**{"images.image1": ["1", 0], "images.image50": ["1", 0]}), OI, server_version="0.38.1")
    assert r["verdict"] == "rejected"
    [missing] = r["errors"]
    assert missing["input_name"] == "images.image0" and "connect a node that outputs IMAGE" in missing["hint"]
    [past] = about(r, "images.image50")
    assert past["type"] == "unknown_input" and "images.image0 ... images.image49 (50 at most)" in past["hint"]
    older = validate(batch(**{"images.image1": ["1", 0]}), OI, server_version="0.3.64")
    assert older["verdict"] == "ok" and about(older, "images.image0")[0]["type"] == "unchecked_required_input_missing"


# -- match types ------------------------------------------------------------------------------

def test_a_match_type_link_the_editor_would_refuse_is_accepted_with_a_warning():
    wf = {"1": copy.deepcopy(LATENT),
          "2": {"class_type": "ResizeImageMaskNode", "inputs": {"input": ["1", 0], "resize_type": "scale by multiplier",
                                                                "resize_type.multiplier": 2.0, "scale_method": "area"}},
          "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}
    r = validate(wf, OI, server_version="0.38.1")
    assert r["verdict"] == "ok" and not r["errors"]
    [taken] = about(r, "input")
    assert "takes IMAGE or MASK but is linked to LATENT" in taken["message"]
    [passed_on] = about(r, "images")  # the resized output carries what came in: a LATENT
    assert "passes on LATENT (a match type)" in passed_on["message"] and "may fail when it runs" in passed_on["message"]


def test_a_match_type_output_resolves_to_what_its_inputs_get():
    wf = {"1": copy.deepcopy(IMAGE),
          "2": {"class_type": "ComfySwitchNode", "inputs": {"switch": True, "on_true": ["1", 0], "on_false": ["1", 0]}},
          "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}
    assert validate(wf, OI, server_version="0.38.1") == {"verdict": "ok", "errors": [], "warnings": []}
    wf["4"] = copy.deepcopy(LATENT)
    wf["2"]["inputs"]["on_false"] = ["4", 0]
    r = validate(wf, OI, server_version="0.38.1")
    assert r["verdict"] == "ok"
    assert any("share one match type but get different types" in w["message"] for w in r["warnings"])


# -- a list-typed output into a V3 COMBO ---------------------------------------------------------

LISTER = {"ListSamplers": {"input": {"required": {}}, "output": [["euler", "heun"]], "output_name": ["sampler"],
                           "name": "ListSamplers", "output_node": False, "category": "custom"},
          "TakesCombo": {"input": {"required": {"sampler": ["COMBO", {"multiselect": False, "options": ["euler", "heun"]}]}},
                         "output": ["STRING"], "output_name": ["STRING"], "name": "TakesCombo", "output_node": False,
                         "category": "custom"}}


@pytest.mark.parametrize("version, verdict", [(None, "rejected"), ("0.3.64", "rejected"), ("0.7.0", "rejected"),
                                              ("0.8.0", "ok"), ("0.38.1", "ok")])
def test_a_list_typed_output_into_a_v3_combo_follows_the_server_version(version, verdict):
    # comfy_execution/validation.py lets it through from 0be8a76c, in 0.8.0 (versions.COMBO_CHECKED)
    wf = {"1": {"class_type": "ListSamplers", "inputs": {}}, "2": {"class_type": "TakesCombo", "inputs": {"sampler": ["1", 0]}},
          "3": {"class_type": "PreviewAny", "inputs": {"source": ["2", 0]}}}
    r = validate(wf, dict(OI, **LISTER), server_version=version)
    assert r["verdict"] == verdict
    if verdict == "rejected":
        assert r["errors"][0]["type"] == "return_type_mismatch"


# -- dynamic groups ---------------------------------------------------------------------------

# as _io._DynamicGroup.Input("rows", template=[io.Float.Input("x")], max=2).as_dict() writes it (04e2a914)
GROUPED = {"Rows": {"input": {"required": {"rows": ["COMFY_DYNAMICGROUP_V3", {
    "template": {"required": {"x": ["FLOAT", {}]}}, "min": 0, "max": 2, "group_name": "Group"}]}},
    "output": ["STRING"], "output_name": ["STRING"], "name": "Rows", "output_node": False, "category": "test"}}


@pytest.mark.parametrize("key, verdict", [("rows.1.x", "ok"), ("rows.01.x", "rejected"), ("rows.2.x", "rejected"),
                                          ("rows.0.y", "rejected")])
def test_dynamic_group_rows_are_checked_as_the_server_does(key, verdict):
    wf = {"1": {"class_type": "Rows", "inputs": {key: 0.5}}, "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}
    r = validate(wf, dict(OI, **GROUPED), server_version="0.38.1")
    assert r["verdict"] == verdict
    if verdict == "rejected":
        assert r["errors"][0]["type"] == "invalid_dynamic_input" and key in r["errors"][0]["message"]
    unknown = validate(wf, dict(OI, **GROUPED))
    assert unknown["verdict"] == "ok"


# -- node replacements -----------------------------------------------------------------------------

OLD_BATCH = {"1": copy.deepcopy(IMAGE), "2": {"class_type": "ImageBatch", "inputs": {"image1": ["1", 0], "image2": ["1", 0]}},
             "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}


def test_a_replaced_class_is_checked_as_its_replacement():
    assert validate(OLD_BATCH, OI)["errors"][0]["type"] == "invalid_prompt"  # no replacements known
    r = validate(OLD_BATCH, OI, server_version="0.38.1", replacements=NEWER["node_replacements"])
    assert r["verdict"] == "ok" and not r["errors"]
    [note] = r["warnings"]
    assert note["type"] == "node_replaced" and "replaces it with BatchImagesNode" in note["message"]
    assert OLD_BATCH["2"]["class_type"] == "ImageBatch"  # the caller's workflow is left as it was


def test_a_replacement_that_reads_a_missing_input_fails_as_on_the_server():
    wf = copy.deepcopy(OLD_BATCH)
    del wf["2"]["inputs"]["image2"]
    r = validate(wf, OI, server_version="0.38.1", replacements=NEWER["node_replacements"])
    assert r["verdict"] == "rejected"
    assert r["errors"][0]["type"] == "replacement_failed" and "'image2'" in r["errors"][0]["message"]


# -- what the inventory shows -------------------------------------------------------------------------

def test_show_lists_each_choices_inputs_growth_and_match_types():
    text = _show_text(inventory.describe_node("ResizeImageMaskNode", OI["ResizeImageMaskNode"]))
    assert "when 'scale by multiplier': resize_type.multiplier: FLOAT" in text
    assert "match type input_type (IMAGE,MASK)" in text
    grown = _show_text(inventory.describe_node("BatchImagesNode", OI["BatchImagesNode"]))
    assert "grows images.image0 ... images.image49 (50 at most, 1 required)" in grown


def test_searching_by_input_type_finds_match_type_and_option_inputs():
    inv = inventory.Inventory(OI, kind="dump", source="test")
    assert "ResizeImageMaskNode" in inventory.search(inv, input_type_="MASK")
    assert "BatchImagesNode" in inventory.search(inv, "IMAGE->")


# -- partner (paid API) nodes: the api_node flag decides where the server has it -------------------

RECORDED_064 = json.loads(__import__("gzip").decompress((Path(__file__).parent / "recordings" / "object_info.json.gz")
                                                        .read_bytes()))  # a real 0.3.64's /object_info


def test_partner_nodes_follow_the_api_node_flag_and_leave_helpers_out():
    from comfyui_skills.schema import partner_nodes
    paid = {"1": {"class_type": "OpenAIDalle2", "inputs": {}}, "2": {"class_type": "KlingCameraControls", "inputs": {}},
            "3": {"class_type": "RecraftColorRGB", "inputs": {}}, "4": {"class_type": "SaveImage", "inputs": {}}}
    # helpers live in comfy_api_nodes too; 0.3.64 flags KlingCameraControls api_node false, RecraftColorRGB not at all
    assert {RECORDED_064[c].get("python_module", "").split(".")[0] for c in ("KlingCameraControls", "RecraftColorRGB")} \
        == {"comfy_api_nodes"}
    assert partner_nodes(paid, RECORDED_064) == {"1": "OpenAIDalle2"}
    unflagged = {k: {kk: vv for kk, vv in v.items() if kk != "api_node"} for k, v in RECORDED_064.items()}
    assert partner_nodes(paid, unflagged) == {"1": "OpenAIDalle2", "2": "KlingCameraControls", "3": "RecraftColorRGB"}


def test_a_replacement_without_an_input_mapping_leaves_the_node_without_inputs():
    # Load3DAnimation -> Load3D maps nothing (comfy_extras/nodes_replacements.py at 2d992ebd), and
    # the server starts the new node from empty inputs (copy_node_struct(..., empty_inputs=True))
    rules = {"ImageBatch": [dict(NEWER["node_replacements"]["ImageBatch"][0], input_mapping=None)]}
    r = validate(OLD_BATCH, OI, server_version="0.38.1", replacements=rules)
    assert r["verdict"] == "rejected" and [e["input_name"] for e in r["errors"]] == ["images.image0"]
    assert "maps no inputs, so the node loses them all" in r["warnings"][0]["message"]


def test_linking_the_autogrow_group_itself_says_how_its_slots_are_named():
    r = validate(batch(images=["1", 0]), OI, server_version="0.38.1")
    assert r["verdict"] == "rejected" and r["errors"][0]["input_name"] == "images.image0"
    [note] = about(r, "images")
    assert "is a group of inputs, not one" in note["message"] and "images.image0 ... images.image49" in note["hint"]

"""Where official frontends export differently, the conversion follows the version asked for."""

import json
import subprocess
import sys

import pytest
from conftest import CONFORMANCE, ROOT

from comfyui_skills import conversion
from comfyui_skills.errors import InputError

OBJECT_INFO = json.loads((CONFORMANCE / "object_info" / "comfyui-0.3.64-bare.json").read_text())


def one_node(node_type, properties, widgets_values=None):
    return {"nodes": [{"id": 1, "type": node_type, "mode": 0, "inputs": [], "outputs": [],
                       "properties": properties, "widgets_values": widgets_values or []}], "links": []}


def test_newest_frontend_copies_the_node_pack_into_meta_and_1_27_does_not():
    wf = one_node("ImageBlend", {"cnr_id": "comfy-core", "ver": "v0.3.64", "aux_id": "someone/pack"},
                  [0.5, "normal"])
    newest = conversion.ui_to_api(wf, OBJECT_INFO)["1"]["_meta"]
    old = conversion.ui_to_api(wf, OBJECT_INFO, frontend_version="1.27.10")["1"]["_meta"]
    # the leading "v" goes, as the frontend's schema strips it; the titles come from each locale
    assert newest == {"title": "Blend Images", "cnr_id": "comfy-core", "ver": "0.3.64", "aux_id": "someone/pack"}
    assert old == {"title": "Image Blend"}


@pytest.mark.parametrize("properties", [{"cnr_id": "-bad-"}, {"ver": "latest"}, {"aux_id": "no-slash"},
                                        {"cnr_id": 7}])
def test_pack_fields_the_frontend_schema_refuses_are_left_out(properties):
    meta = conversion.ui_to_api(one_node("ImageBlend", properties), OBJECT_INFO)["1"]["_meta"]
    assert meta == {"title": "Blend Images"}


def test_a_version_that_is_not_one_is_refused():
    with pytest.raises(InputError, match="not a version"):
        conversion.ui_to_api(one_node("ImageBlend", {}), OBJECT_INFO, frontend_version="latest")


def test_convert_follows_the_frontend_flag_and_refuses_a_bad_one(tmp_path):
    src = tmp_path / "wf.json"
    src.write_text(json.dumps(one_node("ImageBlend", {"cnr_id": "comfy-core", "ver": "0.3.64"})))
    base = [sys.executable, str(ROOT / "scripts" / "convert.py"), str(src), "--object-info",
            str(CONFORMANCE / "object_info" / "comfyui-0.3.64-bare.json")]
    old = subprocess.run(base + ["--frontend", "1.27.10"], capture_output=True, text=True)
    new = subprocess.run(base, capture_output=True, text=True)
    assert json.loads(old.stdout)["1"]["_meta"] == {"title": "Image Blend"}
    assert json.loads(new.stdout)["1"]["_meta"]["cnr_id"] == "comfy-core"
    bad = subprocess.run(base + ["--frontend", "newest"], capture_output=True, text=True)
    assert bad.returncode == 2 and "frontend version 'newest'" in bad.stderr and "Traceback" not in bad.stderr


def test_the_servers_pinned_frontend_is_read_from_its_system_stats():
    assert conversion.frontend_served_by({"system": {"required_frontend_version": "1.27.10"}}) == "1.27.10"
    assert conversion.frontend_served_by({"system": {}}) is None
    assert conversion.frontend_served_by(None) is None


# What 1.58.1 does that 1.27.10 does not, as its recorded exports show (tests/fixtures/browser/pairs,
# recorded by tests/support/browser_templates.py; every pair is also checked whole in test_browser_live.py).

PAIRS = ROOT / "tests" / "fixtures" / "browser" / "pairs"
FIXTURE_INFO = json.loads((ROOT / "tests" / "fixtures" / "browser" / "object_info.json").read_text())


def recorded(name):
    sys.path.insert(0, str(ROOT / "tests"))
    from support import browser
    path = next(p for p in browser.pair_files(PAIRS) if browser.pair_name(p) == name)
    return browser.read_pair(path)


def by_class(prompt, class_type):
    return [node for node in prompt.values() if node["class_type"] == class_type]


def test_a_muted_node_feeding_a_widget_leaves_its_value_in_1_58_and_nothing_in_1_27():
    pair = recorded("mute__video_wan_ati__1.58.1")  # the PrimitiveStringMultiline feeding `tracks` muted
    newest = by_class(conversion.ui_to_api(pair["workflow"], FIXTURE_INFO), "WanTrackToVideo")[0]
    old = by_class(conversion.ui_to_api(pair["workflow"], FIXTURE_INFO, frontend_version="1.27.10"),
                   "WanTrackToVideo")[0]
    assert newest == by_class(pair["prompt"], "WanTrackToVideo")[0] and newest["inputs"]["tracks"] == "[]"
    assert "tracks" not in old["inputs"]  # 1.27.10 links it to the muted node, then drops the link


@pytest.mark.parametrize("name", ["subgraph-mute__image_lotus_depth_v1_1__1.58.1",
                                  "subgraph-bypass__flux_dev_checkpoint_example__1.58.1"])
def test_a_muted_or_bypassed_subgraph_node_runs_none_of_its_nodes_in_1_58(name):
    pair = recorded(name)
    inner = [k for k in conversion.ui_to_api(pair["workflow"], FIXTURE_INFO, frontend_version="1.27.10") if ":" in k]
    assert inner and not [k for k in pair["prompt"] if ":" in k]
    assert conversion.ui_to_api(pair["workflow"], FIXTURE_INFO) == pair["prompt"]


def test_an_inner_node_whose_id_a_root_node_has_is_renumbered_by_1_58():
    pair = recorded("template__templates-photo_to_product_vid__1.58.1")
    sub = pair["workflow"]["definitions"]["subgraphs"][0]
    assert 27 in {n["id"] for n in pair["workflow"]["nodes"]} and 27 in {n["id"] for n in sub["nodes"]}
    assert "27:27" not in pair["prompt"] and "27:31" in pair["prompt"]  # the next id after last_node_id 30
    assert conversion.ui_to_api(pair["workflow"], FIXTURE_INFO) == pair["prompt"]


def test_a_promoted_value_kept_in_the_quarantine_wins_over_widgets_values_in_1_58():
    # the template's subgraph node keeps its text in properties.proxyWidgetErrorQuarantine; the
    # value changed on the node and saved only in widgets_values is lost when 1.58.1 reloads it
    pair = recorded("promoted-widget__flux1_dev_uso_reference_image_gen__1.58.1")
    node = next(n for n in pair["workflow"]["nodes"] if n["id"] == 112)
    assert node["widgets_values"][0].endswith(", at dusk")
    ours = conversion.ui_to_api(pair["workflow"], FIXTURE_INFO)
    assert ours == pair["prompt"] and ", at dusk" not in json.dumps(ours)


def test_the_1_58_template_pairs_are_templates_beyond_the_shared_56():
    sys.path.insert(0, str(ROOT / "tests"))
    from support import browser
    names = [browser.pair_name(p) for p in browser.pair_files(PAIRS)]
    templates = {n.split("__")[1] for n in names if n.startswith("template__") and n.endswith("__1.58.1")}
    edited = {n.split("__")[1] for n in names if n.split("__")[0] in
              ("subgraph-bypass", "subgraph-mute", "inner-mute", "promoted-widget", "nest")}
    assert len(templates) >= 56 and len(edited) >= 15 and edited <= templates
    shared = CONFORMANCE / "templates-2026" / "ui"
    if shared.is_dir():
        assert not templates & {p.stem for p in shared.glob("*.json")}


# Where the rules change between the recorded frontends: each starts at the first minor version
# whose code has it (frontend.py); what 1.49.6 does is recorded in ../shared/conformance/server-0.33.0.

# Declarations as ComfyUI 0.33.0 sends them (its /object_info).
V3_INFO = {
    "CustomCombo": {"input": {"required": {"choice": ["COMBO", {"multiselect": False, "options": []}]}},
                    "output": ["COMBO", "INT"], "name": "CustomCombo", "display_name": "Custom Combo"},
    "PreviewAny": {"input": {"required": {"source": ["*", {}]}}, "output": [], "output_node": True,
                   "name": "PreviewAny", "display_name": "Preview as Text"},
    "ColorToRGBInt": {"input": {"required": {"color": ["COLOR", {"socketless": True}]}}, "output": ["INT"],
                      "name": "ColorToRGBInt", "display_name": "Color to RGB Int"},
    "CurveEditor": {"input": {"required": {"curve": ["CURVE", {"default": {"points": [[0.0, 0.0], [1.0, 1.0]],
                                                                           "interpolation": "monotone_cubic"},
                                                               "socketless": True}]},
                              "optional": {"histogram": ["HISTOGRAM", {}]}},
                    "output": ["CURVE"], "name": "CurveEditor", "display_name": "Curve Editor"},
    "ImageCompare": {"input": {"required": {"compare_view": ["IMAGECOMPARE", {"socketless": True}]},
                               "optional": {"image_a": ["IMAGE", {}], "image_b": ["IMAGE", {}]}},
                     "output": [], "output_node": True, "name": "ImageCompare", "display_name": "Image Compare"},
}


def inputs_of(node_type, widgets_values, version):
    prompt = conversion.ui_to_api(one_node(node_type, {}, widgets_values), V3_INFO, frontend_version=version)
    return prompt["1"]["inputs"]


def test_custom_combo_sends_its_options_and_from_1_38_the_index_of_the_choice():
    saved = ["screen", 1, "add", "screen", ""]  # as a 1.38+ frontend saves it: choice, index, options
    assert inputs_of("CustomCombo", saved, "1.49.6") == {"choice": "screen", "index": 1, "option1": "add",
                                                          "option2": "screen", "option3": ""}
    # 1.36 and 1.37 have no index widget, so the saved index fills option1
    assert inputs_of("CustomCombo", saved, "1.36.14") == {"choice": "screen", "option1": 1, "option2": "add",
                                                           "option3": "screen", "option4": ""}
    assert inputs_of("CustomCombo", ["b", -1, "a", ""], "1.58.1")["index"] == -1  # the choice is no option


@pytest.mark.parametrize("version,sent", [
    ("1.27.10", {"preview": ""}),
    ("1.36.14", {"preview": "", "previewMode": False}),
    ("1.42.15", {"preview_markdown": "", "preview_text": "", "previewMode": False}),
    ("1.49.6", {}),  # as recorded: PreviewAny sends its source alone
])
def test_preview_any_sends_the_text_widgets_its_frontend_has(version, sent):
    assert inputs_of("PreviewAny", [], version) == sent


def test_socketless_widgets_are_sent_and_a_curve_is_boxed_from_1_52():
    curve = {"points": [[0, 0], [0.5, 0.7], [1, 1]], "interpolation": "monotone_cubic"}
    assert inputs_of("ColorToRGBInt", ["#0a9299"], "1.27.10") == {"color": "#0a9299"}
    assert inputs_of("CurveEditor", [curve], "1.40.10") == {}  # no curve widget before 1.41
    assert inputs_of("CurveEditor", [curve], "1.49.6") == {"curve": curve}
    assert inputs_of("CurveEditor", [curve], "1.52.7") == {"curve": {"__type__": "CURVE", "__value__": curve}}
    assert inputs_of("ImageCompare", [], "1.49.6") == {"compare_view": {"__value__": ["", ""]}}
    # before 1.39 the comparer has a widgets_values slot
    saved = inputs_of("ImageCompare", [["a.png", "b.png"]], "1.38.14")
    assert saved == {"compare_view": {"__value__": ["a.png", "b.png"]}}


def test_the_node_pack_reaches_meta_from_1_57():
    wf = one_node("ImageBlend", {"cnr_id": "comfy-core", "ver": "0.3.64"}, [0.5, "normal"])
    meta = conversion.ui_to_api(wf, OBJECT_INFO, frontend_version="1.55.18")["1"]["_meta"]
    assert meta == {"title": "Blend Images"}
    assert conversion.ui_to_api(wf, OBJECT_INFO, frontend_version="1.57.5")["1"]["_meta"]["cnr_id"] == "comfy-core"


@pytest.mark.parametrize("version,dropped", [("1.38.14", False), ("1.39.19", True)])
def test_a_muted_subgraph_node_runs_its_inner_nodes_until_1_39(version, dropped):
    pair = recorded("subgraph-mute__image_lotus_depth_v1_1__1.58.1")
    inner = [k for k in conversion.ui_to_api(pair["workflow"], FIXTURE_INFO, frontend_version=version) if ":" in k]
    assert (not inner) == dropped


def test_a_custom_combo_and_a_boxed_curve_come_back_from_the_editor_file():
    curve = {"points": [[0, 0], [0.5, 0.7], [1, 1]], "interpolation": "monotone_cubic"}
    api = {"1": {"inputs": {"choice": "screen", "index": 1, "option1": "add", "option2": "screen", "option3": ""},
                 "class_type": "CustomCombo", "_meta": {"title": "Custom Combo"}},
           "2": {"inputs": {"curve": {"__type__": "CURVE", "__value__": curve}},
                 "class_type": "CurveEditor", "_meta": {"title": "Curve Editor"}}}
    ui = json.loads(json.dumps(conversion.api_to_ui(api, V3_INFO)))
    assert conversion.ui_to_api(ui, V3_INFO) == api

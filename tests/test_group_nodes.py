"""Legacy group nodes (`extra.groupNodes`) as the two official frontends export them.

The pairs in fixtures/browser/pairs/group* were recorded in Chromium (tests/support/browser_groups.py):
frontend 1.27.10 grouped each scenario with its own "Convert to Group Node" and exported it; the
same files were loaded into 1.58.1 and into 1.49.6 (the one ComfyUI 0.33.0 serves), which turn
group nodes into subgraphs on load, and exported again (the saved workflow is kept in each pair as
`saved`). Every pair is checked against convert.py in test_browser_live.py; these tests hold what
a user sees of the frontends' differences and the converter's answers to group nodes it cannot
expand.
"""

import json
import os
import sys

import pytest
from conftest import ROOT, script

from comfyui_skills import conversion, validation
from comfyui_skills.conversion import group_nodes
from comfyui_skills.errors import InputError

sys.path.insert(0, os.path.dirname(__file__))
from support import browser  # noqa: E402
from support import browser_groups  # noqa: E402

PAIRS = ROOT / "tests" / "fixtures" / "browser" / "pairs"
OBJECT_INFO_PATH = ROOT / "tests" / "fixtures" / "browser" / "object_info.json"
OBJECT_INFO = json.loads(OBJECT_INFO_PATH.read_text())
NEW = "1.58.1"
SHIFTING = "1.49.6"  # unpacks some group nodes with their widget values shifted (see below)


def group_pairs():
    """{name: {version: pair}} for the group-node pairs."""
    out = {}
    for path in browser.pair_files(PAIRS):
        name = browser.pair_name(path)
        if name.startswith("group"):
            pair = browser.read_pair(path)
            version = browser.pair_frontend(pair)
            out.setdefault(name.removesuffix(f"__{version}"), {})[version] = pair
    return out


PAIRED = group_pairs()


def test_every_scenario_was_recorded_with_both_frontends():
    scenarios = {f"group__{name}" for name in [*browser_groups.SCENARIOS, *browser_groups.MANAGED]}
    assert scenarios <= set(PAIRED)
    assert len(PAIRED) >= 45
    for name, versions in PAIRED.items():
        assert set(versions) == {browser_groups.BUILDER, SHIFTING, NEW}, name
        assert versions[NEW]["workflow"] == versions[browser_groups.BUILDER]["workflow"], name
        assert versions[SHIFTING]["workflow"] == versions[browser_groups.BUILDER]["workflow"], name


def untitled(prompt):
    """A prompt without its `_meta` titles: 0.33.0 gives EmptyImage the display name "Empty Image"."""
    return {k: {key: v for key, v in node.items() if key != "_meta"} for k, node in prompt.items()}


SHIFTED = sorted(n for n in PAIRED if PAIRED[n][SHIFTING].get("known_difference"))


def test_frontend_1_49_shifts_the_values_of_some_group_nodes_and_the_server_refuses_the_result():
    """1.49.6 reads a group node's widget values at shifted positions as it unpacks it (and loses
    some inner links); 1.58.1 does not. convert.py, told --frontend 1.49.6, gives what 1.58.1 gives
    rather than a prompt 0.33.0 refuses: a user gets the workflow the file holds."""
    schema = json.loads(browser.object_info_path(PAIRS.parent, SHIFTING).read_text())
    assert len(SHIFTED) == 20 and len(PAIRED) - len(SHIFTED) >= 25  # the others convert alike
    refused = 0
    for name in SHIFTED:
        pairs = PAIRED[name]
        ours = conversion.ui_to_api(pairs[SHIFTING]["workflow"], schema, frontend_version=SHIFTING)
        assert untitled(ours) == untitled(pairs[NEW]["prompt"]) != untitled(pairs[SHIFTING]["prompt"]), name
        verdict = validation.validate(pairs[SHIFTING]["prompt"], schema, server_version="0.33.0")
        refused += verdict["verdict"] == "rejected" and any(
            e["type"] in ("invalid_input_type", "required_input_missing") for e in verdict["errors"])
    sampler = PAIRED["group__text-to-image"][SHIFTING]["prompt"]
    assert [n["inputs"]["denoise"] for n in sampler.values() if n["class_type"] == "KSampler"] == ["dpmpp_2m"]
    assert refused == 19  # the 20th sends a 1-pixel-wide image


@pytest.mark.parametrize("name", sorted(n for n in PAIRED if "prompt" in PAIRED[n][NEW]))
def test_our_unpacking_gives_the_ids_frontend_1_58_gives(name):
    """1.58.1 unpacks each group node into new nodes and packs them into a subgraph as it loads
    the file: the node ids it gave (root nodes, each subgraph's inner nodes) are the ones ours gives."""
    pair = PAIRED[name][NEW]
    ours = group_nodes.migrate(pair["workflow"], conversion.as_schema(OBJECT_INFO))
    saved = pair["saved"]
    assert "groupNodes" not in (saved.get("extra") or {})
    assert sorted(n["id"] for n in ours["nodes"]) == sorted(n["id"] for n in saved["nodes"])
    inner = {tuple(sorted(n["id"] for n in sub["nodes"])) for sub in saved["definitions"]["subgraphs"]}
    assert {tuple(sorted(n["id"] for n in sub["nodes"])) for sub in ours["definitions"]["subgraphs"]} == inner
    for node in saved["nodes"]:
        if any(node["type"] == sub["id"] for sub in saved["definitions"]["subgraphs"]):
            assert node["mode"] == 0  # the group node's own mode is not carried over


def test_a_bypassed_group_node_is_bypassed_by_1_27_and_runs_in_1_58():
    pairs = PAIRED["group__instance-bypassed"]
    old, new = pairs[browser_groups.BUILDER]["prompt"], pairs[NEW]["prompt"]
    preview = next(k for k, v in old.items() if v["class_type"] == "PreviewImage")
    source = next(k for k, v in old.items() if v["class_type"] == "EmptyImage")
    assert old[preview]["inputs"]["images"] == [source, 0]  # passed straight through the group
    assert new[preview]["inputs"]["images"][0] in new and new[preview]["inputs"]["images"][0] != source
    wf = pairs[NEW]["workflow"]
    assert conversion.ui_to_api(wf, OBJECT_INFO, frontend_version="1.27.10") == old
    assert conversion.ui_to_api(wf, OBJECT_INFO) == new  # the newest frontend unless told otherwise


def test_a_node_with_more_than_ten_inputs_gets_its_values_shifted_by_1_58():
    """1.27.10 orders a grouped node's widget sockets as text ("10" before "4") when it builds the
    group, 1.58.1 as numbers, so a file saved by the first is read with its values shifted by the
    second (KSamplerAdvanced's steps become "disable"): the converter says what each gives."""
    pairs = PAIRED["group__many-widgets"]
    wf = pairs[NEW]["workflow"]
    sampler = [v for v in pairs[NEW]["prompt"].values() if v["class_type"] == "KSamplerAdvanced"][0]
    assert sampler["inputs"]["steps"] == "disable"
    old = [v for v in pairs[browser_groups.BUILDER]["prompt"].values() if v["class_type"] == "KSamplerAdvanced"][0]
    assert old["inputs"]["steps"] == 30
    assert conversion.ui_to_api(wf, OBJECT_INFO) == pairs[NEW]["prompt"]


def test_convert_py_follows_the_frontend_flag_on_a_group_node_file(tmp_path):
    pairs = PAIRED["group-legacy-separator__two-instances"]
    src = tmp_path / "grouped.json"
    src.write_text(json.dumps(pairs[NEW]["workflow"]))
    for flags, version in (([], NEW), (["--frontend", "1.27.10"], "1.27.10")):
        r = script("convert", src, "--object-info", OBJECT_INFO_PATH, *flags)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == pairs[version]["prompt"]


def group_workflow(inner_type="ImageInvert"):
    """A hand-made two-node group fed from outside (the frontend's own shape for that)."""
    return {
        "last_node_id": 3, "version": 0.4,
        "nodes": [{"id": 1, "type": "EmptyImage", "mode": 0, "inputs": [],
                   "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [1]}], "widgets_values": [64, 64, 1, 0]},
                  {"id": 3, "type": "workflow>Pair", "mode": 0,
                   "inputs": [{"name": "image", "type": "IMAGE", "link": 1}],
                   "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": []}], "widgets_values": []}],
        "links": [[1, 1, 0, 3, 0, "IMAGE"]],
        "extra": {"groupNodes": {"Pair": {
            "nodes": [{"type": inner_type, "inputs": [{"name": "image", "type": "IMAGE", "link": None}],
                       "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": []}], "index": 0},
                      {"type": "ImageInvert", "inputs": [{"name": "image", "type": "IMAGE", "link": None}],
                       "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": []}], "index": 1}],
            "links": [[None, 0, 0, 0, 1, "IMAGE"], [0, 0, 1, 0, 9, "IMAGE"]],
            "external": [[1, 0, "IMAGE"]]}}},
    }


def test_a_group_fed_from_outside_converts_with_both_frontends_rules():
    # links from outside the group are stored with a null origin: once refused as malformed
    wf = group_workflow()
    old = conversion.ui_to_api(wf, OBJECT_INFO, frontend_version="1.27.10")
    new = conversion.ui_to_api(wf, OBJECT_INFO)
    assert old["3:0"]["inputs"] == {"image": ["1", 0]} and old["3:1"]["inputs"] == {"image": ["3:0", 0]}
    # 1.58.1: the inner nodes get ids 4 and 5 after last_node_id 3, the subgraph node 6
    assert new["6:4"]["inputs"] == {"image": ["1", 0]} and new["6:5"]["inputs"] == {"image": ["6:4", 0]}


def test_a_group_holding_a_node_type_the_server_lacks_names_it(tmp_path):
    src = tmp_path / "grouped.json"
    src.write_text(json.dumps(group_workflow("FancyInvert")))
    r = script("convert", src, "--object-info", OBJECT_INFO_PATH)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "group node 'Pair'" in r.stderr and "FancyInvert" in r.stderr and "grouped.json" in r.stderr


def test_a_group_node_inside_a_subgraph_is_refused_with_a_fix():
    wf = group_workflow()
    wf["definitions"] = {"subgraphs": [{"id": "sub-1", "name": "Inner", "nodes": [
        {"id": 7, "type": "workflow>Pair", "inputs": [], "outputs": []}], "links": []}]}
    for version in ("1.27.10", NEW):
        with pytest.raises(InputError, match="legacy group node .* inside a subgraph") as err:
            conversion.ui_to_api(wf, OBJECT_INFO, frontend_version=version)
        assert "convert the group node" in err.value.hint


@pytest.mark.parametrize("link", [[None, "x", 0, 0], [0, 0, None, 0], "0,0,1,0", [0, 0]])
def test_a_malformed_group_link_is_named(link):
    wf = group_workflow()
    wf["extra"]["groupNodes"]["Pair"]["links"].append(link)
    with pytest.raises(InputError, match="group node Pair: a link that is not"):
        conversion.ui_to_api(wf, OBJECT_INFO)


@pytest.mark.live
@pytest.mark.skipif(browser.missing() is not None, reason=browser.missing() or "")
def test_group_node_workflows_convert_as_the_live_frontend_exports_them(live_url):
    """On 1.27.10 every scenario is built and grouped afresh; on another frontend the workflows
    1.27.10 made are loaded. Each must convert as that frontend exports it (or be refused where
    it refuses). On 1.49.6 the scenarios it shifts must shift as recorded, and ours give 1.58.1's."""
    import requests
    url = live_url
    object_info = requests.get(url + "/object_info", timeout=60).json()
    disagree, checked = [], 0
    with browser.Frontend(url) as page:
        version = page.version()
        sources = (list(browser_groups.workflows(page)) if version == browser_groups.BUILDER
                   else [(name, pairs[browser_groups.BUILDER]["workflow"]) for name, pairs in PAIRED.items()])
        for name, workflow in sources:
            page.load(workflow)
            truth, error = browser.export_or_error(page)
            try:
                mine = conversion.ui_to_api(workflow, object_info, frontend_version=version)
            except InputError as exc:
                mine = f"refused: {exc}"
            checked += 1
            if version == SHIFTING and name in SHIFTED and not isinstance(mine, str):
                if truth != PAIRED[name][SHIFTING]["prompt"] or untitled(mine) != untitled(PAIRED[name][NEW]["prompt"]):
                    disagree.append(f"{name}: no longer shifted as recorded, or ours is not 1.58.1's")
            elif (truth is None) != isinstance(mine, str) or (truth is not None and truth != mine):
                disagree.append(f"{name}: frontend {error or browser.first_difference(truth, mine)}; ours "
                                f"{mine if isinstance(mine, str) else 'converted'}")
    assert not [r for r in page.blocked if "/prompt" in r[1]], "the page tried to queue a prompt"
    assert checked >= 45 and disagree == []

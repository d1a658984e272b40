"""Our converter against the official frontend (1.27.10) itself, in a headless Chromium.

API -> UI: `convert.py --to ui` gives an editor file; the real frontend opens it
(`app.loadGraphData`) and exports it again (`app.graphToPrompt`); that must be our API JSON.
UI -> API: editor workflows the frontend saved itself (its default graph, templates outside
../shared, graphs it edited: bypass, mute, subgraph, PrimitiveNode, Reroute) exported by the
frontend and by `convert.py` must agree. Pairs recorded that way live in fixtures/browser/pairs
and are checked without a browser too.

Live tests need COMFYUI_URL, Chromium (/usr/bin/chromium or $CHROMIUM) and Playwright; they only
load graphs (the page cannot send anything but GETs), never queue.
"""

import json
import os
import sys

import pytest
import requests
from conftest import CONFORMANCE, ROOT, script

from comfyui_skills import workflow

sys.path.insert(0, os.path.dirname(__file__))
from support import browser  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "browser"
PAIRS = FIXTURES / "pairs"
HAND_MADE = sorted((FIXTURES / "api").glob("*.json"))
EXAMPLE_FILES = sorted((ROOT / "projects" / "examples" / "workflows").glob("*.json"))
SHARED_API = CONFORMANCE / "convert" / "api"
SHARED_UI = CONFORMANCE / "convert" / "ui"
# A spread of the shared API files: subgraphs, PrimitiveNodes, Reroutes, bypassed nodes, API nodes.
SHARED_SAMPLE = ["default.json", "lora.json", "hidream_e1_full.json", "sdxl_refiner_prompt_example.json",
                 "image_qwen_image_instantx_controlnet.json", "api_rodin_gen2.json", "flux_kontext_dev_basic.json",
                 "video_wan2_2_5B_ti2v.json"]
# Shared editor templates the frontend edits before saving (see browser.EDITS).
EDIT_SAMPLE = ["default.json", "lora.json", "hidream_e1_full.json", "sdxl_refiner_prompt_example.json",
               "image_qwen_image_instantx_controlnet.json", "api_rodin_gen2.json", "api_google_gemini.json"]

live = pytest.mark.live
needs_browser = pytest.mark.skipif(browser.missing() is not None, reason=browser.missing() or "")


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def examples(fmt):
    return [p for p in EXAMPLE_FILES if workflow.detect_format(load(p)) == fmt]


EXAMPLES, EXAMPLES_UI = examples(workflow.API), examples(workflow.UI)


def api_files():
    shared = [SHARED_API / n for n in SHARED_SAMPLE if (SHARED_API / n).is_file()]
    return EXAMPLES + HAND_MADE + shared


# -- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(live_url):
    return live_url


@pytest.fixture(scope="module")
def object_info(server, tmp_path_factory):
    """The live server's /object_info, as a file for --object-info and as a dict."""
    data = requests.get(server + "/object_info", timeout=60).json()
    path = tmp_path_factory.mktemp("object_info") / "object_info.json"
    path.write_text(json.dumps(data))
    return path, data


@pytest.fixture(scope="module")
def frontend(server):
    with browser.Frontend(server) as page:
        yield page
    assert not [r for r in page.blocked if "/prompt" in r[1]], "the page tried to queue a prompt"


@pytest.fixture(scope="module")
def exported(object_info, tmp_path_factory):
    """convert.py --to ui for every API file, in one call."""
    out = tmp_path_factory.mktemp("ui")
    files = api_files()
    names = [p.name for p in files]
    assert len(set(names)) == len(names), "two API inputs share a file name"
    r = script("convert", *files, "--to", "ui", "--object-info", object_info[0], "--out-dir", out, timeout=120)
    assert r.returncode == 0, r.stderr
    return out


def ours(workflow, object_info, tmp_path, frontend="1.27.10"):
    """convert.py's API JSON for an editor workflow, following frontend `frontend` (None and the
    message when it refuses)."""
    src = tmp_path / "workflow.json"
    src.write_text(json.dumps(workflow))
    r = script("convert", src, "--to", "api", "--object-info", object_info[0], "--frontend", frontend)
    return (json.loads(r.stdout), None) if r.returncode == 0 else (None, r.stderr.strip())


# -- API -> UI -> real frontend -> API ---------------------------------------------------------

@live
@needs_browser
@pytest.mark.parametrize("path", api_files(), ids=lambda p: p.name)
def test_frontend_gives_back_our_api_json(path, exported, frontend, object_info):
    frontend.load(load(exported / path.name))
    got, want = frontend.prompt(), browser.with_new_defaults(load(path), object_info[1])
    got, want = browser.steady(got, object_info[1]), browser.steady(want, object_info[1])
    assert got == want, browser.first_difference(want, got)


@live
@needs_browser
@pytest.mark.parametrize("name", ["seeds-and-titles", "subgraph-ids", "links-fan-out"])
def test_exported_layout_is_readable_in_the_frontend(name, exported, frontend, tmp_path):
    """Nodes as the frontend sizes them (image previews loaded) do not overlap; links run left to right."""
    ui = load(exported / f"{name}.json")
    frontend.load(ui)
    frontend.page.wait_for_timeout(1000)  # image previews load and resize their nodes
    boxes, links = frontend.evaluate("""() => [
        app.graph.nodes.map(n => [n.id, n.pos[0], n.pos[1] - LiteGraph.NODE_TITLE_HEIGHT,
                                  n.size[0], n.size[1] + LiteGraph.NODE_TITLE_HEIGHT]),
        [...app.graph.links.values()].map(l => [l.origin_id, l.target_id])]""")
    assert len(boxes) == len(ui["nodes"]) and len(links) == len(ui["links"])
    shot = frontend.screenshot(tmp_path / f"{name}.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    x = {b[0]: b[1] for b in boxes}
    assert [link for link in links if x[link[0]] >= x[link[1]]] == []
    overlaps = [(a[0], b[0]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
                if a[1] < b[1] + b[3] and b[1] < a[1] + a[3] and a[2] < b[2] + b[4] and b[2] < a[2] + a[4]]
    assert overlaps == []


# -- UI saved by the real frontend -> API: frontend vs convert.py --------------------------------

@live
@needs_browser
def test_our_converter_agrees_with_the_frontend_on_workflows_it_saved(frontend, object_info, tmp_path):
    checked, disagree = 0, []
    for name, saved in browser.saved_workflows(frontend, EXAMPLES + HAND_MADE, edit_sources(),
                                               EXAMPLES_UI, known=shared_templates()):
        frontend.load(saved)
        truth, error = browser.export_or_error(frontend)
        if truth is not None and any("class_type" not in n for n in truth.values()):
            continue  # node types this server lacks: the frontend itself cannot export it
        mine, refusal = ours(saved, object_info, tmp_path, frontend.version())
        checked += 1
        if truth is None and mine is not None:
            disagree.append(f"{name}: the frontend refuses ({error}) but convert.py converts")
        elif truth is not None and mine is None:
            disagree.append(f"{name}: convert.py refuses: {refusal}")
        elif truth is not None:
            truth, mine = browser.steady(truth, object_info[1]), browser.steady(mine, object_info[1])
            if truth != mine:
                disagree.append(f"{name}: {browser.first_difference(truth, mine)}")
    assert checked >= 10
    known = {browser.pair_name(p) for p in browser.pair_files(PAIRS) if browser.read_pair(p).get("known_difference")}
    known |= {browser.file_name(n) for n in browser.known_differences(frontend.version())}
    assert [d for d in disagree if browser.file_name(d.split(":")[0]) not in known] == []


def shared_templates():
    return {p.name for p in SHARED_UI.glob("*.json")} if SHARED_UI.is_dir() else set()


def edit_sources():
    return [SHARED_UI / n for n in EDIT_SAMPLE if (SHARED_UI / n).is_file()]


# -- the recorded pairs, without a browser -----------------------------------------------------

def recorded_pairs():
    """Each pair; a known difference (reported, not yet fixed) is a strict xfail, so a fix shows."""
    out = []
    for path in browser.pair_files(PAIRS):
        known = browser.read_pair(path).get("known_difference")
        marks = [pytest.mark.xfail(strict=True, reason=known)] if known else []
        out.append(pytest.param(path, marks=marks, id=browser.pair_name(path)))
    return out


@pytest.fixture(scope="module")
def converted_pairs(tmp_path_factory):
    """convert.py --to api over every recorded workflow, one call per frontend version the pairs
    were recorded with, following that version: {version: (out dir, stderr)}."""
    by_version = {}
    for path in browser.pair_files(PAIRS):
        pair = browser.read_pair(path)
        by_version.setdefault(browser.pair_frontend(pair), []).append((browser.pair_name(path), pair["workflow"]))
    out = {}
    for version, pairs in by_version.items():
        src, dst = tmp_path_factory.mktemp("pairs-in"), tmp_path_factory.mktemp("pairs-out")
        for name, workflow in pairs:
            (src / f"{name}.json").write_text(json.dumps(workflow))
        r = script("convert", *sorted(src.iterdir()), "--to", "api",
                   "--object-info", browser.object_info_path(FIXTURES, version), "--frontend", version,
                   "--out-dir", dst, timeout=300)
        assert r.returncode in (0, 1), r.stderr
        out[version] = (dst, r.stderr)
    return out


@pytest.mark.parametrize("path", recorded_pairs())
def test_converter_matches_recorded_frontend_export(path, converted_pairs):
    """What the recording frontend's graphToPrompt gave for the workflow, under that frontend's rules."""
    pair, name = browser.read_pair(path), browser.pair_name(path)
    out, stderr = converted_pairs[browser.pair_frontend(pair)]
    mine_path = out / f"{name}.json"
    if pair.get("frontend_error"):
        assert not mine_path.exists() and f"{name}.json" in stderr, f"the frontend refused: {pair['frontend_error']}"
        return
    assert mine_path.exists(), stderr
    mine = load(mine_path)
    assert mine == pair["prompt"], browser.first_difference(pair["prompt"], mine)

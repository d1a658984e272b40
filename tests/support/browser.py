"""The official ComfyUI frontend in a headless Chromium, driven by Playwright.

Loads graphs into the real frontend (`app.loadGraphData`, `app.loadApiJson`) and exports them
again (`app.graphToPrompt`, `app.graph.serialize`), so our converter can be checked against the
code users actually run. The page may only read from the server: every request that is not a GET
(settings writes, /prompt) is answered in the browser and never reaches ComfyUI, so a shared
server's queue, settings and user files stay untouched.
"""

import gzip
import importlib.util
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# First-run settings the frontend would otherwise answer with a template picker over the canvas.
QUIET_SETTINGS = {"Comfy.TutorialCompleted": True}
LOAD_OPTIONS = {"showMissingNodesDialog": False, "showMissingModelsDialog": False,
                "checkForRerouteMigration": False}


def missing():
    """Why a browser test cannot run here, or None when it can."""
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (pip install playwright; no browser download needed)"
    return None


class Frontend:
    """One page of the official frontend served by the ComfyUI at `url`, in a fresh profile."""

    def __init__(self, url, width=1600, height=1000):
        self.url = url.rstrip("/")
        self.viewport = {"width": width, "height": height}
        self.blocked = []  # (method, url) the page tried to send and we kept from the server

    def __enter__(self):
        from playwright.sync_api import sync_playwright
        self.profile = tempfile.mkdtemp(prefix="comfyui-skills-chromium-")
        self.playwright = sync_playwright().start()
        try:
            self.context = self.playwright.chromium.launch_persistent_context(
                self.profile, executable_path=CHROMIUM, headless=True, args=ARGS, viewport=self.viewport)
            self.page = self.context.pages[0] if self.context.pages else self.context.new_page()
            self.page.route("**/*", self.guard)
            self.page.goto(self.url + "/")
            self.page.wait_for_function("window.app && window.app.graph && window.app.canvas", timeout=60000)
            self.page.wait_for_function("window.app.graph.nodes.length > 0", timeout=60000)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for close in (getattr(self, "context", None) and self.context.close, self.playwright.stop):
            if close:
                close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def guard(self, route):
        request = route.request
        if request.method != "GET":
            self.blocked.append((request.method, request.url))
            route.fulfill(status=200, content_type="application/json", body="{}")
        elif request.url.split("?")[0].endswith("/api/settings"):
            settings = route.fetch().json()
            route.fulfill(json={**settings, **QUIET_SETTINGS})
        else:
            route.continue_()

    # graphs in and out

    def load(self, workflow):
        """Open an editor workflow, as dropping the file on the canvas does."""
        self.page.evaluate("async ([g, o]) => { await app.loadGraphData(g, true, true, null, o) }",
                           [workflow, LOAD_OPTIONS])

    def load_default(self):
        """The frontend's own default graph."""
        self.page.evaluate("async () => { await app.loadGraphData() }")

    def load_api(self, prompt, name="prompt.json"):
        """Open an API prompt with the frontend's own API-to-editor import."""
        self.page.evaluate("([p, n]) => app.loadApiJson(p, n)", [prompt, name])

    def prompt(self):
        """What "Export (API)" writes for the open graph."""
        return self.page.evaluate("async () => JSON.parse(JSON.stringify((await app.graphToPrompt()).output))")

    def workflow(self):
        """What "Save" writes for the open graph."""
        return self.page.evaluate("() => JSON.parse(JSON.stringify(app.graph.serialize()))")

    def version(self):
        return self.page.evaluate("() => window.__COMFYUI_FRONTEND_VERSION__")

    def evaluate(self, script, arg=None):
        return self.page.evaluate(script, arg)

    def screenshot(self, path, fit=True, min_scale=0.65):
        """A PNG of the canvas. With `fit`, zoomed so the whole graph shows, but never below
        `min_scale`, where the frontend stops drawing text (then the left part shows)."""
        if fit:
            self.page.evaluate(f"""() => {{ const b = {BOUNDS_JS}, ds = app.canvas.ds;
                ds.fitToBounds(b);
                if (ds.scale < {min_scale}) {{ ds.scale = {min_scale}; ds.offset = [20 - b[0], 20 - b[1]] }}
                app.canvas.setDirty(true, true) }}""")
        self.page.wait_for_timeout(300)
        self.page.screenshot(path=str(path))
        return Path(path)


# The graph's extent from node positions (title bars included), as the frontend's Fit View takes it.
BOUNDS_JS = ("(() => { const ns = app.graph.nodes; const x0 = Math.min(...ns.map(n => n.pos[0]));"
             " const y0 = Math.min(...ns.map(n => n.pos[1] - 30));"
             " const x1 = Math.max(...ns.map(n => n.pos[0] + n.size[0]));"
             " const y1 = Math.max(...ns.map(n => n.pos[1] + n.size[1]));"
             " return [x0 - 40, y0 - 40, x1 - x0 + 80, y1 - y0 + 80] })()")


def steady(prompt, object_info):
    """The prompt with the values the frontend takes from the server's current files masked.

    A combo filled from a server route with `control_after_refresh` (LoadImageOutput's image) is
    set to the first file the route lists as soon as the page has that list cached, whatever the
    workflow said; that depends on the server's output folder, not on the workflow. A LOAD_3D
    widget (Load3D's image) sends what the page's 3D viewport renders and where it stands.
    """
    out = json.loads(json.dumps(prompt))
    for node in out.values():
        for name, value in node.get("inputs", {}).items():
            remote = input_options(object_info, node.get("class_type"), name).get("remote")
            if isinstance(remote, dict) and remote.get("control_after_refresh") and not isinstance(value, list):
                node["inputs"][name] = "<first file the server lists>"
            elif input_type(object_info, node.get("class_type"), name) == "LOAD_3D" and not isinstance(value, list):
                node["inputs"][name] = "<the 3D viewport's state>"
    return out


def _declaration(object_info, class_type, name):
    sections = ((object_info.get(class_type) or {}).get("input") or {}).values()
    spec = next((s[name] for s in sections if isinstance(s, dict) and name in s), None)
    return spec if isinstance(spec, list) else []


def input_type(object_info, class_type, name):
    spec = _declaration(object_info, class_type, name)
    return spec[0] if spec else None


def input_options(object_info, class_type, name):
    spec = _declaration(object_info, class_type, name)
    return spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}


def first_difference(want, got):
    """One line naming the first node that differs, for assertion messages."""
    diff = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
    if not diff:
        return "same"
    k = diff[0]
    return (f"{len(diff)} nodes differ; node {k}: expected {json.dumps(want.get(k))[:400]} "
            f"got {json.dumps(got.get(k))[:400]}")


# Edits made with the frontend's own graph API, so the saved workflow is one the frontend wrote.
# Each returns something falsy when it does not apply to the open graph.
EDITS = {
    # every third node with inputs and outputs bypassed
    "bypass": """() => { const ns = app.graph.nodes.filter(n => n.outputs?.length && n.inputs?.length)
        .sort((a, b) => a.id - b.id); ns.forEach((n, i) => { if (i % 3 === 1) n.mode = 4 }); return ns.length }""",
    # every fourth node muted
    "mute": """() => { const ns = [...app.graph.nodes].sort((a, b) => a.id - b.id);
        ns.forEach((n, i) => { if (i % 4 === 2) n.mode = 2 }); return ns.length }""",
    # the node with the most linked inputs and the nodes feeding it, made into a subgraph
    "subgraph": """() => { const g = app.graph;
        const links = n => (n.inputs || []).filter(i => i.link != null).map(i => g.links.get(i.link)).filter(Boolean);
        const n = [...g.nodes].sort((a, b) => links(b).length - links(a).length || a.id - b.id)[0];
        if (!n) return 0;
        const set = new Set([n, ...links(n).map(l => g.getNodeById(l.origin_id)).filter(Boolean)]);
        return g.convertToSubgraph(set) ? set.size : 0 }""",
    # a PrimitiveNode wired to the first free value widget
    "primitive": """() => { const g = app.graph;
        for (const n of [...g.nodes].sort((a, b) => a.id - b.id)) {
          for (let s = 0; s < (n.inputs || []).length; s++) { const i = n.inputs[s];
            if (i.widget && i.link == null && ['INT', 'FLOAT', 'STRING', 'COMBO'].includes(i.type)) {
              const p = LiteGraph.createNode('PrimitiveNode'); g.add(p); p.connect(0, n, s); return [n.type, i.name] } } }
        return 0 }""",
    # two Reroutes on the model link and PrimitiveNodes on the seed and on width+height
    "reroutes": """() => { const g = app.graph;
        const ks = g.nodes.find(n => n.type === 'KSampler'), ck = g.nodes.find(n => n.type === 'CheckpointLoaderSimple');
        const lat = g.nodes.find(n => n.type === 'EmptyLatentImage');
        if (!ks || !ck || !lat) return 0;
        const slot = (n, name) => n.inputs.findIndex(i => i.name === name);
        const add = type => { const n = LiteGraph.createNode(type); g.add(n); return n };
        const r1 = add('Reroute'), r2 = add('Reroute');
        ck.connect(0, r1, 0); r1.connect(0, r2, 0); r2.connect(0, ks, slot(ks, 'model'));
        const seed = add('PrimitiveNode'); seed.connect(0, ks, slot(ks, 'seed')); seed.widgets[0].value = 12345;
        const size = add('PrimitiveNode'); size.connect(0, lat, slot(lat, 'width')); size.connect(0, lat, slot(lat, 'height'));
        size.widgets[0].value = 768;
        return 1 }""",
}


def edited(frontend, workflow, edit):
    """Open `workflow`, apply EDITS[edit]; the saved workflow, or None when the edit does not apply."""
    frontend.load(workflow)
    try:
        applied = frontend.evaluate(EDITS[edit])
    except Exception:  # the frontend itself refused the edit (its own bug or limit)
        return None
    return frontend.workflow() if applied else None


def export_or_error(frontend):
    """(prompt, None), or (None, the frontend's error) when graphToPrompt throws."""
    try:
        return frontend.prompt(), None
    except Exception as exc:
        return None, str(exc).splitlines()[0]


def saved_workflows(frontend, api_files=(), edit_files=(), extra_ui=(), known=frozenset()):
    """(name, editor workflow the frontend saved itself), for graphs outside ../shared's 160 pairs.

    Its default graph (plain, and with Reroutes and PrimitiveNodes added), the server's templates
    whose file names are not in `known`, `api_files` opened with its own API import, `edit_files` after each of
    EDITS, and `extra_ui` files as they are.
    """
    frontend.load_default()
    default = frontend.workflow()
    yield "default-graph", default
    if edited(frontend, default, "reroutes"):
        yield "default-graph__reroutes", frontend.workflow()
    yield from server_templates(frontend.url, known)
    for path in api_files:
        frontend.load_api(read(path), path.name)
        yield f"load-api-json__{path.stem}", frontend.workflow()
    for path in edit_files:
        for edit in ("bypass", "mute", "subgraph", "primitive"):
            workflow = edited(frontend, read(path), edit)
            if workflow:
                yield f"{edit}__{path.stem}", workflow
    for path in extra_ui:
        yield f"file__{path.stem}", read(path)


def server_templates(url, skip):
    """The server's official templates whose file name is not in `skip`."""
    import requests
    index = requests.get(url + "/templates/index.json", timeout=30).json()
    for name in sorted(t["name"] for group in index for t in group.get("templates") or []):
        if f"{name}.json" not in skip:
            yield f"template__{name}", requests.get(f"{url}/templates/{name}.json", timeout=30).json()


def read(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


# Pairs where convert.py and the frontend were seen to differ, reported to the converter's owner;
# the non-live test expects them to fail until fixed.
KNOWN_DIFFERENCES = {
    "primitive__api_rodin_gen2": "a PrimitiveNode holding 'PBR' (drifted widget values) feeds the INT widget "
                                 "Seed: the frontend sends null (Number('PBR') is NaN), convert.py sends 'PBR'",
}


# Differences seen with one frontend line only: {(major, minor): {name: why}}.
KNOWN_DIFFERENCES_OF = {
    (1, 36): {
        "subgraph__sdxl_refiner_prompt_example":
            "1.36.14's Convert to Subgraph saves the `steps` PrimitiveNode it moves inside without its "
            "value (widgets_values null), then sends null for the inner KSamplerAdvanced's steps (the "
            "server refuses that); convert.py sends the KSampler's own 25",
    },
    (1, 49): {
        "template__templates_graphic_design_recomposer":
            "a PrimitiveNode inside the subgraph holds '16:9' for GeminiImage2Node.aspect_ratio and "
            "GeminiNanoBanana2V2's dynamic-combo input model.aspect_ratio; 1.49.6 shows '16:9' on both "
            "but sends 'gemini-3-pro-image-preview' (not an option) for the second. 1.58.1, served by "
            "the same 0.33.0, sends '16:9', as convert.py does",
    },
}


def known_differences(version):
    """{name: why} for the pairs known to differ under frontend `version` (every line's too)."""
    major, minor = (int(x) for x in str(version).lstrip("v").split(".")[:2])
    return {**KNOWN_DIFFERENCES, **KNOWN_DIFFERENCES_OF.get((major, minor), {})}


def with_new_defaults(prompt, object_info):
    """The prompt as an editor that knows the server's schema sends it: a widget input the file
    lacks (an input newer than the file, such as 0.9.2's ImageScaleToTotalPixels.resolution_steps,
    or what 0.33.0's SaveVideo `format` dynamic combo now shows for the value the file holds) gets
    its default, as the frontend gives a node's widgets on load."""
    from comfyui_skills.schema import DYNAMIC_COMBO, Schema

    schema = Schema(object_info)
    out = json.loads(json.dumps(prompt))

    def fill(inputs, specs):
        for inp in specs:
            if inp.name not in inputs and not inp.force_input:
                if inp.type == DYNAMIC_COMBO and inp.choices:
                    inputs[inp.name] = inp.choices[0]
                elif inp.type in ("INT", "FLOAT", "STRING", "BOOLEAN") and "default" in inp.extra:
                    inputs[inp.name] = inp.extra["default"]
            if inp.type == DYNAMIC_COMBO and inp.name in inputs:
                fill(inputs, inp.option_inputs(inputs[inp.name]) or [])

    for node in out.values():
        spec = schema.node(node.get("class_type")) if node.get("class_type") in object_info else None
        if spec is not None:
            fill(node.setdefault("inputs", {}), spec.visible_inputs())
    return out


def record(frontend, sources, out_dir, object_info):
    """Write out_dir/pairs/<name>.json {workflow, prompt | frontend_error} for each source the
    frontend can export, and out_dir/object_info.json with the node classes they use."""
    pairs_dir = Path(out_dir) / "pairs"
    pairs_dir.mkdir(parents=True, exist_ok=True)
    used = set()
    for name, workflow in sources:
        frontend.load(workflow)
        prompt, error = export_or_error(frontend)
        if prompt is not None and any("class_type" not in n for n in prompt.values()):
            continue  # node types this server lacks
        pair = {"made_by": f"frontend {frontend.version()} saved it, then graphToPrompt", "workflow": workflow}
        pair.update({"prompt": prompt} if error is None else {"frontend_error": error})
        if name in KNOWN_DIFFERENCES:
            pair["known_difference"] = KNOWN_DIFFERENCES[name]
        (pairs_dir / f"{file_name(name)}.json").write_text(json.dumps(pair, sort_keys=True) + "\n")
        used |= node_types(workflow)
    subset = {k: object_info[k] for k in sorted(used) if k in object_info}
    (Path(out_dir) / "object_info.json").write_text(json.dumps(subset, sort_keys=True) + "\n")
    return sorted(p.stem for p in pairs_dir.glob("*.json"))


# A pair is {made_by, frontend, workflow, prompt | frontend_error, ...}: a workflow and what one
# frontend's graphToPrompt gave for it. Pairs over this size are stored gzipped (NAME.json.gz).
GZIP_OVER = 8_000


def pair_files(pairs_dir):
    """Every pair file, plain or gzipped, by name."""
    return sorted([*Path(pairs_dir).glob("*.json"), *Path(pairs_dir).glob("*.json.gz")], key=pair_name)


def pair_name(path):
    name = Path(path).name
    return name[:-len(".json.gz")] if name.endswith(".json.gz") else name[:-len(".json")]


def read_pair(path):
    data = Path(path).read_bytes()
    return json.loads(gzip.decompress(data) if str(path).endswith(".gz") else data)


def write_pair(pairs_dir, name, pair):
    """Write pair `name` (plain or gzipped by size) and remove its other form; the path."""
    text = json.dumps(pair, sort_keys=True) + "\n"
    base = Path(pairs_dir) / file_name(name)
    plain, packed = base.with_name(base.name + ".json"), base.with_name(base.name + ".json.gz")
    if len(text) > GZIP_OVER:
        packed.write_bytes(gzip.compress(text.encode(), mtime=0))
        plain.unlink(missing_ok=True)
        return packed
    plain.write_text(text)
    packed.unlink(missing_ok=True)
    return plain


def pair_frontend(pair):
    """The frontend version whose export a pair holds (older pairs say it in made_by)."""
    if pair.get("frontend"):
        return pair["frontend"]
    match = re.match(r"frontend (\d+\.\d+\.\d+)", pair.get("made_by") or "")
    return match.group(1) if match else None


def object_info_path(fixtures, version):
    """The /object_info a pair recorded with frontend `version` converts against: the server's it
    was recorded on where that was not 0.3.64 (its display names are the `_meta` titles)."""
    own = Path(fixtures) / f"object_info-{version}.json"
    return own if own.is_file() else Path(fixtures) / "object_info.json"


def merge_object_info(path, object_info, classes):
    """Add the server's entries for `classes` to the fixture /object_info at `path`, keeping the
    entries it already has (they were recorded with the pairs that use them)."""
    path = Path(path)
    have = json.loads(path.read_text()) if path.is_file() else {}
    for name in sorted(classes):
        if name in object_info and name not in have:
            have[name] = object_info[name]
    path.write_text(json.dumps(dict(sorted(have.items())), sort_keys=True) + "\n")


def file_name(name):
    return re.sub(r"[^\w.-]+", "-", name.strip()).strip("-")


def node_types(workflow):
    graphs = [workflow] + list((workflow.get("definitions") or {}).get("subgraphs") or [])
    graphs += list(((workflow.get("extra") or {}).get("groupNodes") or {}).values())
    return {n.get("type") for g in graphs for n in g.get("nodes") or [] if isinstance(n, dict)}


def main(argv):
    """PYTHONPATH=. python tests/support/browser.py URL [EDITOR_FILE...]: re-record fixtures/browser.

    Sources are the live test's (default graph, the server's templates outside ../shared, the
    hand-made API files through the frontend's import, edits of the sampled shared templates),
    plus any editor files named.
    """
    import requests
    import test_browser_live as live
    url, extra = argv[0].rstrip("/"), [Path(a) for a in argv[1:]]
    object_info = requests.get(url + "/object_info", timeout=60).json()
    with Frontend(url) as frontend:
        sources = saved_workflows(frontend, live.EXAMPLES + live.HAND_MADE, live.edit_sources(),
                                  live.EXAMPLES_UI + extra, known=live.shared_templates())
        names = record(frontend, sources, live.FIXTURES, object_info)
    print(f"{len(names)} pairs in {live.PAIRS}")


if __name__ == "__main__":
    import sys
    sys.path[:0] = [str(Path(__file__).resolve().parents[1])]  # tests/: test_browser_live and support.*
    main(sys.argv[1:])

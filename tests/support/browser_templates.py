"""Official templates through frontend 1.58.1, beyond the 56 in ../shared/conformance/templates-2026.

Every template of comfyui-workflow-templates-json whose node classes the server has and that the
shared set lacks is loaded into the running frontend and exported (`template__NAME`); those with
subgraphs are also edited with the frontend's own graph API first (a subgraph node bypassed, an
inner node muted, a promoted widget changed, a subgraph node and its feeder packed into a new
subgraph, so one subgraph sits in another) and the smaller ones without subgraphs get the root
edits of browser.EDITS (bypass, mute). Before loading, a template is trimmed of what never
reaches a prompt (notes, positions and sizes, colours, group boxes, model download links) so the
fixtures stay small; the pair holds the trimmed file, which is what the frontend loaded.

    PYTHONPATH=. python tests/support/browser_templates.py URL TEMPLATES_DIR [SHARED_UI_DIR]
"""

import json
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script: tests/ on the path, as under pytest
    sys.path[:0] = [str(Path(__file__).resolve().parents[1])]
from support import browser  # noqa: E402

UI_ONLY = {"Note", "MarkdownNote", "PrimitiveNode", "Reroute"}
NODE_NOISE = ("pos", "size", "flags", "color", "bgcolor", "shape")
# Templates this large are exported as they are, not edited too (the fixtures stay small).
EDIT_LIMIT = 60_000
ROOT_EDIT_LIMIT = 25_000

# Edits of a subgraph template, made with the frontend's graph API; each returns something falsy
# when it does not apply. "The first subgraph node" is the one with the lowest id.
FIRST_SUBGRAPH = """const sgs = app.rootGraph.nodes.filter(n => n.isSubgraphNode?.()).sort((a, b) => a.id - b.id);
    const sg = sgs[0];"""
SUBGRAPH_EDITS = {
    "subgraph-bypass": f"""() => {{ {FIRST_SUBGRAPH} if (!sg) return 0; sg.mode = 4; return 1 }}""",
    "subgraph-mute": f"""() => {{ {FIRST_SUBGRAPH} if (!sg) return 0; sg.mode = 2; return 1 }}""",
    # the first inner node (by id) with inputs and outputs muted inside that subgraph's definition
    "inner-mute": f"""() => {{ {FIRST_SUBGRAPH} if (!sg) return 0;
        const inner = [...sg.subgraph.nodes].filter(n => n.inputs?.length && n.outputs?.length && !n.isVirtualNode)
          .sort((a, b) => a.id - b.id);
        if (!inner.length) return 0; inner[0].mode = 2; return inner[0].type }}""",
    # the subgraph node's first promoted widget holding a number, a text or a switch, changed
    "promoted-widget": f"""() => {{ {FIRST_SUBGRAPH} if (!sg) return 0;
        const w = (sg.widgets || []).find(w => ['number', 'customtext', 'text', 'toggle'].includes(w.type));
        if (!w) return 0;
        const v = w.value;
        w.value = typeof v === 'number' ? (Number.isInteger(v) ? v + 1 : v / 2)
                : typeof v === 'boolean' ? !v : `${{v}}, at dusk`;
        w.callback?.(w.value); return [w.name, w.value] }}""",
    # the subgraph node and the first node feeding it packed into a new subgraph
    "nest": f"""() => {{ {FIRST_SUBGRAPH} if (!sg) return 0; const g = app.rootGraph;
        const feeder = (sg.inputs || []).map(i => i.link != null ? g.links.get(i.link) : null).filter(Boolean)
          .map(l => g.getNodeById(l.origin_id)).filter(n => n && n !== sg)[0];
        if (!feeder) return 0; return g.convertToSubgraph(new Set([sg, feeder])) ? 1 : 0 }}""",
}
ROOT_EDITS = ("bypass", "mute")


def trim(workflow):
    """The template without what never reaches a prompt."""
    out = json.loads(json.dumps(workflow))
    for graph in [out] + list((out.get("definitions") or {}).get("subgraphs") or []):
        graph["nodes"] = [n for n in graph.get("nodes") or [] if n.get("type") not in ("Note", "MarkdownNote")]
        for node in graph["nodes"]:
            for field in NODE_NOISE:
                node.pop(field, None)
            if isinstance(node.get("properties"), dict):
                node["properties"].pop("models", None)
        graph.pop("groups", None)
    if isinstance(out.get("extra"), dict):
        out["extra"].pop("ds", None)
    return out


def node_classes(workflow):
    subgraphs = (workflow.get("definitions") or {}).get("subgraphs") or []
    ids = {s.get("id") for s in subgraphs}
    return {n.get("type") for g in [workflow] + subgraphs for n in g.get("nodes") or []} - ids - UI_ONLY


def chosen(templates_dir, object_info, skip):
    """(name, template) for each editor template the server can run whose file is not in `skip`."""
    for path in sorted(Path(templates_dir).glob("*.json")):
        if path.name == "index.json" or path.name in skip:
            continue
        try:
            workflow = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if isinstance(workflow, dict) and isinstance(workflow.get("nodes"), list) \
                and node_classes(workflow) <= set(object_info):
            yield path.stem, workflow


def sources(frontend, templates_dir, object_info, skip):
    """(pair name, editor workflow) for every chosen template and its edits."""
    for name, template in chosen(templates_dir, object_info, skip):
        small = trim(template)
        yield f"template__{name}", small
        size = len(json.dumps(small))
        has_subgraphs = bool((small.get("definitions") or {}).get("subgraphs"))
        if has_subgraphs and size < EDIT_LIMIT:
            for edit, script in SUBGRAPH_EDITS.items():
                frontend.load(small)
                try:
                    applied = frontend.evaluate(script)
                except Exception:  # the frontend refused the edit itself
                    applied = None
                if applied:
                    yield f"{edit}__{name}", frontend.workflow()
        elif not has_subgraphs and size < ROOT_EDIT_LIMIT:
            for edit in ROOT_EDITS:
                edited = browser.edited(frontend, small, edit)
                if edited:
                    yield f"{edit}__{name}", edited


def record(frontend, named, pairs_dir, object_info, object_info_path):
    """Write NAME__VERSION pairs for the open frontend; the names written."""
    version, names, used = frontend.version(), [], set()
    for name, workflow in named:
        frontend.load(workflow)
        prompt, error = browser.export_or_error(frontend)
        if prompt is not None and any("class_type" not in n for n in prompt.values()):
            continue
        template = name.split("__", 1)[1]
        edit = name.split("__", 1)[0]
        how = "loaded it" if edit == "template" else f"loaded it, made the {edit!r} edit and saved it; loaded that"
        pair = {"made_by": f"official template {template} (comfyui-workflow-templates-json, trimmed); "
                           f"frontend {version} {how}, then graphToPrompt", "frontend": version, "workflow": workflow}
        pair.update({"prompt": prompt} if error is None else {"frontend_error": error})
        full = f"{name}__{version}"
        browser.write_pair(pairs_dir, full, pair)
        names.append(full)
        used |= browser.node_types(workflow)
    browser.merge_object_info(object_info_path, object_info, used)
    return names


def main(argv):
    import requests

    import test_browser_live as live
    url, templates_dir = argv[0].rstrip("/"), Path(argv[1])
    shared = Path(argv[2]) if len(argv) > 2 else live.CONFORMANCE / "templates-2026" / "ui"
    skip = {p.name for p in shared.glob("*.json")}
    object_info = requests.get(url + "/object_info", timeout=60).json()
    with browser.Frontend(url) as frontend:
        version = frontend.version()
        named = list(sources(frontend, templates_dir, object_info, skip))
        names = record(frontend, named, live.PAIRS, object_info, live.FIXTURES / "object_info.json")
    print(f"frontend {version}: {len(names)} template pairs in {live.PAIRS}")


if __name__ == "__main__":
    main(sys.argv[1:])

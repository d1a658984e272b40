#!/usr/bin/env python3
"""Record what the real frontend saves and exports for newer servers' dynamic inputs.

    python tests/support/record_v3.py URL

URL is a ComfyUI of your own serving frontend 1.58.1 (--front-end-root) with the schema-only pack
tests/fixtures/v3/shape_pack.py installed (its docstring says how), so /object_info has the
dynamic combo, autogrow and match-type nodes of tests/fixtures/v3/newer_nodes.json. Each graph is
built with the frontend's own graph API (nodes created, widgets set, links connected), saved
(`app.graph.serialize()`), opened again from that file and exported (`app.graphToPrompt()`): the
export of the reopened file is what a user gets for the saved file. Writes
tests/fixtures/v3/pairs/NAME.json; the page only reads from the server (tests/support/browser.py).
"""

import json
import sys
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: support.* imports as under pytest
from support import browser  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "v3" / "pairs"

# Helpers the graphs below use, defined once in the page.
HELPERS = """() => {
  const g = app.graph;
  g.clear();
  window.add = (type, x, y) => { const n = LiteGraph.createNode(type); n.pos = [x, y]; g.add(n); return n };
  window.slot = (n, name) => n.inputs.findIndex(i => i.name === name);
  window.set = (n, name, value) => { n.widgets.find(w => w.name === name).value = value };
  window.link = (a, out, b, name) => a.connect(out, b, slot(b, name));
  window.image = (x, y, w) => { const n = add('EmptyImage', x, y); set(n, 'width', w); set(n, 'height', 48); return n };
  return true }"""

GRAPHS = {
    # a dynamic combo whose chosen option brings one widget
    "resize_scale_by": """() => {
      const img = image(0, 0, 64), r = add('ResizeImageMaskNode', 300, 0), out = add('PreviewImage', 700, 0);
      set(r, 'resize_type', 'scale by multiplier'); set(r, 'resize_type.multiplier', 1.5);
      set(r, 'scale_method', 'bicubic');
      link(img, 0, r, 'input'); link(r, 0, out, 'images'); return true }""",
    # an option with three widgets, and one whose option input is a socket (match size)
    "resize_dimensions_and_match": """() => {
      const a = image(0, 0, 64), b = image(0, 200, 96);
      const r = add('ResizeImageMaskNode', 300, 0), m = add('ResizeImageMaskNode', 300, 300);
      set(r, 'resize_type', 'scale dimensions'); set(r, 'resize_type.width', 320); set(r, 'resize_type.height', 240);
      set(r, 'resize_type.crop', 'disabled');
      set(m, 'resize_type', 'match size'); set(m, 'resize_type.crop', 'center');
      link(a, 0, r, 'input'); link(a, 0, m, 'input'); link(b, 0, m, 'resize_type.match');
      link(r, 0, add('PreviewImage', 700, 0), 'images'); link(m, 0, add('PreviewImage', 700, 300), 'images');
      return true }""",
    # the choice changed after its widgets were set: the new option's widgets, the old ones gone
    "resize_changed_choice": """() => {
      const img = image(0, 0, 64), r = add('ResizeImageMaskNode', 300, 0);
      set(r, 'resize_type', 'scale dimensions'); set(r, 'resize_type.width', 100);
      set(r, 'resize_type', 'scale longer dimension'); set(r, 'resize_type.longer_size', 200);
      link(img, 0, r, 'input'); link(r, 0, add('PreviewImage', 700, 0), 'images'); return true }""",
    # autogrow: three images linked, the node grows a slot after each
    "batch_images": """() => {
      const b = add('BatchImagesNode', 300, 0);
      link(image(0, 0, 64), 0, b, 'images.image0'); link(image(0, 200, 64), 0, b, 'images.image1');
      link(image(0, 400, 64), 0, b, 'images.image2');
      link(b, 0, add('PreviewImage', 700, 0), 'images'); return b.inputs.map(i => i.name) }""",
    # nested dynamic combos
    "nested_choices": """() => {
      const d = add('DCTestNode', 300, 0);
      set(d, 'combo', 'option4'); set(d, 'combo.subcombo', 'opt1');
      set(d, 'combo.subcombo.float_x', 1.5); set(d, 'combo.subcombo.float_y', 2.5); return d.widgets.map(w => w.name) }""",
    # match-type inputs and output
    "switch": """() => {
      const s = add('ComfySwitchNode', 300, 0); set(s, 'switch', true);
      link(image(0, 0, 64), 0, s, 'on_true'); link(image(0, 200, 80), 0, s, 'on_false');
      link(s, 0, add('PreviewImage', 700, 0), 'images'); return true }""",
}


# A subgraph blueprint as the frontend publishes one (subgraphStore.publishSubgraph: the one selected
# subgraph node serialized with its definition), then added to a new graph as the node library
# adds a blueprint (litegraphService.addNodeOnGraph: the blueprint's nodes and definitions
# deserialized onto the canvas) and wired up.
BLUEPRINT = """() => {
  const img = image(0, 0, 64), inv = add('ImageInvert', 300, 0), blur = add('ImageBlur', 500, 0);
  set(blur, 'blur_radius', 3);
  link(img, 0, inv, 'image'); link(inv, 0, blur, 'image'); link(blur, 0, add('PreviewImage', 800, 0), 'images');
  const sg = app.graph.convertToSubgraph(new Set([inv, blur])).node;
  const { nodes, subgraphs } = app.canvas._serializeItems([sg]);
  return { revision: 0, last_node_id: sg.id, last_link_id: 0, nodes, links: [], version: 0.4, definitions: { subgraphs } } }"""
ADD_BLUEPRINT = """(bp) => {
  const results = app.canvas._deserializeItems({ nodes: bp.nodes, subgraphs: bp.definitions.subgraphs }, { position: [300, 0] });
  const node = results.nodes.values().next().value;
  link(image(0, 0, 80), 0, node, node.inputs[0].name);
  link(node, 0, add('PreviewImage', 800, 0), 'images'); return node.type }"""


def record_blueprint(page, version):
    page.evaluate(HELPERS)
    blueprint = page.evaluate(BLUEPRINT)
    page.evaluate(HELPERS)
    built = page.evaluate(ADD_BLUEPRINT, blueprint)
    saved = page.workflow()
    page.load(saved)
    record = {"what": f"frontend {version}: a blueprint as publishSubgraph writes it, added to a graph as "
                      "addNodeOnGraph adds one, saved, reopened and exported (tests/support/record_v3.py)",
              "blueprint": blueprint, "built": built, "workflow": saved, "prompt": page.prompt()}
    (OUT / "blueprint_added.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"blueprint_added: subgraph {built}")


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    url = argv[1].rstrip("/")
    info = requests.get(url + "/object_info/ResizeImageMaskNode", timeout=30).json()
    if "ResizeImageMaskNode" not in info:
        print(f"{url} lacks the schema-only pack: see tests/fixtures/v3/shape_pack.py")
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    with browser.Frontend(url) as page:
        version = page.version()
        for name, build in GRAPHS.items():
            page.evaluate(HELPERS)
            built = page.evaluate(build)
            saved = page.workflow()
            page.load(saved)
            prompt = page.prompt()
            record = {"what": f"frontend {version}: built with its graph API, saved, reopened and exported "
                              "(tests/support/record_v3.py)", "built": built, "workflow": saved, "prompt": prompt}
            (OUT / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
            print(f"{name}: {len(saved['nodes'])} nodes, {len(prompt)} in the prompt")
        record_blueprint(page, version)
        if page.blocked:
            print(f"kept from the server: {page.blocked}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

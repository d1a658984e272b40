"""Legacy group nodes (`extra.groupNodes`), made by the official frontend itself.

Frontend 1.27.10 still builds group nodes ("Convert to Group Node"); each scenario below builds a
small graph with the frontend's graph API, groups some of its nodes with the frontend's own
command (answering its name dialog), edits the result where the scenario says so, and takes the
workflow the frontend saves. `variants` then rewrites saved workflows into the shapes older
frontends wrote (the `workflow/` separator, `external` entries holding the node, no inner ids,
hidden and renamed inputs in `config`), as found in workflows shared in 2024-2025.

Every node here exists in ComfyUI 0.3.64 and needs no model file (the text-to-image group names
its checkpoint as a string only).
"""

import copy

# Page helpers: add(type) adds a node, link(a, slot, b, name) wires output `slot` of a to b's
# input called `name` (widget inputs included), set(node, widget, value) sets a widget.
HELPERS = """() => { window.__g = {
  add(type, title) { const n = LiteGraph.createNode(type); if (title) n.title = title; app.graph.add(n); return n },
  link(a, slot, b, name) { const s = b.findInputSlot(name); if (s < 0) throw new Error(b.type + ' has no input ' + name);
    if (!a.connect(slot, b, s)) throw new Error('could not link ' + a.type + ' to ' + b.type + '.' + name) },
  set(n, name, value) { const w = n.widgets.find(w => w.name === name); if (!w) throw new Error(n.type + ' has no widget ' + name);
    w.value = value },
  byType(type) { return app.graph.nodes.filter(n => n.type === type) },
}; app.graph.clear(); return true }"""

# name: (graph builder, [(group name, [node keys to group])], edit after grouping or None)
# A builder returns {key: node id}; an edit gets {group name: [instance ids]} and the keys.
SCENARIOS = {
    # three model-free image nodes in a row, previewed outside
    "image-chain": ("""() => { const {add, link, set} = __g;
        const e = add('EmptyImage'), s = add('ImageScale'), i = add('ImageInvert'), p = add('PreviewImage');
        set(e, 'width', 96); set(e, 'color', 255); set(s, 'upscale_method', 'bilinear'); set(s, 'width', 48);
        link(e, 0, s, 'image'); link(s, 0, i, 'image'); link(i, 0, p, 'images');
        return {e: e.id, s: s.id, i: i.id, p: p.id} }""", [("Chain", ["e", "s", "i"])], None),
    # the same group, its widgets changed on the instance after grouping
    "widgets-on-instance": ("""() => { const {add, link, set} = __g;
        const e = add('EmptyImage'), s = add('ImageScale'), i = add('ImageInvert'), p = add('PreviewImage');
        link(e, 0, s, 'image'); link(s, 0, i, 'image'); link(i, 0, p, 'images');
        return {e: e.id, s: s.id, i: i.id, p: p.id} }""", [("Chain", ["e", "s", "i"])],
        """([groups]) => { const n = app.graph.getNodeById(groups.Chain[0]); const {set} = __g;
        set(n, 'width', 64); set(n, 'height', 40); set(n, 'color', 16711680); set(n, 'upscale_method', 'area');
        set(n, 'crop', 'center'); n.title = 'My chain'; return 1 }"""),
    # two inputs from outside and a blend inside; both blend inputs come through the group node
    "blend-two-inputs": ("""() => { const {add, link, set} = __g;
        const a = add('EmptyImage'), b = add('EmptyImage'), f = add('ImageFlip'), bl = add('ImageBlend'),
              sh = add('ImageSharpen'), p = add('PreviewImage');
        set(b, 'color', 65280); set(bl, 'blend_factor', 0.25); set(bl, 'blend_mode', 'multiply');
        link(a, 0, f, 'image'); link(f, 0, bl, 'image1'); link(b, 0, bl, 'image2'); link(bl, 0, sh, 'image');
        link(sh, 0, p, 'images');
        return {a: a.id, b: b.id, f: f.id, bl: bl.id, sh: sh.id, p: p.id} }""", [("Blend", ["f", "bl", "sh"])], None),
    # a PrimitiveNode inside the group drives a widget of an inner node
    "primitive-inside": ("""() => { const {add, link, set} = __g;
        const pr = add('PrimitiveNode'), e = add('EmptyImage'), i = add('ImageInvert'), p = add('PreviewImage');
        link(pr, 0, e, 'width'); pr.widgets[0].value = 80;
        link(pr, 0, e, 'height'); link(e, 0, i, 'image'); link(i, 0, p, 'images');
        return {pr: pr.id, e: e.id, i: i.id, p: p.id} }""", [("Sized", ["pr", "e", "i"])], None),
    # the same, the primitive's value changed on the instance, and a titled primitive
    "primitive-on-instance": ("""() => { const {add, link, set} = __g;
        const pr = add('PrimitiveNode', 'Side'), e = add('EmptyImage'), i = add('ImageInvert'), p = add('PreviewImage'),
              un = add('PrimitiveNode'), note = add('Note');
        link(pr, 0, e, 'width'); pr.widgets[0].value = 80; link(pr, 0, e, 'height'); link(e, 0, i, 'image');
        link(i, 0, p, 'images');
        return {pr: pr.id, e: e.id, i: i.id, p: p.id, un: un.id, note: note.id} }""",
        [("Sized", ["un", "pr", "note", "e", "i"])],
        """([groups]) => { const n = app.graph.getNodeById(groups.Sized[0]);
        n.widgets.find(w => w.name.endsWith('value')).value = 100; __g.set(n, 'color', 7); return 1 }"""),
    # a PrimitiveNode outside the group feeds a widget input of an inner node through the group node
    "primitive-outside": ("""() => { const {add, link, set} = __g;
        const pr = add('PrimitiveNode'), e = add('EmptyImage'), b = add('ImageBlur'), p = add('PreviewImage');
        link(e, 0, b, 'image'); link(b, 0, p, 'images'); link(pr, 0, b, 'blur_radius'); pr.widgets[0].value = 7;
        return {pr: pr.id, e: e.id, b: b.id, p: p.id} }""", [("Blurred", ["e", "b"])], None),
    # a core value node (Int) outside linked into an inner widget input
    "value-node-outside": ("""() => { const {add, link, set} = __g;
        const v = add('PrimitiveInt'), e = add('EmptyImage'), s = add('ImageScale'), p = add('PreviewImage');
        set(v, 'value', 72); link(v, 0, s, 'height'); link(e, 0, s, 'image'); link(s, 0, p, 'images');
        return {v: v.id, e: e.id, s: s.id, p: p.id} }""", [("Scaled", ["e", "s"])], None),
    # one inner node bypassed before grouping
    "inner-bypassed": ("""() => { const {add, link, set} = __g;
        const e = add('EmptyImage'), i = add('ImageInvert'), f = add('ImageFlip'), p = add('PreviewImage');
        link(e, 0, i, 'image'); link(i, 0, f, 'image'); link(f, 0, p, 'images'); i.mode = 4;
        return {e: e.id, i: i.id, f: f.id, p: p.id} }""", [("Skip", ["e", "i", "f"])], None),
    # a bypassed inner node at the group's edge and a muted one feeding another inner node
    "inner-modes-edge": ("""() => { const {add, link, set} = __g;
        const e = add('EmptyImage'), i = add('ImageInvert'), f = add('ImageFlip'), s = add('ImageSharpen'),
              p = add('PreviewImage'), q = add('PreviewImage');
        link(e, 0, i, 'image'); link(i, 0, p, 'images'); link(e, 0, f, 'image'); link(f, 0, s, 'image');
        link(s, 0, q, 'images'); i.mode = 4; f.mode = 2;
        return {e: e.id, i: i.id, f: f.id, s: s.id, p: p.id, q: q.id} }""", [("Edge", ["e", "i", "f", "s"])], None),
    # one inner node muted before grouping (its consumer loses that input)
    "inner-muted": ("""() => { const {add, link, set} = __g;
        const e = add('EmptyImage'), i = add('ImageInvert'), f = add('ImageFlip'), p = add('PreviewImage'),
              q = add('PreviewImage');
        link(e, 0, i, 'image'); link(i, 0, f, 'image'); link(f, 0, p, 'images'); link(e, 0, q, 'images'); f.mode = 2;
        return {e: e.id, i: i.id, f: f.id, p: p.id, q: q.id} }""", [("Muted", ["e", "i", "f"])], None),
    # the group instance bypassed: its input passes to its output
    "instance-bypassed": ("""() => { const {add, link, set} = __g;
        const e = add('EmptyImage'), i = add('ImageInvert'), f = add('ImageFlip'), p = add('PreviewImage');
        link(e, 0, i, 'image'); link(i, 0, f, 'image'); link(f, 0, p, 'images');
        return {e: e.id, i: i.id, f: f.id, p: p.id} }""", [("Both", ["i", "f"])],
        """([groups]) => { app.graph.getNodeById(groups.Both[0]).mode = 4; return 1 }"""),
    # the group instance muted
    "instance-muted": ("""() => { const {add, link, set} = __g;
        const e = add('EmptyImage'), i = add('ImageInvert'), f = add('ImageFlip'), p = add('PreviewImage'),
              q = add('PreviewImage');
        link(e, 0, i, 'image'); link(i, 0, f, 'image'); link(f, 0, p, 'images'); link(e, 0, q, 'images');
        return {e: e.id, i: i.id, f: f.id, p: p.id, q: q.id} }""", [("Both", ["i", "f"])],
        """([groups]) => { app.graph.getNodeById(groups.Both[0]).mode = 2; return 1 }"""),
    # two instances of one group, the second fed by the first, with different widget values
    "two-instances": ("""() => { const {add, link, set} = __g;
        const e = add('EmptyImage'), s = add('ImageScale'), b = add('ImageBlur'), p = add('PreviewImage');
        link(e, 0, s, 'image'); link(s, 0, b, 'image'); link(b, 0, p, 'images');
        return {e: e.id, s: s.id, b: b.id, p: p.id} }""", [("Step", ["s", "b"])],
        """([groups]) => { const {add, link, set} = __g; const g1 = app.graph.getNodeById(groups.Step[0]);
        const g2 = add(g1.type); const p = __g.byType('PreviewImage')[0];
        link(g1, 0, g2, 'image'); link(g2, 0, p, 'images'); set(g2, 'width', 32); set(g2, 'blur_radius', 3);
        set(g1, 'width', 128); return 1 }"""),
    # what feeds the group from outside passes a Reroute and a bypassed node
    "outer-reroute-bypass": ("""() => { const {add, link, set} = __g;
        const a = add('EmptyImage'), r = add('Reroute'), b = add('EmptyImage'), by = add('ImageInvert'),
              bl = add('ImageBlend'), f = add('ImageFlip'), p = add('PreviewImage');
        set(b, 'color', 99); a.connect(0, r, 0); link(r, 0, bl, 'image1'); link(b, 0, by, 'image');
        link(by, 0, bl, 'image2'); link(bl, 0, f, 'image'); link(f, 0, p, 'images'); by.mode = 4;
        return {a: a.id, r: r.id, b: b.id, by: by.id, bl: bl.id, f: f.id, p: p.id} }""", [("Mix", ["bl", "f"])], None),
    # a node with more than ten inputs grouped: 1.27.10 orders its socket positions as text
    "many-widgets": ("""() => { const {add, link, set} = __g;
        const ck = add('CheckpointLoaderSimple'), pos = add('CLIPTextEncode'), lat = add('EmptyLatentImage'),
              ks = add('KSamplerAdvanced'), dec = add('VAEDecode'), sv = add('PreviewImage');
        set(ks, 'noise_seed', 5); set(ks, 'steps', 30); set(ks, 'cfg', 4.5); set(ks, 'start_at_step', 3);
        set(ks, 'end_at_step', 25); set(ks, 'return_with_leftover_noise', 'enable'); set(ks, 'add_noise', 'disable');
        set(ks, 'sampler_name', 'heun'); set(ks, 'scheduler', 'exponential');
        link(ck, 0, ks, 'model'); link(ck, 1, pos, 'clip'); link(pos, 0, ks, 'positive'); link(pos, 0, ks, 'negative');
        link(lat, 0, ks, 'latent_image'); link(ks, 0, dec, 'samples'); link(ck, 2, dec, 'vae'); link(dec, 0, sv, 'images');
        return {ck: ck.id, pos: pos.id, lat: lat.id, ks: ks.id, dec: dec.id, sv: sv.id} }""",
        [("Advanced", ["lat", "ks"])], None),
    # inputs coming in through a Reroute inside the group that fans out to two inner nodes, as in a
    # widely shared 2024 inpainting workflow (rebuilt here from model-free nodes)
    "reroute-fan-in": ("""() => { const {add, link, set} = __g;
        const src = add('EmptyImage'), sm = add('SolidMask'), e = add('EmptyImage'), th = add('ThresholdMask'),
              inv = add('InvertMask'), cm = add('ImageCompositeMasked'), r = add('Reroute'), j = add('JoinImageWithAlpha'),
              p = add('PreviewImage');
        set(sm, 'value', 0.7); set(th, 'value', 0.4); set(e, 'color', 16777215);
        sm.connect(0, r, 0); link(r, 0, th, 'mask'); link(r, 0, inv, 'mask'); link(src, 0, cm, 'destination');
        link(e, 0, cm, 'source'); link(th, 0, cm, 'mask'); link(cm, 0, j, 'image'); link(inv, 0, j, 'alpha');
        link(j, 0, p, 'images');
        return {src: src.id, sm: sm.id, e: e.id, th: th.id, inv: inv.id, cm: cm.id, r: r.id, j: j.id, p: p.id} }""",
        [("Inpaint", ["e", "th", "inv", "cm", "r", "j"])], None),
    # two different groups, one feeding the other, and a node between them
    "two-groups": ("""() => { const {add, link, set} = __g;
        const e = add('EmptyImage'), i = add('ImageInvert'), f = add('ImageFlip'), r = add('ImageRotate'),
              b = add('ImageBlur'), s = add('ImageSharpen'), p = add('PreviewImage');
        set(r, 'rotation', '180 degrees'); link(e, 0, i, 'image'); link(i, 0, f, 'image'); link(f, 0, r, 'image');
        link(r, 0, b, 'image'); link(b, 0, s, 'image'); link(s, 0, p, 'images');
        return {e: e.id, i: i.id, f: f.id, r: r.id, b: b.id, s: s.id, p: p.id} }""",
        [("First", ["e", "i", "f"]), ("Second", ["b", "s"])], None),
    # a Reroute between two inner nodes
    "reroute-inside": ("""() => { const {add, link, set} = __g;
        const e = add('EmptyImage'), r = add('Reroute'), i = add('ImageInvert'), p = add('PreviewImage');
        link(e, 0, r, ''); r.connect(0, i, 0); link(i, 0, p, 'images');
        return {e: e.id, r: r.id, i: i.id, p: p.id} }""", [("Routed", ["e", "r", "i"])], None),
    # a Reroute at the group's edge, feeding an outside node
    "reroute-edge": ("""() => { const {add, link, set} = __g;
        const e = add('EmptyImage'), i = add('ImageInvert'), r = add('Reroute'), p = add('PreviewImage');
        link(e, 0, i, 'image'); i.connect(0, r, 0); r.connect(0, p, 0);
        return {e: e.id, r: r.id, i: i.id, p: p.id} }""", [("Edge", ["e", "i", "r"])], None),
    # an inner output used inside the group and outside it (an `external` link), plus an inner
    # output node
    "external": ("""() => { const {add, link, set} = __g;
        const e = add('EmptyImage'), i = add('ImageInvert'), bl = add('ImageBlend'), si = add('SaveImage'),
              p = add('PreviewImage'), q = add('PreviewImage');
        set(si, 'filename_prefix', 'grouped'); link(e, 0, i, 'image'); link(e, 0, bl, 'image1'); link(i, 0, bl, 'image2');
        link(i, 0, si, 'images'); link(i, 0, p, 'images'); link(bl, 0, q, 'images');
        return {e: e.id, i: i.id, bl: bl.id, si: si.id, p: p.id, q: q.id} }""", [("Ext", ["e", "i", "bl", "si"])], None),
    # text to image: loader, both prompts, latent and sampler grouped; decode and save outside
    "text-to-image": ("""() => { const {add, link, set} = __g;
        const ck = add('CheckpointLoaderSimple'), pos = add('CLIPTextEncode', 'Positive'), neg = add('CLIPTextEncode'),
              lat = add('EmptyLatentImage'), ks = add('KSampler'), dec = add('VAEDecode'), sv = add('SaveImage');
        set(ck, 'ckpt_name', 'v1-5-pruned-emaonly-fp16.safetensors'); set(pos, 'text', 'a red fox in the snow');
        set(neg, 'text', 'blurry'); set(lat, 'width', 640); set(ks, 'seed', 123456789); set(ks, 'steps', 12);
        set(ks, 'cfg', 6.5); set(ks, 'sampler_name', 'dpmpp_2m'); set(ks, 'scheduler', 'karras');
        link(ck, 0, ks, 'model'); link(ck, 1, pos, 'clip'); link(ck, 1, neg, 'clip'); link(pos, 0, ks, 'positive');
        link(neg, 0, ks, 'negative'); link(lat, 0, ks, 'latent_image'); link(ks, 0, dec, 'samples');
        link(ck, 2, dec, 'vae'); link(dec, 0, sv, 'images');
        return {ck: ck.id, pos: pos.id, neg: neg.id, lat: lat.id, ks: ks.id, dec: dec.id, sv: sv.id} }""",
        [("Txt2Img", ["ck", "pos", "neg", "lat", "ks"])],
        """([groups]) => { const n = app.graph.getNodeById(groups.Txt2Img[0]);
        const t = n.widgets.filter(w => w.name.endsWith('text')); t[t.length - 1].value = 'lowres, watermark';
        __g.set(n, 'steps', 9); return 1 }"""),
    # the sampler half grouped: prompts and loader outside feed the group
    "sampler-group": ("""() => { const {add, link, set} = __g;
        const ck = add('CheckpointLoaderSimple'), pos = add('CLIPTextEncode'), neg = add('CLIPTextEncode'),
              lat = add('EmptyLatentImage'), ks = add('KSampler'), dec = add('VAEDecode'), sv = add('PreviewImage');
        set(ck, 'ckpt_name', 'sd_xl_base_1.0.safetensors'); set(pos, 'text', 'a lighthouse');
        set(ks, 'seed', 42); set(ks, 'denoise', 0.8);
        link(ck, 0, ks, 'model'); link(ck, 1, pos, 'clip'); link(ck, 1, neg, 'clip'); link(pos, 0, ks, 'positive');
        link(neg, 0, ks, 'negative'); link(lat, 0, ks, 'latent_image'); link(ks, 0, dec, 'samples');
        link(ck, 2, dec, 'vae'); link(dec, 0, sv, 'images');
        return {ck: ck.id, pos: pos.id, neg: neg.id, lat: lat.id, ks: ks.id, dec: dec.id, sv: sv.id} }""",
        [("Sample", ["lat", "ks", "dec"])], None),
}


# Group configs set the way "Manage Group Node" saves them: the config stored, the group type
# registered again and every instance recreated from it.
MANAGE = """async ([name, config]) => { app.graph.extra.groupNodes[name].config = config;
    await app.refreshComboInNodes();
    for (const n of app.graph.nodes.filter(n => n.type === 'workflow>' + name)) await n.recreate();
    return 1 }"""
MANAGED = {
    # the inpainting group with its image size widgets hidden, two inputs renamed, an output hidden
    "managed": ("reroute-fan-in", "Inpaint", {
        "0": {"input": {"width": {"visible": False}, "height": {"visible": False}}},
        "1": {"input": {"MASK": {"name": "mask"}}},
        "4": {"input": {"destination": {"name": "image"}, "x": {"visible": False}}},
        "5": {"output": {"0": {"name": "RGBA"}}},
    }),
    # the blend's output (used outside) hidden, the empty image's (used inside only) shown
    "managed-outputs": ("external", "Ext", {"0": {"output": {"0": {"visible": True}}},
                                           "2": {"output": {"0": {"visible": False}}}}),
}


def build(frontend, name):
    """Build scenario `name` in the open page and return the workflow the frontend saves."""
    if name in MANAGED:
        source, group_name, config = MANAGED[name]
        frontend.load(build(frontend, source))
        frontend.evaluate(MANAGE, [group_name, config])
        return frontend.workflow()
    builder, groups, edit = SCENARIOS[name]
    frontend.evaluate(HELPERS)
    keys = frontend.evaluate(builder)
    made = {}
    for group_name, members in groups:
        made[group_name] = [group(frontend, [keys[k] for k in members], group_name)]
    if edit:
        frontend.evaluate(edit, [made, keys])
    return frontend.workflow()


def group(frontend, node_ids, name):
    """Select `node_ids` and run the frontend's "Convert to Group Node"; the new node's id."""
    before = set(frontend.evaluate("() => app.graph.nodes.map(n => n.id)"))
    frontend.evaluate("""(ids) => { app.canvas.deselectAll();
        for (const id of ids) app.canvas.select(app.graph.getNodeById(id));
        app.extensionManager.command.execute('Comfy.GroupNode.ConvertSelectedNodesToGroupNode') }""", node_ids)
    field = frontend.page.locator(".prompt-dialog-content input")
    field.wait_for(timeout=15000)
    field.fill(name)
    field.press("Enter")
    frontend.page.wait_for_function(
        "(t) => app.graph.nodes.some(n => n.type === t)", arg=f"workflow>{name}", timeout=15000)
    after = frontend.evaluate("() => app.graph.nodes.map(n => [n.id, n.type])")
    new = [i for i, t in after if i not in before and t == f"workflow>{name}"]
    if len(new) != 1:
        raise RuntimeError(f"grouping {name} made {len(new)} group nodes")
    return new[0]


# -- older shapes, rewritten from a saved workflow ----------------------------------------------

def legacy_separator(workflow):
    """Group node types as frontends before 1.2.63 wrote them: `workflow/NAME`."""
    out = copy.deepcopy(workflow)
    for node in out["nodes"]:
        if node["type"].startswith("workflow>"):
            node["type"] = "workflow/" + node["type"][len("workflow>"):]
            node.setdefault("properties", {})["Node name for S&R"] = node["type"]
    return out


def old_shapes(workflow, external_objects=True):
    """As 2024 frontends saved group nodes: widgets without input sockets unless linked, no inner
    ids or localized names, sizes as {"0", "1"}, `external` entries holding the inner node itself,
    and the instance listing only its linked (non-widget) inputs."""
    out = legacy_separator(workflow)
    for data in (out.get("extra") or {}).get("groupNodes", {}).values():
        for index, node in enumerate(data["nodes"]):
            strip_widget_sockets(node, index, data["links"])
            node.pop("id", None)
            if isinstance(node.get("size"), list):
                node["size"] = {"0": node["size"][0], "1": node["size"][1]}
            for slot in (node.get("inputs") or []) + (node.get("outputs") or []):
                slot.pop("localized_name", None)
        if external_objects:
            data["external"] = [[copy.deepcopy(data["nodes"][e[0]]), e[1], e[2]] for e in data.get("external") or []]
    for node in out["nodes"]:
        if node["type"].startswith("workflow/"):
            node["inputs"] = [s for s in node.get("inputs") or [] if not s.get("widget") or s.get("link") is not None]
        for slot in (node.get("inputs") or []) + (node.get("outputs") or []):
            slot.pop("localized_name", None)
    return out


def strip_widget_sockets(node, index, links):
    """Drop an inner node's widget sockets that no link uses, renumbering the links into it."""
    slots = node.get("inputs") or []
    used = {ln[3] for ln in links if ln[2] == index}
    keep = [i for i, s in enumerate(slots) if not s.get("widget") or i in used]
    if any(slots[i].get("widget") for i in used if i < len(slots)):
        return  # a linked widget socket: 2024 frontends ordered those differently; keep this node as it is
    new_index = {old: new for new, old in enumerate(keep)}
    node["inputs"] = [slots[i] for i in keep]
    for ln in links:
        if ln[2] == index:
            ln[3] = new_index[ln[3]]


def reversed_nodes(workflow):
    """The root nodes listed last to first (the order the frontend unpacks group nodes in)."""
    out = copy.deepcopy(workflow)
    out["nodes"] = out["nodes"][::-1]
    return out


def without_last_id(workflow):
    out = copy.deepcopy(workflow)
    out.pop("last_node_id", None)
    return out


def short_values(workflow, count):
    """Every group node instance saved with only its first `count` widget values."""
    out = copy.deepcopy(workflow)
    for node in out["nodes"]:
        if node["type"].startswith("workflow>"):
            node["widgets_values"] = (node.get("widgets_values") or [])[:count]
    return out


def hidden_inputs(workflow, group_name, hide, rename=None):
    """The group's `config` as "Manage Group Node" writes it: inputs hidden, an input renamed."""
    out = copy.deepcopy(workflow)
    data = out["extra"]["groupNodes"][group_name]
    config = data.setdefault("config", {})
    for index, names in hide.items():
        entry = config.setdefault(str(index), {}).setdefault("input", {})
        for n in names:
            entry.setdefault(n, {})["visible"] = False
    for index, (old, new) in (rename or {}).items():
        config.setdefault(str(index), {}).setdefault("input", {}).setdefault(old, {})["name"] = new
    return out


def variants(saved):
    """(name, workflow) in older shapes, from the saved scenarios `saved` ({name: workflow})."""
    for name in ("image-chain", "text-to-image", "two-instances", "external", "primitive-inside", "many-widgets",
                 "reroute-fan-in", "managed"):
        if name in saved:
            yield f"legacy-separator__{name}", legacy_separator(saved[name])
            yield f"old-shapes__{name}", old_shapes(saved[name])
    for name in ("external", "reroute-fan-in", "sampler-group"):
        if name in saved:
            yield f"old-sockets__{name}", old_shapes(saved[name], external_objects=False)
    if "two-groups" in saved:
        yield "reversed__two-groups", reversed_nodes(saved["two-groups"])
    if "two-instances" in saved:
        yield "reversed__two-instances", reversed_nodes(saved["two-instances"])
    if "image-chain" in saved:
        yield "no-last-id__image-chain", without_last_id(saved["image-chain"])
    if "widgets-on-instance" in saved:
        yield "short-values__widgets-on-instance", short_values(saved["widgets-on-instance"], 3)
    if "image-chain" in saved:
        yield "config-hidden__image-chain", hidden_inputs(saved["image-chain"], "Chain", {0: ["color"]})
    if "blend-two-inputs" in saved:
        yield "config-renamed__blend-two-inputs", hidden_inputs(saved["blend-two-inputs"], "Blend", {},
                                                                {1: ("image2", "overlay")})


def workflows(frontend):
    """(name, editor workflow) for every scenario and every older-shape variant."""
    saved = {}
    for name in list(SCENARIOS) + list(MANAGED):
        saved[name] = build(frontend, name)
        yield f"group__{name}", saved[name]
    for name, workflow in variants(saved):
        yield f"group-{name}", workflow


# -- recording ------------------------------------------------------------------------------

BUILDER = "1.27.10"  # the last frontend with "Convert to Group Node"


def pair_name(name, version):
    """Pairs from the builder frontend keep the plain name, as the older pairs do."""
    return name if version == BUILDER else f"{name}__{version}"


def record(frontend, sources, pairs_dir, object_info, object_info_path):
    """Write a pair per (name, workflow) in `sources` for the open frontend: what its
    graphToPrompt gives (or its error) and, from frontends that rewrite group nodes on load, the
    workflow as it then saves it (`saved`). Returns the pair names."""
    from support import browser
    version, names, used = frontend.version(), [], set()
    for name, workflow in sources:
        frontend.load(workflow)
        prompt, error = browser.export_or_error(frontend)
        pair = {"made_by": f"frontend {BUILDER} grouped it (Convert to Group Node) and saved it; frontend {version} "
                           "loaded it, then graphToPrompt", "frontend": version, "workflow": workflow}
        pair.update({"prompt": prompt} if error is None else {"frontend_error": error})
        if version != BUILDER:
            pair["saved"] = frontend.workflow()
        browser.write_pair(pairs_dir, pair_name(name, version), pair)
        names.append(pair_name(name, version))
        used |= browser.node_types(workflow)
    browser.merge_object_info(object_info_path, object_info, used)
    return names


def sources_from_pairs(pairs_dir):
    """The workflows the builder frontend made, read back from its pairs."""
    from support import browser
    for path in browser.pair_files(pairs_dir):
        name = browser.pair_name(path)
        if name.startswith("group") and "__" in name and not name.rsplit("__", 1)[1][:1].isdigit():
            yield name, browser.read_pair(path)["workflow"]


def main(argv):
    """PYTHONPATH=. python tests/support/browser_groups.py URL [--own-object-info]: record the
    group-node pairs.

    On a server whose frontend is 1.27.10 the scenarios are built and grouped in it; on any other
    frontend (start the server with --front-end-root, or the one a newer server serves) the
    workflows 1.27.10 made are loaded from their pairs. Writes tests/fixtures/browser/pairs/group*.
    --own-object-info keeps the server's node classes in object_info-<frontend>.json: a server
    other than 0.3.64 gives other display names, hence other `_meta` titles.
    """
    own_object_info = "--own-object-info" in argv
    argv = [a for a in argv if a != "--own-object-info"]
    import requests

    from support import browser
    import test_browser_live as live
    url = argv[0].rstrip("/")
    object_info = requests.get(url + "/object_info", timeout=60).json()
    with browser.Frontend(url) as frontend:
        version = frontend.version()
        sources = list(workflows(frontend)) if version == BUILDER else list(sources_from_pairs(live.PAIRS))
        object_info_path = (live.FIXTURES / f"object_info-{version}.json" if own_object_info
                            else browser.object_info_path(live.FIXTURES, version))
        names = record(frontend, sources, live.PAIRS, object_info, object_info_path)
    print(f"frontend {version}: {len(names)} group-node pairs in {live.PAIRS}")


if __name__ == "__main__":
    import sys
    from pathlib import Path
    sys.path[:0] = [str(Path(__file__).resolve().parents[1])]  # tests/: test_browser_live and support.*
    main(sys.argv[1:])

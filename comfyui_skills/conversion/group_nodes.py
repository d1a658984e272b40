"""Legacy group nodes (`extra.groupNodes`), read the way the official frontend reads them.

A group node instance (type `workflow>NAME`, or `workflow/NAME` before frontend 1.2.63) stands for
the nodes stored under `extra.groupNodes[NAME]`: `nodes` (inner nodes, addressed by index),
`links` ([from index, slot, to index, slot, original id, type]; a null "from" is a link that came
from outside the group), `external` (inner outputs also used outside) and `config` (inputs and
outputs hidden or renamed by "Manage Group Node").

`GroupDef` is the frontend's GroupNodeConfig: from those it works out the node type the frontend
registers for the group (its inputs, widgets and outputs, in order, with de-duplicated names) and
the maps between the group's slots and widgets and the inner nodes'. Two frontends then differ:

- 1.27.10 keeps the group node and expands it when it exports: inner nodes become `ID:index`, an
  inner input is linked straight to the node on the other end (not resolved through Reroutes,
  bypassed nodes or other group nodes, so such links are lost), a bypassed instance passes its
  inputs on by exact type while its inner nodes still run, a muted one is ignored.
  The converter follows that (see `to_api.Converter`), using the maps here.
- 1.58.1 no longer supports group nodes: on load it unpacks each instance into its inner nodes
  (new ids from the graph's counter, the instance's widget values copied in by name) and packs
  them into a subgraph (`migrate`), dropping the instance's mode. The result is exported like any
  subgraph.

Read from the frontend sources shipped in comfyui-frontend-package 1.27.10 and 1.58.1
(src/extensions/core/groupNode.ts, src/utils/executableGroupNodeChildDTO.ts,
src/utils/vintageClipboard.ts), and checked against both frontends in Chromium
(tests/fixtures/browser/pairs/group*).
"""

import copy

from ..errors import InputError
from ..schema import WIDGET_TYPES, NodeSpec
from .editor_file import IO_INPUT, IO_OUTPUT
from .widgets import FRONTEND_WIDGET_TYPES, widgets

PREFIXES = ("workflow>", "workflow/")
PRIMITIVE, REROUTE = "PrimitiveNode", "Reroute"
# Node types the editor itself registers besides the server's (a group may hold any of them).
EDITOR_TYPES = {"PrimitiveNode", "Reroute", "Note", "MarkdownNote"}


def group_name(node_type):
    """NAME for a `workflow>NAME` / `workflow/NAME` type, else None."""
    if isinstance(node_type, str):
        for prefix in PREFIXES:
            if node_type.startswith(prefix):
                return node_type[len(prefix):]
    return None


def key(value):
    """The property name JavaScript uses for `value` as an object key."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, list):
        return ",".join(key(v) for v in value)
    return "null" if value is None else str(value)


def truthy(value):
    return value not in (None, False, 0, "") and value == value  # NaN is falsy too


def js_text(value):
    return "null" if value is None else ("true" if value is True else "false" if value is False else str(value))


def groups_of(workflow):
    extra = workflow.get("extra") if isinstance(workflow, dict) else None
    groups = extra.get("groupNodes") if isinstance(extra, dict) else None
    return groups if isinstance(groups, dict) else {}


def missing_types(data, schema):
    """Inner node types neither the server nor the editor knows (the frontend then registers no
    type for the group, so its instances are unknown nodes)."""
    return [n.get("type") for n in data.get("nodes") or []
            if not (isinstance(n.get("type"), str) and (n["type"] in schema or n["type"] in EDITOR_TYPES))]


class GroupDef:
    """The node type the frontend registers for one group, and its slot and widget maps."""

    def __init__(self, name, data, schema, new):
        self.name = name
        self.new = new  # 1.58.1's rules where the two frontends' code differs
        self.schema = schema
        self.nodes = [n for n in data.get("nodes") or [] if isinstance(n, dict)]
        config = data.get("config")
        self.config = config if isinstance(config, dict) else {}
        self.links = [ln for ln in data.get("links") or [] if isinstance(ln, list) and len(ln) >= 4]
        self.links_from, self.links_to = {}, {}
        for link in self.links:
            if link[0] is None:  # it came from outside the group
                continue
            self.links_from.setdefault(key(link[0]), {}).setdefault(key(link[1]), []).append(link)
            self.links_to.setdefault(key(link[2]), {})[key(link[3])] = link
        self.external_from = {}
        for ext in data.get("external") or []:
            if isinstance(ext, list) and len(ext) >= 3 and not (self.new and ext[2] is None):
                # Older frontends stored the inner node itself here: its key matches no index.
                self.external_from.setdefault(key(ext[0]), {})[key(ext[1])] = ext[2]
        self.def_inputs = {}  # group input name -> declaration, in the order the frontend adds them
        self.slot_names = []  # group slot number -> its input name
        self.input_map = {}  # inner index -> {slot (1.27.10) or input name (1.58.1): group slot number}
        self.widget_map = {}  # inner index -> {inner widget: group widget, None when linked inside}
        self.widget_origin = {}  # group widget -> (inner index, inner widget)
        self.output_origin = []  # group output -> (inner index, inner output slot)
        self.output_types = []
        self.primitive_defs = {}
        self.primitive_targets = {}  # inner PrimitiveNode index -> [(inner index, widget)]
        seen_inputs, seen_outputs, deferred = {}, {}, []
        for index, node in enumerate(self.nodes):
            self.process_node(index, node, seen_inputs, seen_outputs, deferred)
        for step in deferred:
            step()
        self.spec = NodeSpec(f"workflow>{name}", {"input": {"required": self.def_inputs},
                                                  "output": self.output_types, "display_name": name})
        self.layout = widgets(self.spec)

    # the group node's type

    def node_def(self, index, node):
        """(inputs [(name, declaration)], output types) of an inner node, or None when the
        frontend leaves it out of the group's type."""
        node_type = node.get("type")
        spec = self.schema.node(node_type) if isinstance(node_type, str) else None
        if spec is not None:
            inputs = [(inp.name, [inp.raw_type, inp.extra]) for inp in spec.visible_inputs()]
            return inputs, list(spec.output_types)
        links_from = self.links_from.get(key(index))
        if node_type == PRIMITIVE:
            if not links_from:
                return None
            first = (links_from.get("0") or [None])[0]
            kind = first[5] if first is not None and len(first) > 5 else None
            if kind == "COMBO":
                widget = ((node.get("outputs") or [{}])[0] or {}).get("widget") or {}
                target = self.node_at(first[2])
                target_spec = self.schema.node(target.get("type")) if target else None
                inp = target_spec.inputs.get(widget.get("name")) if target_spec else None
                kind = inp.raw_type if inp is not None else None
            declaration = [kind, {}]
            self.primitive_defs[key(index)] = declaration
            return [("value", declaration)], [kind]
        if node_type == REROUTE:
            links_to = self.links_to.get(key(index))
            if links_to and links_from and not truthy(self.external_from.get(key(index), {}).get("0")):
                return None  # used inside the group only
            kind = "*"
            if links_from:
                for link in links_from.get("0") or []:
                    target = self.node_at(link[2]) or {}
                    slots = target.get("inputs") or []
                    slot = slots[link[3]] if isinstance(link[3], int) and 0 <= link[3] < len(slots) else {}
                    if kind == "*" and (slot.get("type") or not self.new):
                        kind = slot.get("type")
            elif links_to:
                link = links_to.get("0")
                origin = self.node_at(link[0]) if link else None
                outputs = (origin or {}).get("outputs") or []
                if origin and isinstance(link[1], int) and 0 <= link[1] < len(outputs):
                    kind = (outputs[link[1]] or {}).get("type")
            else:
                kind = next((ln[5] for ln in self.links if ln[2] == index and len(ln) > 5), "*")
                if kind == "*" and truthy(self.external_from.get(key(index), {}).get("0")):
                    kind = self.external_from[key(index)]["0"]
            name = key(kind)
            return [(name, [name, {"forceInput": True}])], [name]
        return None

    def node_at(self, index):
        return self.nodes[index] if isinstance(index, int) and 0 <= index < len(self.nodes) else None

    def process_node(self, index, node, seen_inputs, seen_outputs, deferred):
        found = self.node_def(index, node)
        if found is None:
            return
        inputs, outputs = found
        self.process_inputs(index, node, inputs, seen_inputs, deferred)
        for out in range(len(outputs)):
            linked = bool(self.links_from.get(key(index), {}).get(key(out)))
            has_link = linked and not truthy(self.external_from.get(key(index), {}).get(key(out)))
            custom = self.custom(index, "output", key(out))
            visible = custom.get("visible") if custom.get("visible") is not None else not has_link
            if truthy(visible):
                self.output_origin.append((index, out))
                self.output_types.append(outputs[out])

    def custom(self, index, section, name):
        entry = self.config.get(key(index))
        part = entry.get(section) if isinstance(entry, dict) else None
        found = part.get(name) if isinstance(part, dict) else None
        return found if isinstance(found, dict) else {}

    def is_widget(self, declaration):
        kind = declaration[0]
        kind = "COMBO" if isinstance(kind, list) else kind
        options = declaration[1] if len(declaration) > 1 and isinstance(declaration[1], dict) else {}
        if self.new and options.get("forceInput") is True:
            return False
        return kind in WIDGET_TYPES or kind in FRONTEND_WIDGET_TYPES

    def process_inputs(self, index, node, inputs, seen, deferred):
        if not inputs:
            return
        declarations = dict(inputs)
        saved = node.get("inputs") if isinstance(node.get("inputs"), list) else []
        converted, slots = {}, []
        widget_map = self.widget_map[index] = {}
        for name, declaration in inputs:
            if self.is_widget(declaration):
                at = next((i for i, s in enumerate(saved) if isinstance(s, dict) and s.get("name") == name
                           and isinstance(s.get("widget"), dict) and s["widget"].get("name") == name), -1)
                if at > -1:  # shown as an input socket: handled after every node's slots
                    converted[at] = name
                    widget_map[name] = None
                else:
                    shown, declaration, _ = self.input_config(index, node, name, seen, declaration)
                    self.def_inputs[shown] = declaration
                    widget_map[name] = shown
                    self.widget_origin[shown] = (index, name)
            else:
                slots.append(name)
        links_to = self.links_to.get(key(index), {})
        input_map = self.input_map[index] = {}
        for position, name in enumerate(slots):
            slot = position
            if self.new:  # 1.58.1 looks the link up by the input's real slot
                named = next((i for i, s in enumerate(saved) if isinstance(s, dict) and s.get("name") == name), -1)
                slot = named if named >= 0 else position
            link = links_to.get(key(slot))
            if link:
                self.primitive_link(link, name, declarations)
                continue
            shown, declaration, custom = self.input_config(index, node, name, seen, declarations[name])
            if custom.get("visible") is False:
                continue
            self.def_inputs[shown] = declaration
            input_map[name if self.new else position] = self.add_slot(shown)
        deferred.append(lambda: self.process_converted(index, node, declarations, slots, converted, seen))

    def process_converted(self, index, node, declarations, slots, converted, seen):
        links_to = self.links_to.get(key(index), {})
        input_map = self.input_map.setdefault(index, {})
        # 1.27.10 sorts the socket positions as JavaScript's default sort does: as text.
        order = sorted(converted) if self.new else sorted(converted, key=str)
        for position, at in enumerate(order):
            name = converted[at]
            link = links_to.get(key(at if self.new else len(slots) + position))
            if link:
                self.primitive_link(link, name, declarations)
                continue
            shown, declaration, _ = self.input_config(index, node, name, seen, declarations[name],
                                                      {"defaultInput": True})
            self.def_inputs[shown] = declaration
            self.widget_origin[shown] = (index, name)
            self.widget_map.setdefault(index, {})[name] = shown
            input_map[name if self.new else len(slots) + position] = self.add_slot(shown)

    def add_slot(self, name):
        self.slot_names.append(name)
        return len(self.slot_names) - 1

    def input_config(self, index, node, name, seen, declaration, extra=None):
        """(the group's name for this input, its declaration, its config entry): the frontend's
        getInputConfig, which prefixes a repeated name with the node's title or type."""
        custom = self.custom(index, "input", name)
        label = next((s.get("label") for s in node.get("inputs") or []
                      if isinstance(s, dict) and s.get("name") == name), None)
        shown = custom["name"] if custom.get("name") is not None else label if label is not None else name
        shown, seen_key, prefix = js_text(shown), None, ""
        if (node.get("type") == PRIMITIVE and truthy(node.get("title"))) or shown in seen:
            prefix = f"{js_text(node['title'] if node.get('title') is not None else node.get('type'))} "
            shown = f"{prefix}{name}"
            seen_key = shown
            if shown in seen:
                shown = f"{prefix}{seen[shown]} {name}"
        seen_key = seen_key or shown
        seen[seen_key] = seen.get(seen_key, 1) + 1
        if name in ("seed", "noise_seed"):
            extra = dict(extra or {}, control_after_generate=f"{prefix}control_after_generate")
        if extra:
            options = declaration[1] if len(declaration) > 1 and isinstance(declaration[1], dict) else {}
            declaration = [declaration[0], {**options, **extra}]
        return shown, declaration, custom

    def primitive_link(self, link, name, declarations):
        """An inner PrimitiveNode feeding this widget takes on its options and gets a control widget."""
        source = self.node_at(link[0])
        if not source or source.get("type") != PRIMITIVE:
            return
        declaration = self.primitive_defs.get(key(link[0]))
        if declaration is None:
            return
        target = declarations.get(name) or []
        options = target[1] if len(target) > 1 and isinstance(target[1], dict) else {}
        declaration[1] = dict(options)
        if self.widget_map.get(link[0], {}).get("value"):
            declaration[1]["control_after_generate"] = True
        self.primitive_targets.setdefault(link[0], []).append((link[2], name))

    # reading an instance

    def instance_link(self, instance_inputs, slot):
        """The saved link id of group slot `slot` on an instance: its inputs are matched by name,
        as both frontends re-point a loaded node's links."""
        if not 0 <= slot < len(self.slot_names):
            return None
        name = self.slot_names[slot]
        return next((s.get("link") for s in instance_inputs if isinstance(s, dict) and s.get("name") == name), None)


def definitions(workflow, schema, new):
    """{group name: GroupDef} for every group the frontend registers (all inner types known)."""
    out = {}
    for name, data in groups_of(workflow).items():
        if isinstance(data, dict) and not missing_types(data, schema):
            out[name] = GroupDef(name, data, schema, new)
    return out


def check_placement(workflow):
    """Neither frontend expands a group node inside a subgraph definition."""
    for sub in ((workflow.get("definitions") or {}).get("subgraphs") or []):
        for node in (sub.get("nodes") or []) if isinstance(sub, dict) else []:
            if isinstance(node, dict) and group_name(node.get("type")) is not None \
                    and group_name(node["type"]) in groups_of(workflow):
                raise InputError(f"subgraph {str(sub.get('name') or sub.get('id'))[:40]}: node {node.get('id')} is a "
                                 f"legacy group node ({node['type'][:60]}) inside a subgraph, which the frontend "
                                 "cannot export", hint="open the subgraph in ComfyUI and convert the group node "
                                                       "to nodes or to a subgraph, then save again")


# -- frontend 1.58.1: each instance unpacked and packed into a subgraph on load ---------------

def migrate(workflow, schema):
    """The workflow as frontend 1.58.1 holds it after loading: every group node instance in the
    root graph turned into a subgraph of its inner nodes, as its load-time migration does."""
    groups = definitions(workflow, schema, new=True)
    if not any(group_name(n.get("type")) in groups for n in workflow.get("nodes") or []):
        return workflow
    out = copy.deepcopy(workflow)
    state = IdCounter(out)
    subgraphs = out.setdefault("definitions", {}).setdefault("subgraphs", [])
    for node in list(out["nodes"]):
        found = groups.get(group_name(node.get("type")))
        if found is not None:
            subgraphs.append(unpack(out, node, found, state))
    return out


class IdCounter:
    """The graph's node id counter: the saved last_node_id or the highest id in use, then +1,
    skipping ids taken anywhere (the root graph or a subgraph)."""

    def __init__(self, workflow):
        used = [n.get("id") for n in workflow.get("nodes") or []]
        for sub in (workflow.get("definitions") or {}).get("subgraphs") or []:
            used += [n.get("id") for n in sub.get("nodes") or [] if isinstance(n, dict)]
        self.used = {int(i) for i in used if isinstance(i, int) and not isinstance(i, bool)}
        last = workflow.get("last_node_id")
        self.last = max([last if isinstance(last, int) and not isinstance(last, bool) and last >= 0 else 0,
                         *self.used])

    def next(self):
        self.last += 1
        while self.last in self.used:
            self.last += 1
        self.used.add(self.last)
        return self.last


def unpack(workflow, instance, group, state):
    """Replace `instance` in the root graph by a subgraph node; return the subgraph definition."""
    values = instance_widgets(instance, group)
    inner = [dict(copy.deepcopy(n), id=state.next()) for n in group.nodes]
    for node in inner:
        node["inputs"] = [dict(s, link=None) if isinstance(s, dict) else s for s in node.get("inputs") or []]
        for slot in node.get("outputs") or []:
            if isinstance(slot, dict):
                slot["links"] = []
    links = []
    sub_id = state.next()

    def connect(origin, origin_slot, target, target_slot, kind):
        slots = target.get("inputs") or []
        if not (isinstance(target_slot, int) and 0 <= target_slot < len(slots)
                and isinstance(slots[target_slot], dict)):
            return None
        link_id = f"group{sub_id}-{len(links)}"
        links.append({"id": link_id, "origin_id": origin, "origin_slot": origin_slot, "target_id": target["id"],
                      "target_slot": target_slot, "type": kind})
        slots[target_slot]["link"] = link_id
        return link_id

    for link in group.links:  # the group's own links, as pasting its nodes makes them
        origin, target = group.node_at(link[0]), group.node_at(link[2])
        if origin is not None and target is not None and isinstance(link[1], int):
            made = connect(inner[link[0]]["id"], link[1], inner[link[2]], link[3], link[5] if len(link) > 5 else None)
            if made is not None:
                add_output_link(inner[link[0]], link[1], made)
    copy_widget_values(inner, group, values)
    # the instance's links in and out, moved onto the inner nodes at the subgraph's edge
    root_links = [parse_root_link(ln) for ln in workflow.get("links") or []]
    by_id = {ln["id"]: ln for ln in root_links if ln is not None}
    sub_inputs, outer_inputs = [], []
    for index, names in group.input_map.items():
        for inner_name, slot in names.items():
            outer = by_id.get(group.instance_link(instance.get("inputs") or [], slot))
            target = inner[index]
            at = next((i for i, s in enumerate(target.get("inputs") or [])
                       if isinstance(s, dict) and s.get("name") == inner_name), -1)
            if outer is None or at < 0 or outer["origin_id"] == instance["id"]:
                continue
            made = connect(IO_INPUT, len(sub_inputs), target, at, outer["type"])
            if made is None:
                continue
            name = unique(inner_name, [s["name"] for s in sub_inputs])
            sub_inputs.append({"name": name, "type": outer["type"]})
            outer_inputs.append((name, outer))
    outputs = [{"name": f"out{k}", "type": t} for k, t in enumerate(group.output_types)]
    for k, (index, slot) in enumerate(group.output_origin):
        links.append({"id": f"group{sub_id}-out{k}", "origin_id": inner[index]["id"], "origin_slot": slot,
                      "target_id": IO_OUTPUT, "target_slot": k, "type": group.output_types[k]})
    definition = {"id": f"legacy-group-node-{sub_id}", "name": f"group node {group.name}", "nodes": inner,
                  "links": links, "inputs": sub_inputs, "outputs": outputs}
    node = {"id": sub_id, "type": definition["id"], "mode": 0, "order": instance.get("order"),
            "properties": {}, "widgets_values": [], "inputs": [], "outputs": []}
    kept = []
    for ln in workflow.get("links") or []:
        parsed = parse_root_link(ln)
        if parsed is not None and parsed["target_id"] == instance["id"]:
            continue  # replaced below
        if parsed is not None and parsed["origin_id"] == instance["id"]:
            ln = retarget(ln, sub_id)
        kept.append(ln)
    for j, (name, outer) in enumerate(outer_inputs):
        link_id = f"group{sub_id}-in{j}"
        kept.append({"id": link_id, "origin_id": outer["origin_id"], "origin_slot": outer["origin_slot"],
                     "target_id": sub_id, "target_slot": j, "type": outer["type"]})
        node["inputs"].append({"name": name, "type": outer["type"], "link": link_id})
        origin = next((n for n in workflow["nodes"] if n.get("id") == outer["origin_id"]), None)
        if origin is not None:
            add_output_link(origin, outer["origin_slot"], link_id)
    for k in range(len(group.output_types)):
        node["outputs"].append({"name": f"out{k}", "type": group.output_types[k], "links": []})
    workflow["links"] = kept
    workflow["nodes"] = [n for n in workflow["nodes"] if n is not instance] + [node]
    return definition


def instance_widgets(instance, group):
    """The instance's widgets in the group type's order, [name, value] (as its configure gives)."""
    values = instance.get("widgets_values")
    values = list(values) if isinstance(values, list) else []
    out = []
    for widget in group.layout:
        out.append([widget.name, values.pop(0) if widget.saved and values else widget.default])
    return out


def copy_widget_values(inner, group, values):
    """Each inner widget the group shows takes the instance's value, matched by name in inner
    node order, every outer widget used once (findUnconsumedWidgetIndex); a PrimitiveNode's is
    not copied."""
    consumed = set()
    for index, node in enumerate(inner):
        names = group.widget_map.get(index)
        spec = group.schema.node(node.get("type"))
        if not names or (spec is None and node.get("type") != PRIMITIVE):
            continue
        if node.get("type") == PRIMITIVE:
            # Still loading, a PrimitiveNode makes no widget for a new link, so the instance's
            # value never reaches it: it keeps the one saved in the group, or takes the widget's
            # it feeds (to_api.Converter.apply_primitive) (seen on 1.58.1).
            continue
        layout = [w for w in widgets(spec) if w.saved]
        saved = node.get("widgets_values")
        own = list(saved) if isinstance(saved, list) else []
        current = [own[i] if i < len(own) else w.default for i, w in enumerate(layout)]
        if isinstance(saved, dict):
            current = [saved.get(w.name, w.default) for w in layout]
        for inner_name, outer_name in names.items():
            if outer_name is None:
                continue
            at = next((i for i, w in enumerate(values) if w[0] == outer_name and i not in consumed), -1)
            slot = next((i for i, w in enumerate(layout) if w.name == inner_name), -1)
            if at < 0 or slot < 0:
                continue
            consumed.add(at)
            current[slot] = values[at][1]
        node["widgets_values"] = current


def parse_root_link(raw):
    if isinstance(raw, dict):
        return {k: raw.get(k) for k in ("id", "origin_id", "origin_slot", "target_id", "target_slot", "type")}
    if isinstance(raw, list) and len(raw) >= 5:
        return {"id": raw[0], "origin_id": raw[1], "origin_slot": raw[2], "target_id": raw[3],
                "target_slot": raw[4], "type": raw[5] if len(raw) > 5 else None}
    return None


def retarget(raw, origin):
    if isinstance(raw, dict):
        return dict(raw, origin_id=origin)
    return [raw[0], origin] + list(raw[2:])


def add_output_link(node, slot, link_id):
    outputs = node.get("outputs")
    if isinstance(outputs, list) and isinstance(slot, int) and 0 <= slot < len(outputs) \
            and isinstance(outputs[slot], dict):
        outputs[slot] = dict(outputs[slot], links=list(outputs[slot].get("links") or []) + [link_id])


def unique(name, taken):
    name, n = str(name), 2
    out = name
    while out in taken:
        out, n = f"{name} {n}", n + 1
    return out

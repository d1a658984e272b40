"""Editor (UI) workflow -> API prompt, following the official frontend's `graphToPrompt`.

Every real node's widget values are named by the node schema (the order the frontend builds widgets
in), links are resolved through Reroutes, bypassed nodes (passed through by type, with the editor's
link-type rule), subgraphs (ids `outer:inner`) and legacy group nodes; PrimitiveNodes push their
value into the widgets they feed (a number widget coerces it as JavaScript would, clamps and rounds
it to its step); muted and UI-only nodes are dropped, and so are inputs whose link ends at a dropped
node. Dynamic-prompt texts lose their comments and get one option of each `{a|b}` picked.
"""

import random
import re
from collections import namedtuple

from ..errors import InputError
from ..nextsteps import flag
from . import group_nodes, loaded
from .editor_file import IO_INPUT, IO_OUTPUT, Link
from .frontend import Frontend
from .widgets import (Widget, as_schema, dynamic_prompts, every_widget, expand, number_widget_value,
                      shown_after, widgets)

NEVER, BYPASS = 2, 4
UI_ONLY = {"Note", "MarkdownNote", "PrimitiveNode", "Reroute", "Comfy.ImageCompare"}
# Node types the frontend renamed on load, so old workflows still open.
RENAMED = {"T2IAdapterLoader": "ControlNetLoader", "ConditioningAverage ": "ConditioningAverage",
           "SDV_img2vid_Conditioning": "SVD_img2vid_Conditioning"}

# A promoted subgraph widget the instance node saved no value for.
UNSAVED = object()
# The node whose options are widgets the frontend grows as they are filled (customWidgets.ts).
CUSTOM_COMBO = "CustomCombo"
# The node type the frontend's node library gives a subgraph blueprint (src/utils/blueprintUtils.ts
# in 1.58.1): "SubgraphBlueprint." + the server's blueprint id (or a user blueprint's file name).
BLUEPRINT_PREFIX = "SubgraphBlueprint."

Slot = namedtuple("Slot", "name type link widget")
Resolved = namedtuple("Resolved", "origin slot value")  # value set: a widget value, not a link


def ui_to_api(workflow, object_info, keep_unknown=False, seed=None, frontend_version=None, blueprints=None):
    """The API prompt the frontend's "Export (API)" gives for this editor workflow.

    `frontend_version` names the frontend to follow where frontends differ (`_meta` fields,
    locale titles, extension widgets); None follows the newest recorded one (frontend.NEWEST).
    `blueprints` are the server's subgraph blueprints (GET /global_subgraphs entries with their
    `data`): a node of type `SubgraphBlueprint.<id or name>` becomes that blueprint's subgraph, as
    the frontend's node library inserts it (litegraphService.addNodeOnGraph); the node's own
    widgets_values, when it has them, replace the blueprint's.

    Like the frontend, a `{a|b}` choice in a dynamic-prompt text is picked at random (`seed` makes
    it repeatable) and `//` and `/* */` comments are stripped from such texts.
    """
    if not isinstance(workflow, dict):
        raise InputError("not an editor workflow: expected a JSON object with `nodes` and `links`")
    check_ui(workflow)
    schema, frontend = as_schema(object_info), Frontend(frontend_version)
    group_nodes.check_placement(workflow)
    workflow = loaded.as_loaded(workflow, schema, frontend)  # newer ones renumber and unpack as they load
    return Converter(workflow, schema, keep_unknown, seed, frontend, blueprint_library(blueprints)).run()


def blueprint_refs(workflow):
    """The blueprint ids or names the editor workflow's nodes refer to (`SubgraphBlueprint.X`)."""
    graphs = [workflow] + list(((workflow.get("definitions") or {}).get("subgraphs") or [])) \
        if isinstance(workflow, dict) else []
    return {node["type"][len(BLUEPRINT_PREFIX):] for graph in graphs if isinstance(graph, dict)
            for node in graph.get("nodes") or [] if isinstance(node, dict) and isinstance(node.get("type"), str)
            and node["type"].startswith(BLUEPRINT_PREFIX)}


def blueprint_library(entries):
    """{id and name: blueprint workflow} of the server's blueprint entries ({id: {name, data}}, data
    the workflow as JSON text, as GET /global_subgraphs/ID gives it); None when none are known."""
    if entries is None:
        return None
    import json
    library = {}
    for key, entry in (entries or {}).items() if isinstance(entries, dict) else ():
        data = entry.get("data") if isinstance(entry, dict) else None
        try:
            parsed = json.loads(data) if isinstance(data, str) else data
        except ValueError:
            continue
        if isinstance(parsed, dict) and isinstance(parsed.get("nodes"), list) and parsed["nodes"]:
            library[str(key)] = parsed
            if isinstance(entry.get("name"), str):
                library.setdefault(entry["name"], parsed)
    return library


def check_ui(workflow):
    """Refuse, naming the node and field, an editor workflow whose shape the frontend would not load.

    Checked once here so the converter itself can trust every list, id and link it reads.
    """
    check_ui_graph(workflow, "workflow")
    definitions = workflow.get("definitions")
    if definitions is not None:
        subgraphs = _expect(definitions, dict, "workflow: `definitions`").get("subgraphs") or []
        for sub in _expect(subgraphs, list, "workflow: `definitions.subgraphs`"):
            _expect(sub, dict, "workflow: a subgraph definition")
            check_ui_graph(sub, f"subgraph {str(sub.get('id'))[:40]}")
    groups = (_expect(workflow.get("extra") or {}, dict, "workflow: `extra`")).get("groupNodes") or {}
    for name, group in _expect(groups, dict, "workflow: `extra.groupNodes`").items():
        where = f"group node {str(name)[:40]}"
        for node in _expect(_expect(group, dict, where).get("nodes") or [], list, f"{where}: `nodes`"):
            _expect(node, dict, f"{where}: a node")
        for link in _expect(group.get("links") or [], list, f"{where}: `links`"):
            # [from index or null (a link from outside the group), slot, to index, slot, ...]
            if not isinstance(link, list) or len(link) < 4 or not (link[0] is None or _is_index(link[0])) \
                    or not all(_is_index(x) for x in link[1:4]):
                raise InputError(f"{where}: a link that is not [from, slot, to, slot, ...] with node indexes: "
                                 f"{str(link)[:80]}")


def check_ui_graph(raw, where):
    for node in _expect(raw.get("nodes"), list, f"{where}: `nodes`"):
        if not isinstance(node, dict) or not _is_id(node.get("id")) or not isinstance(node.get("type"), str):
            raise InputError(f"{where}: a node without an id or a type: {str(node)[:80]}")
        label = f"{where}: node {node['id']} ({node['type'][:60]})"
        for slot in _expect(node.get("inputs") or [], list, f"{label}: `inputs`"):
            if not isinstance(_expect(slot, dict, f"{label}: an input slot").get("name"), str):
                raise InputError(f"{label}: an input slot without a name: {str(slot)[:80]}")
            if slot.get("link") is not None and not _is_id(slot["link"]):
                raise InputError(f"{label}: input {str(slot.get('name'))[:40]!r} has link {str(slot['link'])[:40]}, "
                                 "not a link id")
        for slot in _expect(node.get("outputs") or [], list, f"{label}: `outputs`"):
            if slot is not None:
                _expect(_expect(slot, dict, f"{label}: an output slot").get("links") or [], list,
                        f"{label}: an output's `links`")
        if not isinstance(node.get("mode") or 0, int):
            raise InputError(f"{label}: `mode` is {str(node['mode'])[:40]}, not a number")
    for link in _expect(raw.get("links") or [], list, f"{where}: `links`"):
        ids = ([link.get(k) for k in ("id", "origin_id", "target_id")] if isinstance(link, dict)
               else [link[i] for i in (0, 1, 3)] if isinstance(link, list) and len(link) >= 5 else [None])
        if not all(_is_id(x) for x in ids):
            raise InputError(f"{where}: a link that is not [id, origin, slot, target, slot, type]: {str(link)[:80]}")


def _is_index(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_id(value):
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _expect(value, kind, what):
    if not isinstance(value, kind):
        raise InputError(f"{what} must be {'a list' if kind is list else 'an object'}, "
                         f"not {type(value).__name__ if value is not None else 'missing'}")
    return value


class Graph:
    """One level of the editor graph: the root, or one subgraph definition."""

    def __init__(self, raw, where, definition=None):
        nodes = raw.get("nodes")
        if not isinstance(nodes, list):
            raise InputError(f"{where}: `nodes` is not a list, so this is not an editor workflow")
        self.where = where
        self.definition = definition
        self.nodes = {}
        for node in nodes:
            if not isinstance(node, dict) or "id" not in node or not isinstance(node.get("type"), str):
                raise InputError(f"{where}: a node without an id or a type: {str(node)[:80]}")
            self.nodes[str(node["id"])] = node
        self.links = {}
        for raw_link in raw.get("links") or []:
            link = parse_link(raw_link, where)
            self.links[link.id] = link

    def link(self, link_id, dto, input_name):
        link = self.links.get(link_id)
        if link is None:
            raise InputError(f"{self.where}: node {dto.label} input {input_name!r} uses link {link_id}, "
                             "which the workflow does not have",
                             hint="reconnect that input in ComfyUI and save again")
        return link


def parse_link(raw, where):
    try:
        if isinstance(raw, dict):
            link = Link(raw["id"], raw["origin_id"], int(raw["origin_slot"]), raw["target_id"],
                        int(raw["target_slot"]), raw.get("type"))
        else:
            link_id, origin, oslot, target, tslot = raw[:5]
            link = Link(link_id, origin, int(oslot), target, int(tslot), raw[5] if len(raw) > 5 else None)
        if link.origin_slot < 0 or link.target_slot < 0:
            raise ValueError("a slot is never negative")
        return link
    except (KeyError, TypeError, ValueError, IndexError, OverflowError):  # int(inf) overflows
        raise InputError(f"{where}: a link that is not [id, origin, slot, target, slot, type]: "
                         f"{str(raw)[:80]}") from None


class Dto:
    """One node as the executor sees it: its full id (`outer:inner`), slots and widget values."""

    def __init__(self, raw, graph, path, instance):
        self.raw = raw
        self.graph = graph
        self.instance = instance  # the subgraph node this one sits in
        self.path = path
        self.id = ":".join(path + (str(raw["id"]),))
        self.type = RENAMED.get(raw["type"], raw["type"])
        self.mode = raw.get("mode") or 0
        self.inputs = [slot_of(s) for s in raw.get("inputs") or [] if isinstance(s, dict)]
        self.outputs = [s.get("type") if isinstance(s, dict) else None for s in raw.get("outputs") or []]
        self.widgets = []  # [Widget, value], in the frontend's widget order
        self.virtual = False
        self.subgraph = None  # Graph of the definition, for a subgraph node
        self.group = None  # group_nodes.GroupDef, for a legacy group node expanded as 1.27.10 does
        self.children = []  # its inner nodes
        self.group_parent = None  # the group node an inner node belongs to, and its index there
        self.index = None

    @property
    def label(self):
        return f"{self.id} ({self.type})"

    def widget(self, name):
        return next((pair for pair in self.widgets if pair[0].name == name), None)


def slot_of(raw):
    widget = raw.get("widget")
    return Slot(raw.get("name"), raw.get("type"), raw.get("link"),
                widget.get("name") if isinstance(widget, dict) else None)


def assign_widgets(layout, values, dto):
    """Pair the saved widgets_values with the widgets, the way the frontend's configure does: in
    order over the node's live widget list, so the widgets a dynamic combo shows for the value it
    just got take the values that follow it."""
    if isinstance(values, dict):  # some savers write {name: value}
        return [[w, values.get(w.name, w.default)] for w in expand(layout, lambda w: values.get(w.name, w.default))]
    if values is not None and not isinstance(values, list):
        raise InputError(f"node {dto.label}: widgets_values is a {type(values).__name__}, not a list")
    values = list(values or [])
    out, todo = [], list(layout)
    while todo:
        w = todo.pop(0)
        value = values.pop(0) if w.saved and values else w.default
        out.append([w, value])
        todo[0:0] = shown_after(w, value)
    return out


class Converter:
    def __init__(self, workflow, schema, keep_unknown, seed, frontend, blueprints=None):
        self.schema = schema
        self.blueprints = blueprints
        self.frontend = frontend
        self.keep_unknown = keep_unknown
        self.workflow = workflow
        self.definitions = {}
        for sub in ((workflow.get("definitions") or {}).get("subgraphs") or []):
            if isinstance(sub, dict) and sub.get("id"):
                self.definitions[sub["id"]] = sub
        self.dtos = {}
        self.dropped = set()  # ids of inner nodes the frontend leaves out with their subgraph node
        self.rng = random.Random(seed)
        self.root = Graph(workflow, "workflow")
        # Frontends before 1.47 expand group nodes themselves; later ones made them subgraphs by now.
        self.groups = {} if frontend.groups_as_subgraphs else group_nodes.definitions(workflow, schema, new=False)

    def run(self):
        self.build(self.root, (), None)
        for dto in list(self.dtos.values()):
            if dto.type == "PrimitiveNode":
                self.apply_primitive(dto)
        for dto in list(self.dtos.values()):
            if dto.group is not None:
                self.push_group_widgets(dto)
        output = {}
        for dto in self.dtos.values():
            if dto.virtual or dto.mode in (NEVER, BYPASS) or dto.id in self.dropped:
                continue
            output[dto.id] = self.serialize(dto)
        for node in output.values():
            for name, value in list(node["inputs"].items()):
                if isinstance(value, list) and len(value) == 2 and value[0] not in output:
                    del node["inputs"][name]
        return output

    # building

    def build(self, graph, path, instance):
        for raw in sorted(graph.nodes.values(), key=execution_rank):
            dto = Dto(raw, graph, path, instance)
            definition = self.definitions.get(dto.type) or self.blueprint_definition(dto)
            group = self.groups.get(group_nodes.group_name(dto.type)) if not path else None
            if definition is not None:
                self.build_subgraph(dto, definition)
            elif group is not None:
                self.build_legacy_group(dto, group)
            else:
                self.describe(dto)
            self.dtos[dto.id] = dto

    def describe(self, dto):
        if dto.type == CUSTOM_COMBO and dto.type in self.schema and self.frontend.custom_combo:
            dto.widgets = custom_combo_widgets(dto.raw.get("widgets_values"), self.frontend, dto)
            return
        if dto.type in self.schema:
            layout = widgets(self.schema.node(dto.type), self.frontend)
        elif dto.type in UI_ONLY:
            dto.virtual = True
            layout = [Widget("value", None, False, True)] if dto.type == "PrimitiveNode" else []
        else:
            layout = [Widget(s.widget, None, True, True) for s in dto.inputs if s.widget]
        dto.widgets = assign_widgets(layout, dto.raw.get("widgets_values"), dto)
        if dto.type in ("KSampler", "KSamplerAdvanced"):
            legacy_sampler_name(dto)

    def build_subgraph(self, dto, definition):
        dto.virtual = True
        name = definition.get("name") or dto.type
        dto.subgraph = Graph(definition, f"subgraph {name!r} (node {dto.id})", definition)
        dto.inputs = instance_inputs(dto, definition)
        promoted = [s.name for i, s in enumerate(dto.inputs) if self.promotes(dto.subgraph, i)]
        layout = [Widget(n, UNSAVED, True, True) for n in promoted]
        # 1.41 to 1.45 show the inner widgets' values whatever the subgraph node saved
        saved = None if self.frontend.promoted_views else dto.raw.get("widgets_values")
        dto.widgets = assign_widgets(layout, saved, dto)
        if self.frontend.quarantine:
            for pair in dto.widgets:
                pair[1] = quarantined(dto.raw).get(pair[0].name, pair[1])
        # Inner nodes keep their own modes. Frontends before 1.39 run them whatever the subgraph
        # node's mode; later ones leave out every node inside a muted or bypassed subgraph node of
        # the root graph (graphToPrompt in src/utils/executionUtil.ts skips its inner nodes; nested
        # ones it does not).
        before = set(self.dtos)
        self.build(dto.subgraph, dto.path + (str(dto.raw["id"]),), dto)
        if self.frontend.drops_muted_subgraphs and not dto.path and dto.mode in (NEVER, BYPASS):
            self.dropped |= set(self.dtos) - before
        self.take_promoted_values(dto)

    def blueprint_definition(self, dto):
        """A `SubgraphBlueprint.X` node: the blueprint's subgraph, its definitions added to ours."""
        if not dto.type.startswith(BLUEPRINT_PREFIX) or self.blueprints is None:
            return None  # without the server's blueprints it stays an unknown node type
        key = dto.type[len(BLUEPRINT_PREFIX):]
        blueprint = self.blueprints.get(key)
        if blueprint is None:
            names = sorted(k for k, v in self.blueprints.items() if len(k) != 64)
            raise InputError(f"{dto.graph.where}: node {dto.label} uses subgraph blueprint {key!r}, which the "
                             "server does not serve", hint="blueprints it serves: " + (", ".join(names) or "none"))
        root = blueprint["nodes"][0]
        subgraphs = (blueprint.get("definitions") or {}).get("subgraphs") or []
        for sub in subgraphs:
            if isinstance(sub, dict) and sub.get("id"):
                self.definitions.setdefault(sub["id"], sub)
        definition = self.definitions.get(root.get("type"))
        if definition is None:
            raise InputError(f"{dto.graph.where}: node {dto.label}: blueprint {key!r} holds no subgraph")
        if dto.raw.get("widgets_values") is None and root.get("widgets_values") is not None:
            dto.raw = dict(dto.raw, widgets_values=root["widgets_values"])
        return definition

    def build_legacy_group(self, dto, group):
        """Frontend 1.27.10's group node: a virtual node whose inner nodes run as `ID:index`."""
        dto.virtual = True
        dto.group = group
        dto.widgets = assign_widgets(group.layout, dto.raw.get("widgets_values"), dto)
        for index, node in enumerate(group.nodes):
            child = Dto(dict(node, id=index), dto.graph, (str(dto.raw["id"]),), None)
            child.group_parent, child.index = dto, index
            self.describe(child)
            dto.children.append(child)
            self.dtos[child.id] = child

    def push_group_widgets(self, dto):
        """The group node's widget values go into the inner widgets they stand for; an inner
        PrimitiveNode's go into the widgets it feeds (updateInnerWidgets)."""
        group = dto.group
        for outer_name, (index, inner_name) in group.widget_origin.items():
            pair = dto.widget(outer_name)
            if pair is None:
                continue
            child = dto.children[index]
            if child.type == group_nodes.PRIMITIVE:
                for target, name in group.primitive_targets.get(index, []):
                    set_widget(group_child(dto, target), name, pair[1])
                continue
            if child.type == group_nodes.REROUTE:
                for link in group.links_from.get(group_nodes.key(index), {}).get("0") or []:
                    target = group_child(dto, link[2])
                    slot = target.inputs[link[3]] if target and link[3] < len(target.inputs) else None
                    if slot is not None and slot.widget:
                        set_widget(target, slot.widget, pair[1])
            set_widget(child, inner_name, pair[1])

    def take_promoted_values(self, dto):
        """A promoted widget the subgraph node saved no value for holds the value of the inner
        widget it stands for (the first widget its input feeds, in the order of the input's links),
        as the frontends copy it when they promote it (SubgraphNode._setWidget; 1.27.10's
        createCopyForNode). Every inner input fed by that subgraph input then gets that value
        (ExecutableNodeDTO.resolveInput, `widgetInfo`), a text without its dynamic prompts resolved."""
        definition = dto.subgraph.definition or {}
        specs = definition.get("inputs") or []
        for index, slot in enumerate(dto.inputs):
            pair = dto.widget(slot.name)
            if pair is None or pair[1] is not UNSAVED or index >= len(specs):
                continue
            link_ids = specs[index].get("linkIds") if isinstance(specs[index], dict) else None
            links = ([dto.subgraph.links.get(i) for i in link_ids] if isinstance(link_ids, list)
                     else list(dto.subgraph.links.values()))
            for link in links:
                if link is None or link.origin_id != IO_INPUT or link.origin_slot != index:
                    continue
                inner = self.dtos.get(f"{dto.id}:{link.target_id}")
                # the input holding this link (found by link id, as the frontend does: a subgraph
                # node's saved slots need not follow its definition's order)
                target = next((s for s in inner.inputs if str(s.link) == str(link.id)), None) if inner else None
                found = inner.widget(target.widget) if target is not None and target.widget else None
                if found is not None and found[1] is not UNSAVED:
                    pair[1] = found[1]
                    break

    def promotes(self, subgraph, index):
        """A subgraph input shows a widget when what it feeds inside is a widget input."""
        for link in subgraph.links.values():
            if link.origin_id == IO_INPUT and link.origin_slot == index:
                target = subgraph.nodes.get(str(link.target_id))
                slots = (target or {}).get("inputs") or []
                if link.target_slot < len(slots) and isinstance(slots[link.target_slot], dict):
                    widget = slots[link.target_slot].get("widget")
                    name = widget.get("name") if isinstance(widget, dict) else None
                    spec = self.schema.node(RENAMED.get(target["type"], target["type"]))
                    # The editor file may name a widget the node no longer has (an input ComfyUI
                    # dropped); the frontend promotes only widgets the live node builds.
                    if spec is not None and name is not None:
                        return any(w.name == name for w in every_widget(widgets(spec)))
                    return bool(widget)
        return False

    def apply_primitive(self, dto):
        """A PrimitiveNode writes its value into every widget it is linked to. One saved without a
        value makes its widget from the widget its first link feeds, taking that value (or, when
        that link leads to no node, makes none and changes nothing): onFirstConnection in the
        frontends' src/extensions/core/widgetInputs.ts."""
        if not dto.widgets:
            return
        outputs = dto.raw.get("outputs") or []
        links = (outputs[0].get("links") if outputs and isinstance(outputs[0], dict) else None) or []
        targets = [self.primitive_target(dto, link_id) for link_id in links]
        value = dto.widgets[0][1]
        if not dto.raw.get("widgets_values"):
            if not targets or targets[0] is None:
                return
            value = targets[0][1][1]
        for found in targets:
            if found is not None:
                target, pair = found
                spec = self.schema.node(target.type) or (target.group.spec if target.group else None)
                inp = spec.inputs.get(pair[0].name) if spec else None
                pair[1] = number_widget_value(value, inp) if inp and inp.type in ("INT", "FLOAT") else value

    def primitive_target(self, dto, link_id):
        """(node, its [widget, value]) a PrimitiveNode's link feeds, or None."""
        link = dto.graph.links.get(link_id)
        target = self.dtos.get(":".join(dto.path + (str(link.target_id),))) if link is not None else None
        if target is None or link.target_slot >= len(target.inputs):
            return None
        slot = target.inputs[link.target_slot]
        pair = target.widget(slot.widget or slot.name)
        return None if pair is None else (target, pair)

    # serializing

    def serialize(self, dto):
        name = group_nodes.group_name(dto.type)
        if dto.type not in self.schema and not self.keep_unknown and name in group_nodes.groups_of(self.workflow):
            missing = sorted({str(t) for t in group_nodes.missing_types(group_nodes.groups_of(self.workflow)[name],
                                                                          self.schema)})
            raise InputError(f"{dto.graph.where}: node {dto.label}: the group node {name!r} holds node types ComfyUI "
                             f"does not know: {', '.join(missing)[:200]}",
                             hint="install the custom node packs that provide them and refresh the inventory")
        if dto.type not in self.schema and not self.keep_unknown:
            raise InputError(f"{dto.graph.where}: node {dto.label}: ComfyUI does not know the node type "
                             f"{dto.type!r}",
                             hint="install the custom node pack that provides it and refresh the inventory, "
                                  f"or pass {flag('keep_unknown')} to copy it through as it is")
        inputs = {}
        spec = self.schema.node(dto.type)
        texts = dynamic_prompts(spec) if spec else set()
        for widget, value in dto.widgets:
            if widget.api and widget.name:
                if widget.name in texts and isinstance(value, str):
                    value = dynamic_prompt(value, self.rng)
                inp = spec.inputs.get(widget.name) if spec else None
                inputs[widget.name] = self.frontend.api_value(inp.type if inp else None, value)
        for index, slot in enumerate(dto.inputs):
            got = (self.resolve_group_child_input(dto, index) if dto.group_parent is not None
                   else self.resolve_input(dto, index, set()))
            if got is None:
                continue
            if got.origin is None:
                inputs[slot.name] = wrap_list(got.value)
            else:
                inputs[slot.name] = [got.origin, got.slot]
        shown = dto.raw.get("title") or (self.frontend.title(spec) if spec else dto.type)
        return {"inputs": inputs, "class_type": dto.type, "_meta": self.frontend.meta(shown, dto.raw.get("properties"))}

    # resolving links

    def resolve_input(self, dto, index, visited, wanted=None):
        guard(visited, (id(dto.graph), dto.raw["id"], "in", index), dto)
        slot = dto.inputs[index]
        if slot.link is None:
            return None
        link = dto.graph.link(slot.link, dto, slot.name)
        if dto.instance is not None and link.origin_id == IO_INPUT:
            return self.resolve_from_outside(dto.instance, link.origin_slot, slot, visited)
        origin = self.dtos.get(":".join(dto.path + (str(link.origin_id),)))
        if origin is None:
            raise InputError(f"{dto.graph.where}: node {dto.label} input {slot.name!r} is linked to node "
                             f"{link.origin_id}, which the workflow does not have",
                             hint="reconnect that input in ComfyUI and save again")
        return self.resolve_output(origin, link.origin_slot, wanted or slot.type, visited)

    def resolve_from_outside(self, instance, index, slot, visited):
        """A link from a subgraph's input node: follow the subgraph node's input outside."""
        if index >= len(instance.inputs):
            raise InputError(f"{instance.subgraph.where}: input {slot.name!r} is linked to subgraph input "
                             f"{index}, which the subgraph does not have")
        if instance.inputs[index].link is None:
            properties = instance.raw.get("properties")
            if self.frontend.proxy_widgets and isinstance(properties, dict) \
                    and isinstance(properties.get("proxyWidgets"), list):
                return None  # 1.36 to 1.40: its widgets are proxies the input's name does not find
            pair = instance.widget(instance.inputs[index].name)
            # No saved value (newer files keep promoted values in the inner nodes, listed in
            # properties.proxyWidgets): the inner widget keeps its own, as in both frontends.
            return None if pair is None or pair[1] is UNSAVED else Resolved(None, -1, pair[1])
        return self.resolve_input(instance, index, visited)

    def resolve_output(self, dto, index, wanted, visited):
        guard(visited, (id(dto.graph), dto.raw["id"], "out", index), dto)
        if dto.mode == NEVER and self.frontend.muted_gives_nothing:
            return None  # from 1.41 a muted node gives nothing, so a widget input keeps its value
        if dto.mode == BYPASS and dto.group is None:
            match = bypass_slot(dto, index, wanted)
            return None if match < 0 else self.resolve_input(dto, match, visited)
        if dto.group is not None:
            return self.resolve_group_output(dto, index, wanted, visited)
        if dto.subgraph is not None:
            return self.resolve_subgraph_output(dto, index, wanted, visited)
        if dto.virtual and dto.subgraph is None:
            return self.resolve_input(dto, index, visited, wanted) if index < len(dto.inputs) else None
        return Resolved(dto.id, index, None)

    # frontend 1.27.10's group nodes

    def resolve_group_output(self, dto, index, wanted, visited):
        """What a link from a group node's output reaches (ExecutableGroupNodeDTO.resolveOutput):
        bypassed, the first input of exactly the wanted type; else the inner node behind that
        output, through inner Reroutes, whatever its mode."""
        if dto.mode == BYPASS:
            order = [index] + list(range(len(dto.inputs)))
            match = next((i for i in order if i < len(dto.inputs) and dto.inputs[i].type == wanted), None)
            return None if match is None else self.resolve_input(dto, match, visited)
        group = dto.group
        if index >= len(group.output_origin):
            raise InputError(f"workflow: node {dto.label}: a link leaves its output {index}, which the group "
                             f"node {group.name!r} no longer has, so the frontend cannot export the workflow",
                             hint="open it in ComfyUI, reconnect that group node's outputs and save again")
        inner, slot = group.output_origin[index]
        link = None
        while group.nodes[inner].get("type") == group_nodes.REROUTE:
            source, link = self.group_inner_source(dto, inner, 0)
            if source is None or source[0] != "inner":
                raise InputError(f"workflow: node {dto.label}: output {index} of group node {group.name!r} comes "
                                 "through a Reroute from outside the group or from nothing, which the frontend "
                                 "cannot export", hint="convert the group node to nodes in ComfyUI and save again")
            inner = source[1]
        return Resolved(f"{dto.id}:{inner}", link[1] if link else slot, None)

    def resolve_group_child_input(self, dto, index):
        """An inner node's input is linked straight to the node on its other end, inside or
        outside the group (ExecutableGroupNodeChildDTO.resolveInput): a Reroute, bypassed or
        muted node or group node there is not looked through, so the input is dropped later."""
        source, link = self.group_inner_source(dto.group_parent, dto.index, index)
        if source is None:
            return None
        return Resolved(source[1].id if source[0] == "outer" else link[0], link[1], None)

    def group_inner_source(self, parent, inner, slot):
        """(("inner", index) | ("outer", dto) | None, (origin id, origin slot) | None): what
        feeds slot `slot` of inner node `inner` (the group's getInputNode / getInputLink)."""
        group = parent.group
        outer_slot = group.input_map.get(inner, {}).get(slot)
        if outer_slot is not None:
            link_id = group.instance_link(parent.raw.get("inputs") or [], outer_slot)
            link = parent.graph.links.get(link_id) if link_id is not None else None
            origin = self.dtos.get(":".join(parent.path + (str(link.origin_id),))) if link else None
            return (("outer", origin), (origin.id, link.origin_slot)) if origin else (None, None)
        link = group.links_to.get(group_nodes.key(inner), {}).get(group_nodes.key(slot))
        source = group.node_at(link[0]) if link else None
        if source is None:
            return None, None
        found = None if source.get("type") == group_nodes.PRIMITIVE else ("inner", link[0])
        return found, (f"{parent.id}:{link[0]}", link[1])

    def resolve_subgraph_output(self, dto, index, wanted, visited):
        link = next((ln for ln in dto.subgraph.links.values()
                     if ln.target_id == IO_OUTPUT and ln.target_slot == index), None)
        if link is None:
            return None
        inner = self.dtos.get(f"{dto.id}:{link.origin_id}")
        if inner is not None and inner.id in self.dropped:
            return None  # a muted subgraph node of 1.58.1: nothing behind its outputs
        if inner is None:
            raise InputError(f"{dto.subgraph.where}: output {index} comes from node {link.origin_id}, "
                             "which the subgraph does not have")
        return self.resolve_output(inner, link.origin_slot, wanted, visited)


def custom_combo_widgets(values, frontend, dto):
    """CustomCombo's widgets, as its frontend extension builds them: `choice`, from 1.38 a hidden
    `index` (the position of the choice among the options, -1 when none holds it), then option1..N:
    an empty option is always last, and filling the last one adds another, so loading the saved
    values grows them one by one (onCustomComboCreated in src/extensions/core/customWidgets.ts)."""
    if values is not None and not isinstance(values, list):
        raise InputError(f"node {dto.label}: widgets_values is a {type(values).__name__}, not a list")
    values = list(values or [])
    choice = [Widget("choice", None, True, True), values.pop(0) if values else None]
    out = [choice]
    if frontend.custom_combo_index:
        if values:
            values.pop(0)  # its saved slot; the value is worked out
        out.append([Widget("index", -1, True, True), -1])
    options = [[Widget("option1", "", True, True), ""]]
    for at, value in enumerate(values):
        if at >= len(options):
            break
        options[at][1] = value
        if at == len(options) - 1 and value:
            options.append([Widget(f"option{at + 2}", "", True, True), ""])
    if frontend.custom_combo_index:
        out[1][1] = next((i for i, pair in enumerate(options) if pair[1] == choice[1]), -1)
    return out + options


def quarantined(raw):
    """{input name: value} a 1.58.1 subgraph node restores before its widgets_values: the host
    values kept in properties.proxyWidgetErrorQuarantine for promoted widgets it could not bind
    (entries naming source node "-1"; the first entry of a name wins). SubgraphNode.configure,
    _applyPromotedWidgetValues in src/lib/litegraph/src/subgraph/SubgraphNode.ts."""
    entries = (raw.get("properties") or {}).get("proxyWidgetErrorQuarantine") \
        if isinstance(raw.get("properties"), dict) else None
    out = {}
    for entry in entries if isinstance(entries, list) else []:
        original = entry.get("originalEntry") if isinstance(entry, dict) else None
        if isinstance(original, list) and len(original) == 2 and original[0] == "-1" and "hostValue" in entry:
            out.setdefault(original[1], entry["hostValue"])
    return out


def group_child(group_dto, index):
    return group_dto.children[index] if isinstance(index, int) and 0 <= index < len(group_dto.children) else None


def set_widget(dto, name, value):
    pair = dto.widget(name) if dto is not None else None
    if pair is not None:
        pair[1] = value


def execution_rank(raw):
    order = raw.get("order")
    return (order if isinstance(order, (int, float)) else float("inf"), str(raw.get("id")))


def instance_inputs(dto, definition):
    """A subgraph node's inputs are its definition's, with the links the saved node gives them."""
    saved = {}
    for slot in dto.inputs:
        saved.setdefault(slot.name, slot)
    out = []
    for spec in definition.get("inputs") or []:
        name = spec.get("name")
        link = saved.pop(name).link if name in saved else None
        out.append(Slot(name, spec.get("type"), link, name))
    return out


def guard(visited, key, dto):
    if key in visited:
        raise InputError(f"{dto.graph.where}: node {dto.label}: its links go round in a loop "
                         "(through reroutes, bypassed nodes or subgraphs)")
    visited.add(key)


def legacy_sampler_name(dto):
    pair = dto.widget("sampler_name")
    if pair and isinstance(pair[1], str) and pair[1].startswith("sample_"):
        pair[1] = pair[1][len("sample_"):]


COMMENTS = re.compile(r"/\*[\s\S]*?\*/|//.*")


def dynamic_prompt(text, rng):
    """The frontend's dynamic prompts: strip comments, pick one option of each {a|b|c}."""
    text = COMMENTS.sub("", text)
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i:i + 2])
            i += 2
        elif ch == "{":
            choice, i = choice_block(text, i + 1, rng)
            out.append(choice)
        else:
            out.append(ch)
            i += 1
    return re.sub(r"\\([{}|])", r"\1", "".join(out))


def choice_block(text, i, rng):
    """(the chosen option of the block opening before `i`, the index after its closing brace)."""
    options, current, depth = [], "", 0
    while i < len(text):
        ch = text[i]
        i += 1
        if ch == "\\" and i < len(text):
            current += ch + text[i]
            i += 1
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            if not depth:
                break
            depth -= 1
        elif ch == "|" and not depth:
            options.append(current)
            current = ""
            continue
        current += ch
    options.append(current)
    return dynamic_prompt(rng.choice(options), rng), i


def wrap_list(value):
    """A list value would read as a link, so the frontend boxes it."""
    return {"__value__": value} if isinstance(value, list) else value


def editor_types_match(a, b):
    """The editor's link-type rule (LiteGraph.isValidConnection): '*' and '' match anything; comma
    lists match any member. The server checks links by its own rule, validation.server_types_match."""
    if a in ("", "*", None, 0) or b in ("", "*", None, 0) or a == b:
        return True
    a, b = str(a).lower(), str(b).lower()
    if "," not in a and "," not in b:
        return a == b
    return any(x == y for x in a.split(",") for y in b.split(","))


def bypass_slot(dto, index, wanted):
    """Which input a bypassed node passes to output `index` (-1: none fits)."""
    inputs = dto.inputs
    if not inputs:
        return -1
    if wanted in ("*", ""):
        return index if len(inputs) > index else 0
    out_type = dto.outputs[index] if index < len(dto.outputs) else None
    if (index < len(inputs) and editor_types_match(inputs[index].type, out_type)
            and editor_types_match(inputs[index].type, wanted)):
        return index
    exact = next((i for i, s in enumerate(inputs) if s.type == wanted), -1)
    if exact >= 0:
        return exact
    return next((i for i, s in enumerate(inputs)
                 if editor_types_match(s.type, out_type) and editor_types_match(s.type, wanted)), -1)

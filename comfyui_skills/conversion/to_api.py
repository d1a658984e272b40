"""Editor (UI) workflows to API format and back, the way the official frontend does it.

UI -> API follows the frontend's `graphToPrompt`: every real node's widget values are named by the
node schema (the order the frontend builds widgets in), links are resolved through Reroutes,
bypassed nodes (passed through by type), subgraphs (ids `outer:inner`) and legacy group nodes;
PrimitiveNodes push their value into the widgets they feed (a number widget coerces it as JavaScript
would, clamps and rounds it to its step); muted and UI-only nodes are dropped,
and so are inputs whose link ends at a dropped node.

API -> UI builds an editor graph the frontend opens as a readable layout: nodes in columns by
dependency depth, widget values in schema order (with the control-after-generate slots), titles
from `_meta`. Converting that back gives the same API JSON.
"""

import math
import random
import re
import uuid
import weakref
from collections import namedtuple
from decimal import ROUND_HALF_UP, Decimal

from ..errors import InputError
from ..schema import Schema

NEVER, BYPASS = 2, 4
IO_INPUT, IO_OUTPUT = -10, -20  # ids of a subgraph's input and output nodes inside it
UI_ONLY = {"Note", "MarkdownNote", "PrimitiveNode", "Reroute", "Comfy.ImageCompare"}
FRONTEND_WIDGET_TYPES = {"WEBCAM", "LOAD_3D", "LOAD_3D_ANIMATION"}
# The flags for which the frontend adds an "upload" widget (not schema.UPLOAD_FLAGS: a mesh upload
# comes with the LOAD_3D widget instead).
UPLOAD_WIDGET_FLAGS = ("image_upload", "video_upload", "audio_upload", "animated_image_upload")
# Node types the frontend renamed on load, so old workflows still open.
RENAMED = {"T2IAdapterLoader": "ControlNetLoader", "ConditioningAverage ": "ConditioningAverage",
           "SDV_img2vid_Conditioning": "SVD_img2vid_Conditioning"}

# Titles the frontend (1.27) takes from its English locale where ComfyUI 0.3.64 sends no
# display_name; recorded from the frontend package, every other title comes from the schema.
LOCALE_TITLES = {"ImageBlend": "Image Blend", "ImageBlur": "Image Blur", "ImageQuantize": "Image Quantize",
                 "ImageScaleToTotalPixels": "Scale Image to Total Pixels", "ImageSharpen": "Image Sharpen"}

# A widget as the frontend builds it: `api` = sent in the prompt, `saved` = has a slot in the
# editor file's widgets_values.
Widget = namedtuple("Widget", "name default api saved")

# Widgets frontend extensions add to some core nodes after the schema's own.
EXTENSION_WIDGETS = {
    "PreviewAny": [Widget("preview", "", True, False)],
    "Preview3D": [Widget("image", "", True, True)],
    "Preview3DAnimation": [Widget("image", "", True, True)],
    "SaveGLB": [Widget("image", "", True, True)],
}

Link = namedtuple("Link", "id origin_id origin_slot target_id target_slot type")


# -- the widgets the frontend builds from the node schema ----------------------------------------

def default_value(inp):
    """What a fresh widget holds: the declared default, else the frontend's fallback."""
    if "default" in inp.extra:
        return inp.extra["default"]
    if inp.type == "COMBO":
        return inp.options[0] if inp.options else None
    if inp.type in ("INT", "FLOAT"):
        return inp.extra.get("min", 0)
    return {"STRING": "", "BOOLEAN": False}.get(inp.type, "")


def has_control(inp):
    """The frontend adds a control_after_generate combo after this widget."""
    if inp.type not in ("INT", "COMBO"):
        return False
    if "control_after_generate" in inp.extra:
        return bool(inp.extra["control_after_generate"])
    return inp.type == "INT" and inp.name in ("seed", "noise_seed")


def is_widget(inp):
    return inp.is_widget or inp.type in FRONTEND_WIDGET_TYPES


_WIDGETS = weakref.WeakKeyDictionary()


def widgets(spec):
    """The widgets the frontend builds for a node (a schema.NodeSpec), in order; worked out once."""
    if spec not in _WIDGETS:
        _WIDGETS[spec] = _layout(spec)
    return _WIDGETS[spec]


def _layout(spec):
    out = []
    for inp in spec.visible_inputs():
        if inp.type in FRONTEND_WIDGET_TYPES:
            out.append(Widget(inp.name, "", True, True))
            continue
        if not inp.is_widget:
            continue
        out.append(Widget(inp.name, default_value(inp), True, True))
        if has_control(inp):
            out.append(Widget("control_after_generate", "fixed", False, True))
        remote = inp.extra.get("remote")
        if isinstance(remote, dict) and remote.get("refresh_button"):
            out.append(Widget(None, False, False, True))
            out.append(Widget("refresh", "refresh", True, True))
        if any(inp.extra.get(flag) for flag in UPLOAD_WIDGET_FLAGS):
            out.append(Widget("upload", "image", False, True))
    return out + EXTENSION_WIDGETS.get(spec.name, [])


def dynamic_prompts(spec):
    """Names of the STRING inputs whose text the frontend runs through its dynamic-prompt parser."""
    return {inp.name for inp in spec.visible_inputs()
            if inp.type == "STRING" and inp.extra.get("dynamicPrompts") is True}


def title(spec):
    """The frontend's title: the schema's display name, else its English locale's, else the class."""
    return LOCALE_TITLES.get(spec.name, spec.name) if spec.display_name == spec.name else spec.display_name


def as_schema(object_info):
    if isinstance(object_info, Schema):
        return object_info
    if not isinstance(object_info, dict):
        raise InputError("the node schema is not an /object_info mapping")
    return Schema(object_info)


# -- UI -> API -------------------------------------------------------------------------------

Slot = namedtuple("Slot", "name type link widget")
Resolved = namedtuple("Resolved", "origin slot value")  # value set: a widget value, not a link


def ui_to_api(workflow, object_info, keep_unknown=False, seed=None):
    """The API prompt the frontend's "Export (API)" gives for this editor workflow.

    Like the frontend, a `{a|b}` choice in a dynamic-prompt text is picked at random (`seed` makes
    it repeatable) and `//` and `/* */` comments are stripped from such texts.
    """
    if not isinstance(workflow, dict):
        raise InputError("not an editor workflow: expected a JSON object with `nodes` and `links`")
    check_ui(workflow)
    return Converter(workflow, as_schema(object_info), keep_unknown, seed).run()


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
            if isinstance(link, list) and not all(_is_id(x) for x in link[:4]):
                raise InputError(f"{where}: a link whose ids are not numbers or strings: {str(link)[:80]}")


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
    """Pair the saved widgets_values with the widgets, the way the frontend's configure does."""
    if isinstance(values, dict):  # some savers write {name: value}
        return [[w, values.get(w.name, w.default)] for w in layout]
    if values is not None and not isinstance(values, list):
        raise InputError(f"node {dto.label}: widgets_values is a {type(values).__name__}, not a list")
    values = list(values or [])
    out = []
    for w in layout:
        out.append([w, values.pop(0) if w.saved and values else w.default])
    return out


class Converter:
    def __init__(self, workflow, schema, keep_unknown, seed=None):
        self.schema = schema
        self.keep_unknown = keep_unknown
        self.workflow = workflow
        self.definitions = {}
        for sub in ((workflow.get("definitions") or {}).get("subgraphs") or []):
            if isinstance(sub, dict) and sub.get("id"):
                self.definitions[sub["id"]] = sub
        self.dtos = {}
        self.rng = random.Random(seed)
        self.root = Graph(workflow, "workflow")

    def run(self):
        self.build(self.root, (), None)
        for dto in list(self.dtos.values()):
            if dto.type == "PrimitiveNode":
                self.apply_primitive(dto)
        output = {}
        for dto in self.dtos.values():
            if dto.virtual or dto.mode in (NEVER, BYPASS):
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
            definition = self.definitions.get(dto.type) or self.group_definition(dto)
            if definition is not None:
                self.build_subgraph(dto, definition)
            else:
                self.describe(dto)
            self.dtos[dto.id] = dto

    def describe(self, dto):
        if dto.type in self.schema:
            layout = widgets(self.schema.node(dto.type))
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
        layout = [Widget(n, None, True, True) for n in promoted]
        dto.widgets = assign_widgets(layout, dto.raw.get("widgets_values"), dto)
        # Inner nodes keep their own modes: bypassing a subgraph node in the editor sets theirs too.
        self.build(dto.subgraph, dto.path + (str(dto.raw["id"]),), dto)

    def group_definition(self, dto):
        """A legacy group node (extra.groupNodes), recast as a subgraph of its inner nodes."""
        prefix, _, name = dto.type.partition(">") if ">" in dto.type else dto.type.partition("/")
        groups = (self.workflow.get("extra") or {}).get("groupNodes") or {}
        if prefix != "workflow" or not isinstance(groups.get(name), dict):
            return None
        return group_as_subgraph(groups[name], dto, self.schema)

    def promotes(self, subgraph, index):
        """A subgraph input shows a widget when what it feeds inside is a widget input."""
        for link in subgraph.links.values():
            if link.origin_id == IO_INPUT and link.origin_slot == index:
                target = subgraph.nodes.get(str(link.target_id))
                slots = (target or {}).get("inputs") or []
                if link.target_slot < len(slots) and isinstance(slots[link.target_slot], dict):
                    return bool(slots[link.target_slot].get("widget"))
        return False

    def apply_primitive(self, dto):
        """A PrimitiveNode writes its value into every widget it is linked to."""
        if not dto.widgets:
            return
        value = dto.widgets[0][1]
        outputs = dto.raw.get("outputs") or []
        links = (outputs[0].get("links") if outputs and isinstance(outputs[0], dict) else None) or []
        for link_id in links:
            link = dto.graph.links.get(link_id)
            if link is None:
                continue
            target = self.dtos.get(":".join(dto.path + (str(link.target_id),)))
            if target is None or link.target_slot >= len(target.inputs):
                continue
            slot = target.inputs[link.target_slot]
            pair = target.widget(slot.widget or slot.name)
            if pair is not None:
                spec = self.schema.node(target.type)
                inp = spec.inputs.get(pair[0].name) if spec else None
                pair[1] = number_widget_value(value, inp) if inp and inp.type in ("INT", "FLOAT") else value

    # serializing

    def serialize(self, dto):
        if dto.type not in self.schema and not self.keep_unknown:
            raise InputError(f"{dto.graph.where}: node {dto.label}: ComfyUI does not know the node type "
                             f"{dto.type!r}",
                             hint="install the custom node pack that provides it and refresh the inventory, "
                                  "or pass --keep-unknown to copy it through as it is")
        inputs = {}
        spec = self.schema.node(dto.type)
        texts = dynamic_prompts(spec) if spec else set()
        for widget, value in dto.widgets:
            if widget.api and widget.name:
                if widget.name in texts and isinstance(value, str):
                    value = dynamic_prompt(value, self.rng)
                inputs[widget.name] = wrap_list(value)
        for index, slot in enumerate(dto.inputs):
            got = self.resolve_input(dto, index, set())
            if got is None:
                continue
            if got.origin is None:
                inputs[slot.name] = wrap_list(got.value)
            else:
                inputs[slot.name] = [got.origin, got.slot]
        shown = dto.raw.get("title") or (title(spec) if spec else dto.type)
        return {"inputs": inputs, "class_type": dto.type, "_meta": {"title": shown}}

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
            pair = instance.widget(instance.inputs[index].name)
            return None if pair is None else Resolved(None, -1, pair[1])
        return self.resolve_input(instance, index, visited)

    def resolve_output(self, dto, index, wanted, visited):
        guard(visited, (id(dto.graph), dto.raw["id"], "out", index), dto)
        if dto.mode == BYPASS:
            match = bypass_slot(dto, index, wanted)
            return None if match < 0 else self.resolve_input(dto, match, visited)
        if dto.subgraph is not None:
            return self.resolve_subgraph_output(dto, index, wanted, visited)
        if dto.virtual and dto.subgraph is None:
            return self.resolve_input(dto, index, visited, wanted) if index < len(dto.inputs) else None
        return Resolved(dto.id, index, None)

    def resolve_subgraph_output(self, dto, index, wanted, visited):
        link = next((ln for ln in dto.subgraph.links.values()
                     if ln.target_id == IO_OUTPUT and ln.target_slot == index), None)
        if link is None:
            return None
        inner = self.dtos.get(f"{dto.id}:{link.origin_id}")
        if inner is None:
            raise InputError(f"{dto.subgraph.where}: output {index} comes from node {link.origin_id}, "
                             "which the subgraph does not have")
        return self.resolve_output(inner, link.origin_slot, wanted, visited)


def group_as_subgraph(data, dto, schema):
    """Inner nodes get ids 0, 1, ...; unlinked inputs and outputs become the group node's slots
    in inner-node order, and the group node's widget values go to the inner widgets in order."""
    nodes = [dict(n, id=i) for i, n in enumerate(data.get("nodes") or []) if isinstance(n, dict)]
    nodes = [n for n in nodes if isinstance(n.get("type"), str)]
    raw_links = [ln for ln in data.get("links") or [] if isinstance(ln, list) and len(ln) >= 4 and ln[0] is not None]
    linked_in = {(ln[2], ln[3]) for ln in raw_links}
    linked_out = {(ln[0], ln[1]) for ln in raw_links}
    external = {(e[0], e[1]) for e in data.get("external") or [] if isinstance(e, list) and len(e) >= 2}
    links = [Link(f"g{n}", ln[0], int(ln[1]), ln[2], int(ln[3]), ln[5] if len(ln) > 5 else None)
             for n, ln in enumerate(raw_links)]
    inputs, outputs, values = [], [], list(dto.raw.get("widgets_values") or [])
    for node in nodes:
        linked_widgets = {s.get("widget", {}).get("name") for j, s in enumerate(node.get("inputs") or [])
                          if isinstance(s, dict) and (node["id"], j) in linked_in}
        for j, slot in enumerate(node.get("inputs") or []):
            if isinstance(slot, dict) and not slot.get("widget") and (node["id"], j) not in linked_in:
                links.append(Link(f"i{len(inputs)}", IO_INPUT, len(inputs), node["id"], j, slot.get("type")))
                inputs.append({"name": slot.get("name"), "type": slot.get("type")})
        for k, slot in enumerate(node.get("outputs") or []):
            if (node["id"], k) not in linked_out or (node["id"], k) in external:
                links.append(Link(f"o{len(outputs)}", node["id"], k, IO_OUTPUT, len(outputs), None))
                outputs.append({"name": (slot or {}).get("name"), "type": (slot or {}).get("type")})
        if node.get("type") in schema and values:
            own = list(node.get("widgets_values") or [])
            layout = [w for w in widgets(schema.node(node["type"])) if w.saved]
            node["widgets_values"] = [values.pop(0) if values and w.name not in linked_widgets
                                      else (own[i] if i < len(own) else w.default)
                                      for i, w in enumerate(layout)]
    by_id = {node["id"]: node for node in nodes}
    for link in links:  # inner slots point at the links just made
        target = by_id.get(link.target_id)
        if target is not None and link.target_slot < len(target.get("inputs") or []):
            target["inputs"] = list(target["inputs"])
            target["inputs"][link.target_slot] = dict(target["inputs"][link.target_slot], link=link.id)
    outer = [slot for slot in dto.inputs if not slot.widget]
    for index, spec in enumerate(inputs):  # the group node may show renamed copies of these slots
        if index < len(outer):
            spec["name"] = outer[index].name
    return {"id": dto.type, "name": dto.type, "nodes": nodes, "inputs": inputs, "outputs": outputs,
            "links": [link._asdict() for link in links]}


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


def types_match(a, b):
    """LiteGraph.isValidConnection: '*' and '' match anything; comma lists match any member."""
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
    if index < len(inputs) and types_match(inputs[index].type, out_type) and types_match(inputs[index].type, wanted):
        return index
    exact = next((i for i, s in enumerate(inputs) if s.type == wanted), -1)
    if exact >= 0:
        return exact
    return next((i for i, s in enumerate(inputs)
                 if types_match(s.type, out_type) and types_match(s.type, wanted)), -1)


# -- API -> UI -------------------------------------------------------------------------------

NODE_WIDTH, COLUMN_GAP, ROW_GAP = 340, 100, 40
TITLE_HEIGHT, SLOT_HEIGHT, WIDGET_HEIGHT, TEXT_HEIGHT = 30, 22, 26, 120
# The frontend grows a node that shows its uploaded image or video to fit the preview; room is
# kept for it so the node does not grow over the one placed below.
PREVIEW_HEIGHT = 220
PREVIEW_FLAGS = ("image_upload", "animated_image_upload", "video_upload")
CONTROL_DEFAULTS = {"control_after_generate": "fixed", "upload": "image", None: False}


def api_to_ui(api, object_info, keep_unknown=False):
    """An editor workflow that opens as a tidy graph and converts back to exactly `api`.

    Ids like `outer:inner` (from subgraphs) become subgraphs again, so they survive the round trip.
    """
    schema = as_schema(object_info)
    return UiBuilder(check_api(api, schema), schema, keep_unknown).build()


def check_api(api, schema):
    """Refuse, naming the node and input, an API workflow that cannot be drawn as a graph."""
    if not isinstance(api, dict) or not api:
        raise InputError("not an API workflow: expected {node_id: {class_type, inputs}}")
    for node_id, node in api.items():
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
            raise InputError(f"node {node_id}: not a node (no class_type)")
        label = f"node {node_id} ({node['class_type']})"
        if not isinstance(node.get("inputs", {}), dict):
            raise InputError(f"{label}: `inputs` is not an object")
        if not isinstance(node.get("_meta", {}), dict):
            raise InputError(f"{label}: `_meta` is not an object")
    for node_id, node in api.items():
        for name, value in node.get("inputs", {}).items():
            if is_link(value):
                check_api_link(api, schema, f"node {node_id} ({node['class_type']})", name, value)
    return api


def check_api_link(api, schema, label, name, link):
    source_id, slot = str(link[0]), link[1]
    source = api.get(source_id)
    if not isinstance(source, dict):
        raise InputError(f"{label}: input {name!r} links to node {source_id}, which the workflow does not have")
    spec = schema.node(source["class_type"])
    count = len(spec.output_types) if spec is not None else None
    if slot < 0 or (count is not None and slot >= count):
        raise InputError(f"{label}: input {name!r} links to output {slot} of node {source_id} "
                         f"({source['class_type']}), which has {count} output(s)")


def is_link(value):
    return (isinstance(value, list) and len(value) == 2 and isinstance(value[0], (str, int))
            and not isinstance(value[0], bool) and isinstance(value[1], int) and not isinstance(value[1], bool))


class Scope:
    """The root graph or one subgraph being built: its nodes, links and IO slots."""

    def __init__(self, path):
        self.path = path
        self.nodes = {}  # local id -> node JSON
        self.links = []  # Link
        self.inputs = []  # [name, type, source key]
        self.outputs = []  # [name, type, (inner node, slot)]


class UiBuilder:
    def __init__(self, api, schema, keep_unknown):
        self.api = api
        self.schema = schema
        self.keep_unknown = keep_unknown
        self.scopes = {}
        self.next_link = 1
        self.ids = {}  # api id -> (scope path, local int id)

    def build(self):
        self.place_ids()
        for api_id in self.ordered_ids():
            self.add_node(api_id)
        for api_id in self.ordered_ids():
            self.add_links(api_id)
        for path in sorted(self.scopes, key=len, reverse=True):
            if path:
                self.finish_instance(path)
        root = self.scopes[()]
        layout(root, self.ui_edges(root))
        subgraphs = [self.definition(path) for path in sorted(self.scopes) if path]
        out = {
            "id": str(uuid.uuid4()), "revision": 0,
            "last_node_id": max(self.all_ids(), default=0),
            "last_link_id": self.next_link - 1,
            "nodes": list(root.nodes.values()),
            "links": [list(link) for link in root.links],
            "groups": [], "config": {},
            "extra": {"ds": {"scale": 1, "offset": [0, 0]}},
            "version": 0.4,
        }
        if subgraphs:
            out["definitions"] = {"subgraphs": subgraphs}
        return out

    # ids

    def ordered_ids(self):
        return sorted(self.api, key=id_sort_key)

    def place_ids(self):
        """Each API id -> (subgraph path, local node id); non-numeric ids get fresh numbers."""
        taken = {}
        for api_id in self.ordered_ids():
            parts = str(api_id).split(":")
            path = tuple(parts[:-1])
            for depth in range(len(path) + 1):
                self.scopes.setdefault(path[:depth], Scope(path[:depth]))
            taken.setdefault(path, set())
            if parts[-1].isdigit():
                taken[path].add(int(parts[-1]))
        for path in self.scopes:
            if path:
                taken.setdefault(path[:-1], set())
                if not path[-1].isdigit():
                    raise InputError(f"node ids under {':'.join(path)!r}: a subgraph path needs numeric ids")
                taken[path[:-1]].add(int(path[-1]))
        for api_id in self.ordered_ids():
            parts = str(api_id).split(":")
            path = tuple(parts[:-1])
            if parts[-1].isdigit():
                local = int(parts[-1])
                if path + (parts[-1],) in self.scopes:
                    raise InputError(f"node {api_id} has the same id as the subgraph {api_id}:… beside it")
            else:
                local = max(taken[path], default=0) + 1
            taken[path].add(local)
            self.ids[api_id] = (path, local)

    def all_ids(self):
        return [local for scope in self.scopes.values() for local in scope.nodes]

    # nodes

    def add_node(self, api_id):
        node = self.api[api_id]
        cls = node["class_type"]
        path, local = self.ids[api_id]
        if cls not in self.schema and not self.keep_unknown:
            raise InputError(f"node {api_id}: ComfyUI does not know the node type {cls!r}",
                             hint="install the custom node pack that provides it and refresh the inventory, "
                                  "or pass --keep-unknown to copy it through as it is")
        inputs = node.get("inputs") or {}
        slots, values = (self.known_slots(cls, inputs) if cls in self.schema
                         else unknown_slots(inputs))
        ui = {"id": local, "type": cls, "pos": [0, 0], "size": [NODE_WIDTH, 0], "flags": {}, "order": 0,
              "mode": 0, "inputs": slots, "outputs": self.outputs_of(api_id, cls),
              "properties": {"Node name for S&R": cls}, "widgets_values": values}
        shown = (node.get("_meta") or {}).get("title")
        if isinstance(shown, str) and shown and shown != (title(self.schema.node(cls)) if cls in self.schema else cls):
            ui["title"] = shown
        ui["size"][1] = node_height(ui, self.schema, cls)
        self.scopes[path].nodes[local] = ui

    def known_slots(self, cls, inputs):
        spec = self.schema.node(cls)
        slots = []
        for inp in spec.visible_inputs():
            widget = is_widget(inp)
            if widget and not is_link(inputs.get(inp.name)):
                continue
            slot = {"name": inp.name, "type": inp.type, "link": None}
            if widget:
                slot["widget"] = {"name": inp.name}
            slots.append(slot)
        known = {inp.name for inp in spec.visible_inputs()}
        slots += [{"name": n, "type": "*", "link": None} for n, v in inputs.items()
                  if n not in known and is_link(v)]
        values = []
        for w in widgets(spec):
            if not w.saved:
                continue
            value = inputs.get(w.name) if w.api else None
            if w.api and w.name in inputs and not is_link(value):
                values.append(unwrap_list(value))
            elif not w.api:
                values.append(CONTROL_DEFAULTS.get(w.name, w.default))
            else:
                values.append(w.default)
        return slots, values

    def outputs_of(self, api_id, cls):
        spec = self.schema.node(cls)
        if spec is None:
            used = [v[1] for n in self.api.values() for v in (n.get("inputs") or {}).values()
                    if is_link(v) and str(v[0]) == str(api_id)]
            return [{"name": "*", "type": "*", "links": []} for _ in range(max(used, default=-1) + 1)]
        names = spec.output_names
        return [{"name": names[i] if i < len(names) else str(t), "type": "COMBO" if isinstance(t, list) else t,
                 "links": []} for i, t in enumerate(spec.output_types)]

    # links

    def add_links(self, api_id):
        path, local = self.ids[api_id]
        target = self.scopes[path].nodes[local]
        for name, value in (self.api[api_id].get("inputs") or {}).items():
            if not is_link(value):
                continue
            origin = str(value[0])
            if origin not in self.ids:
                raise InputError(f"node {api_id} ({self.api[api_id]['class_type']}) input {name!r} is linked "
                                 f"to node {origin}, which the workflow does not have")
            slot_index = next(i for i, s in enumerate(target["inputs"]) if s["name"] == name)
            opath, olocal = self.ids[origin]
            common = common_prefix(path, opath)
            source = self.export(common, opath, olocal, value[1])
            self.deliver(common, source, path, local, slot_index)

    def export(self, scope_path, opath, olocal, slot):
        """(node, slot) in `scope_path` that carries output `slot` of `olocal` in `opath`."""
        if scope_path == opath:
            return olocal, slot
        child = scope_path + (opath[len(scope_path)],)
        inner = self.export(child, opath, olocal, slot)
        scope = self.scopes[child]
        for index, (_, _, src) in enumerate(scope.outputs):
            if src == inner:
                return int(child[-1]), index
        scope.outputs.append([self.output_name(child, inner), self.slot_type(child, inner), inner])
        self.link(child, inner, IO_OUTPUT, len(scope.outputs) - 1)
        return int(child[-1]), len(scope.outputs) - 1

    def deliver(self, scope_path, source, tpath, tlocal, tslot):
        if scope_path == tpath:
            self.link(scope_path, source, tlocal, tslot)
            return
        child = scope_path + (tpath[len(scope_path)],)
        scope = self.scopes[child]
        key = (scope_path, source)
        index = next((i for i, s in enumerate(scope.inputs) if s[2] == key), None)
        if index is None:
            target = self.scopes[tpath].nodes[tlocal]["inputs"][tslot]
            scope.inputs.append([unique_name(target["name"], [s[0] for s in scope.inputs]),
                                 self.slot_type(scope_path, source), key])
            index = len(scope.inputs) - 1
            self.link(scope_path, source, int(child[-1]), index)
        self.deliver(child, (IO_INPUT, index), tpath, tlocal, tslot)

    def link(self, path, source, target, tslot):
        """A link in one scope; links into a subgraph node are wired up in finish_instance."""
        scope = self.scopes[path]
        link = Link(self.next_link, source[0], source[1], target, tslot, self.slot_type(path, source))
        self.next_link += 1
        scope.links.append(link)
        if target in scope.nodes:
            scope.nodes[target]["inputs"][tslot]["link"] = link.id
        if source[0] in scope.nodes:
            scope.nodes[source[0]]["outputs"][source[1]]["links"].append(link.id)

    def slot_type(self, path, source):
        node_id, slot = source
        if node_id == IO_INPUT:
            return self.scopes[path].inputs[slot][1]
        node = self.scopes[path].nodes.get(node_id)
        if node is None:  # a subgraph node whose outputs are being made
            return self.scopes[path + (str(node_id),)].outputs[slot][1]
        outputs = node["outputs"]
        return outputs[slot]["type"] if slot < len(outputs) else "*"

    def output_name(self, path, source):
        node = self.scopes[path].nodes.get(source[0])
        outputs = (node or {}).get("outputs") or []
        name = outputs[source[1]]["name"] if source[1] < len(outputs) else "output"
        return unique_name(name, [s[0] for s in self.scopes[path].outputs])

    # subgraphs

    def finish_instance(self, path):
        """The subgraph node standing for `path` in its parent, with its slots and links."""
        scope, parent = self.scopes[path], self.scopes[path[:-1]]
        local = int(path[-1])
        node = {"id": local, "type": self.definition_id(path), "pos": [0, 0], "size": [NODE_WIDTH, 0],
                "flags": {}, "order": 0, "mode": 0,
                "inputs": [{"name": n, "type": t, "link": None} for n, t, _ in scope.inputs],
                "outputs": [{"name": n, "type": t, "links": []} for n, t, _ in scope.outputs],
                "properties": {}, "widgets_values": []}
        node["size"][1] = TITLE_HEIGHT + SLOT_HEIGHT * max(len(node["inputs"]), len(node["outputs"]), 1)
        parent.nodes[local] = node
        for link in parent.links:
            if link.target_id == local:
                node["inputs"][link.target_slot]["link"] = link.id
            if link.origin_id == local:
                node["outputs"][link.origin_slot]["links"].append(link.id)

    def definition_id(self, path):
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "comfyui-skills/subgraph/" + ":".join(path)))

    def definition(self, path):
        scope = self.scopes[path]
        left, top, right = layout(scope, self.ui_edges(scope))
        mid = top + 40
        return {
            "id": self.definition_id(path), "version": 1,
            "state": {"lastGroupId": 0, "lastNodeId": max(scope.nodes, default=0),
                      "lastLinkId": self.next_link - 1, "lastRerouteId": 0},
            "revision": 0, "config": {}, "name": f"Subgraph {':'.join(path)}",
            "inputNode": {"id": IO_INPUT, "bounding": [left - 260, mid, 120, 40 + 20 * len(scope.inputs)]},
            "outputNode": {"id": IO_OUTPUT, "bounding": [right + 140, mid, 120, 40 + 20 * len(scope.outputs)]},
            "inputs": [self.io_slot(path, i, n, t, IO_INPUT) for i, (n, t, _) in enumerate(scope.inputs)],
            "outputs": [self.io_slot(path, i, n, t, IO_OUTPUT) for i, (n, t, _) in enumerate(scope.outputs)],
            "widgets": [], "nodes": list(scope.nodes.values()), "groups": [],
            "links": [link._asdict() for link in scope.links], "extra": {},
        }

    def io_slot(self, path, index, name, kind, io_id):
        links = self.scopes[path].links
        ids = [ln.id for ln in links if (ln.origin_id if io_id == IO_INPUT else ln.target_id) == io_id
               and (ln.origin_slot if io_id == IO_INPUT else ln.target_slot) == index]
        slot_id = uuid.uuid5(uuid.NAMESPACE_URL, f"comfyui-skills/slot/{':'.join(path)}/{io_id}/{index}")
        return {"id": str(slot_id), "name": name, "type": kind, "linkIds": ids, "localized_name": name}

    def ui_edges(self, scope):
        return [(ln.origin_id, ln.target_id) for ln in scope.links
                if ln.origin_id in scope.nodes and ln.target_id in scope.nodes]


def unknown_slots(inputs):
    """Best effort for a node type the schema lacks: links as slots, values as named widgets."""
    slots, values = [], []
    for name, value in inputs.items():
        if is_link(value):
            slots.append({"name": name, "type": "*", "link": None})
        else:
            slots.append({"name": name, "type": "*", "link": None, "widget": {"name": name}})
            values.append(unwrap_list(value))
    return slots, values


def unwrap_list(value):
    if isinstance(value, dict) and set(value) == {"__value__"}:
        return value["__value__"]
    return value


def id_sort_key(api_id):
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in str(api_id).split(":"))


def common_prefix(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def unique_name(name, taken):
    if name not in taken:
        return name
    n = 1
    while f"{name}_{n}" in taken:
        n += 1
    return f"{name}_{n}"


JS_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
JS_RADIX = {"0x": 16, "0o": 8, "0b": 2}


def js_number(value):
    """JavaScript's Number(value); nan where it gives NaN."""
    if isinstance(value, (bool, int, float)):
        return float(value)
    if value is None:
        return 0.0
    if isinstance(value, list):  # Number([x]) reads String([x])
        if not value:
            return 0.0
        only = value[0]
        return js_number(only) if len(value) == 1 and not isinstance(only, (bool, dict)) else math.nan
    if not isinstance(value, str):
        return math.nan
    text = value.strip()
    if not text:
        return 0.0
    if text.lstrip("+-") == "Infinity":
        return -math.inf if text[0] == "-" else math.inf
    radix = JS_RADIX.get(text[:2].lower())
    if radix:
        try:
            return float(int(text[2:], radix)) if text[2:].isalnum() else math.nan
        except ValueError:
            return math.nan
    return float(text) if JS_DECIMAL.fullmatch(text) else math.nan


def js_round(x):
    """Math.round: halves go up, toward +infinity."""
    return math.floor(x + 0.5)


def js_to_fixed(x, digits):
    """Number(x.toFixed(digits)): the exact binary value rounded half away from zero."""
    return float(Decimal(x).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def number_widget_value(value, inp):
    """What the frontend's INT/FLOAT widget holds after a PrimitiveNode writes `value` into it
    (seen on the real frontend: 'PBR' -> null, '12' -> 12, '' -> min, 7.777 -> 7.8 at step 0.1)."""
    x = js_number(value)
    if math.isnan(x):
        return None
    low, high = inp.min if inp.min is not None else 0, inp.max if inp.max is not None else 2048
    if inp.type == "INT":
        step = inp.step or 1
        if math.isfinite(x):
            offset = math.fmod(low, step) if step != 1 else 0
            x = js_round((x - offset) / step) * step + offset
        x = min(max(x, low), high)
        return js_integer(x)
    step = inp.step if inp.step else 0.5
    precision = max(0, -math.floor(math.log10(step)))
    unit = inp.extra.get("round") or (10 ** -precision if precision else None)
    if unit and math.isfinite(x):
        x = js_to_fixed(js_round(x / unit) * unit, precision)
    return min(max(x, low), high)


def js_integer(x):
    """An integral JS number as JSON.stringify prints it (2**64 - 1 is 18446744073709552000)."""
    return int(Decimal(repr(float(x)))) if math.isfinite(x) else None


def node_height(ui, schema, cls):
    slots = max(len(ui["inputs"]), len(ui["outputs"]), 1)
    spec = schema.node(cls)
    texts = {inp.name for inp in spec.visible_inputs() if inp.extra.get("multiline")} if spec else set()
    layout = widgets(spec) if spec else []
    height = sum(TEXT_HEIGHT if w.name in texts else WIDGET_HEIGHT for w in layout if w.saved)
    if spec and any(inp.extra.get(flag) for inp in spec.visible_inputs() for flag in PREVIEW_FLAGS):
        height += PREVIEW_HEIGHT
    return TITLE_HEIGHT + SLOT_HEIGHT * slots + height + 10


def layout(scope, edges):
    """Columns by dependency depth, rows ordered by where their inputs come from.

    Sets pos and order on every node; returns (left, top, right) of the drawing.
    """
    parents = {n: [] for n in scope.nodes}
    for origin, target in edges:
        parents[target].append(origin)
    depth = {}

    def depth_of(node_id, trail=()):
        if node_id not in depth:
            depth[node_id] = 0 if node_id in trail else 1 + max(
                (depth_of(p, trail + (node_id,)) for p in parents[node_id]), default=-1)
        return depth[node_id]

    columns = {}
    for node_id in sorted(scope.nodes):
        columns.setdefault(depth_of(node_id), []).append(node_id)
    rows, x, order = {}, 0, 0
    for col in sorted(columns):
        ids = sorted(columns[col], key=lambda n: (barycenter(n, parents, rows), n))
        y = 0
        for node_id in ids:
            node = scope.nodes[node_id]
            node["pos"] = [x, y]
            node["order"] = order
            rows[node_id] = y
            y += node["size"][1] + ROW_GAP
            order += 1
        x += NODE_WIDTH + COLUMN_GAP
    return 0, 0, x - COLUMN_GAP


def barycenter(node_id, parents, rows):
    ys = [rows[p] for p in parents[node_id] if p in rows]
    return sum(ys) / len(ys) if ys else float("inf")

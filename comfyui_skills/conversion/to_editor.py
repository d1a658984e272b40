"""API prompt -> editor (UI) workflow that the frontend opens as a readable layout.

Nodes go in columns by dependency depth, widget values in schema order (with the
control-after-generate slots), titles from `_meta`; ids like `outer:inner` become subgraphs again.
Converting the result back gives the same API JSON.
"""

import uuid

from ..errors import InputError
from .editor_file import IO_INPUT, IO_OUTPUT, Link
from ..schema import AUTOGROW, DynamicInputError, expand_inputs
from .frontend import Frontend
from .locale_titles import STEPS
from .widgets import as_schema, expand, is_widget, widgets
from ..nextsteps import flag

NODE_WIDTH, COLUMN_GAP, ROW_GAP = 340, 100, 40
TITLE_HEIGHT, SLOT_HEIGHT, WIDGET_HEIGHT, TEXT_HEIGHT = 30, 22, 26, 120
# The frontend grows a node that shows its uploaded image or video to fit the preview; room is
# kept for it so the node does not grow over the one placed below.
PREVIEW_HEIGHT = 220
PREVIEW_FLAGS = ("image_upload", "animated_image_upload", "video_upload")
CONTROL_DEFAULTS = {"control_after_generate": "fixed", "upload": "image", None: False}
# One frontend of each step of the locale titles, and the first whose server titles win.
TITLE_FRONTENDS = [Frontend(f"{major}.{minor}") for (major, minor), _ in STEPS] + [Frontend()]


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
                                  f"or pass {flag('keep_unknown')} to copy it through as it is")
        inputs = node.get("inputs") or {}
        slots, values = (self.known_slots(cls, inputs) if cls in self.schema
                         else unknown_slots(inputs))
        ui = {"id": local, "type": cls, "pos": [0, 0], "size": [NODE_WIDTH, 0], "flags": {}, "order": 0,
              "mode": 0, "inputs": slots, "outputs": self.outputs_of(api_id, cls),
              "properties": {"Node name for S&R": cls}, "widgets_values": values}
        shown = (node.get("_meta") or {}).get("title")
        # A title that is some frontend's default is still written when another frontend's
        # default differs (their locales name some nodes differently), so every one shows it.
        defaults = ({frontend.title(self.schema.node(cls)) for frontend in TITLE_FRONTENDS}
                    if cls in self.schema else {cls})
        if isinstance(shown, str) and shown and defaults != {shown}:
            ui["title"] = shown
        ui["size"][1] = node_height(ui, self.schema, cls)
        self.scopes[path].nodes[local] = ui

    def known_slots(self, cls, inputs):
        spec = self.schema.node(cls)
        slots = []
        expected = shown_inputs(spec, inputs)
        for inp in expected:
            widget = is_widget(inp)
            if widget and not is_link(inputs.get(inp.name)):
                continue
            slot = {"name": inp.name, "type": inp.link_type, "link": None}
            if widget:
                slot["widget"] = {"name": inp.name}
            slots.append(slot)
        known = {inp.name for inp in expected} | set(spec.inputs)
        slots += [{"name": n, "type": "*", "link": None} for n, v in inputs.items()
                  if n not in known and is_link(v)]
        values = []
        for w in expand(widgets(spec), lambda w: inputs.get(w.name, w.default)):
            if not w.saved:
                continue
            value = inputs.get(w.name) if w.api else None
            if w.api and w.name in inputs and not is_link(value):
                values.append(unwrap_list(value))
            elif not w.api:
                values.append(CONTROL_DEFAULTS.get(w.name, w.default))
            else:
                values.append(w.default)
        if cls == "CustomCombo":
            values += custom_combo_values(inputs)
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


def custom_combo_values(inputs):
    """CustomCombo's saved slots after `choice`, as the newest frontend keeps them: `index`, then
    option1..N with an empty one last (its extension grows them; see to_api.custom_combo_widgets)."""
    options, n = [], 1
    while isinstance(inputs.get(f"option{n}"), str) and inputs[f"option{n}"]:
        options.append(inputs[f"option{n}"])
        n += 1
    index = next((i for i, option in enumerate(options) if option == inputs.get("choice")), -1)
    return [index] + options + [""]


def unwrap_list(value):
    """A boxed widget value unboxed: a list, or (from frontend 1.52) a curve with its type."""
    if isinstance(value, dict) and (set(value) == {"__value__"}
                                    or (set(value) == {"__type__", "__value__"} and value["__type__"] == "CURVE")):
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


def shown_inputs(spec, inputs):
    """The inputs the node shows for these API inputs: a dynamic combo's chosen option's, and of an
    autogrow group its required slots and the ones linked (the editor grows the rest itself)."""
    try:
        expected = expand_inputs(spec, inputs)
    except DynamicInputError:
        expected = spec.visible_inputs()
    return [inp for inp in expected
            if inp.parent is None or inp.parent.type != AUTOGROW or inp.required or inp.name in inputs]


def node_height(ui, schema, cls):
    slots = max(len(ui["inputs"]), len(ui["outputs"]), 1)
    spec = schema.node(cls)
    texts = {inp.name for inp in spec.visible_inputs() if inp.extra.get("multiline")} if spec else set()
    values = iter(ui.get("widgets_values") or [])
    layout = expand(widgets(spec), lambda w: next(values, None) if w.saved else None) if spec else []
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

"""Node definitions as `/object_info` describes them, read once into small objects.

Both ways a dropdown is declared are understood: the classic `[["a", "b"], {...}]` (the list
itself is the type) and the V3 `["COMBO", {"options": ["a", "b"]}]`. They differ in one way
the server cares about: only the classic form is checked for membership when a prompt is queued,
so `InputSpec.strict_options` keeps that distinction.

Newer servers add inputs whose shape depends on the prompt (read in Comfy-Org/ComfyUI
comfy_api/latest/_io.py at 04e2a914334246661a77665aa14068a0670e3321, a 0.38.1 tree):
- `COMFY_DYNAMICCOMBO_V3`: a dropdown whose chosen option brings sub-inputs, named
  `combo.sub` (`{"options": [{"key": ..., "inputs": {"required": {...}, "optional": {...}}}]}`);
- `COMFY_AUTOGROW_V3`: inputs that grow, `group.<prefix>N` for N < max or `group.<name>` from a
  list; the first `min` are required when the template input is (`{"template": {"input": {...},
  "prefix", "min", "max"} | {"input", "names", "min"}}`);
- `COMFY_MATCHTYPE_V3`: a type variable (`{"template": {"template_id", "allowed_types"}}`), also an
  output type, with `output_matchtypes` naming each output's template;
- `COMFY_DYNAMICSLOT_V3` (sub-inputs once the slot is given) and `COMFY_DYNAMICGROUP_V3` (rows
  `group.<index>.<field>`). `expand_inputs` turns them into the inputs the server checks for one
  prompt node, as `_io.get_finalized_class_inputs` does.
"""

REQUIRED, OPTIONAL, HIDDEN = "required", "optional", "hidden"
WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")
# Inputs that take a file the user uploads: the server lists only what is already there.
UPLOAD_FLAGS = ("image_upload", "video_upload", "audio_upload", "animated_image_upload", "mesh_upload")
DYNAMIC_COMBO, AUTOGROW, MATCH_TYPE = "COMFY_DYNAMICCOMBO_V3", "COMFY_AUTOGROW_V3", "COMFY_MATCHTYPE_V3"
DYNAMIC_SLOT, DYNAMIC_GROUP = "COMFY_DYNAMICSLOT_V3", "COMFY_DYNAMICGROUP_V3"
# The kinds whose inputs the server works out from the prompt's own keys (_io.DYNAMIC_INPUT_LOOKUP).
DYNAMIC_KINDS = (DYNAMIC_COMBO, AUTOGROW, DYNAMIC_SLOT, DYNAMIC_GROUP)
AUTOGROW_MAX_NAMES = 100  # _io.Autogrow._MaxNames
DYNAMIC_GROUP_MAX_ROWS = 20  # _io._DynamicGroup._MaxRows


def type_parts(name):
    """'IMAGE,MASK' (a union some custom nodes declare) -> {'IMAGE', 'MASK'}, upper-cased."""
    return {t.strip().upper() for t in str(name).split(",") if t.strip()}


class InputSpec:
    """One input of a node class (or, with a dotted name, of a dynamic input's chosen part)."""

    __slots__ = ("name", "section", "raw_type", "type", "options", "strict_options", "extra", "parent")

    def __init__(self, name, section, declaration, parent=None):
        if isinstance(declaration, str):  # hidden inputs are declared as a bare type name
            declaration = [declaration]
        if not isinstance(declaration, (list, tuple)) or not declaration:
            declaration = ["*"]
        self.name = name
        self.section = section
        self.parent = parent  # the dynamic input this one came from (None: the node's own)
        self.raw_type = declaration[0]
        extra = declaration[1] if len(declaration) > 1 and isinstance(declaration[1], dict) else {}
        self.extra = extra
        self.strict_options = isinstance(self.raw_type, list)
        if self.strict_options:
            self.type, self.options = "COMBO", list(self.raw_type)
        else:
            self.type = self.raw_type if isinstance(self.raw_type, str) else str(self.raw_type)
            options = extra.get("options")
            self.options = list(options) if self.type == "COMBO" and isinstance(options, list) else None

    required = property(lambda self: self.section == REQUIRED)
    min = property(lambda self: self.extra.get("min"))
    max = property(lambda self: self.extra.get("max"))
    step = property(lambda self: self.extra.get("step"))
    default = property(lambda self: self.extra.get("default"))
    force_input = property(lambda self: bool(self.extra.get("forceInput")))

    @property
    def takes_upload(self):
        return any(self.extra.get(flag) for flag in UPLOAD_FLAGS)

    @property
    def is_widget(self):
        """A value typed in the node rather than a link (unless forceInput); a dynamic combo is
        a dropdown in the editor too."""
        return (self.type in WIDGET_TYPES or self.type == DYNAMIC_COMBO) and not self.force_input

    @property
    def dynamic(self):
        """Its kind when the server works its inputs out from the prompt (DYNAMIC_KINDS), else None."""
        return self.type if self.type in DYNAMIC_KINDS else None

    # -- dynamic combo ---------------------------------------------------------------------

    @property
    def choices(self):
        """A dynamic combo's option keys, in order."""
        return [o["key"] for o in self._combo_options()]

    def option_inputs(self, key):
        """The inputs choosing `key` brings, named `<this>.<input>` (None: not one of the keys).

        Matched with == on the prompt's value, as the server does (a link or number never matches)."""
        for option in self._combo_options():
            if option["key"] == key:
                return _section_inputs(option.get("inputs"), self.name, self)
        return None

    def option_holding(self, name):
        """The first option key whose inputs include the dotted `name` (for hints), else None."""
        for option in self._combo_options():
            if any(s.name == name for s in _section_inputs(option.get("inputs"), self.name, self)):
                return option["key"]
        return None

    def _combo_options(self):
        if self.type != DYNAMIC_COMBO:
            return []
        options = self.extra.get("options")
        return [o for o in options if isinstance(o, dict) and "key" in o] if isinstance(options, list) else []

    # -- autogrow ----------------------------------------------------------------------------

    @property
    def growth(self):
        """An autogrow input's rule: Growth(names, min, template InputSpec declaration, required)."""
        if self.type != AUTOGROW:
            return None
        template = self.extra.get("template") if isinstance(self.extra.get("template"), dict) else {}
        section, declaration = _first_declared(template.get("input"))
        lowest = template.get("min") if isinstance(template.get("min"), int) else 1
        if isinstance(template.get("names"), list):
            names = [str(n) for n in template["names"][:AUTOGROW_MAX_NAMES]]
        else:
            most = template.get("max") if isinstance(template.get("max"), int) else 10
            names = [f"{template.get('prefix', '')}{i}" for i in range(max(0, most))]
        return Growth(names, lowest, declaration, section == REQUIRED)

    # -- match type ---------------------------------------------------------------------------

    @property
    def match_template(self):
        """(template_id, allowed types) of a match-type input, else None."""
        if self.type != MATCH_TYPE:
            return None
        template = self.extra.get("template") if isinstance(self.extra.get("template"), dict) else {}
        return template.get("template_id"), str(template.get("allowed_types") or "*")

    @property
    def link_type(self):
        """The type a link into it may carry, as the editor shows it (a match type's allowed types,
        a dynamic slot's slot type)."""
        if self.type == MATCH_TYPE:
            return self.match_template[1]
        if self.type == DYNAMIC_COMBO:
            return "COMBO"
        if self.type == DYNAMIC_SLOT and isinstance(self.extra.get("slotType"), str):
            return self.extra["slotType"]
        if self.type == AUTOGROW and self.growth.declaration is not None:
            return InputSpec(self.name, self.section, self.growth.declaration).link_type
        return self.type

    def __repr__(self):
        return f"<InputSpec {self.section} {self.name}: {self.type}>"


class Growth:
    """How an autogrow input grows: its slot names in order, how many are required, their input."""

    __slots__ = ("names", "min", "declaration", "required")

    def __init__(self, names, lowest, declaration, required):
        self.names, self.min, self.declaration, self.required = names, lowest, declaration, required

    def inputs(self, group):
        """Every slot the server accepts, as InputSpecs named `<group>.<name>` (no template: none)."""
        if self.declaration is None:
            return []
        return [InputSpec(f"{group.name}.{name}", REQUIRED if i < self.min and self.required else OPTIONAL,
                          self.declaration, group) for i, name in enumerate(self.names)]


def _first_declared(sections):
    """(section, declaration) of the first input of a template's {"required": {...}, ...}: the one the
    server's Autogrow expansion reads."""
    for section, declared in (sections or {}).items() if isinstance(sections, dict) else ():
        if isinstance(declared, dict) and declared:
            return section, next(iter(declared.values()))
    return None, None


def _section_inputs(sections, prefix, parent):
    """{"required": {...}, "optional": {...}} as InputSpecs named `<prefix>.<name>`, in declared order."""
    out = []
    for section, declared in (sections or {}).items() if isinstance(sections, dict) else ():
        if section in (REQUIRED, OPTIONAL) and isinstance(declared, dict):
            out += [InputSpec(f"{prefix}.{name}", section, decl, parent) for name, decl in declared.items()]
    return out


class DynamicInputError(ValueError):
    """The server's `invalid_dynamic_input`: a dynamic group's keys or row count are wrong."""

    def __init__(self, input_name, message):
        super().__init__(message)
        self.input_name = input_name


def expand_inputs(spec, live):
    """The inputs the server checks for one prompt node whose inputs are `live` ({name: value}).

    As `_io.get_finalized_class_inputs` does (0.38.1): a dynamic combo given one of its keys
    brings that option's inputs (and stays, with its own type); one missing or given anything else
    is left out, so nothing about it is checked. An autogrow input is replaced by every slot it
    can grow to. A dynamic slot that is given brings its inputs. Raises DynamicInputError as the
    server reports invalid_dynamic_input. A node without dynamic inputs gets its visible inputs.
    """
    out = []
    for inp in spec.visible_inputs():
        _expand(inp, live, out)
    return out


def _expand(inp, live, out):
    kind = inp.dynamic
    if kind is None:
        out.append(inp)
    elif kind == DYNAMIC_COMBO:
        if inp.name in live:
            chosen = inp.option_inputs(_plain(live[inp.name]))
            if chosen is not None:
                out.append(inp)
                for sub in chosen:
                    _expand(sub, live, out)
    elif kind == AUTOGROW:
        out.extend(inp.growth.inputs(inp))
    elif kind == DYNAMIC_SLOT:
        if inp.name in live:
            out.append(inp)
            for sub in _section_inputs(inp.extra.get("inputs"), inp.name, inp):
                _expand(sub, live, out)
    elif kind == DYNAMIC_GROUP:
        out.extend(_group_inputs(inp, live))


def _plain(value):
    # the option key is compared with the prompt's value as sent: a link ([id, slot]) never matches
    return value if not isinstance(value, list) else object()


def _group_inputs(group, live):
    """A dynamic group's submitted rows, checked as `_io._DynamicGroup._expand_schema_for_dynamic`."""
    info = group.extra
    lowest = info.get("min", 0)
    most = info.get("max", DYNAMIC_GROUP_MAX_ROWS)
    template = info.get("template") if isinstance(info.get("template"), dict) else {}
    fields = {}
    for section in (REQUIRED, OPTIONAL):
        for name, decl in (template.get(section) or {}).items():
            fields[name] = (section, decl)
    prefix = group.name + "."
    rows = set()
    for key in live:
        if not key.startswith(prefix):
            continue
        index, dot, field = key[len(prefix):].partition(".")
        if not dot or not index.isascii() or not index.isdecimal() or (len(index) > 1 and index.startswith("0")) \
                or field not in fields:
            raise DynamicInputError(key, f"Invalid DynamicGroup input key '{key}'; expected "
                                         f"'{group.name}.<index>.<template field>'.")
        if int(index) >= most:
            raise DynamicInputError(key, f"DynamicGroup input '{key}' exceeds the index limit of {most - 1} "
                                         f"(max={most}).")
        rows.add(int(index))
    if not lowest <= len(rows) <= most:
        raise DynamicInputError(group.name, f"DynamicGroup input '{group.name}' received {len(rows)} rows; "
                                            f"expected between {lowest} and {most}.")
    return [InputSpec(f"{group.name}.{row}.{name}", section, decl, group)
            for row in sorted(rows) for name, (section, decl) in fields.items()]


class NodeSpec:
    """One node class: its inputs in declared order, its outputs, whether it is an output node."""

    def __init__(self, name, info):
        info = info if isinstance(info, dict) else {}
        self.name = name
        self.display_name = info.get("display_name") or name
        self.named = bool(info.get("display_name"))  # sent with a display name (the frontend's locale names the others)
        self.category = info.get("category") or ""
        self.python_module = info.get("python_module") or ""
        self.output_node = info.get("output_node") is True
        self.deprecated = bool(info.get("deprecated"))
        self.experimental = bool(info.get("experimental"))
        self.api_node = bool(info.get("api_node"))
        self.description = info.get("description") or ""
        outputs = info.get("output")
        if isinstance(outputs, str):  # a custom node that declared RETURN_TYPES as a bare string
            outputs = [outputs]
        # As declared: a custom node's combo output is a list, and the server compares it as one.
        self.output_types = list(outputs) if isinstance(outputs, (list, tuple)) else []
        names = info.get("output_name")
        self.output_names = list(names) if isinstance(names, (list, tuple)) and names else list(self.output_types)
        self.output_is_list = list(info.get("output_is_list") or [])
        # newer servers: the match-type template of each output (None where it has none)
        matchtypes = info.get("output_matchtypes")
        self.output_matchtypes = list(matchtypes) if isinstance(matchtypes, list) else []
        self.inputs = {}
        sections = info.get("input") if isinstance(info.get("input"), dict) else {}
        order = info.get("input_order") if isinstance(info.get("input_order"), dict) else {}
        for section in (REQUIRED, OPTIONAL, HIDDEN):
            declared = sections.get(section)
            if not isinstance(declared, dict):
                continue
            names = [n for n in order.get(section) or [] if n in declared]
            names += [n for n in declared if n not in names]
            for n in names:
                self.inputs.setdefault(n, InputSpec(n, section, declared[n]))

    def visible_inputs(self):
        """Required then optional: the inputs the server looks at when it validates."""
        return [s for s in self.inputs.values() if s.section != HIDDEN]

    @property
    def has_dynamic_inputs(self):
        return any(inp.dynamic for inp in self.visible_inputs())

    def output_template(self, slot):
        """The match-type template id of output `slot`, or None."""
        if isinstance(slot, int) and 0 <= slot < len(self.output_matchtypes):
            return self.output_matchtypes[slot]
        return None

    @property
    def output_type_names(self):
        """The output types as names: a combo output (a list) is 'COMBO'."""
        return [t if isinstance(t, str) else "COMBO" for t in self.output_types]

    def link_types(self):
        """Every type a link into this node can carry (hidden inputs take none)."""
        found = set()
        for inp in self.visible_inputs():
            found |= type_parts(inp.link_type)
            for key in inp.choices:  # a dynamic combo's options bring inputs of their own
                for sub in inp.option_inputs(key):
                    found |= type_parts(sub.link_type)
        return found

    def __repr__(self):
        return f"<NodeSpec {self.name}: {len(self.inputs)} inputs, {len(self.output_types)} outputs>"


class Schema:
    """A whole `/object_info`, parsed class by class as they are asked for."""

    def __init__(self, object_info):
        self.object_info = object_info if isinstance(object_info, dict) else {}
        self._nodes = {}
        self._producers = None

    def __contains__(self, class_type):
        return isinstance(class_type, str) and class_type in self.object_info

    def __len__(self):
        return len(self.object_info)

    def node(self, class_type):
        """The NodeSpec, or None for a class this install does not have."""
        if class_type not in self:
            return None
        spec = self._nodes.get(class_type)
        if spec is None:
            spec = self._nodes[class_type] = NodeSpec(class_type, self.object_info[class_type])
        return spec

    def producers(self, type_name):
        """Names of the node classes with an output of this type (or a union containing it)."""
        if self._producers is None:
            index = {}
            for name, info in self.object_info.items():
                outputs = info.get("output") if isinstance(info, dict) else None
                for t in outputs or []:
                    for part in (t.split(",") if isinstance(t, str) else ["COMBO"]):
                        index.setdefault(part.strip(), []).append(name)
            self._producers = index
        found = []
        for part in type_name.split(","):
            found += [n for n in self._producers.get(part.strip(), []) if n not in found]
        return found

    def class_names(self):
        return list(self.object_info)


def input_files(object_info):
    """The input folder's images as the server lists them for LoadImage (None when it has none)."""
    load_image = NodeSpec("LoadImage", (object_info or {}).get("LoadImage"))
    image = load_image.inputs.get("image")
    return list(image.options) if image is not None and image.options is not None else None


def flags_api_nodes(object_info):
    """Does this /object_info carry the `api_node` flag? A server that has it sets it on every V3
    node and on classic nodes that declare API_NODE (server.py node_info, at a125cd84 for 0.3.64
    and at 002c3fb9 for a newer tree; _io.Schema.get_v1_info at 04e2a914)."""
    return any(isinstance(v, dict) and "api_node" in v for v in (object_info or {}).values())


def calls_paid_api(info, flagged):
    """A partner node that calls a paid API. Where the server flags them, the flag decides: its
    helpers (KlingCameraControls, RecraftColorRGB) sit in comfy_api_nodes too but spend nothing.
    A server without the flag is judged by the module every partner node lives in."""
    if not isinstance(info, dict):
        return False
    if flagged:
        return info.get("api_node") is True
    return str(info.get("python_module", "")).startswith("comfy_api_nodes")


def partner_nodes(workflow, object_info):
    """{node id: class} of the API-format workflow's partner (API) nodes: they call a paid service."""
    flagged = flags_api_nodes(object_info)
    found = {}
    for nid, node in workflow.items():
        cls = node.get("class_type") if isinstance(node, dict) else None
        info = object_info.get(cls) if isinstance(cls, str) else None  # a malformed node is validation's to name
        if calls_paid_api(info, flagged):
            found[str(nid)] = node["class_type"]
    return found

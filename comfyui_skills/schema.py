"""Node definitions as `/object_info` describes them, read once into small objects.

Both ways a dropdown is declared are understood: the classic `[["a", "b"], {...}]` (the list
itself is the type) and the V3 `["COMBO", {"options": ["a", "b"]}]`. They differ in one way
the server cares about: only the classic form is checked for membership when a prompt is queued,
so `InputSpec.strict_options` keeps that distinction.
"""

REQUIRED, OPTIONAL, HIDDEN = "required", "optional", "hidden"
WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")
# Inputs that take a file the user uploads: the server lists only what is already there.
UPLOAD_FLAGS = ("image_upload", "video_upload", "audio_upload", "animated_image_upload", "mesh_upload")


def type_parts(name):
    """'IMAGE,MASK' (a union some custom nodes declare) -> {'IMAGE', 'MASK'}, upper-cased."""
    return {t.strip().upper() for t in str(name).split(",") if t.strip()}


class InputSpec:
    """One input of a node class."""

    __slots__ = ("name", "section", "raw_type", "type", "options", "strict_options", "extra")

    def __init__(self, name, section, declaration):
        if isinstance(declaration, str):  # hidden inputs are declared as a bare type name
            declaration = [declaration]
        if not isinstance(declaration, (list, tuple)) or not declaration:
            declaration = ["*"]
        self.name = name
        self.section = section
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
    control_after_generate = property(lambda self: bool(self.extra.get("control_after_generate")))

    @property
    def takes_upload(self):
        return any(self.extra.get(flag) for flag in UPLOAD_FLAGS)

    @property
    def is_widget(self):
        """A value typed in the node rather than a link (unless forceInput)."""
        return self.type in WIDGET_TYPES and not self.force_input

    def __repr__(self):
        return f"<InputSpec {self.section} {self.name}: {self.type}>"


class NodeSpec:
    """One node class: its inputs in declared order, its outputs, whether it is an output node."""

    def __init__(self, name, info):
        info = info if isinstance(info, dict) else {}
        self.name = name
        self.display_name = info.get("display_name") or name
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
    def output_type_names(self):
        """The output types as names: a combo output (a list) is 'COMBO'."""
        return [t if isinstance(t, str) else "COMBO" for t in self.output_types]

    def link_types(self):
        """Every type a link into this node can carry (hidden inputs take none)."""
        found = set()
        for inp in self.visible_inputs():
            found |= type_parts(inp.type)
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


def partner_nodes(workflow, object_info):
    """{node id: class} of the API-format workflow's partner (API) nodes: they call a paid service.

    ComfyUI 0.3.64 flags its V3 partner nodes with `api_node: true`; its classic ones are known only
    by their module (comfy_api_nodes). Either counts: spending money unasked is the worse mistake.
    """
    found = {}
    for nid, node in workflow.items():
        cls = node.get("class_type") if isinstance(node, dict) else None
        info = object_info.get(cls) if isinstance(cls, str) else None  # a malformed node is validation's to name
        if isinstance(info, dict) and (info.get("api_node") is True or
                                       str(info.get("python_module", "")).startswith("comfy_api_nodes")):
            found[str(nid)] = node["class_type"]
    return found

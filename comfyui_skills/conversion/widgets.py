"""What the frontend builds from a node's schema, the same in both directions: its widgets in order
(with the slots only the editor file keeps), which texts are dynamic prompts and what a
number widget holds. `as_schema` is how both converters take the /object_info they are given."""

import math
import weakref
from collections import namedtuple

from ..errors import InputError
from ..schema import DYNAMIC_COMBO, Schema
from .frontend import Frontend
from .jsnumber import js_integer, js_number, js_round, js_to_fixed

FRONTEND_WIDGET_TYPES = {"WEBCAM", "LOAD_3D", "LOAD_3D_ANIMATION"}
# The flags for which the frontend adds an "upload" widget (not schema.UPLOAD_FLAGS: a mesh upload
# comes with the LOAD_3D widget instead).
UPLOAD_WIDGET_FLAGS = ("image_upload", "video_upload", "audio_upload", "animated_image_upload")
# What a fresh widget of these types holds without a declared default (useColorWidget,
# useCurveWidget, useImageCompareWidget).
SOCKETLESS_DEFAULTS = {"COLOR": "#000000", "CURVE": {"points": [[0, 0], [1, 1]], "interpolation": "monotone_cubic"},
                       "IMAGECOMPARE": ["", ""]}

# A widget as the frontend builds it: `api` = sent in the prompt, `saved` = has a slot in the
# editor file's widgets_values. A dynamic combo's `options` are ((key, widgets that key shows), ...):
# the frontend puts the chosen key's widgets right after the combo's own
# (src/core/graph/widgets/dynamicWidgets.ts, dynamicComboWidget, in frontend 1.58.1).
Widget = namedtuple("Widget", "name default api saved options", defaults=(None,))

# Widgets frontend extensions add to some core nodes after the schema's own (PreviewAny's depend
# on the frontend version: Frontend.preview_widgets).
EXTENSION_WIDGETS = {
    "Preview3D": [Widget("image", "", True, True)],
    "Preview3DAnimation": [Widget("image", "", True, True)],
    "SaveGLB": [Widget("image", "", True, True)],
}


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
_NEWEST = Frontend()


def widgets(spec, frontend=None):
    """The widgets `frontend` (default: the newest) builds for a node (a schema.NodeSpec), in
    order; worked out once per spec and set of version-dependent widget rules."""
    frontend = frontend or _NEWEST
    cache = _WIDGETS.setdefault(spec, {})
    if frontend.key not in cache:
        cache[frontend.key] = _layout(spec, frontend)
    return cache[frontend.key]


# The buttons the Load3D extension adds right after the model file, each with its label as value.
LOAD3D_BUTTONS = [Widget("upload 3d model", "upload3dmodel", True, True),
                  Widget("upload extra resources", "uploadExtraResources", True, True),
                  Widget("clear", "clear", True, True)]


def _layout(spec, frontend):
    out = []
    for inp in spec.visible_inputs():
        out += _input_widgets(inp, frontend)
        if spec.name == "Load3D" and inp.name == "model_file" and frontend.load3d_buttons:
            out += LOAD3D_BUTTONS
    if spec.name == "PreviewAny":
        out += [Widget(*w) for w in frontend.preview_widgets]
    return out + EXTENSION_WIDGETS.get(spec.name, [])


def _input_widgets(inp, frontend):
    """The widgets one input brings, in order."""
    out = []
    if inp.type in FRONTEND_WIDGET_TYPES:
        return [Widget(inp.name, "", True, True)]
    if inp.type in frontend.socketless and not inp.force_input:
        # a V3 widget type (colour picker, curve editor, image comparer); its value is sent
        default = inp.extra.get("default", SOCKETLESS_DEFAULTS.get(inp.type))
        return [Widget(inp.name, default, True, frontend.socketless[inp.type])]
    if inp.dynamic == DYNAMIC_COMBO and not inp.force_input:
        # a plain dropdown of the keys (no default, no control widget: the frontend builds it from
        # [keys, {}]); each key's inputs are named `combo.input` and build widgets as any input does
        options = tuple((key, tuple(w for sub in inp.option_inputs(key) for w in _input_widgets(sub, frontend)))
                        for key in inp.choices)
        return [Widget(inp.name, inp.choices[0] if inp.choices else None, True, True, options)]
    if not inp.is_widget and inp.extra.get("widgetType") == "STRING" and not inp.force_input:
        # a socket of several types the schema asks to show as a text box (0.33.0's Preview3D
        # `model_file`): a STRING widget with its slot, as frontend 1.49.6 saves and exports it
        return [Widget(inp.name, inp.extra.get("default", ""), True, True)]
    if inp.is_widget:
        out.append(Widget(inp.name, default_value(inp), True, True))
        if has_control(inp):
            out.append(Widget("control_after_generate", "fixed", False, True))
        remote = inp.extra.get("remote")
        if isinstance(remote, dict) and remote.get("refresh_button"):
            out.append(Widget(None, False, False, True))
            out.append(Widget("refresh", "refresh", True, True))
        if inp.type == "COMBO" and any(inp.extra.get(flag) for flag in UPLOAD_WIDGET_FLAGS):
            # the upload button comes with a file dropdown only: Painter's STRING `mask` (image_upload,
            # widgetType PAINTER) keeps one slot, as frontend 1.49.6 saves and exports it
            out.append(Widget("upload", "image", False, True))
    return out


def shown_after(widget, value):
    """The widgets a dynamic combo shows once it holds `value` (none for another widget, or a
    value that is not one of its keys, as the frontend shows none then)."""
    for key, brought in widget.options or ():
        if key == value:
            return list(brought)
    return []


def every_widget(layout):
    """Every widget a layout can show, the options of dynamic combos included."""
    for widget in layout:
        yield widget
        for _, brought in widget.options or ():
            yield from every_widget(brought)


def expand(layout, value_of):
    """The widgets in the order the node holds them, each dynamic combo followed by what its value
    (`value_of(widget)`) shows."""
    out, todo = [], list(layout)
    while todo:
        widget = todo.pop(0)
        out.append(widget)
        todo[0:0] = shown_after(widget, value_of(widget))
    return out


def dynamic_prompts(spec):
    """Names of the STRING inputs whose text the frontend runs through its dynamic-prompt parser."""
    return {inp.name for inp in spec.visible_inputs()
            if inp.type == "STRING" and inp.extra.get("dynamicPrompts") is True}


def as_schema(object_info):
    if isinstance(object_info, Schema):
        return object_info
    if not isinstance(object_info, dict):
        raise InputError("the node schema is not an /object_info mapping")
    return Schema(object_info)


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

"""Which official frontend's "Export (API)" the conversion follows.

Exports were recorded from eight frontends: 1.27.10 (what ComfyUI 0.3.64 pins), 1.36.14 (ComfyUI
0.9.2), 1.38.14, 1.42.15, 1.46.15, 1.49.6 (ComfyUI 0.33.0), 1.52.7 and 1.58.1 (the newest, October
2026); see tests/fixtures/frontend-*. Where frontends differ, the conversion follows the one the
user's server serves when that is known, else the newest. Each rule below starts at the first minor
version whose code has it, read in the source maps of the comfyui-frontend-package releases 1.27.10,
1.36.14, 1.37.11, 1.38.14, 1.39.19, 1.40.10, 1.41.21, 1.42.15, 1.45.21, 1.46.15, 1.47.12, 1.49.6,
1.50.6, 1.51.10, 1.52.7, 1.53.10, 1.55.18, 1.57.5 and 1.58.1 (a rule seen first in 1.38.14 and not
in 1.37.11 starts at 1.38). Between 1.27.10 and 1.36.14 nothing was read: there the 1.27.10 rules
hold. Patch releases of older lines sometimes carry newer code (1.45.21 has the text preview widgets
that 1.46.15 lacks, though neither sends PreviewAny's previews); the minor version decides here.
"""

import re

from ..errors import InputError
from .locale_titles import titles_for

NEWEST = "1.58.1"

# (major, minor) where each rule starts.
CUSTOM_COMBO = (1, 36)            # CustomCombo grows option1..N widgets (extensions/core/customCombo.ts)
CUSTOM_COMBO_INDEX = (1, 38)      # CustomCombo adds a hidden `index` widget (extensions/core/customWidgets.ts)
DROPS_MUTED_SUBGRAPHS = (1, 39)   # graphToPrompt skips the inner nodes of a muted or bypassed root node
IMAGE_COMPARE_UNSAVED = (1, 39)   # useImageCompareWidget: widget.serialize = false (no widgets_values slot)
PREVIEW_SPLIT = (1, 40)           # PreviewAny's two `preview` widgets become preview_markdown, preview_text
MUTED_GIVES_NOTHING = (1, 41)     # ExecutableNodeDTO.resolveOutput: "Muted nodes produce no output"
CURVE_WIDGET = (1, 41)            # a CURVE input gets a widget (scripts/widgets.ts)
PROXY_WIDGETS = ((1, 36), (1, 41))  # a subgraph node listing properties.proxyWidgets shows proxies named
#                                   "<node>: <widget>", so its unlinked inputs pass nothing inside
PROMOTED_VIEWS = ((1, 41), (1, 46))  # promoted widgets are views of the inner ones (_promotedViewManager):
#                                   the subgraph node's own widgets_values are not applied
UNIQUE_IDS = (1, 42)              # subgraph/subgraphDeduplication.ts renumbers clashing inner ids on load
QUARANTINE = (1, 46)              # SubgraphNode restores proxyWidgetErrorQuarantine host values
GROUPS_AS_SUBGRAPHS = (1, 47)     # legacy group nodes are unpacked into subgraphs on load
PREVIEW_UNSENT = (1, 45)          # PreviewAny's previews are not sent (options.serialize false; textPreviewWidgets)
CURVE_WRAPPED = (1, 52)           # graphToPrompt sends a curve as {"__type__": "CURVE", "__value__": ...}
SERVER_TITLES = (1, 50)           # the server's display name wins over the locale's (i18n.ts resolveNodeDefText)
PACK_META = (1, 57)               # graphToPrompt copies cnr_id, aux_id and ver into `_meta`
LOAD3D_BUTTONS = (1, 49)          # Load3D's three buttons after model_file are saved and sent (their
#                                   labels as values; seen in 1.49.6's exports; earlier lines not read)
COMPOSITOR_WIDGET = (1, 49)       # COMPOSITOR, COLORS and BOUNDING_BOXES inputs get widgets, saved and sent
#                                   (seen in 1.49.6's exports of the 0.11.44 templates; earlier lines not read)

# The node-pack fields copied from a node's properties into `_meta`, each kept only when it has
# the shape the frontend's workflow schema accepts.
PACK_ID = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9._-]*[a-zA-Z0-9])?$")
GITHUB_USER = re.compile(r"^(?!-)(?!.*--)[a-zA-Z0-9-]+(?<!-)$")
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([\da-z-]+(?:\.[\da-z-]+)*))?"
                    r"(?:\+([\da-z-]+(?:\.[\da-z-]+)*))?$")
COMMIT = re.compile(r"^[0-9a-f]{4,40}$", re.IGNORECASE)


def parse_version(text):
    """(major, minor, patch) of a frontend version such as "1.58.1" or "v1.24.0-1"."""
    match = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", str(text).strip()) if text is not None else None
    if not match:
        raise InputError(f"frontend version {str(text)[:40]!r} is not a version like {NEWEST}")
    return tuple(int(x or 0) for x in match.groups())


class Frontend:
    """The export rules of one frontend version."""

    def __init__(self, version=None):
        self.version = version or NEWEST
        at = parse_version(self.version)[:2]
        self.custom_combo = at >= CUSTOM_COMBO          # None: CustomCombo is a plain dropdown
        self.custom_combo_index = at >= CUSTOM_COMBO_INDEX
        self.drops_muted_subgraphs = at >= DROPS_MUTED_SUBGRAPHS
        self.muted_gives_nothing = at >= MUTED_GIVES_NOTHING
        self.unique_ids = at >= UNIQUE_IDS
        self.quarantine = at >= QUARANTINE
        self.promoted_views = PROMOTED_VIEWS[0] <= at < PROMOTED_VIEWS[1]
        self.proxy_widgets = PROXY_WIDGETS[0] <= at < PROXY_WIDGETS[1]
        self.groups_as_subgraphs = at >= GROUPS_AS_SUBGRAPHS
        self.curve_wrapped = at >= CURVE_WRAPPED
        self.pack_meta = at >= PACK_META
        self.titles = titles_for(at)
        self.server_titles = at >= SERVER_TITLES
        # Widgets the frontend builds for input types ComfyUI sends without a socket of their own:
        # {type: whether it takes a widgets_values slot}.
        self.socketless = {"COLOR": True, "IMAGECOMPARE": at < IMAGE_COMPARE_UNSAVED}
        if at >= CURVE_WIDGET:
            self.socketless["CURVE"] = True
        if at >= COMPOSITOR_WIDGET:
            self.socketless.update({"COMPOSITOR": True, "COLORS": True, "BOUNDING_BOXES": True})
        self.load3d_buttons = at >= LOAD3D_BUTTONS
        # PreviewAny's text display widgets (name, default, sent, saved), added by the frontend.
        if at >= PREVIEW_UNSENT:
            self.preview_widgets = ()
        elif at >= PREVIEW_SPLIT:
            self.preview_widgets = (("preview_markdown", "", True, False), ("preview_text", "", True, False),
                                    ("previewMode", False, True, True))
        elif at >= (1, 36):
            self.preview_widgets = (("preview", "", True, False), ("preview", "", True, False),
                                    ("previewMode", False, True, True))
        else:
            self.preview_widgets = (("preview", "", True, False),)
        # what widgets() depends on
        self.key = (tuple(sorted(self.socketless.items())), self.preview_widgets, self.load3d_buttons)

    def title(self, spec):
        """The title a fresh node of this class gets: its locale's, where the locale has one and
        (from 1.50) the server sends no display name; else the server's display name, else the class."""
        if self.server_titles and spec.named:
            return spec.display_name
        return self.titles.get(spec.name) or spec.display_name

    def meta(self, title, properties):
        out = {"title": title}
        if self.pack_meta and isinstance(properties, dict):
            out.update(pack_fields(properties))
        return out

    def api_value(self, widget_type, value):
        """A widget value as graphToPrompt writes it: a list is boxed so it does not read as a link;
        from 1.52 a curve is boxed with its type."""
        if widget_type == "CURVE" and self.curve_wrapped and value is not None:
            return {"__type__": "CURVE", "__value__": value}
        return {"__value__": value} if isinstance(value, list) else value


def pack_fields(properties):
    out = {}
    cnr_id = properties.get("cnr_id")
    if isinstance(cnr_id, str) and is_pack_id(cnr_id):
        out["cnr_id"] = cnr_id
    aux_id = properties.get("aux_id")
    if isinstance(aux_id, str) and aux_id.count("/") == 1:
        user, repo = aux_id.split("/")
        if 1 <= len(user) <= 39 and GITHUB_USER.match(user) and is_pack_id(repo):
            out["aux_id"] = aux_id
    ver = properties.get("ver")
    if isinstance(ver, str):
        bare = ver[1:] if ver.startswith("v") else ver
        if SEMVER.match(bare) or COMMIT.match(bare):
            out["ver"] = bare
        elif ver == "unknown":
            out["ver"] = ver
    return out


def is_pack_id(text):
    return 1 <= len(text) <= 100 and bool(PACK_ID.match(text)) and text[0] not in "_-." and text[-1] not in "_-."


def served_by(system_stats):
    """The frontend version a server's /system_stats names (system.required_frontend_version, the
    frontend package it pins), or None when it names none."""
    system = system_stats.get("system") if isinstance(system_stats, dict) else None
    version = system.get("required_frontend_version") if isinstance(system, dict) else None
    try:
        parse_version(version)
    except InputError:
        return None
    return version

"""Which ComfyUI a workflow is checked for: the server versions whose `POST /prompt` rules differ,
and how the pack learns a server's version.

The version comes, first found, from the server itself (`/system_stats` `system.comfyui_version`:
asked live by run.py and `validate.py --url`, kept as `comfyui_version` in an inventory snapshot),
else from the `/object_info` at hand: fields the server adds to every node prove the oldest
release it can be (a raw dump carries no version). With neither, the server counts as 0.3.64,
the oldest one recorded, so nothing newer servers refuse is called an error there.

Each boundary is the first release holding the change, read in ComfyUI's history (the
Comfy-Org/ComfyUI commits named below; the release is the first `comfyui_version.py` bump after).
"""

import re

OLDEST = (0, 3, 64)

# execution.py validate_inputs holds a V3 "COMBO" value to its `options` (every item of a
# multiselect), as it always held list dropdowns: commit 0be8a76c (#11345, "Make validate_inputs
# validate combo input correctly"), after v0.7.0 (f59f71cf), in v0.8.0 (fc0cb10b). The same commit
# lets a list-typed output (a custom node's dropdown values) link into a V3 "COMBO" input
# (comfy_execution/validation.py validate_node_input).
COMBO_CHECKED = (0, 8, 0)
# execution.py validate_prompt calls an unknown class, and a node without class_type,
# `missing_node_type` (was `invalid_prompt`; same details "Node ID '#N'"): commit 32621c6a (#12194),
# in v0.12.0 (66e1b074).
MISSING_NODE_TYPE = (0, 12, 0)
# execution.py validate_inputs finds a dependency cycle and gives every node on it a
# `dependency_cycle` error (before, the prompt was refused naming no node): commit 2327fa1c
# (#13169), in v0.20.0 (75143eeb).
CYCLES_NAMED = (0, 20, 0)
# Dynamic inputs (dynamic combos, autogrow, dynamic slots) expanded and checked as
# schema.expand_inputs does (read at 04e2a914, a 0.38.1 tree): comfy_api/latest/_io.py
# get_finalized_class_inputs and the three _expand_schema_for_dynamic are the same from v0.10.0
# (9d273d3a) through v0.33.0 and at 04e2a914, but for the dynamic groups added after 0.33.0. They
# took that shape in 7458e204 (#11977, "Make Autogrow validation work properly": the first `min`
# autogrow slots required even when absent), in v0.10.0. Before (0.8.0 had these kinds, 0.3.64's
# _io.py declares AutogrowDynamic with other names) what 0.10.0 refuses is only a warning.
DYNAMIC_CHECKED = (0, 10, 0)
# A V3 multiselect COMBO given a list is held item by item to its options: execution.py at 431fadb5
# (#13484), in v0.21.0 (52976f3e). Before, the list as a whole had to be one of the options.
MULTISELECT_ITEMS = (0, 21, 0)

# Keys server.py's node_info puts on every node, with the first release that sends them. Only a
# key on every node counts, so an /object_info pieced together from several servers shows nothing.
# Keys only V3 nodes carry (price_badge from 0.9.2, output_matchtypes from 0.4.0) cannot be held to
# that, so a dump from 0.8.0 to 0.10.x counts as 0.3.64: its snapshot or the server tells better.
FLOOR_MARKERS = (
    ("has_intermediate_output", (0, 19, 0)),  # commit 3696c5ba (#13048), in v0.19.0 (acd71859)
    ("is_input_list", (0, 12, 0)),            # commit aa6f7a83 (#12188), in v0.12.0 (66e1b074)
    ("search_aliases", (0, 11, 0)),           # commit bdeac889 (#12010), in v0.11.0 (09725967)
)


def parse(text):
    """(major, minor, patch) of a version text ("0.33.0", "v0.9.2", "0.12.0rc1"), or None."""
    m = re.match(r"\s*v?(\d+)\.(\d+)(?:\.(\d+))?", str(text or ""))
    return tuple(int(p or 0) for p in m.groups()) if m else None


def shown(number):
    return ".".join(map(str, number))


def floor(object_info):
    """The oldest release whose /object_info has the fields this one has on every node, or None."""
    nodes = [v for v in (object_info or {}).values() if isinstance(v, dict)] if isinstance(object_info, dict) else []
    if not nodes:
        return None
    for key, release in FLOOR_MARKERS:
        if all(key in node for node in nodes):
            return release
    return None


class ServerVersion:
    """What is known of one server's version: exact (it said so), a floor (its /object_info
    shows it is at least that), or nothing (counted as OLDEST)."""

    def __init__(self, number=None, exact=False, text=None):
        self.number, self.exact, self.text = number, exact, text

    def at_least(self, boundary):
        return (self.number or OLDEST) >= boundary

    def __str__(self):
        if self.exact:
            return f"ComfyUI {self.text or shown(self.number)}"
        if self.number:
            return f"this ComfyUI ({shown(self.number)} or newer, by its /object_info)"
        return "this ComfyUI (version unknown)"


_FLOORS = {}


def learn(reported, object_info):
    """The ServerVersion from what the server reported (None: it did not say) and its /object_info."""
    number = parse(reported)
    if number:
        return ServerVersion(number, exact=True, text=str(reported).strip())
    # one answer per object_info dict: a call validates many files against the same one
    hit = _FLOORS.get(id(object_info))
    if hit is None or hit[0] is not object_info:
        if len(_FLOORS) > 4:
            _FLOORS.clear()
        hit = _FLOORS[id(object_info)] = (object_info, floor(object_info))
    return ServerVersion(hit[1])

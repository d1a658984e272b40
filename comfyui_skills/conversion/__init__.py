"""Editor (UI) workflows to API format and back, the way the official frontend does it.

    to_api       editor workflow -> API prompt: the frontend's graphToPrompt rules (reroutes,
                 bypass with the editor's link-type rule, subgraphs, group nodes, primitives,
                 dynamic prompts) and check_ui, the shape check of an editor file
    to_editor    API prompt -> editor workflow: UiBuilder, subgraphs from `outer:inner` ids,
                 node sizes and the column layout
    widgets      what the frontend builds from a node's schema, shared by both directions:
                 widgets in order, dynamic-prompt inputs, number-widget values
    group_nodes  legacy group nodes (`extra.groupNodes`): the group types the frontend registers,
                 and 1.58.1's load-time unpacking of them into subgraphs
    loaded       what frontend 1.58.1 changes in a workflow as it loads it (clashing inner node
                 ids renumbered, group nodes unpacked)
    frontend     which official frontend version's export rules to follow where versions differ (titles
                 from locale_titles included)
    jsnumber     JavaScript Number(), Math.round, toFixed and integer printing, emulated
    editor_file  the editor file's link tuple and subgraph input/output node ids
"""

from .frontend import NEWEST as NEWEST_FRONTEND
from .frontend import parse_version as parse_frontend_version
from .frontend import saved_by as frontend_saved_by
from .frontend import served_by as frontend_served_by
from .to_api import blueprint_library, blueprint_refs, check_ui, ui_to_api
from .to_editor import api_to_ui
from .widgets import as_schema, number_widget_value

__all__ = ["NEWEST_FRONTEND", "api_to_ui", "as_schema", "blueprint_library", "blueprint_refs", "check_ui", "frontend_saved_by", "frontend_served_by",
           "number_widget_value",
           "parse_frontend_version", "ui_to_api"]

"""Editor (UI) workflows to API format and back, the way the official frontend does it.

    to_api       editor workflow -> API prompt: the frontend's graphToPrompt rules (reroutes,
                 bypass with the editor's link-type rule, subgraphs, group nodes, primitives,
                 dynamic prompts) and check_ui, the shape check of an editor file
    to_editor    API prompt -> editor workflow: UiBuilder, subgraphs from `outer:inner` ids,
                 node sizes and the column layout
    widgets      what the frontend builds from a node's schema, shared by both directions:
                 widgets in order, titles, dynamic-prompt inputs, number-widget values
    jsnumber     JavaScript Number(), Math.round, toFixed and integer printing, emulated
    editor_file  the editor file's link tuple and subgraph input/output node ids
"""

from .to_api import check_ui, ui_to_api
from .to_editor import api_to_ui
from .widgets import as_schema, number_widget_value

__all__ = ["api_to_ui", "as_schema", "check_ui", "number_widget_value", "ui_to_api"]

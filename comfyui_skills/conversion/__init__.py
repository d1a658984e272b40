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

from importlib import import_module

# name -> (submodule, attribute). Loaded on first use (PEP 562): every run imports this package,
# but only an editor-format workflow needs the conversion code behind it.
_EXPORTS = {
    "NEWEST_FRONTEND": ("frontend", "NEWEST"),
    "parse_frontend_version": ("frontend", "parse_version"),
    "frontend_served_by": ("frontend", "served_by"),
    "blueprint_library": ("to_api", "blueprint_library"),
    "blueprint_refs": ("to_api", "blueprint_refs"),
    "ui_to_api": ("to_api", "ui_to_api"),
    "api_to_ui": ("to_editor", "api_to_ui"),
    "as_schema": ("widgets", "as_schema"),
    "number_widget_value": ("widgets", "number_widget_value"),
}
_SUBMODULES = ("to_api", "to_editor", "widgets", "group_nodes", "loaded", "frontend", "jsnumber", "editor_file")

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _SUBMODULES:
        return import_module(f"{__name__}.{name}")
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(import_module(f"{__name__}.{module}"), attribute)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | set(_SUBMODULES))

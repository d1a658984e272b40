"""The library's layout holds: one module talks HTTP routes, only the command layer parses flags.

A newcomer finds the module for a concept by its name; these checks keep the boundaries from
eroding as features are added.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "comfyui_skills"
HTTP_METHODS = {"get_json", "request", "post"}  # the transport's calls that take a route


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def calls_a_route(tree):
    """Does this module hand the transport a route it spelled itself ("/queue", f"/history/{id}")?"""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in HTTP_METHODS:
            if any(_starts_with_slash(a) for a in node.args):
                return True
    return False


def _starts_with_slash(arg):
    if isinstance(arg, ast.JoinedStr) and arg.values:
        arg = arg.values[0]
    return isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith("/")


def imports(tree, name):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name == name for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.module == name:
            return True
    return False


def test_one_module_spells_comfyui_routes():
    # one per kind of server: ComfyUI's own routes, and Comfy API v2's
    assert [name for name, tree in modules() if calls_a_route(tree)] == ["api.py", "v2/client.py"]


def test_only_the_commands_and_cli_parse_flags():
    parsing = [name for name, tree in modules() if imports(tree, "argparse")]
    assert parsing and all(n == "cli.py" or n.startswith("commands/") for n in parsing), parsing


def test_library_code_names_next_steps_as_data_not_hand_written_commands():
    # `python scripts/...` is spelled in one place (nextsteps.render); elsewhere the library
    # returns NextStep values, so --url is added where it matters and nowhere else.
    spelled = []
    for name, tree in modules():
        if name.startswith("commands/") or name == "nextsteps.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "python scripts/" in node.value:
                if not _is_docstring(tree, node):
                    spelled.append(f"{name}: {node.value[:60]!r}")
    assert not spelled, spelled


def _is_docstring(tree, const):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and first.value is const:
                return True
    return False

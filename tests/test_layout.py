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
    # one module per HTTP dialogue: ComfyUI's own routes, ComfyUI-Manager's (3.x and 4.x), Comfy API v2's
    assert [name for name, tree in modules() if calls_a_route(tree)] == ["api.py", "manager.py", "v2/client.py"]


def test_only_the_commands_and_cli_parse_flags():
    parsing = [name for name, tree in modules() if imports(tree, "argparse")]
    assert parsing and all(n == "cli.py" or n.startswith("commands/") for n in parsing), parsing


def command_parsers():
    """(script name, parser) for each script's parser and each of its subcommands' parsers."""
    import argparse
    import importlib

    for path in sorted((PACKAGE / "commands").glob("*.py")):
        if path.stem == "__init__":
            continue
        parsers = [importlib.import_module(f"comfyui_skills.commands.{path.stem}").build_parser()]
        while parsers:
            p = parsers.pop()
            yield path.stem, p
            for action in p._actions:
                if isinstance(action, argparse._SubParsersAction):
                    parsers.extend(action.choices.values())


def pack_spelling():
    """(script names, flags) of the pack's command line, read from the parsers themselves."""
    names, flags = set(), set()
    for name, p in command_parsers():
        names.add(name)
        for action in p._actions:
            flags.update(o for o in action.option_strings if o.startswith("--") and o != "--help")
    return names, flags


def test_every_help_page_fits_100_columns_but_its_example_commands(monkeypatch):
    # --help is the manual, read in a terminal: paragraphs (descriptions, the task and cause lists)
    # are wrapped; only indented example lines, which must stay whole to be copied, may run longer
    monkeypatch.setenv("COLUMNS", "100")
    wide = [f"{p.prog}: {line}" for _, p in command_parsers()
            for line in p.format_help().splitlines() if len(line) > 100 and not line.startswith(" ")]
    assert not wide, "\n".join(wide)


def spelled_commands(text, names, flags):
    """The pack's script names (`run.py`) and flags (`--allow-api`) a string spells."""
    import re

    found = [m.group(0) for m in re.finditer(r"(?<![\w/.-])(\w+)\.py\b", text) if m.group(1) in names]
    # another program's flags (comfy-cli's `--url`, `--workflow=`) are its own: those lines are skipped
    own = "\n".join(line for line in text.splitlines() if not re.search(r"\bcomfy (model|node) ", line))
    found += [m.group(0) for m in re.finditer(r"(?<![\w-])--[a-z][a-z0-9-]*", own) if m.group(0) in flags]
    return found


def test_library_code_names_next_steps_and_flags_as_data_not_hand_written_commands():
    # Script names and flags are spelled in one place (nextsteps: NextStep, Flag), which renders them
    # for the face at hand: `python scripts/run.py --allow-api` on the command line, the tool and its
    # arguments in the MCP server. Library strings (not docstrings) spell neither.
    names, flags = pack_spelling()
    assert {"run", "queue", "models"} <= names and {"--allow-api", "--url", "--set"} <= flags
    spelled = []
    for name, tree in modules():
        if name.startswith("commands/") or name in ("nextsteps.py", "cli.py"):
            continue
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                hits = spelled_commands(node.value, names, flags)
                if hits:
                    spelled.append(f"{name}:{node.lineno}: {hits} in {node.value[:70]!r}")
    assert not spelled, "\n".join(spelled)


def test_the_spelling_check_catches_scripts_and_flags_not_other_programs_flags():
    names, flags = pack_spelling()
    assert spelled_commands("fetch it again with queue.py outputs ID", names, flags) == ["queue.py"]
    assert spelled_commands("add --allow-api, or --no-validate", names, flags) == ["--allow-api", "--no-validate"]
    assert spelled_commands("python main.py --lowvram; curl -L --fail", names, flags) == []
    assert spelled_commands("comfy model download --url <link> --relative-path models/x", names, flags) == []


def _docstrings(tree):
    """ids of the string constants that are docstrings (of the module, a class or a function)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found

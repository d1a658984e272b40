#!/usr/bin/env python3
"""Thin entry point; the logic lives in comfyui_skills/commands/nodes.py. Run with --help."""
import os
import sys

# The pack root replaces this folder on the path, so scripts/nodes.py never shadows the library's modules.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from comfyui_skills import bootstrap  # noqa: E402

bootstrap.ensure_dependencies()  # before any import that needs a third-party package
from comfyui_skills import cli  # noqa: E402
from comfyui_skills.commands import nodes  # noqa: E402

sys.exit(cli.main(nodes))

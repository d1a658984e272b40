#!/usr/bin/env python3
"""Thin entry point; the logic lives in comfyui_skills/commands/preview.py. Run with --help."""
import os
import sys

# The pack root replaces this folder on the path, so scripts/queue.py never shadows stdlib queue.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from comfyui_skills import bootstrap  # noqa: E402

bootstrap.ensure_dependencies()  # before any import that needs a third-party package
from comfyui_skills import cli  # noqa: E402
from comfyui_skills.commands import preview  # noqa: E402

sys.exit(cli.main(preview))

#!/usr/bin/env python3
"""Record what a real ComfyUI answers to the workflows generate.py builds, one family at a time.

    python tests/recordings/generate/record.py URL BASE_DIR [FAMILY ...]

URL must be a ComfyUI of your own started with --base-directory BASE_DIR: its models/ folder is
emptied and refilled with empty placeholder files, family after family (see tests/support/genlive.py).
Each POSTed prompt is deleted and interrupted at once. Writes tests/recordings/generate/FAMILY.json.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from support import genlive  # noqa: E402


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    url, base, families = argv[0].rstrip("/"), argv[1], argv[2:] or list(genlive.FAMILIES)
    with tempfile.TemporaryDirectory() as state:
        env = dict(os.environ, COMFYUI_SKILLS_STATE=str(Path(state) / "state"),
                   COMFYUI_SKILLS_PROJECTS=str(Path(state) / "projects"))
        env.pop("COMFYUI_URL", None)
        for family in families:
            rec = genlive.record_family(url, base, family, env)
            path = HERE / f"{family}.json"
            path.write_text(json.dumps(rec, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            answer = rec.get("answer") or {}
            print(f"{family}: {rec['template']} -> {(rec.get('chosen') or {}).get('template')} "
                  f"{answer.get('status')} {json.dumps((answer.get('body') or {}).get('node_errors'))}",
                  file=sys.stderr)
    genlive.install_only(base, {})


if __name__ == "__main__":
    main(sys.argv[1:])

#!/usr/bin/env python3
"""Record what a real ComfyUI answers to the pack's recipes (tests/support/recipelive.py says how).

    python tests/recordings/recipes/record.py URL COMFYUI_HOME [--keep-png]

COMFYUI_HOME is the server's base folder (its models/ is written: placeholders are added, then
removed again). Writes tests/recordings/recipes/<comfyui_version>.json. --keep-png keeps the real
picture's entry of the existing recording (it waits behind the server's queue: minutes on a busy
CPU server) instead of making it again.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parents[2]))

from support import recipelive  # noqa: E402


def main(argv):
    keep = "--keep-png" in argv
    argv = [a for a in argv if a != "--keep-png"]
    if len(argv) != 2:
        sys.exit(__doc__)
    rec = recipelive.record_server(argv[0].rstrip("/"), argv[1], png=not keep)
    path = HERE / f"{rec['comfyui_version']}.json"
    if keep:
        rec["png"] = json.loads(path.read_text())["png"]
    path.write_text(json.dumps(rec, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    ok = sum(1 for c in rec["cases"] if (c.get("answer") or {}).get("status") == 200)
    print(f"{path.name}: png {rec['png'].get('png_ok')}, community {rec['community_sdxl']['chosen'].get('recipe')} "
          f"{(rec['community_sdxl'].get('answer') or {}).get('status')}, {ok}/{len(rec['cases'])} accepted",
          file=sys.stderr)
    for c in rec["cases"]:
        a = c.get("answer") or {}
        print(f"  {c['file'][:40]:40} {c['family']:16} {c['task']:15} {c.get('recipe') or c.get('template') or '-':18} "
              f"{a.get('status', 'refused: ' + str(c.get('refused')))} "
              f"{json.dumps((a.get('body') or {}).get('node_errors') or (a.get('body') or {}).get('error') or '')[:200]}",
              file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Load the 2,068-node inventory and validate a small workflow: us vs comfy-cli, side by side.

    .venv/bin/python bench/bench_inventory.py [--runs 7] [--object-info PATH] [--comfy PATH]

Each run times, as a user would meet them, one process per tool on the same files:
  ours:      python scripts/validate.py --object-info DUMP WORKFLOW
  comfy-cli: comfy workflow validate --input DUMP --workflow WORKFLOW
plus, in this process, inventory.load(object_info_path=DUMP) and that load + validate.
comfy-cli comes from $COMFY_CLI, --comfy or `comfy` on PATH (pip install comfy-cli==1.23.0).
The target (issue 3): ours takes at most a third of comfy-cli's time.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from comfyui_skills import inventory  # noqa: E402
from comfyui_skills.validation import validate  # noqa: E402

DUMP = ROOT.parent / "shared" / "data" / "object_info" / "heavy-install-2068-nodes.json"
WORKFLOW = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}},
    "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
    "3": {"class_type": "ImageScale", "inputs": {"image": ["2", 0], "upscale_method": "bilinear",
                                                 "width": 128, "height": 128, "crop": "disabled"}},
    "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "bench"}},
}


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run_process(argv):
    def go():
        return subprocess.run(argv, capture_output=True, text=True)
    seconds, proc = timed(go)
    return seconds, proc


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--object-info", default=str(DUMP))
    ap.add_argument("--comfy", default=os.environ.get("COMFY_CLI") or shutil.which("comfy"))
    args = ap.parse_args()
    dump = Path(args.object_info)
    workdir = Path(tempfile.mkdtemp(prefix="bench-inventory-"))
    wf = workdir / "small.json"
    wf.write_text(json.dumps(WORKFLOW))

    ours_cmd = [sys.executable, str(ROOT / "scripts" / "validate.py"), "--object-info", str(dump), str(wf)]
    theirs_cmd = [args.comfy, "workflow", "validate", "--input", str(dump), "--workflow", str(wf)] if args.comfy else None
    rows = {"load": [], "load+validate": [], "ours (process)": [], "comfy-cli (process)": []}
    for _ in range(args.runs):  # interleaved, so both tools see the same machine state
        rows["load"].append(timed(lambda: inventory.load(object_info_path=dump))[0])
        rows["load+validate"].append(timed(lambda: validate(WORKFLOW, inventory.load(object_info_path=dump).object_info))[0])
        seconds, proc = run_process(ours_cmd)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        rows["ours (process)"].append(seconds)
        if theirs_cmd:
            seconds, proc = run_process(theirs_cmd)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            rows["comfy-cli (process)"].append(seconds)

    print(f"{dump.name}: {len(inventory.load(object_info_path=dump))} nodes, {args.runs} runs, median (min)")
    for name, values in rows.items():
        if values:
            print(f"  {name:<22} {statistics.median(values) * 1000:7.0f} ms  ({min(values) * 1000:.0f} ms)")
    if rows["comfy-cli (process)"]:
        ratio = statistics.median(rows["ours (process)"]) / statistics.median(rows["comfy-cli (process)"])
        print(f"  ours / comfy-cli = {ratio:.2f} (target <= 0.33): {'met' if ratio <= 1 / 3 else 'NOT met'}")
    else:
        print("  comfy-cli not found: pip install comfy-cli==1.23.0, or give --comfy PATH")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

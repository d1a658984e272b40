#!/usr/bin/env python3
"""Record a real KSampler run's WebSocket messages (its `progress` steps), for the test double.

    python tests/recordings/runs/record_ksampler.py URL

Runs projects/examples/workflows/text-to-image.json on the first checkpoint URL lists, at 64x64
with 2 steps and a fresh seed (so the sampler is not a cached copy of an earlier run). It queues
this one prompt and never clears or interrupts anything, so a shared server is fine. Writes
tests/recordings/runs/ksampler_progress.json.
"""

import json
import random
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TESTS))

from support.record import Recorder, queue_and_watch, save  # noqa: E402

EXAMPLE = TESTS.parent / "projects" / "examples" / "workflows" / "text-to-image.json"


def main(argv):
    if len(argv) != 1:
        sys.exit(__doc__)
    rec = Recorder(argv[0])
    checkpoints = rec.get_json("/models/checkpoints")
    if not checkpoints:
        sys.exit("record_ksampler.py: the server lists no file in models/checkpoints")
    wf = json.loads(EXAMPLE.read_text())
    for node in wf.values():
        node.pop("_meta", None)
        inputs = node["inputs"]
        if node["class_type"] == "CheckpointLoaderSimple":
            inputs["ckpt_name"] = checkpoints[0]
        elif node["class_type"] == "EmptyLatentImage":
            inputs.update(width=64, height=64)
        elif node["class_type"] == "KSampler":
            inputs.update(steps=2, seed=random.randint(0, 2**32 - 1))
        elif node["class_type"] == "SaveImage":
            inputs["filename_prefix"] = "rec/ksampler"
    version = rec.get_json("/system_stats")["system"]["comfyui_version"]
    print(f"recording ComfyUI {version} at {rec.url}", file=sys.stderr)
    run = queue_and_watch(rec, [wf])
    run["comfyui_version"] = version
    save("runs/ksampler_progress.json", run)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Identifying installed model files, and generate's choice and build over them.

    .venv/bin/python bench/bench_identify.py [--files 1000] [--reps 5] [--out bench/results-identify.md]

Rows (median of --reps, in this process; no server):
- cold: 1,000 distinct .safetensors files (the real SD1.5 key set, 1,130 tensors, in four dtype
  layouts, each a sparse file of the full size, each with its own metadata) identified by their
  headers, as a first snapshot does; files sharing a tensor table are parsed once (identify.py
  _by_layout), so the cost is about 25 ms per distinct layout plus 1-2 ms per file. Target < 2 s.
- from the snapshot: the same 1,000, the server listing the sizes and times the snapshot holds
  (nothing is read again) plus loading them from the record. Target < 50 ms.
- choice and build: generate.plan() over the recorded 0.3.64 node schema and template index with
  those 1,000 files installed, building the SD1.5 recipe's graph and checking it, without the
  run itself. Target < 100 ms.
Exit 0 when every row meets its target.
"""

import argparse
import gzip
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from comfyui_skills import generate, identify, templates  # noqa: E402
from support.model_files import write_safetensors  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "families" / "tiny-random-sd15.header.json.gz"
RECORDINGS = ROOT / "tests" / "recordings"


def median_time(fn, reps):
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_files(folder, n):
    """n files in four layouts (the SD1.5 key set saved as F16, BF16, F32, and F16 without the
    EMA-free text projection), each with its own metadata, so no two files are the same bytes."""
    doc = json.loads(gzip.decompress(FIXTURE.read_bytes()))
    base = {k: (d, tuple(s)) for k, (d, s) in doc["tensors"].items()}
    layouts = [base, {k: ("BF16", s) for k, (d, s) in base.items()}, {k: ("F32", s) for k, (d, s) in base.items()},
               {k: v for i, (k, v) in enumerate(base.items()) if i != 0}]
    for i in range(n):
        write_safetensors(folder / f"community_model_{i:04d}.safetensors", layouts[i % len(layouts)],
                          metadata={"n": str(i)})


def catalog():
    rec = json.loads(gzip.decompress((RECORDINGS / "templates" / "templates.json.gz").read_bytes()))
    index = templates.parse_index(rec["/templates/index.json"]["body"])

    def load(name):
        from comfyui_skills.errors import InputError
        if f"/templates/{name}.json" not in rec:  # listed in the index, not recorded: as a 404
            raise InputError(f"template {name} not recorded")
        return rec[f"/templates/{name}.json"]["body"]
    object_info = json.loads(gzip.decompress((RECORDINGS / "object_info.json.gz").read_bytes()))
    return index, load, object_info


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results-identify.md"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-identify-"))
    try:
        folder = work / "checkpoints"
        folder.mkdir()
        make_files(folder, args.files)
        names = sorted(p.name for p in folder.iterdir())
        listing, roots = {"checkpoints": names}, {"checkpoints": [str(folder)]}
        stats = {"checkpoints": [{"name": n, "size": (folder / n).stat().st_size,
                                  "modified": (folder / n).stat().st_mtime, "pathIndex": 0} for n in names]}
        found = {}

        def cold():
            identify._LAYOUTS.clear()  # nothing known from an earlier repetition
            found["ids"] = identify.identify_listing(listing, stats, roots)
        cold_s = median_time(cold, args.reps)
        record = identify.to_record(found["ids"])
        assert all(i.family == "sd15" for i in found["ids"]["checkpoints"].values())

        def warm():
            identify.identify_listing(listing, stats, roots, previous=identify.from_record(record) and record)
        warm_s = median_time(warm, args.reps)

        index, load, object_info = catalog()
        ids = identify.Identities(found["ids"])
        object_info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0] = names

        def choose():
            plan = generate.plan("a red fox", index, load, object_info, listing, task="text-to-image",
                                 model=names[-1], identities=ids)
            assert plan.recipe == "sd15" or plan.template == "default"
        choose_s = median_time(choose, args.reps)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = [(f"identify {args.files} files by header, cold", cold_s, 2.0),
            (f"identify {args.files} files from the snapshot", warm_s, 0.05),
            ("generate: choice and build (no run)", choose_s, 0.1)]
    lines = ["| row | median | target | |", "|---|---|---|---|"]
    ok = True
    for name, secs, target in rows:
        passed = secs < target
        ok &= passed
        lines.append(f"| {name} | {secs * 1000:.0f} ms | < {target * 1000:.0f} ms | {'ok' if passed else 'MISSED'} |")
    text = "\n".join(lines)
    print(text)
    if args.out != "-":
        Path(args.out).write_text("# Identification and choice\n\n" + f"`python bench/bench_identify.py --files "
                                  f"{args.files} --reps {args.reps}`\n\n" + text + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

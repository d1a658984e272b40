"""Download throughput and memory: models.py's engine against curl, from a loopback server.

    .venv/bin/python bench/bench_download.py [--size-mb 1024] [--reps 3]

Generates random files in a temporary folder under /tmp (deleted afterwards), serves them from
tests/fileserver.py (sendfile, so the server is not the bottleneck), and downloads each with
downloads.download() in a fresh process and with `curl -s -o`. Ours hashes (sha256) and fsyncs
before naming the file; curl does neither, so a "curl + fsync" column is shown too. Every
file is fsynced (untimed for curl) before the next run, so no run pays the previous one's
writeback. The machine is shared: run it when it is quiet, the figures move with load. Peak RSS is
each process's own (wait4), for a small and the large file: flat memory means the two match.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from fileserver import FileServer  # noqa: E402

OURS = ("import sys; from comfyui_skills import downloads; "
        "downloads.download(sys.argv[1], sys.argv[2], token_for=lambda u: {})")


def make(path, size):
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for i in range(size // len(block)):
            f.write(block[:8] + i.to_bytes(8, "little") + block[16:])  # no two blocks alike


def timed(argv, after=None):
    t = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if after:
        after()
    elapsed = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[0]} failed")
    return elapsed, usage.ru_maxrss / 1024  # MiB


def fsync(path):
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--small-mb", type=int, default=100)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-dl-", dir="/tmp"))
    try:
        rows = []
        with FileServer() as srv:
            for mb in (a.small_mb, a.size_mb):
                src = work / f"src{mb}.bin"
                make(src, mb << 20)
                srv.add(f"/{mb}.bin", src)
                url = srv.url(f"/{mb}.bin")
                res = {"ours": [], "curl": [], "curl+fsync": []}
                rss = {}
                for rep in range(a.reps + 1):  # the first round warms the page cache, untimed
                    for kind in (["ours", "curl", "curl+fsync"][rep % 3:] + ["ours", "curl", "curl+fsync"][:rep % 3]):
                        out = work / "out"
                        shutil.rmtree(out, ignore_errors=True)
                        out.mkdir()
                        target = out / f"{mb}.bin"
                        if kind == "ours":
                            t, m = timed([sys.executable, "-c", OURS, url, str(out)])
                        else:
                            t, m = timed(["curl", "-s", "-o", str(target), url],
                                         after=(lambda: fsync(target)) if kind == "curl+fsync" else None)
                        assert target.stat().st_size == mb << 20
                        fsync(target)  # untimed: no run pays for the dirty pages of the one before
                        if rep:
                            res[kind].append(t)
                            rss[kind] = max(rss.get(kind, 0), m)
                med = {k: statistics.median(v) for k, v in res.items()}
                rows.append((mb, med, rss))
                src.unlink()
        print("| file | ours s (MB/s) | curl s (MB/s) | curl+fsync s (MB/s) | ours/curl | ours/(curl+fsync) | peak RSS ours / curl |")
        print("|---|---|---|---|---|---|---|")
        for mb, med, rss in rows:
            rate = {k: mb * 1.048576 / v for k, v in med.items()}
            print(f"| {mb} MiB | {med['ours']:.2f} ({rate['ours']:.0f}) | {med['curl']:.2f} ({rate['curl']:.0f}) | "
                  f"{med['curl+fsync']:.2f} ({rate['curl+fsync']:.0f}) | {med['ours'] / med['curl']:.2f} | "
                  f"{med['ours'] / med['curl+fsync']:.2f} | {rss['ours']:.0f} / {rss['curl']:.0f} MiB |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

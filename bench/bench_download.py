"""Download throughput and memory: models.py's engine against curl, from a loopback server.

    .venv/bin/python bench/bench_download.py [--size-mb 1024] [--small-mb 100] [--reps 5] [--out FILE]

What is compared, and how:
- The same files: random, generated in a temporary folder under /tmp (deleted afterwards), one of
  --small-mb and one of --size-mb, served by the same loopback server, tests/support/fileserver.py, in this
  process's threads (sendfile: the kernel copies, so the server is not the bottleneck).
- Ours is downloads.download(), the engine `models.py download` drives, in a fresh process
  (`python -c`: interpreter start-up and imports, requests' among them, included; bytecode cached
  as after an install, in the temporary folder); curl is `curl -s -o`. The start-up alone is
  shown under the table. (The command itself also loads its server client before downloading.)
  Ours does more than curl: it hashes the bytes (sha256, in a thread of its own, while they
  arrive) and fsyncs the part before naming it, then checks the file's head (HTML page? safetensors
  header?). curl does neither, so a "curl + fsync" column (curl, then an fsync of its file in
  the timing) is shown too. The target is against plain curl.
- The page cache is warm: the source file was just written, and one untimed round of each tool
  precedes the timed ones. Every output is fsynced (untimed for curl) and deleted before the next
  run, so no run pays the writeback of the one before.
- The order of the three rotates every repetition; the figures are medians, with the spread
  (fastest to slowest) beside them.
- Peak RSS is each process's own (wait4), for the small and the large file: flat memory means the
  two match.

On the 2-CPU VM this runs on, a buffered write into pages the kernel has not used lately is slow
(free memory goes back to the host, and the first touch of a page faults on the host: a 1 GiB
write took 0.2 to 3.6 s by that alone), and dd writes 1 GiB at 1.4-2.3 GB/s with O_DIRECT
against 0.2-0.5 GB/s buffered with an fsync. That is why downloads.py writes whole blocks with
O_DIRECT (see comfyui_skills/spool.py: Spool), and why curl's own figures move so much from run to run.
The machine is shared: run it when it is quiet; the figures move with load. Exit status 0 when the
large file's ours/curl is at most 1.10.
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from support.fileserver import FileServer  # noqa: E402

OURS = ("import sys; from comfyui_skills import downloads; "
        "downloads.download(sys.argv[1], sys.argv[2], token_for=lambda u: {})")
START_UP = "from comfyui_skills import downloads"
KINDS = ["ours", "curl", "curl+fsync"]
TARGET = 1.10


def make(path, size):
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for i in range(size // len(block)):
            f.write(block[:8] + i.to_bytes(8, "little") + block[16:])  # no two blocks alike


def timed(argv, env, after=None):
    t = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
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


def spread(values):
    return f"{min(values):.2f}-{max(values):.2f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--small-mb", type=int, default=100)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", help="also write the table, with the run's circumstances, to this file")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-dl-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")  # bytecode as after an install, kept out of the repo
    try:
        rows = []
        with FileServer() as srv:
            for mb in (a.small_mb, a.size_mb):
                src = work / f"src{mb}.bin"
                make(src, mb << 20)
                srv.add(f"/{mb}.bin", src)
                url = srv.url(f"/{mb}.bin")
                res = {k: [] for k in KINDS}
                rss = {}
                for rep in range(a.reps + 1):  # the first round warms the page cache and the bytecode, untimed
                    for kind in KINDS[rep % 3:] + KINDS[:rep % 3]:
                        out = work / "out"
                        shutil.rmtree(out, ignore_errors=True)
                        out.mkdir()
                        target = out / f"{mb}.bin"
                        if kind == "ours":
                            t, m = timed([sys.executable, "-c", OURS, url, str(out)], env)
                        else:
                            t, m = timed(["curl", "-s", "-o", str(target), url], env,
                                         after=(lambda: fsync(target)) if kind == "curl+fsync" else None)
                        assert target.stat().st_size == mb << 20 and os.listdir(out) == [target.name]
                        fsync(target)  # untimed: no run pays for the dirty pages of the one before
                        if rep:
                            res[kind].append(t)
                            rss[kind] = max(rss.get(kind, 0), m)
                rows.append((mb, res, rss))
                src.unlink()
        start_up = [timed([sys.executable, "-c", START_UP], env)[0] for _ in range(2 * a.reps + 1)][1:]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = ["| file | ours s (MB/s) | curl s (MB/s) | curl+fsync s (MB/s) | ours/curl | ours/(curl+fsync) "
             "| spread s: ours / curl / curl+fsync | peak RSS ours / curl |",
             "|---|---|---|---|---|---|---|---|"]
    ratio = None
    for mb, res, rss in rows:
        med = {k: statistics.median(v) for k, v in res.items()}
        rate = {k: mb * 1.048576 / v for k, v in med.items()}
        ratio = med["ours"] / med["curl"]
        lines.append(f"| {mb} MiB | {med['ours']:.2f} ({rate['ours']:.0f}) | {med['curl']:.2f} ({rate['curl']:.0f}) | "
                     f"{med['curl+fsync']:.2f} ({rate['curl+fsync']:.0f}) | {ratio:.2f} | "
                     f"{med['ours'] / med['curl+fsync']:.2f} | {spread(res['ours'])} / {spread(res['curl'])} / "
                     f"{spread(res['curl+fsync'])} | {rss['ours']:.0f} / {rss['curl']:.0f} MiB |")
    verdict = "pass" if ratio <= TARGET else "FAIL"
    lines += ["", f"- target: ours/curl ≤ {TARGET:.2f} on the {a.size_mb} MiB file: {ratio:.2f}, {verdict}",
              f"- of ours, a fresh process's start-up and imports alone (`python -c \"{START_UP}\"`): "
              f"median {statistics.median(start_up) * 1000:.0f} ms ({spread(start_up)} s)",
              f"- medians of {a.reps} timed repetitions after one warm-up, order rotating; "
              f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end"]
    print("\n".join(lines))
    if a.out:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip() or "unknown"
        curl = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
        head = [f"# Model download throughput, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", "",
                f"- pack: commit {commit}; Python {platform.python_version()}; {' '.join(curl.split()[:2])}",
                f"- machine: {platform.machine()}, {os.cpu_count()} CPUs; "
                f"`bench/bench_download.py --size-mb {a.size_mb} --small-mb {a.small_mb} --reps {a.reps}`", ""]
        Path(a.out).write_text("\n".join(head + lines) + "\n")
    return 0 if verdict == "pass" else 1


if __name__ == "__main__":
    sys.exit(main())

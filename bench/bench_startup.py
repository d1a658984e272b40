"""The start-up budget: what a call costs beyond the wire, whole process, wall and CPU.

    .venv/bin/python bench/bench_startup.py --url http://127.0.0.1:8190 [--comfy PATH] [--reps 9]

Every agent request starts a fresh Python, so what a script does before (and beside) talking to
the server is paid on every call. Each row times ours and its baseline in the same loop, in an
order that alternates every repetition, after one untimed warm-up each; medians of --reps pairs.
CPU is the child's user + system time (getrusage of the waited-for process).

- run.py end to end (EmptyImage -> SaveImage, a fresh colour each time so the server never answers
  from its cache; queue, wait on the WebSocket, read /history, download) against the lean client
  (bench/lean_client.py: the same calls and nothing else, ~25 lines of requests + websocket-client):
  wall and CPU, target <= 1.3x each; against comfy-cli's `comfy run --wait` (which does not
  download): wall, target <= 0.2x.
- validate.py of a 2-node workflow against the 2,068-node /object_info dump, beside
  `python -c "import requests"` (the least any Python client of ComfyUI pays): target <= 1.5x.
- beside the same, for reference: validate.py against an inventory snapshot built from that dump,
  status.py against --url, and generate.py --dry-run against --url (when the server has a model
  some template can use; else skipped with a note).

Without comfy-cli its row reads n/a; without the dump the validation rows are skipped; without a
server at --url the live rows are. Exit 0 when every row with a target passes. The environment
is bench/run.py's (state in a temporary folder, bytecode cached as after an install, no
telemetry, no proxy but loopback). Latest numbers: bench/results-startup.md.
"""

import argparse
import datetime
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (DUMP, PY, ROOT, BenchError, Runner, Server, bench_env, context_lines, find_comfy, publish,  # noqa: E402
                 interleaved, last_json, median, prepare_comfy, progress)
import workloads  # noqa: E402
from table import Row, render  # noqa: E402

LEAN = Path(__file__).resolve().parent / "lean_client.py"


def timed(runner, argv, ok=(0,), timeout=300):
    """(wall s, CPU s, CompletedProcess) of one process, start to exit, stdin closed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env=runner.env, cwd=runner.cwd, timeout=timeout)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in ok:
        raise BenchError(f"{' '.join(map(str, argv[:4]))} ... exited {proc.returncode}:\n"
                         f"{(proc.stderr or proc.stdout)[-800:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc


# -- run.py against the lean client and comfy-cli ----------------------------------------------------
def run_rows(runner, server, comfy, work, reps, notes):
    out = work / "out"
    out.mkdir(exist_ok=True)

    def fresh(tool):
        return workloads.write(work / f"{tool}-{time.monotonic_ns()}.json",
                               workloads.small(workloads.fresh_color()))

    def ours():
        wall, cpu, proc = timed(runner, [PY, ROOT / "scripts/run.py", fresh("ours"), "--url", server.url, "--json",
                                         "--quiet", "--out", out])
        answer = last_json(proc.stdout)
        if answer.get("status") != "success" or not answer.get("outputs"):
            raise BenchError(f"run.py did not succeed: {proc.stdout[-600:]}")
        return wall, cpu

    def lean():
        folder = Path(tempfile.mkdtemp(dir=work))
        wall, cpu, _ = timed(runner, [PY, LEAN, fresh("lean"), server.url, folder])
        if not any(folder.iterdir()):
            raise BenchError("the lean client downloaded nothing")
        return wall, cpu

    def theirs():
        wall, cpu, proc = timed(runner, [comfy, "--skip-prompt", "run", "--workflow", fresh("comfy"), "--wait",
                                         "--host", server.host, "--port", server.port])
        if (last_json(proc.stdout).get("data") or {}).get("status") != "completed":
            raise BenchError(f"comfy run did not complete: {proc.stdout[-600:]}")
        return wall, cpu

    ours, lean, theirs = (when_idle(server, job, notes) for job in (ours, lean, theirs))
    progress(f"run.py and the lean client, {reps} alternating pairs")
    got = interleaved(reps, ours, lean)
    rows = [
        Row("run.py end to end (2-node workflow), wall", median(w for w, _ in got[0]),
            median(w for w, _ in got[1]), target="≤ 1.3", limit=1.3, baseline_name="lean client"),
        Row("run.py end to end (2-node workflow), CPU", median(c for _, c in got[0]),
            median(c for _, c in got[1]), target="≤ 1.3", limit=1.3, baseline_name="lean client"),
    ]
    pairs = sorted(a[0] / b[0] for a, b in zip(*got))
    notes.append(f"run.py over the lean client, pair by pair (wall): median {median(pairs):.2f}x, "
                 f"range {pairs[0]:.2f}x to {pairs[-1]:.2f}x")
    if comfy:
        progress(f"run.py and comfy run --wait, {reps} alternating pairs")
        got = interleaved(reps, ours, theirs)
        ours_wall, theirs_wall = median(w for w, _ in got[0]), median(w for w, _ in got[1])
        cpu = median(c for _, c in got[1])
        note = f"comfy-cli does not download; its CPU {cpu * 1000:.0f} ms"
    else:
        ours_wall = theirs_wall = None
        note = "comfy-cli not found"
    rows.append(Row("run.py end to end, vs comfy run --wait, wall", ours_wall, theirs_wall, target="≤ 0.2",
                    limit=0.2, baseline_name="comfy-cli", note=note))
    return rows


def when_idle(server, job, notes, patience=120.0):
    """`job`, started once the server's queue is empty: on a shared server a prompt queued behind
    someone's sampling would time their minutes, not our start-up (waited up to `patience` s)."""
    def go():
        end = time.monotonic() + patience
        while server.busy() and time.monotonic() < end:
            time.sleep(0.5)
        if server.busy() and not any(n.startswith("the server's queue") for n in notes):
            notes.append(f"the server's queue was still busy after {patience:g} s before some timed runs: "
                         f"their wall time includes others' prompts")
        return job()
    return go


# -- start-up beside `import requests` ----------------------------------------------------------------
def beside_requests(runner, reps, metric, argv, target=None, ok=(0,)):
    """Rows for wall and CPU of `argv` against `python -c "import requests"`, in one loop."""
    got = interleaved(reps, lambda: timed(runner, argv, ok=ok)[:2],
                      lambda: timed(runner, [PY, "-c", "import requests"])[:2])
    limit = dict(target=f"≤ {target}", limit=target) if target else dict(note="for reference")
    return [Row(f"{metric}, wall", median(w for w, _ in got[0]), median(w for w, _ in got[1]),
                baseline_name="import requests", **limit),
            Row(f"{metric}, CPU", median(c for _, c in got[0]), median(c for _, c in got[1]),
                baseline_name="import requests", **limit)]


def offline_rows(runner, dump, work, reps):
    small = workloads.write(work / "small.json", workloads.small(prefix="bench/small"))
    inv = workloads.build_inventory(dump, work / "inventory.json")
    nodes = f"{json.loads(inv.read_text(encoding='utf-8'))['node_count']:,}"
    progress("validate.py beside import requests")
    rows = beside_requests(runner, reps, f"validate.py, 2 nodes vs {nodes}-node dump",
                           [PY, ROOT / "scripts/validate.py", small, "--object-info", dump], target=1.5)
    rows += beside_requests(runner, reps, f"validate.py, 2 nodes vs a {nodes}-node snapshot",
                            [PY, ROOT / "scripts/validate.py", small, "--inventory", inv])
    return rows


def live_startup_rows(runner, server, reps, notes):
    progress("status.py and generate.py --dry-run beside import requests")
    rows = beside_requests(runner, reps, "status.py", [PY, ROOT / "scripts/status.py", "--url", server.url])
    dry = [PY, ROOT / "scripts/generate.py", "a red fox", "--dry-run", "--json", "--url", server.url]
    _, _, proc = timed(runner, dry, ok=(0, 1))
    if proc.returncode:
        notes.append(f"generate.py --dry-run skipped: {server.url} has nothing a template can run "
                     f"({(last_json(proc.stdout).get('message') or '')[:120]}...)")
        return rows
    return rows + beside_requests(runner, reps, "generate.py --dry-run", dry)


# -- main ---------------------------------------------------------------------------------------
def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:8188", help="ComfyUI on this machine (default %(default)s)")
    p.add_argument("--comfy", help="comfy-cli executable (default: $COMFY_CLI, else `comfy` on PATH)")
    p.add_argument("--object-info", type=Path, default=DUMP, help="the /object_info dump (default: the 2,068-node one)")
    p.add_argument("--reps", type=int, default=9, help="timed pairs per row (default 9)")
    p.add_argument("--out", default=str(ROOT / "bench" / "results-startup.md"),
                   help="where to write the table too ('-' for nowhere)")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="comfyui-skills-startup-"))
    runner = Runner(bench_env(work), cwd=work)
    notes, rows = [], []
    comfy = find_comfy(args.comfy)
    comfy_version = server_version = None
    try:
        server = Server(args.url)
        if comfy:
            comfy_version = prepare_comfy(runner, comfy)
        else:
            notes.append("comfy-cli not found (pip install comfy-cli==1.23.0 in a venv of its own, then --comfy "
                         "PATH or $COMFY_CLI): its row is not measured")
        if args.object_info.is_file():
            rows += offline_rows(runner, args.object_info, work, args.reps)
        else:
            notes.append(f"{args.object_info} is absent: validation rows skipped (give another dump with --object-info)")
        server_version = server.version()
        if server_version is None:
            notes.append(f"no ComfyUI answers at {args.url}: the run, status and generate rows are skipped")
        else:
            if server.busy():
                notes.append(f"{args.url} had other prompts queued when the live rows began: wall times may "
                             f"include their time")
            rows += run_rows(runner, server, comfy, work, args.reps, notes)
            rows += live_startup_rows(runner, server, args.reps, notes)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return publish(report(args, rows, notes, comfy_version, server_version), args.out, rows)


def report(args, rows, notes, comfy_version, server_version):
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    head = [f"# comfyui-skills start-up budget (bench/bench_startup.py), {now}", "",
            *context_lines(args.url, comfy_version, server_version),
            f"- medians of {args.reps} timed pairs per row, alternating order, after one warm-up each; whole "
            f"processes, start to exit; CPU = user + system; bytecode cached as after an install", ""]
    tail = ["", ""] + [f"- {n}" for n in notes] if notes else []
    return "\n".join(head) + "\n" + render(rows) + "\n".join(tail)


if __name__ == "__main__":
    sys.exit(main())

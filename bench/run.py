"""comfyui-skills against comfy-cli and the seed design's 5-second polling loop, side by side.

    .venv/bin/python bench/run.py [--url http://127.0.0.1:8188] [--comfy PATH] [--reps 9]

One run, one machine, one server: every row times ours and its baseline in the same loop,
interleaved (the order swaps each repetition) after one untimed warm-up, and reports the median.
Prints a Markdown table (metric, ours, baseline, ratio, target, result) and writes it to
bench/results-latest.md (--out - to skip). See bench/README.md.

comfy-cli is $COMFY_CLI, --comfy PATH, or `comfy` on PATH (pip install comfy-cli==1.23.0); without
it its columns say so. It runs with stdin closed, telemetry and update checks off, and a proxy that
leads nowhere for any host but 127.0.0.1. The live rows need a ComfyUI at --url on this machine;
without one they are skipped with a note.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import seed_loop  # noqa: E402
import workloads  # noqa: E402
from table import Row, render  # noqa: E402

ROOT = workloads.ROOT
PY = sys.executable
DUMP = ROOT.parent / "shared" / "data" / "object_info" / "heavy-install-2068-nodes.json"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class BenchError(Exception):
    pass


# -- processes ----------------------------------------------------------------------------------
def bench_env(tmp):
    """The environment both tools run in: our state in a temp folder, no telemetry, no way out."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("COMFYUI_URL", "COMFYUI_API_KEY", "COMFY_API_KEY", "COMFYUI_CLOUD")}
    dead_end = "http://127.0.0.1:9"  # nothing listens: any request for another host fails here
    env.update(DO_NOT_TRACK="1", COMFY_NO_TELEMETRY="1", COMFY_NO_UPDATE_CHECK="1", COMFY_WHERE="local",
               HTTP_PROXY=dead_end, HTTPS_PROXY=dead_end, http_proxy=dead_end, https_proxy=dead_end,
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
               COMFYUI_SKILLS_STATE=str(tmp / "state"), COMFYUI_SKILLS_PROJECTS=str(tmp / "projects"))
    return env


class Runner:
    def __init__(self, env, cwd):
        self.env, self.cwd = env, cwd

    def timed(self, argv, ok=(0,), timeout=600):
        """(wall seconds, CompletedProcess) of one process, start to exit, stdin closed."""
        start = time.perf_counter()
        proc = subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              env=self.env, cwd=self.cwd, timeout=timeout)
        seconds = time.perf_counter() - start
        if proc.returncode not in ok:
            raise BenchError(f"{' '.join(map(str, argv[:4]))} ... exited {proc.returncode}:\n"
                             f"{(proc.stderr or proc.stdout)[-800:]}")
        return seconds, proc


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return json.loads(text)


def interleaved(reps, *jobs):
    """Run each job once untimed, then `reps` times in a rotating order; lists of their results."""
    for job in jobs:
        job()
    results = [[] for _ in jobs]
    for rep in range(reps):
        order = list(range(len(jobs)))
        shift = rep % len(jobs)
        for i in order[shift:] + order[:shift]:
            results[i].append(jobs[i]())
    return results


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# -- comfy-cli ----------------------------------------------------------------------------------
def find_comfy(given):
    path = given or os.environ.get("COMFY_CLI") or shutil.which("comfy")
    return path if path and Path(path).exists() else None


def prepare_comfy(runner, comfy):
    """Record the opt-out of its analytics once, so it never asks; returns its version."""
    runner.timed([comfy, "--skip-prompt", "tracking", "disable"], timeout=120)
    _, proc = runner.timed([comfy, "--skip-prompt", "--version"], timeout=120)
    try:
        return last_json(proc.stdout).get("version") or "?"
    except ValueError:
        return proc.stdout.strip() or "?"


# -- offline rows -------------------------------------------------------------------------------
def validation_rows(runner, comfy, dump, work, reps):
    small = workloads.write(work / "small.json", workloads.small(prefix="bench/small"))
    wide = workloads.write(work / "wide-1000.json", workloads.wide(1000))
    inv = workloads.build_inventory(dump, work / "inventory.json")
    ours = lambda wf, *src: lambda: runner.timed([PY, ROOT / "scripts/validate.py", wf, *src])[0]  # noqa: E731
    theirs = lambda wf: lambda: comfy_validate(runner, comfy, wf, dump)  # noqa: E731
    rows = []
    cases = [("Validate 2 nodes vs 2,068-node dump", small, ("--object-info", dump), "≤ 0.33 (≥3x faster)"),
             ("Validate 1,000 nodes (250 branches) vs 2,068-node dump", wide, ("--object-info", dump),
              "≤ 0.33 (≥3x faster)"),
             ("Inventory load (2,068 nodes) + validate 2 nodes", small, ("--inventory", inv), "≤ 0.33")]
    for metric, wf, src, target in cases:
        progress(metric)
        jobs = [ours(wf, *src)] + ([theirs(wf)] if comfy else [])
        got = interleaved(reps, *jobs)
        rows.append(Row(metric, median(got[0]), median(got[1]) if comfy else None, target=target,
                        limit=1 / 3, baseline_name="comfy-cli"))
    progress("Inventory load, in process")
    from comfyui_skills import inventory
    loads = interleaved(reps, lambda: _in_process(lambda: inventory.load(path=inv)))[0]
    rows.append(Row("Inventory load alone, in process (inventory.load)", median(loads), None, target="",
                    note="no baseline: comfy-cli has no inventory"))
    return rows


def _in_process(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def comfy_validate(runner, comfy, wf, dump):
    seconds, proc = runner.timed([comfy, "--skip-prompt", "workflow", "validate", "--workflow", wf, "--input", dump],
                                 ok=(0, 1))
    answer = last_json(proc.stdout)
    if not answer.get("ok") or not (answer.get("data") or {}).get("valid"):
        raise BenchError(f"comfy-cli found {wf.name} invalid: {proc.stdout[-600:]}")
    return seconds


def startup_row(runner, comfy, reps):
    progress("Start-up")
    jobs = [lambda: runner.timed([PY, ROOT / "scripts/status.py", "--help"])[0]]
    if comfy:
        jobs.append(lambda: runner.timed([comfy, "--skip-prompt", "--help"])[0])
    got = interleaved(reps, *jobs)
    return Row("Start-up: status.py --help (vs comfy --help)", median(got[0]), median(got[1]) if comfy else None,
               target="", baseline_name="comfy-cli", note="for reference")


# -- live rows ----------------------------------------------------------------------------------
class Server:
    def __init__(self, url):
        parts = urlsplit(url)
        if parts.hostname not in LOOPBACK:
            raise BenchError(f"--url {url}: the benchmark only talks to a server on this machine (127.0.0.1)")
        self.url = url.rstrip("/")
        self.host, self.port = parts.hostname, parts.port or 80
        self.session = requests.Session()
        self.session.trust_env = False

    def version(self):
        """ComfyUI's version, or None when nothing answers."""
        try:
            stats = self.session.get(f"{self.url}/system_stats", timeout=3).json()
        except (requests.RequestException, ValueError):
            return None
        return (stats.get("system") or {}).get("comfyui_version") or "?"

    def busy(self):
        q = self.session.get(f"{self.url}/queue", timeout=10).json()
        return len(q.get("queue_running") or []) + len(q.get("queue_pending") or [])

    def entry(self, prompt_id):
        return self.session.get(f"{self.url}/history/{prompt_id}", timeout=30).json().get(prompt_id)

    def server_seconds(self, prompt_ids):
        """Σ execution_start -> last status message, and the span first start -> last end."""
        stamps = [seed_loop.server_stamps(self.entry(p)) for p in prompt_ids]
        if any(s is None or e is None for s, e in stamps):
            raise BenchError("a prompt's /history entry has no execution timestamps")
        return sum(e - s for s, e in stamps), max(e for _, e in stamps) - min(s for s, _ in stamps)


def ours_run(runner, server, wf_path, out, *extra):
    seconds, proc = runner.timed([PY, ROOT / "scripts/run.py", wf_path, "--url", server.url, "--json", "--quiet",
                                  "--out", out, *extra])
    return seconds, json.loads(proc.stdout)


def e2e_rows(runner, server, comfy, work, reps, notes):
    out = work / "out"
    out.mkdir(exist_ok=True)
    counter = iter(range(10 ** 6))

    def fresh(name):
        return workloads.write(work / f"{name}-{next(counter)}.json", workloads.small(workloads.fresh_color()))

    def ours(*extra):
        def go():
            seconds, answer = ours_run(runner, server, fresh("ours"), out, *extra)
            if answer.get("status") != "success" or not answer.get("outputs"):
                raise BenchError(f"run.py did not succeed: {answer}")
            return seconds, answer.get("latency_ms"), answer.get("noticed_via")
        return go

    def comfy_cli():
        seconds, proc = runner.timed([comfy, "--skip-prompt", "run", "--workflow", fresh("comfy"), "--wait",
                                      "--host", server.host, "--port", server.port])
        exited = time.time()
        data = last_json(proc.stdout).get("data") or {}
        _, end = seed_loop.server_stamps(server.entry(data.get("prompt_id")))
        return seconds, (exited - end) * 1000 if end else None, "exit"

    def seed():
        wall, noticed = seed_loop.run_many(server.url, [workloads.small(workloads.fresh_color())], out)
        return wall, next(iter(noticed.values())) * 1000, "poll-5s"

    progress("Run end to end (small workflow): ours, ours --poll, comfy-cli, 5-s loop")
    jobs = [ours(), ours("--poll"), seed] + ([comfy_cli] if comfy else [])
    got = interleaved(reps, *jobs)
    ws, poll, loop = got[0], got[1], got[2]
    cli = got[3] if comfy else []
    wall = lambda rs: median(r[0] for r in rs)  # noqa: E731
    lat = lambda rs: median(r[1] for r in rs)  # noqa: E731
    fell_back = sum(1 for r in ws if r[2] != "websocket")
    if fell_back:
        notes.append(f"{fell_back} of {len(ws)} WebSocket-path runs finished by polling instead")
    if cli:
        notes.append(f"comfy-cli, server finish to process exit (it waits on a WebSocket, then exits): "
                     f"median {lat(cli):.0f} ms")
    return [
        Row("Run end to end: queue, wait, download (WebSocket)", wall(ws), wall(cli) if cli else None,
            target="≤ 0.5", limit=0.5, baseline_name="comfy-cli",
            note="comfy-cli does not download" if cli else ""),
        Row("Run end to end, vs the 5-s polling loop", wall(ws), wall(loop), target="", baseline_name="5-s loop"),
        Row("Run end to end with --poll (no WebSocket)", wall(poll), wall(cli) if cli else None, target="",
            baseline_name="comfy-cli"),
        Row("Completion noticed after server finish, WebSocket", lat(ws) / 1000, lat(loop) / 1000,
            target="< 50 ms", absolute=0.050, baseline_name="5-s loop"),
        Row("Completion noticed after server finish, polling (--poll)", lat(poll) / 1000, lat(loop) / 1000,
            target="< 0.5 s", absolute=0.5, baseline_name="5-s loop"),
    ]


def sweep_rows(runner, server, work, size, reps):
    out = work / "sweep-out"
    out.mkdir(exist_ok=True)
    base = workloads.write(work / "sweep.json", workloads.sweep_base())

    def colors():
        return [workloads.fresh_color() for _ in range(size)]

    def ours():
        values = ",".join(map(str, colors()))
        seconds, answer = ours_run(runner, server, base, out, "--sweep", f"1.color={values}")
        runs = answer.get("runs") or []
        if len(runs) != size or any(r.get("status") != "success" or not r.get("outputs") for r in runs):
            raise BenchError(f"the sweep did not return {size} successful runs: {answer.get('counts')}")
        return (seconds,) + server.server_seconds([r["prompt_id"] for r in runs])

    def seed():
        wfs = []
        for c in colors():
            wf = workloads.sweep_base()
            wf["1"]["inputs"]["color"] = c
            wfs.append(wf)
        wall, noticed = seed_loop.run_many(server.url, wfs, out)
        return (wall,) + server.server_seconds(list(noticed))

    progress(f"Sweep of {size} prompts: ours, 5-s loop")
    got = interleaved(reps, ours, seed)
    overhead = lambda rs: median(wall / busy - 1 for wall, busy, _ in rs)  # noqa: E731
    beyond_span = lambda rs: median(wall / span - 1 for wall, _, span in rs)  # noqa: E731
    per_prompt = median(busy / size for _, busy, _ in got[0])
    return [
        Row(f"Sweep of {size} prompts: overhead over the server's execution time", overhead(got[0]),
            overhead(got[1]), target="< 5%", absolute=0.05, percent=True, baseline_name="5-s loop",
            note=f"server ~{per_prompt:.2f} s/prompt"),
        Row(f"Sweep of {size}: wall beyond the server's first start to last finish", beyond_span(got[0]),
            beyond_span(got[1]), target="", percent=True, baseline_name="5-s loop",
            note="the server's own gaps between prompts excluded"),
    ]


# -- main ---------------------------------------------------------------------------------------
def progress(text):
    print(f"bench: {text}", file=sys.stderr, flush=True)


def git_describe():
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout
    except OSError:
        return "?"
    return head.strip() + (" (with uncommitted changes)" if dirty.strip() else "")


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:8188", help="ComfyUI on this machine (default %(default)s)")
    p.add_argument("--comfy", help="comfy-cli executable (default: $COMFY_CLI, else `comfy` on PATH)")
    p.add_argument("--object-info", type=Path, default=DUMP, help="the /object_info dump (default: the 2,068-node one)")
    p.add_argument("--reps", type=int, default=9, help="timed repetitions of each offline row (default 9)")
    p.add_argument("--live-reps", type=int, default=7, help="of each end-to-end row (default 7)")
    p.add_argument("--sweep", type=int, default=50, help="prompts in the sweep (default 50)")
    p.add_argument("--sweep-reps", type=int, default=3, help="timed sweeps per tool (default 3)")
    p.add_argument("--no-live", action="store_true", help="skip the rows that need a server")
    p.add_argument("--out", default=str(ROOT / "bench" / "results-latest.md"),
                   help="where to write the table too ('-' for nowhere)")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="comfyui-skills-bench-"))
    runner = Runner(bench_env(work), cwd=work)
    notes, rows = [], []
    comfy = find_comfy(args.comfy)
    comfy_version = None
    try:
        if comfy:
            comfy_version = prepare_comfy(runner, comfy)
        else:
            notes.append("comfy-cli not found (pip install comfy-cli==1.23.0, then --comfy PATH or $COMFY_CLI): "
                         "its columns are empty")
        if args.object_info.is_file():
            rows += validation_rows(runner, comfy, args.object_info, work, args.reps)
        else:
            notes.append(f"{args.object_info} is absent: validation and inventory rows skipped "
                         f"(give another dump with --object-info)")
        rows.append(startup_row(runner, comfy, args.reps))
        server_version = None
        if not args.no_live:
            server = Server(args.url)
            server_version = server.version()
            if server_version is None:
                notes.append(f"no ComfyUI answers at {args.url}: the run, latency and sweep rows are skipped")
            else:
                if server.busy():
                    notes.append(f"{args.url} had other prompts queued when the live rows began: "
                                 f"live figures may include their time")
                rows += e2e_rows(runner, server, comfy, work, args.live_reps, notes)
                rows += sweep_rows(runner, server, work, args.sweep, args.sweep_reps)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = report(args, rows, notes, comfy_version, server_version)
    print(text)
    if args.out != "-":
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0 if all(r.passed is not False for r in rows) else 1


def report(args, rows, notes, comfy_version, server_version):
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    head = [f"# comfyui-skills benchmark, {now}", "",
            f"- pack: commit {git_describe()}; Python {platform.python_version()}",
            f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end",
            f"- server: {args.url} (ComfyUI {server_version})" if server_version else "- server: none",
            f"- baseline: comfy-cli {comfy_version}" if comfy_version else "- baseline: comfy-cli absent",
            f"- medians of {args.reps} (offline), {args.live_reps} (end to end) and {args.sweep_reps} (sweep) "
            f"timed repetitions, interleaved, after one warm-up each; times are whole processes, start to exit", ""]
    tail = [""] + [f"- {n}" for n in notes] if notes else []
    return "\n".join(head) + "\n" + render(rows) + "\n".join(tail)


if __name__ == "__main__":
    sys.exit(main())

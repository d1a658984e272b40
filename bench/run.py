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
from observer import Observer  # noqa: E402
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
           if k not in ("COMFYUI_URL", "COMFYUI_API_KEY", "COMFY_API_KEY", "COMFYUI_CLOUD", "PYTHONDONTWRITEBYTECODE")}
    dead_end = "http://127.0.0.1:9"  # nothing listens: any request for another host fails here
    env.update(DO_NOT_TRACK="1", COMFY_NO_TELEMETRY="1", COMFY_NO_UPDATE_CHECK="1", COMFY_WHERE="local",
               HTTP_PROXY=dead_end, HTTPS_PROXY=dead_end, http_proxy=dead_end, https_proxy=dead_end,
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
               COMFYUI_SKILLS_STATE=str(tmp / "state"), COMFYUI_SKILLS_PROJECTS=str(tmp / "projects"),
               # both tools' bytecode cached as after any install, filled by the warm-up, kept out of the repo
               PYTHONPYCACHEPREFIX=str(tmp / "pycache"))
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


def interleaved(reps, *jobs, warm_up=True):
    """Run each job once untimed, then `reps` times in a rotating order; lists of their results."""
    for job in jobs if warm_up else ():
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
        self.private = False

    def version(self):
        """ComfyUI's version, or None when nothing answers."""
        try:
            stats = self.session.get(f"{self.url}/system_stats", timeout=3).json()
        except (requests.RequestException, ValueError):
            return None
        return (stats.get("system") or {}).get("comfyui_version") or "?"

    def settle(self):
        """Have the server run its periodic gc.collect() now and wait it out, so that for the next
        10 s none lands inside a timed job. POST /free with unload_models: on a private server only
        (it would unload other users' models)."""
        self.session.post(f"{self.url}/free", json={"unload_models": True}, timeout=30).raise_for_status()
        time.sleep(0.15)
        self.busy()  # answered once the gc has let go of the server's interpreter lock

    def settled(self, job):
        if not self.private:
            return job

        def go():
            self.settle()
            return job()
        return go

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
    """The small workflow end to end: ours (WebSocket and --poll), comfy-cli, the 5-s loop."""
    out = work / "out"
    out.mkdir(exist_ok=True)
    fresh = lambda: workloads.small(workloads.fresh_color())  # noqa: E731
    jobs = [ours_job(runner, server, work, out, fresh), ours_job(runner, server, work, out, fresh, "--poll"),
            seed_job(server, out, fresh)] + ([comfy_job(runner, server, comfy, work, fresh)] if comfy else [])
    jobs = [server.settled(j) for j in jobs]
    progress("Run end to end (small workflow): ours, ours --poll, 5-s loop, comfy-cli")
    got = interleaved(reps, *jobs)
    ws, poll, loop, cli = got[0], got[1], got[2], (got[3] if comfy else [])
    fell_back(ws, notes)
    return [
        Row("Run end to end: queue, wait, download (2-node workflow)", wall(ws), wall(cli) if cli else None,
            target="≤ 0.5", limit=0.5, baseline_name="comfy-cli", note="comfy-cli does not download" if cli else ""),
        Row("Run end to end, vs the 5-s polling loop", wall(ws), wall(loop), target="", baseline_name="5-s loop"),
        Row("Run end to end with --poll (no WebSocket)", wall(poll), wall(cli) if cli else None, target="",
            baseline_name="comfy-cli"),
    ]


def latency_rows(runner, server, comfy, work, reps, notes):
    """Server finish -> our process knowing, on a prompt long enough (~0.3-1.5 s on a CPU) that a
    poll cannot simply find it done at once: the finish falls anywhere between two polls."""
    out = work / "latency-out"
    out.mkdir(exist_ok=True)
    fresh = lambda: workloads.colored(workloads.sweep_base(), workloads.fresh_color())  # noqa: E731
    jobs = [ours_job(runner, server, work, out, fresh), ours_job(runner, server, work, out, fresh, "--poll"),
            seed_job(server, out, fresh)] + ([comfy_job(runner, server, comfy, work, fresh)] if comfy else [])
    jobs = [server.settled(j) for j in jobs]
    progress("Completion latency (1024x1024 blur): ours, ours --poll, 5-s loop, comfy-cli")
    bystander = Observer(server.host, server.port)
    try:
        got = interleaved(reps, *jobs)
        time.sleep(0.5)  # the last broadcast may still be on its way
        for results in got:
            for r in results:
                r["server_delay"] = bystander.out_after(r["server_end"]) if r.get("server_end") else None
    finally:
        bystander.close()
    ws, poll, loop = got[0], got[1], got[2]
    fell_back(ws, notes)
    delays = [r["server_delay"] for rs in got for r in rs if r["server_delay"] is not None]
    if delays:
        notes.append(f"the server's own delay, its finish stamp to a bystander socket receiving its broadcast, "
                     f"over all {len(delays)} latency prompts: median {median(delays) * 1000:.0f} ms, "
                     f"max {max(delays) * 1000:.0f} ms (gc.collect() after a prompt, at most every 10 s, "
                     f"stops its sockets and HTTP; every client waits it out)")
    if comfy:
        notes.append(f"comfy-cli, server finish to its process exit (it waits on a WebSocket): "
                     f"median {latency(got[3]) * 1000:.0f} ms")
    return [
        Row("Completion noticed after the server finished, WebSocket", latency(ws), latency(loop),
            target="< 50 ms", absolute=0.050, baseline_name="5-s loop", note=spread(ws)),
        Row("Completion noticed after the server finished, polling (--poll)", latency(poll), latency(loop),
            target="< 0.5 s", absolute=0.5, baseline_name="5-s loop", note=spread(poll)),
    ]


def wall(results):
    return median(r["wall"] for r in results)


def latency(results):
    return median(r["latency"] for r in results)


def spread(results):
    """Worst case, and the client's own part of it (beyond the server's delay) at the median."""
    worst = max((r["latency"] for r in results if r["latency"] is not None), default=None)
    own = median(r["latency"] - r["server_delay"] for r in results
                 if r["latency"] is not None and r.get("server_delay") is not None)
    parts = [f"max {worst * 1000:.0f} ms" if worst is not None else "",
             f"beyond the server's own delay: median {own * 1000:.0f} ms" if own is not None else ""]
    return "; ".join(p for p in parts if p)


def fell_back(ws_results, notes):
    n = sum(1 for r in ws_results if r["via"] != "websocket")
    if n:
        notes.append(f"{n} of {len(ws_results)} WebSocket-path runs were finished by polling instead "
                     f"(a poll answered first, both held up by the server's gc pause)")


def ours_job(runner, server, work, out, make, *extra):
    """run.py on a fresh workflow; its finish-to-notice figure is the one it reports (latency_ms)."""
    def go():
        wf = workloads.write(work / f"ours-{time.monotonic_ns()}.json", make())
        seconds, answer = ours_run(runner, server, wf, out, *extra)
        if answer.get("status") != "success" or not answer.get("outputs"):
            raise BenchError(f"run.py did not succeed: {answer}")
        ms = answer.get("latency_ms")
        _, end = seed_loop.server_stamps(server.entry(answer["prompt_id"]))
        return {"wall": seconds, "latency": ms / 1000 if ms is not None else None,
                "via": answer.get("noticed_via"), "server_end": end}
    return go


def comfy_job(runner, server, comfy, work, make):
    """comfy run --wait; its finish-to-notice figure is to its process exit."""
    def go():
        wf = workloads.write(work / f"comfy-{time.monotonic_ns()}.json", make())
        seconds, proc = runner.timed([comfy, "--skip-prompt", "run", "--workflow", wf, "--wait",
                                      "--host", server.host, "--port", server.port])
        exited = time.time()
        data = last_json(proc.stdout).get("data") or {}
        if data.get("status") != "completed":
            raise BenchError(f"comfy run did not complete: {proc.stdout[-600:]}")
        _, end = seed_loop.server_stamps(server.entry(data.get("prompt_id")))
        return {"wall": seconds, "latency": exited - end if end else None, "via": "exit", "server_end": end}
    return go


def seed_job(server, out, make):
    def go():
        seconds, noticed = seed_loop.run_many(server.url, [make()], out)
        (pid, late), = noticed.items()
        _, end = seed_loop.server_stamps(server.entry(pid))
        return {"wall": seconds, "latency": late, "via": "poll-5s", "server_end": end}
    return go


def sweep_rows(runner, server, work, size, reps):
    """--sweep of `size` prompts against the 5-s loop queuing the same; both download everything.

    wall = client start-up and tail + Σ execution + the server's own pauses between prompts
    (a gc.collect() at most every 10 s, after a prompt), so the overhead is shown split in two.
    """
    out = work / "sweep-out"
    out.mkdir(exist_ok=True)
    base = workloads.write(work / "sweep.json", workloads.sweep_base())
    colors = lambda: [workloads.fresh_color() for _ in range(size)]  # noqa: E731

    def ours():
        values = ",".join(map(str, colors()))
        seconds, answer = ours_run(runner, server, base, out, "--sweep", f"1.color={values}")
        runs = answer.get("runs") or []
        if len(runs) != size or any(r.get("status") != "success" or not r.get("outputs") for r in runs):
            raise BenchError(f"the sweep did not return {size} successful runs: {answer.get('counts')}")
        return (seconds,) + server.server_seconds([r["prompt_id"] for r in runs])

    def seed():
        wfs = [workloads.colored(workloads.sweep_base(), c) for c in colors()]
        seconds, noticed = seed_loop.run_many(server.url, wfs, out)
        return (seconds,) + server.server_seconds(list(noticed))

    progress(f"Sweep of {size} prompts: ours, 5-s loop ({reps} each)")
    # no warm-up: the server is warm from the rows before
    got = interleaved(reps, server.settled(ours), server.settled(seed), warm_up=False)
    # The server's time for the sweep is its span, first execution_start to last execution_success:
    # between prompts it does its own bookkeeping (history, a gc.collect() at most every 10 s),
    # which every client waits out alike. What the client adds is the rest of the wall time.
    client = lambda rs: median((w - span) / span for w, _, span in rs)  # noqa: E731
    total = lambda rs: median(w / busy - 1 for w, busy, _ in rs)  # noqa: E731
    pauses = lambda rs: median((span - busy) / busy for _, busy, span in rs)  # noqa: E731
    per_prompt = median(busy / size for _, busy, _ in got[0])
    pct = dict(percent=True, baseline_name="5-s loop")
    return [
        Row(f"Sweep of {size}: client overhead over the server's time (first start → last success)",
            client(got[0]), client(got[1]), target="< 5%", absolute=0.05,
            note=f"server {per_prompt:.2f} s/prompt", **pct),
        Row("  wall time over Σ per-prompt execution (start→success), server pauses included", total(got[0]),
            total(got[1]), **pct),
        Row("  of it, the server's own pauses between prompts (over Σ execution)", pauses(got[0]),
            pauses(got[1]), **pct),
    ]


# -- main ---------------------------------------------------------------------------------------
def generate_rows(runner, server, reps):
    """What generate.py adds to a run through run.py: reading the catalog (template index from the
    snapshot, schema, model lists, device) and choosing + filling a template, in process."""
    progress("generate: choose a template and fill its slots")
    runner.timed([PY, ROOT / "scripts/inventory.py", "--url", server.url])  # the snapshot an agent takes once
    os.environ["COMFYUI_SKILLS_STATE"] = runner.env["COMFYUI_SKILLS_STATE"]
    from comfyui_skills import config, generate
    from comfyui_skills.api import ComfyUI

    client = ComfyUI(server.url)
    considered = []

    def choose():
        cat = generate.catalog_from_server(client, config.state_dir())
        try:
            chosen = generate.plan("a red fox", cat.index, cat.load_template, cat.object_info, cat.models_by_folder,
                                   seed=1, memory_bytes=cat.memory_bytes)
            considered.append(chosen.considered)
        except generate.NothingRunnable:
            considered.append(len(generate.candidates(cat.index, "text-to-image")))

    got = interleaved(reps, lambda: _in_process(choose))[0]
    return [Row(f"generate: choose among {considered[-1]} templates + fill slots, over run.py (in process)",
                median(got), None, target="< 100 ms", absolute=0.1, note="catalog read + plan()")]


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
    p.add_argument("--live-reps", type=int, default=8,
                   help="of each end-to-end and latency row (default 8: the 4 tools rotate evenly)")
    p.add_argument("--sweep", type=int, default=50, help="prompts in the sweep (default 50)")
    p.add_argument("--sweep-reps", type=int, default=3, help="timed sweeps per tool (default 3)")
    p.add_argument("--no-live", action="store_true", help="skip the rows that need a server")
    p.add_argument("--private-server", action="store_true",
                   help="the server at --url is yours alone: before each timed live job, make it run its "
                        "periodic gc now (POST /free), so that its pause lands in no tool's timing")
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
            server.private = args.private_server
            server_version = server.version()
            if server_version is None:
                notes.append(f"no ComfyUI answers at {args.url}: the run, latency and sweep rows are skipped")
            else:
                if not args.private_server:
                    notes.append("without --private-server the server's gc pause (after a prompt, at most every "
                                 "10 s) lands at random inside some timed jobs")
                if server.busy():
                    notes.append(f"{args.url} had other prompts queued when the live rows began: "
                                 f"live figures may include their time")
                rows += e2e_rows(runner, server, comfy, work, args.live_reps, notes)
                rows += generate_rows(runner, server, args.live_reps)
                rows += latency_rows(runner, server, comfy, work, args.live_reps, notes)
                rows += sweep_rows(runner, server, work, args.sweep, args.sweep_reps)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return publish(report(args, rows, notes, comfy_version, server_version), args.out, rows)


def context_lines(url, comfy_version, server_version):
    """The report lines saying what was measured where (every bench's report starts with them)."""
    return [f"- pack: commit {git_describe()}; Python {platform.python_version()}",
            f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end",
            f"- server: {url} (ComfyUI {server_version})" if server_version else "- server: none",
            f"- baseline: comfy-cli {comfy_version}" if comfy_version else "- baseline: comfy-cli absent"]


def publish(text, out, rows):
    """Print the report, write it to `out` (unless "-"); exit 0 when every row with a target passes."""
    print(text)
    if out != "-":
        Path(out).write_text(text + "\n", encoding="utf-8")
    return 0 if all(r.passed is not False for r in rows) else 1


def report(args, rows, notes, comfy_version, server_version):
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    head = [f"# comfyui-skills benchmark, {now}", "",
            *context_lines(args.url, comfy_version, server_version),
            f"- medians of {args.reps} (offline), {args.live_reps} (end to end) and {args.sweep_reps} (sweep) "
            f"timed repetitions, interleaved, after one warm-up each; times are whole processes, start to exit, "
            f"bytecode cached as after an install",
            "- the server ran its periodic gc before each timed live job (--private-server)" if args.private_server
            else "- the server's periodic gc was left to land where it fell", ""]
    tail = ["", ""] + [f"- {n}" for n in notes] if notes else []
    return "\n".join(head) + "\n" + render(rows) + "\n".join(tail)


if __name__ == "__main__":
    sys.exit(main())

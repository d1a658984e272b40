"""What Comfy API v2 adds to a run: `run.py` through comfy-api-proxy against `run.py` straight to
the ComfyUI behind it, in the same loop.

    .venv/bin/python bench/bench_v2.py --url http://127.0.0.1:8190 --proxy /path/to/venv/bin/comfy-api-proxy [--reps 9]

Each repetition runs the pair in an order that alternates, each a fresh process (start-up included)
running the two-node model-free workflow with a fresh colour (never cached), downloading its
image. Prints the medians, the median of the per-pair differences and the verdict against the
target (the v2 run adds under 50 ms). Writes bench/results-v2.md unless --out -.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
SOLID = ROOT / "projects" / "examples" / "workflows" / "solid-color.json"
TARGET_MS = 50


def start_proxy(exe, upstream):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([exe, "run", "--comfyui", upstream, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if requests.get(url + "/api/v2/health", timeout=1).ok:
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit(f"comfy-api-proxy did not answer at {url}")


def one_run(url, api, tmp, colour):
    env = dict(os.environ, COMFYUI_SKILLS_STATE=str(tmp / "state"), COMFYUI_SKILLS_PROJECTS=str(tmp / "p"),
               PYTHONPYCACHEPREFIX=str(tmp / "pyc"))
    cmd = [sys.executable, str(ROOT / "scripts" / "run.py"), str(SOLID), "--url", url, "--api", api, "--json",
           "--quiet", "--out", str(tmp / "out"), "--set", f"1.color={colour}"]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    elapsed = time.perf_counter() - t0
    if r.returncode != 0 or json.loads(r.stdout)["status"] != "success":
        raise SystemExit(f"run failed ({api}): {r.stderr.strip()[-300:]}")
    return elapsed


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="the ComfyUI the proxy fronts")
    ap.add_argument("--proxy", default=os.environ.get("COMFY_API_PROXY"), help="comfy-api-proxy executable")
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results-v2.md"))
    args = ap.parse_args(argv)
    proc, proxy = start_proxy(args.proxy, args.url)
    native, v2 = [], []
    try:
        with tempfile.TemporaryDirectory() as t:
            tmp = Path(t)
            one_run(args.url, "native", tmp, 1)  # warm-up: bytecode cached, server warm
            one_run(proxy, "v2", tmp, 2)
            for i in range(args.reps):
                pair = [(args.url, "native", native), (proxy, "v2", v2)]
                for url, api, sink in (pair if i % 2 == 0 else pair[::-1]):
                    sink.append(one_run(url, api, tmp, 1000 + 2 * i + (api == "v2")))
    finally:
        proc.terminate()
        proc.wait(10)
    diffs = [b - a for a, b in zip(native, v2)]
    added = statistics.median(diffs) * 1000
    verdict = "pass" if added < TARGET_MS else "FAIL"
    table = (f"| run.py, 2-node workflow, {args.reps} alternating pairs | median ms |\n|---|---|\n"
             f"| straight to ComfyUI ({args.url}) | {statistics.median(native) * 1000:.0f} |\n"
             f"| through comfy-api-proxy (Comfy API v2) | {statistics.median(v2) * 1000:.0f} |\n"
             f"| added by v2 (median of pair differences) | {added:.0f} (target < {TARGET_MS}: {verdict}) |\n")
    print(table)
    if args.out != "-":
        Path(args.out).write_text(f"# Comfy API v2 overhead\n\n`{' '.join(sys.argv)}` on "
                                  f"{time.strftime('%Y-%m-%d')}, load average {os.getloadavg()[0]:.1f}\n\n{table}")
    return 0 if verdict == "pass" else 1


if __name__ == "__main__":
    sys.exit(main())

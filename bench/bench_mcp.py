"""What the MCP server costs: its start-up, and a tool call's overhead over the library call.

    .venv/bin/python bench/bench_mcp.py [--url http://127.0.0.1:8190] [--comfy-mcp PATH] [--reps 15]

Rows (median of --reps, after one untimed warm-up):
- start-up: spawn `scripts/mcp_server.py`, MCP initialize, tools/list answered (a host's first
  wait); with --comfy-mcp, the same for PyPI's comfy-mcp (its own venv: it is no dependency here).
- validate (2 nodes, offline): the `validate` tool over stdio vs `validation.validate_against`
  in-process: the difference is what the protocol, JSON and the worker thread add.
- queue list (with --url): the `queue` tool vs `ComfyUI.queue()`; and comfy-mcp's
  `job(action="queue")` when comfy-cli is on its PATH.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import anyio  # noqa: E402
from mcp.client.session import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

from comfyui_skills import inventory, validation  # noqa: E402
from comfyui_skills.api import ComfyUI  # noqa: E402

SOLID = ROOT / "projects" / "examples" / "workflows" / "solid-color.json"


def median_ms(samples):
    return round(statistics.median(samples) * 1000, 2)


async def start_once(params):
    t0 = time.perf_counter()
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as s:
            await s.initialize()
            await s.list_tools()
            return time.perf_counter() - t0


def start_up(params, reps):
    anyio.run(start_once, params)  # warm-up: bytecode caches
    return median_ms([anyio.run(start_once, params) for _ in range(reps)])


async def calls(params, name, args, reps):
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as s:
            await s.initialize()
            await s.call_tool(name, args)
            samples = []
            for _ in range(reps):
                t0 = time.perf_counter()
                r = await s.call_tool(name, args)
                samples.append(time.perf_counter() - t0)
            if r.isError:
                raise SystemExit(f"{name} failed: {r.content[0].text}")
            return median_ms(samples)


def direct(fn, reps):
    fn()
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return median_ms(samples)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", help="a ComfyUI for the queue-list row")
    p.add_argument("--comfy-mcp", help="path of PyPI comfy-mcp's `comfy-mcp` executable (its own venv)")
    p.add_argument("--reps", type=int, default=15)
    args = p.parse_args()
    env = dict(os.environ)
    ours = StdioServerParameters(command=sys.executable, args=[str(ROOT / "scripts" / "mcp_server.py")]
                                 + (["--url", args.url] if args.url else []), env=env, cwd=str(ROOT))
    rows = [("start-up (spawn, initialize, tools/list)", start_up(ours, args.reps), None)]
    if args.comfy_mcp:
        theirs = StdioServerParameters(command=args.comfy_mcp, args=[], env=dict(
            env, PATH=f"{Path(args.comfy_mcp).parent}{os.pathsep}{env.get('PATH', '')}"))
        rows[0] = rows[0][:2] + (start_up(theirs, args.reps),)

    wf = json.loads(SOLID.read_text())
    # the tool reads the inventory on every call, so the library row does too
    lib = direct(lambda: validation.validate_against(wf, inventory.load()), args.reps)
    tool = anyio.run(calls, ours, "validate", {"workflow": wf}, args.reps)
    rows.append(("validate 2 nodes: library call", lib, None))
    rows.append(("validate 2 nodes: MCP tool call", tool, None))
    rows.append(("  overhead of the tool call", round(tool - lib, 2), None))
    if args.url:
        client = ComfyUI(args.url)
        lib = direct(client.queue, args.reps)
        tool = anyio.run(calls, ours, "queue", {"action": "list"}, args.reps)
        theirs_ms = None
        if args.comfy_mcp and (Path(args.comfy_mcp).parent / "comfy").exists():
            theirs = StdioServerParameters(command=args.comfy_mcp, args=[], env=dict(
                env, COMFYUI_URL=args.url, PATH=f"{Path(args.comfy_mcp).parent}{os.pathsep}{env.get('PATH', '')}"))
            try:
                theirs_ms = anyio.run(calls, theirs, "job", {"action": "queue"}, args.reps)
            except (Exception, SystemExit) as exc:  # noqa: BLE001 (a baseline that fails is reported, not fatal)
                print(f"note: comfy-mcp job(action=queue) failed: {exc}", file=sys.stderr)
        rows.append(("queue list: library call (GET /queue)", lib, None))
        rows.append(("queue list: MCP tool call", tool, theirs_ms))
        rows.append(("  overhead of the tool call", round(tool - lib, 2), None))
    print("| row | ours (ms) | comfy-mcp (ms) |\n|---|---|---|")
    for name, ms, other in rows:
        print(f"| {name} | {ms} | {'n/a' if other is None else other} |")


if __name__ == "__main__":
    main()

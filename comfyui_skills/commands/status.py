"""status.py: is ComfyUI up, which versions, which devices, how busy."""

from .. import cli, engine
from ..errors import ServerTimeout, ServerUnreachable

EPILOG = """\
examples:
  python scripts/status.py
  python scripts/status.py --url 127.0.0.1:8188 --json
  python scripts/status.py --url 127.0.0.1:8189       a Comfy API v2 server (comfy-api-proxy, Cloud)

exit codes: 0 online, 3 not reachable (JSON still printed with "online": false), 4 the server
answered with an error, 5 it took the request but gave no answer within --timeout (busy or stuck;
"online": false, "reachable": true), 2 bad usage.
"""


def build_parser():
    p = cli.parser("status.py", "Probe a ComfyUI server: versions, OS, devices (GPU or CPU only) and their memory, queue.", EPILOG)
    cli.add_api_flag(p)
    return p


def run(args):
    info = engine.status(cli.settings_from(args))
    cli.emit(args, info, _text(info))
    if info["online"]:
        return 0
    return ServerTimeout.exit_code if info["reachable"] else ServerUnreachable.exit_code


def _text(info):
    if not info["online"]:
        return f"offline: {info.get('error') or info.get('health')} ({info.get('hint') or 'see the server'})"
    if info.get("api") == "v2":
        behind = f", in front of ComfyUI at {info['upstream']}" if info.get("upstream") else ""
        line = f"online: Comfy API v2 at {info['url']} ({info['health']}{behind})"
        q = info.get("queue")
        return line + (f"\nqueue: {q['running']} running, {q['pending']} pending" if q else "")
    lines = [f"online: ComfyUI {info['comfyui_version']} at {info['url']} "
             f"(Python {info['python_version']}, PyTorch {info['pytorch_version']}, {info['os']})"]
    if not info["gpu"]:
        head = "CPU only, no GPU" if not info.get("gpu_count") else "CPU"
        lines.append(f"mode: {head}. {info['mode_note']}")
    several = len(info["devices"]) > 1
    for d in info["devices"]:
        role = ""
        if several:  # newer servers list every device; prompts run on the first
            if d.get("primary"):
                role = ", runs the prompts"
            elif d["type"] != "cpu":  # comfy_extras/nodes_multigpu.py spreads sampling over these
                role = ", used only by multi-GPU nodes"
        lines.append(f"device: {d['name']} ({d['type']}{role}), {d['memory']} {d['memory_free_human']} free "
                     f"of {d['memory_total_human']}")
    q = info.get("queue")
    if q is not None:
        lines.append(f"queue: {q['running']} running, {q['pending']} pending")
    return "\n".join(lines)

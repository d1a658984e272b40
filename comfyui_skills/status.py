"""What the server says about itself: versions, devices, memory and the queue, in one shape."""

from .errors import ServerError, ServerTimeout, ServerUnreachable
from .units import human_bytes


def probe(client):
    """Everything status.py reports; {"online": False, ...} when nothing answers in time.

    "reachable" tells a server that is not there (False) from one that took the request and
    gave no answer (True: busy or stuck; waiting or a larger --timeout may help).
    """
    try:
        stats = client.system_stats()
    except (ServerUnreachable, ServerTimeout) as exc:
        return {"online": False, "reachable": isinstance(exc, ServerTimeout), "url": client.url,
                "error": exc.message, "hint": exc.hint}
    system = stats["system"]
    devices = [_device(d) for d in stats.get("devices") or [] if isinstance(d, dict)]
    # ComfyUI computes on its torch device: 0.3.64 lists only that one; newer servers list every
    # device multi-GPU nodes may use, that one first "so existing clients that read devices[0]
    # keep working" (Comfy-Org/ComfyUI server.py at 5e14d797, system_stats). In --cpu mode the
    # list is the CPU alone; a GPU server lists its GPUs, not the CPU (get_all_torch_devices,
    # comfy/model_management.py at a7631e35). So the mode is the first device's, whatever follows.
    for i, d in enumerate(devices):
        d["primary"] = i == 0
    gpus = [d for d in devices if d["type"] != "cpu"]
    gpu = bool(devices) and devices[0]["type"] != "cpu"
    out = {
        "online": True,
        "url": client.url,
        "comfyui_version": system.get("comfyui_version"),
        "frontend_version": system.get("required_frontend_version"),
        "python_version": (system.get("python_version") or "").split(" ")[0] or None,
        "pytorch_version": system.get("pytorch_version"),
        "os": system.get("os"),
        "ram": {"total": system.get("ram_total"), "free": system.get("ram_free"),
                "total_human": human_bytes(system.get("ram_total")),
                "free_human": human_bytes(system.get("ram_free"))},
        "gpu": gpu,
        "mode": "gpu" if gpu else "cpu",
        "gpu_count": len(gpus),
        "devices": devices,
        "argv": system.get("argv"),
    }
    if not gpu:
        out["mode_note"] = CPU_NOTE if not gpus else CPU_WITH_GPU_NOTE.format(n=len(gpus))
    try:
        places = client.places()
        running = sum(1 for p in places.values() if p == 0)
        out["queue"] = {"running": running, "pending": len(places) - running}
    except ServerError as exc:  # some hosted servers have no /queue
        out["queue"] = None
        out["queue_error"] = exc.message
    return out


CPU_NOTE = ("ComfyUI computes on the CPU, in system RAM. Diffusion models run many times slower "
            "than on a GPU (minutes per image at full size, where a GPU takes seconds): use small sizes and "
            "few steps to try a workflow")


CPU_WITH_GPU_NOTE = ("ComfyUI computes on the CPU although the server sees {n} GPU(s) (started with --cpu?): "
                     "restart it without --cpu to use the GPU")


def _device(d):
    """One device. ComfyUI reports a CPU device's system RAM in its vram_* fields: name it RAM here."""
    kind = "system RAM" if d.get("type") == "cpu" else "VRAM"
    return {
        "name": d.get("name"),
        "type": d.get("type"),
        "index": d.get("index"),
        "memory": kind,
        "memory_total": d.get("vram_total"),
        "memory_free": d.get("vram_free"),
        "memory_total_human": human_bytes(d.get("vram_total")),
        "memory_free_human": human_bytes(d.get("vram_free")),
    }

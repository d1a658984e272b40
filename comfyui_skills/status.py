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
    devices = [_device(d) for d in stats.get("devices") or []]
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
        "devices": devices,
        "argv": system.get("argv"),
    }
    try:
        q = client.queue()
        out["queue"] = {"running": len(q.running), "pending": len(q.pending)}
    except ServerError as exc:  # some hosted servers have no /queue
        out["queue"] = None
        out["queue_error"] = exc.message
    return out


def _device(d):
    return {
        "name": d.get("name"),
        "type": d.get("type"),
        "index": d.get("index"),
        "vram_total": d.get("vram_total"),
        "vram_free": d.get("vram_free"),
        "vram_total_human": human_bytes(d.get("vram_total")),
        "vram_free_human": human_bytes(d.get("vram_free")),
    }

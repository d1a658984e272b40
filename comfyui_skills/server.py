"""What the server says about itself: system stats and the queue, in one normalised shape."""

from .errors import ServerError, ServerUnreachable
from .units import human_bytes


def system_stats(client):
    stats = client.get_json("/system_stats", what="reading /system_stats")
    if not isinstance(stats, dict) or not isinstance(stats.get("system"), dict):
        raise ServerError(f"{client.url}/system_stats is not ComfyUI's answer",
                          hint="check that the URL points at a ComfyUI server", url=client.url)
    return stats


def queue_counts(client):
    q = client.get_json("/queue", what="reading /queue")
    return {"running": len(q.get("queue_running") or []), "pending": len(q.get("queue_pending") or [])}


def probe(client):
    """Everything status.py reports; {"online": False, ...} when nothing answers."""
    try:
        stats = system_stats(client)
    except ServerUnreachable as exc:
        return {"online": False, "url": client.url, "error": exc.message, "hint": exc.hint}
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
        out["queue"] = queue_counts(client)
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

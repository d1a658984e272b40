#!/usr/bin/env python3
"""Record what a real ComfyUI answers, for the test double to replay.

    python tests/support/record.py URL rest            # read-only routes, bad input, uploads
    python tests/support/record.py URL runs            # model-free runs: outputs, cache, animation, runtime error
    python tests/support/record.py URL interrupts      # interrupt/delete/clear: only on a server of your own
    python tests/support/record.py URL progress        # `progress` messages: needs a file in models/upscale_models
    python tests/support/record.py URL rejections      # POST /prompt of the pack's example workflows (refused, never run)
    python tests/support/record.py URL server          # what newer servers changed: /api/jobs (a saved, a failed job), prompt_id
    python tests/support/record.py URL newer-routes    # routes only newer servers have (node replacements, blueprints)

What the double replays is 0.3.64's: a server of that version writes tests/recordings/NAME, any
other version tests/recordings/server-VERSION/NAME, beside it, for comparing the double's `newer`
mode with. --shared (after the mode): a server others use too; `rest` then leaves out POST /free,
which would unload the models their runs have loaded.

`progress` runs ImageUpscaleWithModel, the one core node that reports steps without a diffusion
model: any upscale model the server lists will do (a few-kB RealESRGAN Compact with random weights
is enough; CPU takes well under a second). Writes JSON under tests/recordings/. It talks to URL only, and queues only small model-free
prompts; `interrupts` interrupts and clears the queue, so never point it at a shared server.
"""

import base64
import gzip
import json
import sys
import threading
import time
import uuid
from pathlib import Path

import requests
import websocket

HERE = Path(__file__).resolve().parents[1] / "recordings"
BASELINE = "0.3.64"  # the version the double replays
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tiny_png(rgb=(200, 30, 30), size=8):
    """A valid RGB PNG built by hand, so recording needs no imaging library."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return PNG_MAGIC + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def encode_body(resp):
    ctype = resp.headers.get("Content-Type", "")
    out = {"status": resp.status_code, "content_type": ctype or None}
    for h in ("Content-Disposition", "Location"):
        if h in resp.headers:
            out.setdefault("headers", {})[h] = resp.headers[h]
    if "json" in ctype:
        out["body"] = resp.json()
    elif ctype.startswith("text/"):
        out["text"] = resp.text
    elif resp.content:
        out["base64"] = base64.b64encode(resp.content).decode()
    else:
        out["empty"] = True
    return out


class Recorder:
    def __init__(self, url, shared=False):
        self.url = url.rstrip("/")
        self.shared = shared
        self.version = None
        self.http = requests.Session()
        self.http.trust_env = False
        self.exchanges = []

    def call(self, name, method, path, **kw):
        resp = self.http.request(method, self.url + path, timeout=60, allow_redirects=False, **kw)
        req = {"method": method, "path": path}
        for k in ("params", "json", "data"):
            if kw.get(k) is not None:
                req[k] = kw[k]
        if kw.get("files"):
            req["files"] = {k: {"filename": v[0], "base64": base64.b64encode(v[1]).decode()}
                            for k, v in kw["files"].items()}
        self.exchanges.append({"name": name, "request": req, "response": encode_body(resp)})
        return resp

    def get_json(self, path, **kw):
        return self.http.get(self.url + path, timeout=60, **kw).json()

    def view_bytes(self, item):
        params = {"filename": item["filename"], "subfolder": item["subfolder"], "type": item["type"]}
        resp = self.http.get(self.url + "/view", params=params, timeout=60)
        return {"content_type": resp.headers.get("Content-Type"),
                "base64": base64.b64encode(resp.content).decode()}


class WsTap:
    """A WebSocket client that keeps every message, in order, until told to stop."""

    def __init__(self, url, client_id):
        ws_url = "ws" + url[url.index(":"):] + f"/ws?clientId={client_id}"
        self.ws = websocket.create_connection(ws_url, timeout=30)
        self.ws.settimeout(None)  # a slow node may keep the socket quiet for minutes
        self.messages = []
        self.done = set()
        self.lock = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                op, data = self.ws.recv_data()
            except Exception:
                return
            if op == websocket.ABNF.OPCODE_TEXT:
                msg = json.loads(data)
            elif op == websocket.ABNF.OPCODE_BINARY:
                msg = {"binary": base64.b64encode(data).decode()}
            else:
                continue
            with self.lock:
                self.messages.append(msg)
                if msg.get("type") == "executing" and msg["data"].get("node") is None:
                    self.done.add(msg["data"].get("prompt_id"))
                self.lock.notify_all()

    def wait_done(self, prompt_id, timeout=1800):  # on a shared server, others' sampling queues first
        with self.lock:
            self.lock.wait_for(lambda: prompt_id in self.done, timeout=timeout)
        time.sleep(0.3)  # the status that follows task_done may trail

    def close(self):
        self.ws.close()


def workflow(nodes):
    return {str(i): {"class_type": c, "inputs": inp} for i, (c, inp) in enumerate(nodes, 1)}


MULTI = workflow([
    ("EmptyImage", {"width": 64, "height": 64, "batch_size": 2, "color": 255}),
    ("SaveImage", {"images": ["1", 0], "filename_prefix": "rec"}),
    ("PreviewImage", {"images": ["1", 0]}),
    ("StringConcatenate", {"string_a": "a", "string_b": "b", "delimiter": "-"}),
    ("PreviewAny", {"source": ["4", 0]}),
])
ANIMATED = workflow([
    ("EmptyImage", {"width": 32, "height": 32, "batch_size": 3, "color": 4210752}),
    ("SaveAnimatedWEBP", {"images": ["1", 0], "filename_prefix": "anim", "fps": 6.0, "lossless": True,
                          "quality": 80, "method": "default"}),
    ("SaveAnimatedPNG", {"images": ["1", 0], "filename_prefix": "anim", "fps": 6.0, "compress_level": 4}),
    ("SolidMask", {"value": 0.5, "width": 16, "height": 16}),
    ("MaskToImage", {"mask": ["4", 0]}),
    ("ImageScale", {"image": ["5", 0], "upscale_method": "nearest-exact", "width": 24, "height": 24,
                    "crop": "disabled"}),
    ("SaveImage", {"images": ["6", 0], "filename_prefix": "sub/mask"}),
])
BAD_LOAD = workflow([
    ("LoadImage", {"image": "not-really.png"}),
    ("PreviewImage", {"images": ["1", 0]}),
])
QUICK_SAVED = workflow([
    ("EmptyImage", {"width": 16, "height": 16, "batch_size": 1, "color": 123}),
    ("SaveImage", {"images": ["1", 0], "filename_prefix": "rec-job"}),
])
SLOW = workflow([
    ("EmptyImage", {"width": 4096, "height": 4096, "batch_size": 4, "color": 0}),
    ("ImageBlur", {"image": ["1", 0], "blur_radius": 31, "sigma": 10.0}),
    ("SaveImage", {"images": ["2", 0], "filename_prefix": "slow"}),
])
QUICK = workflow([
    ("EmptyImage", {"width": 16, "height": 16, "batch_size": 1, "color": 123}),
    ("PreviewImage", {"images": ["1", 0]}),
])
INVALID = workflow([
    ("EmptyImage", {"width": "wide", "height": 64, "batch_size": 1, "color": 0}),
    ("PreviewImage", {"images": ["1", 0]}),
])
NO_OUTPUT = workflow([("EmptyImage", {"width": 8, "height": 8, "batch_size": 1, "color": 0})])


def record_rest(rec):
    for path in ("/system_stats", "/features", "/embeddings", "/extensions", "/models",
                 "/models/checkpoints", "/models/nonexistent", "/object_info/EmptyImage",
                 "/object_info/NoSuchNode", "/queue", "/prompt", "/history/does-not-exist"):
        rec.call(path, "GET", path)
    for name, params in [("view missing", {"filename": "nope.png", "type": "output"}),
                         ("view traversal", {"filename": "../../etc/passwd", "type": "output"}),
                         ("view bad type", {"filename": "x.png", "type": "bogus"}),
                         ("view bad subfolder", {"filename": "x.png", "type": "output", "subfolder": "../.."})]:
        rec.call(name, "GET", "/view", params=params)
    rec.call("prompt not json", "POST", "/prompt", data="not json")
    rec.call("prompt without prompt", "POST", "/prompt", json={"no_prompt": 1})
    rec.call("prompt invalid input", "POST", "/prompt", json={"prompt": INVALID})
    rec.call("prompt no outputs", "POST", "/prompt", json={"prompt": NO_OUTPUT})
    rec.call("prompt unknown class", "POST", "/prompt",
             json={"prompt": workflow([("NoSuchNode", {}), ("PreviewAny", {"source": ["1", 0]})])})
    stamp = uuid.uuid4().hex[:8]
    red, blue = tiny_png((200, 30, 30)), tiny_png((30, 30, 200))
    name = f"rec-{stamp}.png"
    rec.call("upload image", "POST", "/upload/image", files={"image": (name, red)}, data={"type": "input"})
    rec.call("upload same bytes again", "POST", "/upload/image", files={"image": (name, red)},
             data={"type": "input"})
    rec.call("upload other bytes same name", "POST", "/upload/image", files={"image": (name, blue)},
             data={"type": "input"})
    rec.call("upload overwrite", "POST", "/upload/image", files={"image": (name, blue)},
             data={"type": "input", "overwrite": "true"})
    rec.call("upload subfolder", "POST", "/upload/image", files={"image": (name, red)},
             data={"type": "input", "subfolder": f"rec-{stamp}"})
    rec.call("upload temp", "POST", "/upload/image", files={"image": (name, red)}, data={"type": "temp"})
    rec.call("upload not an image", "POST", "/upload/image",
             files={"image": (f"rec-{stamp}.txt", b"hello, not an image\n")}, data={"type": "input"})
    rec.call("upload traversal name", "POST", "/upload/image",
             files={"image": ("../escape.png", red)}, data={"type": "input"})
    rec.call("upload traversal subfolder", "POST", "/upload/image",
             files={"image": (name, red)}, data={"type": "input", "subfolder": "../.."})
    rec.call("upload without file", "POST", "/upload/image", data={"type": "input"})
    ref = json.dumps({"filename": name, "subfolder": "", "type": "input"})
    rec.call("upload mask", "POST", "/upload/mask", files={"image": (f"rec-{stamp}_mask.png", blue)},
             data={"type": "input", "original_ref": ref, "overwrite": "true"})
    rec.call("view uploaded", "GET", "/view", params={"filename": name, "type": "input", "subfolder": ""})
    rec.call("view uploaded mask", "GET", "/view",
             params={"filename": f"rec-{stamp}_mask.png", "type": "input", "subfolder": ""})
    if not rec.shared:
        rec.call("free", "POST", "/free", json={"unload_models": True, "free_memory": True})
    rec.call("interrupt nothing running", "POST", "/interrupt", json={"prompt_id": str(uuid.uuid4())})
    save("rest.json", {"exchanges": rec.exchanges})
    info = rec.get_json("/object_info")
    (OUT / "object_info.json.gz").write_bytes(gzip.compress(json.dumps(info, sort_keys=True).encode(), mtime=0))


def queue_and_watch(rec, prompts, after_post=None, client_id=None, runs=None):
    """Queue prompts on one WebSocket; return the posts, every message, the history entries."""
    client_id = client_id or str(uuid.uuid4())
    tap = WsTap(rec.url, client_id)
    time.sleep(0.3)
    posts = []
    for wf in prompts:
        resp = rec.http.post(rec.url + "/prompt", json={"prompt": wf, "client_id": client_id}, timeout=60)
        posts.append({"request": {"prompt": wf, "client_id": client_id}, "status": resp.status_code,
                      "body": resp.json()})
    ids = [p["body"]["prompt_id"] for p in posts]
    extra = after_post(rec, ids) if after_post else None
    for pid in ids[:runs]:
        tap.wait_done(pid)
    tap.close()
    history = {pid: rec.get_json(f"/history/{pid}").get(pid) for pid in ids}
    return {"client_id": client_id, "posts": posts, "ws": tap.messages, "history": history, "extra": extra}


def output_files(rec, history):
    files = {}
    for entry in history.values():
        for out in (entry or {}).get("outputs", {}).values():
            for item in out.get("images", []) + out.get("gifs", []):
                key = f"{item['type']}/{item['subfolder']}/{item['filename']}"
                files.setdefault(key, rec.view_bytes(item))
    return files


def record_runs(rec):
    multi = queue_and_watch(rec, [MULTI])
    again = queue_and_watch(rec, [MULTI], client_id=multi["client_id"])
    multi["files"] = output_files(rec, multi["history"])
    item = next(iter(multi["files"]))
    typ, sub, fname = item.split("/", 2)
    for name, extra in [("view preview webp", {"preview": "webp;50"}), ("view channel rgb", {"channel": "rgb"}),
                        ("view channel a", {"channel": "a"})]:
        rec.call(name, "GET", "/view", params={"filename": fname, "subfolder": sub, "type": typ, **extra})
    multi["views"] = rec.exchanges
    save("runs/success_then_cached.json", {"first": multi, "cached": again})
    anim = queue_and_watch(rec, [ANIMATED])
    anim["files"] = output_files(rec, anim["history"])
    save("runs/animated_mask_subfolder.json", anim)
    rec.http.post(rec.url + "/upload/image", files={"image": ("not-really.png", b"this is text, not a PNG\n")},
                  data={"type": "input", "overwrite": "true"}, timeout=60)
    save("runs/execution_error_bad_image.json", queue_and_watch(rec, [BAD_LOAD]))
    no_client = rec.http.post(rec.url + "/prompt", json={"prompt": QUICK}, timeout=60).json()
    time.sleep(3)
    save("runs/no_client_id.json", {"post": no_client,
                                    "history": rec.get_json(f"/history/{no_client['prompt_id']}")})


def record_interrupts(rec):
    def delete_then_interrupt(rec, ids):
        time.sleep(0.5)
        snaps = {"queue_before": rec.get_json("/queue")}
        rec.http.post(rec.url + "/queue", json={"delete": [ids[1]]}, timeout=60)
        snaps["queue_after_delete"] = rec.get_json("/queue")
        rec.http.post(rec.url + "/interrupt", json={"prompt_id": str(uuid.uuid4())}, timeout=60)
        time.sleep(0.3)
        snaps["queue_after_foreign_interrupt"] = rec.get_json("/queue")
        rec.http.post(rec.url + "/interrupt", json={"prompt_id": ids[0]}, timeout=60)
        return snaps
    run = queue_and_watch(rec, [SLOW, QUICK], after_post=delete_then_interrupt, runs=1)
    run["history"] = {k: v for k, v in run["history"].items() if v}
    save("runs/interrupt_by_prompt_id.json", run)

    def clear_then_interrupt(rec, ids):
        time.sleep(0.5)
        snaps = {"queue_before": rec.get_json("/queue")}
        rec.http.post(rec.url + "/queue", json={"clear": True}, timeout=60)
        snaps["queue_after_clear"] = rec.get_json("/queue")
        rec.http.post(rec.url + "/interrupt", timeout=60)
        return snaps
    # A graph the first run left no cache for, so the interrupt lands while node 1 still runs.
    slow = json.loads(json.dumps(SLOW).replace('"color": 0', '"color": 1'))
    run = queue_and_watch(rec, [slow, QUICK, QUICK], after_post=clear_then_interrupt, runs=1)
    run["history"] = {k: v for k, v in run["history"].items() if v}
    save("runs/clear_then_global_interrupt.json", run)


def record_progress(rec):
    models = rec.get_json("/models/upscale_models")
    if not models:
        sys.exit("record.py progress: the server lists no file in models/upscale_models")
    upscale = workflow([
        ("EmptyImage", {"width": 1024, "height": 640, "batch_size": 1, "color": 1234}),
        ("UpscaleModelLoader", {"model_name": models[0]}),
        ("ImageUpscaleWithModel", {"upscale_model": ["2", 0], "image": ["1", 0]}),
        ("SaveImage", {"images": ["3", 0], "filename_prefix": "upscaled"}),
    ])
    # free_memory resets the server's cache, so every node runs, as on a fresh server
    rec.http.post(rec.url + "/free", json={"unload_models": True, "free_memory": True}, timeout=60)
    time.sleep(1)
    save("runs/upscale_progress.json", queue_and_watch(rec, [upscale]))


def record_rejections(rec):
    """The server refusing the pack's text-to-image example: a checkpoint it does not have.

    Refused at validation, so nothing runs: safe on a shared server. The checkpoint list it
    answers with is recorded beside it, for the double to list the same files."""
    example = Path(__file__).resolve().parents[2] / "projects" / "examples" / "workflows" / "text-to-image.json"
    prompt = json.loads(example.read_text(encoding="utf-8"))
    rec.call("/models/checkpoints", "GET", "/models/checkpoints")
    rec.call("prompt text-to-image missing checkpoint", "POST", "/prompt",
             json={"prompt": prompt, "client_id": str(uuid.uuid4())})
    save("runs/rejections.json", {"exchanges": rec.exchanges})


def record_server(rec):
    """The answers newer servers changed, as this one gives them: `/api/jobs` (newer servers list
    jobs there), and POST /prompt with a prompt_id of the client's (newer ones take only a
    canonical lowercase UUID). Queues three tiny model-free prompts, each under a given id."""
    job = str(uuid.uuid4())
    # a limit keeps a busy server's whole history out of the file (0.3.64 answers 404 either way)
    rec.call("jobs list", "GET", "/api/jobs", params={"limit": 2})
    rec.call("jobs list pending", "GET", "/api/jobs", params={"status": "pending,in_progress", "limit": 2})
    rec.call("job by id", "GET", f"/api/jobs/{job}")
    rec.call("jobs without /api", "GET", "/jobs")
    stamp = uuid.uuid4().hex[:8]
    ids = {"canonical": str(uuid.uuid4()), "uppercase": str(uuid.uuid4()).upper(), "plain": f"rec-{stamp}"}
    client_id = str(uuid.uuid4())
    tap = WsTap(rec.url, client_id)
    time.sleep(0.3)
    accepted = []
    for kind, pid in ids.items():
        wf = json.loads(json.dumps(QUICK).replace('"color": 123', f'"color": {len(kind)}'))
        resp = rec.call(f"prompt with {kind} prompt_id", "POST", "/prompt",
                        json={"prompt": wf, "client_id": client_id, "prompt_id": pid})
        if resp.ok:  # a refused id (newer servers take canonical UUIDs only) never runs
            accepted.append(pid)
    for pid in accepted:
        tap.wait_done(pid)
    tap.close()
    for kind, pid in ids.items():
        rec.call(f"history of {kind} prompt_id", "GET", f"/history/{pid}")
    rec.call("job of canonical prompt_id", "GET", f"/api/jobs/{ids['canonical']}")
    # a saved image (the preview a job lists) and a failed run (the error it lists)
    rec.http.post(rec.url + "/upload/image", files={"image": ("not-really.png", b"this is text, not a PNG\n")},
                  data={"type": "input", "overwrite": "true"}, timeout=60)
    runs = {"saved": str(uuid.uuid4()), "failed": str(uuid.uuid4())}
    saved = json.loads(json.dumps(QUICK_SAVED).replace('"color": 123', f'"color": {int(time.time()) % 9973}'))
    tap = WsTap(rec.url, client_id)
    time.sleep(0.3)
    for kind, wf in (("saved", saved), ("failed", BAD_LOAD)):
        rec.call(f"prompt {kind}", "POST", "/prompt", json={"prompt": wf, "client_id": client_id,
                                                           "prompt_id": runs[kind]})
    for pid in runs.values():
        tap.wait_done(pid)
    tap.close()
    for kind, pid in runs.items():
        rec.call(f"job of the {kind} prompt", "GET", f"/api/jobs/{pid}")
    rec.call("jobs list of the two", "GET", "/api/jobs", params={"limit": 2})
    save(f"server/{rec.version}.json", {"exchanges": rec.exchanges})


def record_newer_routes(rec):
    """What a server answers for routes newer versions added (0.3.64 has none of them): read-only."""
    for path in ("/node_replacements", "/api/node_replacements", "/global_subgraphs", "/api/global_subgraphs",
                 "/global_subgraphs/0123abcd"):
        rec.call(path, "GET", path)
    save("newer_routes.json", {"exchanges": rec.exchanges})


OUT = HERE  # where this run writes: set in main from the server's version


def save(name, obj):
    path = OUT / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)


def main(argv):
    global OUT
    shared = "--shared" in argv
    argv = [a for a in argv if a != "--shared"]
    if len(argv) != 2 or argv[1] not in ("rest", "runs", "interrupts", "progress", "rejections", "server", "newer-routes"):
        sys.exit(__doc__)
    rec = Recorder(argv[0], shared)
    rec.version = rec.get_json("/system_stats")["system"]["comfyui_version"]
    OUT = HERE if rec.version == BASELINE else HERE / f"server-{rec.version}"
    print(f"recording ComfyUI {rec.version} at {rec.url}", file=sys.stderr)
    {"rest": record_rest, "runs": record_runs, "interrupts": record_interrupts,
     "progress": record_progress, "rejections": record_rejections, "server": record_server,
     "newer-routes": record_newer_routes}[argv[1]](rec)


if __name__ == "__main__":
    main(sys.argv[1:])

"""A stand-in for ComfyUI 0.3.64, built from what the real server was seen to do.

Every answer comes from tests/recordings/ (made by tests/support/record.py against a real server) or
from ../shared/conformance/runs/; where the double has to compute something (file names, the
order nodes run in, what is cached) it follows the rules those recordings show. Limits, where
the double knows less than a server: it does not run nodes. Image bytes served by /view are
recorded ones (a 64x64 PNG, a WEBP), whatever the graph; batch sizes are read from EmptyImage
upstream (1 otherwise); PreviewAny shows the text only when its source is StringConcatenate or
a literal; /prompt verdicts are recorded ones for known graphs (rest.json, runs/rejections.json), and for other graphs only the
checks the recordings show (no prompt, unknown class, no output node): anything else is accepted.
`progress` (step) messages come from two recorded nodes: KSampler sends one per step of its own
`steps` input (runs/ksampler_progress.json: 2 steps, value 1..2, max 2), and ImageUpscaleWithModel
sends the recorded count (6 tiles, as for its 1024x640 image), whatever the image; both in the
recorded order (the node's progress_state, then the step). Not recorded (no real server to record from):
Comfy Cloud's 401 body and its 404 for paths outside /api, which follow the interface contract only.

Use the `comfy_double` fixture (function scope, fresh state per test; conftest.py registers it):

    def test_x(comfy_double):
        requests.get(comfy_double.url + "/system_stats")

Knobs (attributes and methods of the fixture object):
    delay = SECONDS           every HTTP answer (and WebSocket handshake) waits this long first
    delay_limit = N           ...but only the next N requests (None: all)
    node_seconds = SECONDS    time each node "runs" (default 0.01), so interrupts can land
    pause() / resume()        hold queued prompts pending / let the worker take them again
    drop_ws(after=K)          close every new WebSocket after K messages (0: right after the handshake)
    fail(path, status=500)    answer `path` (no query, no /api) with that status, recorded 500 body
    garble(path, "html"|"truncated")  answer `path` with an HTML page or JSON cut in half
    heal(path)                answer `path` normally again (undoes fail and garble)
    go_cloud(api_key)         act like Comfy Cloud: routes only under /api, X-API-Key required (401
                              otherwise), /api/view answers 302 to a second host (`blob_url`) that
                              serves the file; `blob_requests` lists the headers that host got
    forget(prompt_id)         drop a history entry, as if the server restarted or trimmed it
    break_view = True         /view sends half the file, then cuts the connection
    view_seconds = SECONDS    /view sends the file in small pieces spread over this long (a slow link)
    prompt_answer_seconds = SECONDS   POST /prompt queues the prompt, then its answer takes this long
                              to arrive (a slow link: the client may give up on an answer whose
                              prompt the server has)
    go_down() / come_back()   the process dies (every connection cut, nothing listens on the port;
                              queue, running prompt and history are forgotten, as a real restart does;
                              files stay) / a fresh process listens on the same port again
    hostile_output = (SUBFOLDER, FILENAME)   not a real server: every saved image is reported under
                              these names and /view serves them unchecked (a hostile server, for
                              security tests of where downloads land)
    model_paths[folder] = [paths]   what /experiment/models gives as the folder's paths (default:
                              under /srv/comfy-double, on no machine)
    manager = "3.37.1"        the server has ComfyUI-Manager: its recorded offline answers; queued
                              tasks end without a file or pack, as they did with no internet;
                              `manager_queue` lists what was queued ((kind, body) as POSTed)
    manager = "4.2.2"         ComfyUI-Manager 4 as ComfyUI 0.33.0 --enable-manager ran it offline:
                              /v2 routes only, each queued task fails with the recorded reason
    manager_refuses = True    ...and its security_level forbids every task: each ends as the recorded
                              refused one (result "failed"; only the server's log says why)
    newer = True              act as ComfyUI 0.33.0 where it was recorded to differ (recordings/
                              server-0.33.0/): /system_stats, /features, /api/jobs and its jobs'
                              fields, POST /api/jobs/{id}/cancel, canonical-UUID prompt ids, every
                              device in /system_stats; the default is 0.3.64 as recorded
    gpus = [(NAME, VRAM_TOTAL, VRAM_FREE), ...]   the server computes on GPUs (cuda:0 first):
                              0.3.64 lists the first only, a newer server all of them
    add_file(type, subfolder, name, data)   put a file where /view and LoadImage find it
    models[folder] = [...]    what /models/{folder} lists (recorded: every folder empty)
    add_model(folder, name, "Class.input", ...)  a model file appears in /models/{folder} and in
                              those loader inputs' option lists, as the real server shows it
    lists_disk(folder, "Class.input", ...)  the files really in that folder's model_paths on this
                              machine are listed too, read at each request as the real server reads
                              its folders (folder_paths.get_filename_list: every path, recursively,
                              "/"-separated, sorted, model extensions only; ComfyUI 0.3.64), so a
                              file downloaded there shows at once
    custom_templates[pack] = {name: workflow}   a custom node pack ships example workflows
                              (recorded: none); /workflow_templates lists them and
                              /api/workflow_templates/PACK/NAME.json serves them
    node_replacements = {old class: [replacement]}   act like a newer server that has node
                              replacements: GET /node_replacements answers them (None: the recorded
                              0.3.64 404, recordings/newer_routes.json). Read, not recorded: Comfy-Org/
                              ComfyUI app/node_replace_manager.py at b5d74ccb (as_dict, the route) and
                              server.py at 002c3fb9 (every route also under /api)
    global_subgraphs = {id: {"source", "name", "info", "data"}}   a newer server's blueprints:
                              /global_subgraphs lists them without `data` (and `path`), /global_subgraphs/ID
                              gives one with it, or JSON null for an unknown id (None: the recorded 404).
                              Read in comfyanonymous/ComfyUI app/subgraph_manager.py at f86cc10f
Templates: /templates/index.json and the few /templates/NAME.json recorded are served as
recorded; any other name gets the recorded 404 (the real server serves every file its package has).
Records for assertions: `requests` (method, path, headers of each HTTP request), `posted` (bodies
POSTed to /prompt), `interrupts` (bodies POSTed to /interrupt), `cancels` (job ids POSTed to a
newer server's /api/jobs/{id}/cancel).
"""

import asyncio
import base64
import copy
import gzip
import heapq
import json
import mimetypes
import os
import random
import threading
import time
import uuid
from pathlib import Path

import pytest
from aiohttp import web

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"
PREVIEW_LETTERS = "abcdefghijklmnopqrstupvxyz"  # the real server's own alphabet (a 'p' twice, no 'w')
# folder_paths.supported_pt_extensions of ComfyUI 0.3.64
MODEL_EXTENSIONS = {".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"}
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
SERVER_ERROR_TEXT = "500 Internal Server Error\n\nServer got itself in trouble"


def _load(name):
    return json.loads((RECORDINGS / name).read_text(encoding="utf-8"))


class Recordings:
    """What the real server answered, indexed for replay."""

    def __init__(self):
        # the refusal of the pack's text-to-image example was recorded on a server whose only
        # checkpoint is tiny-random-sd15.safetensors: tests add that model to see the same
        rest = _load("rest.json")["exchanges"] + _load("runs/rejections.json")["exchanges"][1:]
        self.rest = {e["name"]: e["response"] for e in rest}
        self.object_info = json.loads(gzip.decompress((RECORDINGS / "object_info.json.gz").read_bytes()))
        self.verdicts = {}
        for e in rest:
            body = (e["request"].get("json") or {})
            if e["request"]["path"] == "/prompt" and "prompt" in body and e["response"]["status"] == 400:
                self.verdicts[canonical(body["prompt"])] = e["response"]["body"]
        runs = _load("runs/success_then_cached.json")["first"]
        files = {k.rsplit(".", 1)[-1]: base64.b64decode(v["base64"]) for k, v in runs["files"].items()}
        anim = _load("runs/animated_mask_subfolder.json")["files"]
        files.update({k.rsplit(".", 1)[-1]: base64.b64decode(v["base64"]) for k, v in anim.items()
                      if k.endswith(".webp")})
        self.sample_bytes = files  # by extension: "png", "webp"
        views = {e["name"]: e["response"] for e in runs["views"]}
        self.preview_webp = base64.b64decode(views["view preview webp"]["base64"])
        error = _load("runs/execution_error_bad_image.json")
        entry = next(iter(error["history"].values()))
        self.load_image_error = entry["status"]["messages"][-1][1]
        steps = _load("runs/upscale_progress.json")["ws"]
        self.step_counts = {"ImageUpscaleWithModel": max(m["data"]["max"] for m in steps if m["type"] == "progress")}
        self.step_inputs = {"KSampler": ksampler_step_input(_load("runs/ksampler_progress.json"))}
        self.templates = json.loads(gzip.decompress((RECORDINGS / "templates" / "templates.json.gz").read_bytes()))
        self.server = {e["name"]: e["response"] for e in _load("server/0.3.64.json")["exchanges"]}
        # what the `newer` mode answers where 0.33.0 differs (record.py URL rest, on 0.33.0)
        self.rest_newer = {e["name"]: e["response"] for e in _load("server-0.33.0/rest.json")["exchanges"]}
        self.cancel = {version: {e["name"]: e for e in rec["exchanges"]}
                       for version, rec in _load("server/jobs_cancel.json").items()}


def with_listed(object_info, options):
    """object_info as the server shows it with files installed: each `Class.input` in `options`
    offers the given names too (a COMBO's `options`, or a list-style combo's list)."""
    info = copy.deepcopy(object_info)
    for ref, names in options.items():
        cls, inp = ref.split(".", 1)
        inputs = info[cls]["input"]
        spec = (inputs.get("required") or {}).get(inp) or inputs["optional"][inp]
        choices = spec[1].setdefault("options", []) if spec[0] == "COMBO" else spec[0]
        choices.extend(n for n in names if n not in choices)
    return info


def ksampler_step_input(run):
    """The KSampler input its recorded `progress` max is read from (the run's own `steps`)."""
    prompt = run["posts"][0]["request"]["prompt"]
    [node] = {m["data"]["node"] for m in run["ws"] if m["type"] == "progress"}
    maxima = {m["data"]["max"] for m in run["ws"] if m["type"] == "progress"}
    assert prompt[node]["class_type"] == "KSampler" and maxima == {prompt[node]["inputs"]["steps"]}
    return "steps"


_RECORDINGS = None


def recordings():
    global _RECORDINGS
    if _RECORDINGS is None:
        _RECORDINGS = Recordings()
    return _RECORDINGS


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def is_link(value):
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


def now_ms():
    return int(time.time() * 1000)


class LoopServer:
    """An aiohttp server on its own event loop in a thread: `start()` runs the subclass's
    `_startup()` there (which listens with `_listen`) and returns once it is serving."""

    def start(self):
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{type(self).__name__} did not start")
        return self

    def _serve(self, ready):
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._startup())
        ready.set()
        self._loop.run_forever()
        # stop() leaves handlers a client still holds open (a WebSocket, a long answer) pending:
        # cancel them and let them unwind, or the interpreter reports each destroyed task at exit
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    async def _listen(self, app, port=0):
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner


class ComfyDouble(LoopServer):
    """The server state and its knobs; see the module docstring."""

    def __init__(self):
        self.rec = recordings()
        self.delay = 0.0
        self.delay_limit = None
        self.node_seconds = 0.01
        self.break_view = False
        self.view_seconds = 0.0
        self.prompt_answer_seconds = 0.0
        self.hostile_output = None
        self.cloud_key = None
        self.models = {name: [] for name in self.rec.rest["/models"]["body"]}
        self.object_info = self.rec.object_info
        self.requests, self.posted, self.interrupts, self.blob_requests = [], [], [], []
        self.cancels = []  # job ids POSTed to a newer server's /api/jobs/{id}/cancel
        self._fail, self._garble = {}, {}
        self._ws_drop_after = None
        self.files = {}  # (type, subfolder, filename) -> bytes
        self.custom_templates = {}  # pack -> {name: workflow}
        self.node_replacements = None  # a newer server's replacements (see the docstring)
        self.global_subgraphs = None  # a newer server's blueprints
        self.newer_routes = {e["name"]: e["response"] for e in _load("newer_routes.json")["exchanges"]}
        # /experiment/models paths: 0.3.64 lists <base>/models/<folder> and <base>/output/<folder>
        # for each folder (recordings/manager/experiment_models.json); here under a base that is
        # on no machine, unless a test points a folder somewhere
        self.model_paths = {f: [f"/srv/comfy-double/models/{f}", f"/srv/comfy-double/output/{f}"]
                            for f in self.models}
        self.newer = False  # True: a newer server (see the "newer server" section)
        self.gpus = []      # [(name, vram_total, vram_free)]: a GPU server, cuda:0 first
        self.manager = None  # "3.37.1": the server has ComfyUI-Manager (recorded answers, offline)
        self.manager_queue = []
        self.manager4_pending, self.manager4_history = [], {}  # Manager 4's queue and task records
        self.manager_refuses = False  # Manager 4: its security_level forbids every task
        self.disk_folders = {}  # folder -> loader inputs whose options list its files on disk
        self.sockets = {}  # sid -> [ws, messages sent]
        self.queue, self.running, self.history = [], {}, {}
        self.number = 0
        self.task_counter = 0
        self.cache = {}  # node id -> (signature, ui output or None)
        self.preview_prefix = "ComfyUI_temp_" + "".join(random.choice(PREVIEW_LETTERS) for _ in range(5))
        self.add_file("input", "", "example.png", self.rec.sample_bytes["png"])
        self._loop = None
        self._interrupt = False
        self._paused = False
        self._wake = None

    # -- knobs -----------------------------------------------------------------------------
    def fail(self, path, status=500):
        self._fail[path] = status

    def garble(self, path, kind="html"):
        assert kind in ("html", "truncated")
        self._garble[path] = kind

    def heal(self, path):
        self._fail.pop(path, None)
        self._garble.pop(path, None)

    def drop_ws(self, after=0):
        self._ws_drop_after = after

    def go_cloud(self, api_key):
        self.cloud_key = api_key

    def add_model(self, folder, name, *loader_inputs):
        """A model file appears, as on the real server: /models/FOLDER lists it, and so do the
        option lists of the loader inputs named "Class.input" (object_info does not say which
        inputs read which folder, so the caller names them)."""
        self.models.setdefault(folder, []).append(name)
        if self.object_info is self.rec.object_info:
            self.object_info = copy.deepcopy(self.rec.object_info)  # the recording is shared by every test
        for ref in loader_inputs:
            cls, inp = ref.split(".", 1)
            inputs = self.object_info[cls]["input"]
            spec = (inputs.get("required") or {}).get(inp) or inputs["optional"][inp]
            choices = spec[1].setdefault("options", []) if spec[0] == "COMBO" else spec[0]  # V3 or classic
            choices.append(name)

    def lists_disk(self, folder, *loader_inputs):
        self.disk_folders[folder] = list(loader_inputs)

    def _disk_files(self, folder):
        found = set()
        for root in self.model_paths.get(folder, []):
            base = Path(root)
            if not base.is_dir():
                continue
            for path in base.rglob("*"):
                if path.is_file() and path.suffix.lower() in MODEL_EXTENSIONS:
                    found.add(path.relative_to(base).as_posix())
        return sorted(found)

    def _listed_models(self, folder):
        if folder not in self.disk_folders:
            return self.models[folder]
        return self.models[folder] + [n for n in self._disk_files(folder) if n not in self.models[folder]]

    def _current_object_info(self):
        # An uploaded image is offered by the image loaders at once, as the real server showed
        # (recordings/generate/sd15-img2img.json: loader_options after its upload).
        inputs = sorted(f"{sub}/{name}" if sub else name for (type_, sub, name) in self.files
                        if type_ == "input" and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS)
        if not self.disk_folders and not inputs:
            return self.object_info
        listed = {"LoadImage.image": list(inputs), "LoadImageMask.image": list(inputs)} if inputs else {}
        for folder, refs in self.disk_folders.items():
            names = self._disk_files(folder)
            for ref in refs:
                listed.setdefault(ref, []).extend(names)
        return with_listed(self.object_info, listed)

    def forget(self, prompt_id):
        self.history.pop(prompt_id, None)

    def pause(self):
        self._paused = True

    def resume(self):
        self._paused = False
        self._call_soon(self._wake.set)

    def go_down(self):
        asyncio.run_coroutine_threadsafe(self._go_down(), self._loop).result(10)

    def come_back(self):
        asyncio.run_coroutine_threadsafe(self._come_back(), self._loop).result(10)

    async def _go_down(self):
        self._worker.cancel()
        for ws, _ in list(self.sockets.values()):
            await ws.close()
        self.sockets = {}
        await self._app_runner.cleanup()
        self.queue, self.running, self.history, self.cache = [], {}, {}, {}

    async def _come_back(self):
        self._app_runner = await self._listen(self._app(), self.port)
        self._worker = asyncio.ensure_future(self._work())

    def add_file(self, type_, subfolder, name, data):
        self.files[(type_, subfolder, name)] = bytes(data)

    @property
    def api_url(self):
        return self.url + ("/api" if self.cloud_key else "")

    # -- lifecycle -------------------------------------------------------------------------
    def stop(self):
        if self._loop:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def _call_soon(self, fn, *args):
        if self._loop:
            self._loop.call_soon_threadsafe(fn, *args)

    async def _startup(self):
        self._wake = asyncio.Event()
        self._app_runner = await self._listen(self._app())
        self.port = self._app_runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self.port}"
        blob = web.Application()
        blob.router.add_get("/blob/{key}", self._blob)
        self._blob_runner = await self._listen(blob)
        self.blob_url = f"http://127.0.0.1:{self._blob_runner.addresses[0][1]}"
        self._worker = asyncio.ensure_future(self._work())

    async def _shutdown(self):
        self._worker.cancel()
        for ws, _ in list(self.sockets.values()):
            await ws.close()
        await self._app_runner.cleanup()
        await self._blob_runner.cleanup()

    # -- HTTP ------------------------------------------------------------------------------
    def _app(self):
        app = web.Application(middlewares=[self._knobs], client_max_size=200 * 2**20)
        routes = [
            ("GET", "/ws", self._ws), ("GET", "/system_stats", self._system_stats),
            ("GET", "/features", self._features), ("GET", "/embeddings", self._recorded),
            ("GET", "/extensions", self._recorded), ("GET", "/models", self._recorded),
            ("GET", "/models/{folder}", self._models), ("GET", "/object_info", self._object_info),
            ("GET", "/object_info/{node_class}", self._object_info_one), ("GET", "/queue", self._get_queue),
            ("POST", "/queue", self._post_queue), ("GET", "/prompt", self._get_prompt),
            ("POST", "/prompt", self._post_prompt), ("GET", "/history", self._get_history),
            ("GET", "/history/{prompt_id}", self._get_history_one), ("POST", "/history", self._post_history),
            ("GET", "/view", self._view), ("POST", "/upload/image", self._upload_image),
            ("POST", "/upload/mask", self._upload_mask), ("POST", "/interrupt", self._post_interrupt),
            ("POST", "/free", self._post_free), ("GET", "/workflow_templates", self._workflow_templates),
            ("GET", "/experiment/models", self._experiment_models),
            ("GET", "/node_replacements", self._node_replacements), ("GET", "/global_subgraphs", self._subgraphs),
            ("GET", "/global_subgraphs/{id}", self._subgraph),
        ]
        for method, path, handler in [
            ("GET", "/manager/version", self._manager_recorded), ("GET", "/externalmodel/getlist", self._manager_recorded),
            ("GET", "/customnode/getmappings", self._manager_recorded),
            ("GET", "/customnode/getlist", self._manager_recorded),
            ("POST", "/manager/queue/install_model", self._manager_install_model),
            ("POST", "/manager/queue/install", self._manager_install),
            ("GET", "/manager/queue/start", self._manager_start), ("GET", "/manager/queue/status", self._manager_status),
            ("GET", "/v2/manager/version", self._v4_recorded), ("GET", "/v2/customnode/getlist", self._v4_recorded),
            ("GET", "/v2/externalmodel/getlist", self._v4_recorded), ("GET", "/v2/customnode/getmappings", self._v4_map),
            ("GET", "/v2/manager/queue/status", self._v4_status), ("GET", "/v2/manager/queue/history", self._v4_history),
            ("POST", "/v2/manager/queue/task", self._v4_task), ("POST", "/v2/manager/queue/install_model", self._v4_task),
            ("POST", "/v2/manager/queue/start", self._v4_start),
        ]:
            app.router.add_route(method, path, handler)
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
            app.router.add_route(method, "/api" + path, handler)
        # 0.3.64 mounts the templates package as a static folder at /templates only (server.py at
        # a125cd84), and each pack's example folder only under /api/workflow_templates/PACK
        # (app/custom_node_manager.py at a125cd84); /workflow_templates is an ordinary route.
        app.router.add_get("/templates/{name}", self._template_file)
        # a newer server declares its jobs routes with the /api prefix, so they exist only there
        # (server.py at 5e14d797); 0.3.64 answers both with a bare 404 (recordings/server/)
        app.router.add_get("/api/jobs", self._get_jobs)
        app.router.add_get("/api/jobs/{job_id}", self._get_job)
        app.router.add_post("/api/jobs/{job_id}/cancel", self._cancel_job)
        app.router.add_get("/api/workflow_templates/{pack}/{name}", self._custom_template_file)
        return app

    @web.middleware
    async def _knobs(self, request, handler):
        self.requests.append((request.method, request.path, dict(request.headers)))
        if self.delay and (self.delay_limit is None or self.delay_limit > 0):
            if self.delay_limit is not None:
                self.delay_limit -= 1
            await asyncio.sleep(self.delay)
        path = request.path
        if self.cloud_key:
            if not path.startswith("/api/"):
                return web.Response(status=404, text="404: Not Found")
            if request.headers.get("X-API-Key") != self.cloud_key:
                return web.json_response({"message": "Unauthorized"}, status=401)
            path = path[len("/api"):]
        if path in self._fail:
            status = self._fail[path]
            return web.Response(status=status, text=SERVER_ERROR_TEXT if status == 500 else f"{status}")
        if path in self._garble:
            if self._garble[path] == "html":
                return web.Response(text="<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>",
                                    content_type="text/html")
            resp = await handler(request)
            body = getattr(resp, "body", None) or b'{"system": {"os": "posix"'
            return web.Response(body=bytes(body)[: max(1, len(body) // 2)], content_type="application/json")
        return await handler(request)

    async def _recorded(self, request):
        name = request.path[len("/api"):] if request.path.startswith("/api/") else request.path
        return web.json_response(self.rec.rest[name]["body"])

    # -- newer server ------------------------------------------------------------------------
    # What ComfyUI 0.33.0 answers where it changed, as recorded (recordings/server-0.33.0/:
    # rest.json, server/0.33.0.json). Where the recordings show one case and the double must
    # compute others (the /api/jobs filters, sorting and paging, a running job's fields), it
    # follows Comfy-Org/ComfyUI server.py at 5e14d797 (get_jobs, get_job_by_id) and
    # comfy_execution/jobs.py at dfb874a6. With `newer` False each answers as 0.3.64 was recorded.
    async def _system_stats(self, request):
        # as 0.3.64 answered, or in `newer` mode as 0.33.0 did (its version, five comfy packages,
        # deploy_environment); both recorded on a --cpu server, with the CPU as their one device
        source = self.rec.rest_newer if self.newer else self.rec.rest
        stats = copy.deepcopy(source["/system_stats"]["body"])
        if self.gpus:
            stats["system"]["argv"] = [a for a in stats["system"]["argv"] if a != "--cpu"]
            # get_torch_device_name (comfy/model_management.py at a7631e35) names a CUDA device
            # "cuda:N <name> : <allocator>"; 0.3.64's server.py lists the first device only, a newer
            # one every torch device, the primary first, never the CPU (get_all_torch_devices)
            stats["devices"] = [{"name": f"cuda:{i} {name} : cudaMallocAsync", "type": "cuda", "index": i,
                                 "vram_total": total, "vram_free": free, "torch_vram_total": 0, "torch_vram_free": 0}
                                for i, (name, total, free) in enumerate(self.gpus)]
            if not self.newer:
                stats["devices"] = stats["devices"][:1]
        return web.json_response(stats)

    async def _features(self, request):
        source = self.rec.rest_newer if self.newer else self.rec.rest  # as 0.33.0 or 0.3.64 answered
        return web.json_response(source["/features"]["body"])

    def _no_jobs_route(self):
        rec = self.rec.server["jobs list"]  # 0.3.64: 404, application/octet-stream, no body
        return web.Response(status=rec["status"], body=b"", content_type=rec["content_type"])

    async def _get_jobs(self, request):
        if not self.newer:
            return self._no_jobs_route()
        q = request.query
        statuses = list(JOB_STATUSES)
        if q.get("status"):
            statuses = [x.strip().lower() for x in q["status"].split(",") if x.strip()]
            bad = [x for x in statuses if x not in JOB_STATUSES]
            if bad:
                return web.json_response({"error": f"Invalid status value(s): {', '.join(bad)}. "
                                                   f"Valid values: {', '.join(JOB_STATUSES)}"}, status=400)
        sort_by, order = q.get("sort_by", "created_at").lower(), q.get("sort_order", "desc").lower()
        if sort_by not in ("created_at", "execution_duration"):
            return web.json_response({"error": "sort_by must be 'created_at' or 'execution_duration'"}, status=400)
        if order not in ("asc", "desc"):
            return web.json_response({"error": "sort_order must be 'asc' or 'desc'"}, status=400)
        limit, offset = None, 0
        try:
            if "limit" in q:
                limit = int(q["limit"])
                if limit <= 0:
                    return web.json_response({"error": "limit must be a positive integer"}, status=400)
        except ValueError:
            return web.json_response({"error": "limit must be an integer"}, status=400)
        try:
            offset = max(0, int(q.get("offset", 0)))
        except ValueError:
            return web.json_response({"error": "offset must be an integer"}, status=400)
        jobs = []
        if "in_progress" in statuses:
            jobs += [queue_job(item, "in_progress") for item in self.running.values()]
        if "pending" in statuses:
            jobs += [queue_job(item, "pending") for item in self.queue]
        for pid, entry in self.history.items():
            job = history_job(pid, entry)
            if job["status"] in statuses:
                jobs.append(job)
        if q.get("workflow_id"):
            jobs = [j for j in jobs if j.get("workflow_id") == q["workflow_id"]]
        if sort_by == "execution_duration":
            def key(j):
                start, end = j.get("execution_start_time", 0), j.get("execution_end_time", 0)
                return end - start if start and end else 0
        else:
            def key(j):
                return j.get("create_time", 0)
        jobs.sort(key=key, reverse=order == "desc")
        total = len(jobs)
        page = jobs[offset:][:limit] if limit is not None else jobs[offset:]
        return web.json_response({"jobs": page, "pagination": {"offset": offset, "limit": limit, "total": total,
                                                               "has_more": offset + len(page) < total}})

    async def _get_job(self, request):
        if not self.newer:
            return self._no_jobs_route()
        pid = request.match_info["job_id"]
        if pid in self.history:
            return web.json_response(history_job(pid, self.history[pid], include_outputs=True))
        for status, items in (("in_progress", self.running.values()), ("pending", self.queue)):
            for item in items:
                if item[1] == pid:
                    return web.json_response(queue_job(item, status))
        return web.json_response({"error": "Job not found"}, status=404)

    async def _cancel_job(self, request):
        """As 0.33.0 answered (recordings/server/jobs_cancel.json): a running job is interrupted
        (only if it is still the one running), a pending one leaves the queue, either answers
        {"cancelled": true}; a finished or unknown id {"cancelled": false}. 0.3.64: its 405."""
        if not self.newer:
            rec = self.rec.cancel["0.3.64"]["cancel an unknown id"]["response"]
            return web.Response(status=rec["status"], text=rec["text"], content_type=rec["content_type"].split(";")[0])
        pid = request.match_info["job_id"]
        self.cancels.append(pid)
        if any(item[1] == pid for item in self.running.values()):
            self._interrupt = True
            return web.json_response({"cancelled": True})
        for i, item in enumerate(self.queue):
            if item[1] == pid:
                self.queue.pop(i)
                heapq.heapify(self.queue)
                await self._queue_updated()
                return web.json_response({"cancelled": True})
        return web.json_response({"cancelled": False})

    def _replay(self, route):
        rec = self.rec.templates[route]
        if "body" in rec:
            return web.json_response(rec["body"], status=rec["status"])
        # the recorded 404s: an empty application/octet-stream body
        return web.Response(status=rec["status"], body=rec.get("text", "").encode(),
                            content_type=(rec.get("content_type") or "application/octet-stream").split(";")[0])

    async def _template_file(self, request):
        route = request.path if request.path in self.rec.templates else "/templates/no_such_template.json"
        return self._replay(route)

    async def _workflow_templates(self, request):
        listed = self.rec.templates["/workflow_templates"]["body"]
        return web.json_response({**listed, **{p: list(t) for p, t in self.custom_templates.items()}})

    async def _custom_template_file(self, request):
        pack, name = request.match_info["pack"], request.match_info["name"]
        workflow = self.custom_templates.get(pack, {}).get(name[:-len(".json")] if name.endswith(".json") else None)
        if workflow is None:
            return self._replay("/api/workflow_templates/no_such_pack/no_such.json")
        return web.json_response(workflow)

    def _not_served(self, route):
        """The recorded 0.3.64 answer to a route only newer servers have (404, empty body)."""
        rec = self.newer_routes[route]
        return web.Response(status=rec["status"], content_type=rec["content_type"])

    async def _node_replacements(self, request):
        if self.node_replacements is None:
            return self._not_served("/node_replacements")
        return web.json_response(self.node_replacements)

    async def _subgraphs(self, request):
        if self.global_subgraphs is None:
            return self._not_served("/global_subgraphs")
        # sanitize_entries(remove_data=True): no path, no data in the listing
        return web.json_response({k: {f: v for f, v in e.items() if f not in ("path", "data")}
                                  for k, e in self.global_subgraphs.items()})

    async def _subgraph(self, request):
        if self.global_subgraphs is None:
            return self._not_served("/global_subgraphs/0123abcd")
        entry = self.global_subgraphs.get(request.match_info["id"])
        return web.json_response(None if entry is None else {f: v for f, v in entry.items() if f != "path"})

    async def _experiment_models(self, request):
        return web.json_response([{"name": f, "folders": self.model_paths.get(f, [])} for f in self.models])

    # ComfyUI-Manager 3.37.1 as recorded offline (recordings/manager/manager.json.gz): its lists
    # are the bundled ones; an install_model entry must match its list (else 400); queue/start is
    # a GET; a queued task runs and, with no internet, ends without a file or pack (a model from a
    # loopback address was fetched: the double cannot, so tasks never succeed here)
    def _manager_answer(self, name):
        if not hasattr(self.rec, "manager"):
            rec = json.loads(gzip.decompress((RECORDINGS / "manager" / "manager.json.gz").read_bytes()))
            self.rec.manager = {e["name"]: e["response"] for e in rec["exchanges"]}
        return self.rec.manager[name]

    def _manager_reply(self, name):
        r = self._manager_answer(name)
        if "json" in r:
            return web.json_response(r["json"], status=r["status"])
        return web.Response(text=r["text"], status=r["status"],
                            content_type=(r.get("content_type") or "text/plain").split(";")[0])

    async def _manager_recorded(self, request):
        if self.manager != "3.37.1":
            return self._no_v3_route()
        name = {"/manager/version": "version", "/externalmodel/getlist": "model list",
                "/customnode/getmappings": "node map", "/customnode/getlist": "pack list"}[request.path]
        return self._manager_reply(name)

    async def _manager_install_model(self, request):
        if self.manager != "3.37.1":
            return self._no_v3_route()
        item = await request.json()
        listed = self._manager_answer("model list")["json"]["models"]
        if not any(all(m.get(k) == item.get(k) for k in ("save_path", "base", "filename")) for m in listed):
            return self._manager_reply("install_model not in the list")
        self.manager_queue.append(("install-model", item))
        return web.Response(status=200)

    async def _manager_install(self, request):
        if self.manager != "3.37.1":
            return self._no_v3_route()
        self.manager_queue.append(("install", await request.json()))
        return web.Response(status=200)

    async def _manager_start(self, request):
        if self.manager != "3.37.1":
            return self._no_v3_route()
        self.manager_done = len(self.manager_queue)
        return web.Response(status=200)

    async def _manager_status(self, request):
        if self.manager != "3.37.1":
            return self._no_v3_route()
        done = getattr(self, "manager_done", 0)
        return web.json_response({"total_count": done, "done_count": done, "in_progress_count": 0,
                                  "is_processing": False})

    def _no_v3_route(self):
        if self.manager == "4.2.2":  # ComfyUI 0.33.0 with Manager 4 serves nothing there
            return self._v4_reply(self._v4("version on the 3.x route"))
        return web.Response(status=404, text="404: Not Found")

    # ComfyUI-Manager 4.2.2 as ComfyUI 0.33.0 --enable-manager ran it offline
    # (recordings/manager/manager-4.2.2.json, made by record_v4.py): routes under /v2/ only; no
    # pack or model list; a task queued by queue/task or queue/install_model runs once the queue
    # is started (a POST with a JSON body: a form content type gets the recorded 400) and ends in
    # the history with the recorded result of its kind of request (a registry id: the registry
    # out of reach; a repository: git clone failing; a model: the download failing), the recorded
    # names replaced by its own. Tasks never succeed here: the recordings have no success.
    def _v4(self, name):
        if not hasattr(self.rec, "manager4"):
            rec = _load("manager/manager-4.2.2.json")["exchanges"]
            self.rec.manager4 = {}
            for e in rec:  # the last answer of a polled route is the settled one
                self.rec.manager4[e["name"]] = e
        return self.rec.manager4[name]

    @staticmethod
    def _v4_reply(exchange):
        r = exchange["response"]
        if "json" in r:
            return web.json_response(r["json"], status=r["status"])
        return web.Response(text=r["text"], status=r["status"],
                            content_type=(r.get("content_type") or "text/plain").split(";")[0])

    def _no_v4_route(self):
        # a server without Manager 4 (0.3.64, or one whose Manager is 3.x) has no /v2 routes:
        # the bare 404 0.3.64 gives any route it lacks (recordings/newer_routes.json)
        return self._not_served("/node_replacements")

    async def _v4_recorded(self, request):
        if self.manager != "4.2.2":
            return self._no_v4_route()
        name = {"/v2/manager/version": "version", "/v2/customnode/getlist": "pack list on the 3.x route",
                "/v2/externalmodel/getlist": "model list on the 3.x route"}[request.path]
        return self._v4_reply(self._v4(name))

    async def _v4_map(self, request):
        if self.manager != "4.2.2":
            return self._no_v4_route()
        if not hasattr(self.rec, "manager4_map"):
            self.rec.manager4_map = json.loads(gzip.decompress(
                (RECORDINGS / "manager" / "manager-4.2.2-map.json.gz").read_bytes()))
        return web.json_response(self.rec.manager4_map)

    async def _v4_status(self, request):
        if self.manager != "4.2.2":
            return self._no_v4_route()
        waiting = len(self.manager4_pending)
        return web.json_response({"total_count": waiting, "done_count": len(self.manager4_history),
                                  "in_progress_count": 0, "pending_count": waiting, "is_processing": False})

    async def _v4_history(self, request):
        if self.manager != "4.2.2":
            return self._no_v4_route()
        entry = self.manager4_history.get(request.query.get("ui_id"))
        return web.json_response({"history": entry or {}})

    async def _v4_task(self, request):
        if self.manager != "4.2.2":
            return self._no_v4_route()
        body = await request.json()
        if request.path.endswith("/install_model"):
            kind, params = "install-model", {k: v for k, v in body.items() if k != "client_id"}  # ModelMetadata
        elif "params" not in body:
            return self._v4_reply(self._v4("task without params"))
        else:
            kind, params = body["kind"], body["params"]
        self.manager_queue.append((kind, body))
        self.manager4_pending.append((body["ui_id"], body["client_id"], kind, params))
        return web.Response(status=200)

    async def _v4_start(self, request):
        if self.manager != "4.2.2":
            return self._no_v4_route()
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain"):
            return self._v4_reply(self._v4("start with a form content type"))
        for ui_id, client_id, kind, params in self.manager4_pending:
            self.manager4_history[ui_id] = self._v4_outcome(ui_id, client_id, kind, params)
        self.manager4_pending = []
        return web.Response(status=200)

    def _v4_outcome(self, ui_id, client_id, kind, params):
        if self.manager_refuses:  # the bare "failed" 4.2.2 recorded for a fix its security_level forbade
            recorded = copy.deepcopy(self._v4("fix a pack: history")["response"]["json"]["history"])
            recorded.update(ui_id=ui_id, client_id=client_id, kind=kind, params=params)
            return recorded
        if kind == "install-model":
            label, names = "install a model", ("url",)
        elif params.get("selected_version") == "latest":
            label, names = "install a registry pack", ("id",)
        else:
            label, names = "install a git pack", ("repository", "id")
        recorded = copy.deepcopy(self._v4(label + ": history")["response"]["json"]["history"])
        result = recorded["result"]
        for key in names:  # the longer name first: a repository URL holds the id
            result = result.replace(str(recorded["params"][key]), str(params.get(key)))
        recorded["status"]["messages"] = [result if m == recorded["result"] else m for m in recorded["status"]["messages"]]
        recorded.update(ui_id=ui_id, client_id=client_id, result=result,
                        params={k: params.get(k, v) for k, v in recorded["params"].items()})
        return recorded

    async def _models(self, request):
        folder = request.match_info["folder"]
        if folder not in self.models:
            return web.Response(status=404)
        return web.json_response(self._listed_models(folder))

    async def _object_info(self, request):
        return web.json_response(self._current_object_info())

    async def _object_info_one(self, request):
        name = request.match_info["node_class"]
        info = self._current_object_info()
        return web.json_response({name: info[name]} if name in info else {})

    async def _get_queue(self, request):
        return web.json_response({"queue_running": list(self.running.values()), "queue_pending": list(self.queue)})

    async def _get_prompt(self, request):
        return web.json_response({"exec_info": {"queue_remaining": self._remaining()}})

    async def _post_queue(self, request):
        body = await request.json()
        if body.get("clear"):
            self._wipe_queue()
        for pid in body.get("delete", []):
            for i, item in enumerate(self.queue):
                if item[1] == pid:
                    if len(self.queue) == 1:
                        self._wipe_queue()
                    else:
                        self.queue.pop(i)
                        heapq.heapify(self.queue)
                    await self._queue_updated()
                    break
        return web.Response(status=200)

    def _wipe_queue(self):
        self.queue = []
        asyncio.ensure_future(self._queue_updated())

    async def _post_interrupt(self, request):
        try:
            body = await request.json()
        except ValueError:
            body = {}
        self.interrupts.append(body)
        pid = body.get("prompt_id")
        if not pid or any(item[1] == pid for item in self.running.values()):
            self._interrupt = True
        return web.Response(status=200)

    async def _post_free(self, request):
        await request.json()
        return web.Response(status=200)

    async def _get_history(self, request):
        max_items = request.query.get("max_items")
        offset = int(request.query.get("offset", -1))
        items = list(self.history.items())
        if max_items is not None:
            max_items = int(max_items)
            if offset < 0:
                offset = len(items) - max_items
        items = items[max(offset, 0):]
        if max_items is not None:
            items = items[:max_items]
        return web.json_response(dict(items))

    async def _get_history_one(self, request):
        pid = request.match_info["prompt_id"]
        return web.json_response({pid: self.history[pid]} if pid in self.history else {})

    async def _post_history(self, request):
        body = await request.json()
        if body.get("clear"):
            self.history = {}
        for pid in body.get("delete", []):
            self.history.pop(pid, None)
        return web.Response(status=200)

    # -- files -----------------------------------------------------------------------------
    async def _view(self, request):
        q = request.query
        if "filename" not in q:
            return web.Response(status=404)
        name, type_ = q["filename"], q.get("type", "output")
        hostile = self.files.get((type_, q.get("subfolder", ""), name)) if self.hostile_output else None
        if hostile is not None:
            return web.Response(body=hostile, content_type="image/png")
        if not name or name[0] == "/" or ".." in name or type_ not in ("input", "output", "temp"):
            return web.Response(status=400)
        subfolder = q.get("subfolder", "")
        if os.path.normpath(os.path.join("/root", subfolder)).startswith("/root/") is False and subfolder not in ("", "."):
            return web.Response(status=403)
        key = (type_, os.path.normpath(subfolder) if subfolder else "", os.path.basename(name))
        data = self.files.get(key)
        if data is None:
            return web.Response(status=404)
        disposition = {"Content-Disposition": f'filename="{key[2]}"'}
        if self.cloud_key:
            token = uuid.uuid4().hex
            self._signed = getattr(self, "_signed", {})
            self._signed[token] = key
            raise web.HTTPFound(f"{self.blob_url}/blob/{token}?signature={uuid.uuid4().hex}")
        if "preview" in q:
            return web.Response(body=self.rec.preview_webp, content_type="image/webp", headers=disposition)
        ctype = mimetypes.guess_type(key[2])[0] or "application/octet-stream"
        if self.break_view:
            return await self._half(request, data, ctype)
        if self.view_seconds:
            return await self._slow(request, data, ctype)
        return web.Response(body=data, headers={**disposition, "Content-Type": ctype})

    async def _half(self, request, data, ctype):
        resp = web.StreamResponse(headers={"Content-Type": ctype, "Content-Length": str(len(data))})
        await resp.prepare(request)
        await resp.write(data[: len(data) // 2])
        request.transport.close()
        return resp

    async def _slow(self, request, data, ctype):
        resp = web.StreamResponse(headers={"Content-Type": ctype, "Content-Length": str(len(data))})
        await resp.prepare(request)
        pieces = 20
        for i in range(pieces):
            await resp.write(data[i * len(data) // pieces:(i + 1) * len(data) // pieces])
            await asyncio.sleep(self.view_seconds / pieces)
        await resp.write_eof()
        return resp

    async def _blob(self, request):
        self.blob_requests.append(dict(request.headers))
        key = getattr(self, "_signed", {}).get(request.match_info["key"])
        if key is None:
            return web.Response(status=404)
        return web.Response(body=self.files[key], content_type=mimetypes.guess_type(key[2])[0] or "image/png")

    async def _upload_image(self, request):
        return await self._upload(await request.post())

    async def _upload_mask(self, request):
        post = await request.post()
        try:
            json.loads(post.get("original_ref"))
        except (TypeError, ValueError):
            return web.Response(status=500, text=SERVER_ERROR_TEXT)
        return await self._upload(post)

    async def _upload(self, post):
        image = post.get("image")
        if not isinstance(image, web.FileField) or not image.filename:
            return web.Response(status=400)
        type_ = post.get("type") or "input"
        subfolder = post.get("subfolder", "")
        filename = image.filename
        norm = os.path.normpath(os.path.join("/root", subfolder, filename))
        if not norm.startswith("/root/"):
            return web.Response(status=400)
        data = image.file.read()
        sub = os.path.normpath(subfolder) if subfolder else ""
        if post.get("overwrite") not in ("true", "1"):
            stem, ext = os.path.splitext(filename)
            i = 1
            while (type_, sub, filename) in self.files and self.files[(type_, sub, filename)] != data:
                filename = f"{stem} ({i}){ext}"
                i += 1
        self.files[(type_, sub, filename)] = data
        return web.json_response({"name": filename, "subfolder": subfolder, "type": type_})

    # -- WebSocket -------------------------------------------------------------------------
    async def _ws(self, request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sid = request.query.get("clientId", "") or uuid.uuid4().hex
        self.sockets[sid] = [ws, 0]
        try:
            status = {"status": {"exec_info": {"queue_remaining": self._remaining()}}, "sid": sid}
            await self._send("status", status, sid)
            async for _ in ws:
                pass  # feature_flags and the like: the recordings show no answer we rely on
        finally:
            if self.sockets.get(sid, [None])[0] is ws:
                self.sockets.pop(sid, None)
        return ws

    async def _send(self, event, data, sid=None):
        targets = [sid] if sid is not None else list(self.sockets)
        for s in targets:
            entry = self.sockets.get(s)
            if entry is None:
                continue
            ws = entry[0]
            if self._ws_drop_after is not None and entry[1] >= self._ws_drop_after:
                await ws.close()
                continue
            try:
                await ws.send_str(json.dumps({"type": event, "data": data}))
                entry[1] += 1
            except (ConnectionError, RuntimeError):
                self.sockets.pop(s, None)

    async def _queue_updated(self):
        await self._send("status", {"status": {"exec_info": {"queue_remaining": self._remaining()}}})

    def _remaining(self):
        return len(self.queue) + len(self.running)

    # -- prompts ---------------------------------------------------------------------------
    async def _post_prompt(self, request):
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=500, text=SERVER_ERROR_TEXT)
        self.posted.append(body)
        if "number" in body:
            number = float(body["number"])
        else:
            number = -self.number if body.get("front") else self.number
            self.number += 1
        if "prompt" not in body:
            error = {"type": "no_prompt", "message": "No prompt provided", "details": "No prompt provided",
                     "extra_info": {}}
            return web.json_response({"error": error, "node_errors": {}}, status=400)
        prompt = body["prompt"]
        if self.newer and body.get("prompt_id") is not None and not canonical_uuid(body["prompt_id"]):
            # server.py post_prompt at 5e14d797: before validation, on the standard error envelope
            error = {"type": "invalid_prompt_id", "message": "prompt_id must be a valid UUID",
                     "details": "prompt_id must be a UUID string in canonical lowercase hyphenated form; "
                                "omit it to let the server generate one", "extra_info": {}}
            return web.json_response({"error": error, "node_errors": {}}, status=400)
        if self.node_replacements:
            self._replace_nodes(prompt)
        verdict = self._verdict(prompt)
        if verdict is not None:
            return web.json_response(verdict, status=400)
        # 0.3.64 keeps any client id as sent (recordings/server/0.3.64.json: an uppercase UUID, "rec-...")
        pid = str(body.get("prompt_id") or uuid.uuid4())
        extra = dict(body.get("extra_data") or {})
        if "client_id" in body:
            extra["client_id"] = body["client_id"]
        if self.newer:
            extra["create_time"] = now_ms()  # post_prompt stamps every queued prompt (5e14d797)
        outputs = [nid for nid, node in prompt.items() if self._is_output(node["class_type"])]
        heapq.heappush(self.queue, (number, pid, prompt, extra, outputs))
        await self._queue_updated()
        self._wake.set()
        if self.prompt_answer_seconds:
            await asyncio.sleep(self.prompt_answer_seconds)
        return web.json_response({"prompt_id": pid, "number": number, "node_errors": {}})

    def _replace_nodes(self, prompt):
        """A newer server's node replacements, applied in place before validation, as server.py
        (Comfy-Org/ComfyUI at 002c3fb9) calls NodeReplaceManager.apply_replacements
        (app/node_replace_manager.py at b5d74ccb): a class the server lacks becomes the first
        replacement's, if it has that one; inputs are only the mapped or set ones; links from the
        node move to the mapped outputs. (The mapping reading a missing input is the server's
        KeyError: a 500, as aiohttp answers an exception.)"""
        links = {}
        for nid, node in prompt.items():
            for name, value in (node.get("inputs") or {}).items() if isinstance(node, dict) else ():
                if isinstance(value, list) and len(value) == 2:
                    links.setdefault(value[0], []).append((nid, name, value[1]))
        for nid, node in list(prompt.items()):
            rules = self.node_replacements.get(node.get("class_type")) if isinstance(node, dict) else None
            if not rules or node["class_type"] in self.object_info or rules[0]["new_node_id"] not in self.object_info:
                continue
            rule = rules[0]
            inputs = {}
            for entry in rule.get("input_mapping") or []:
                inputs[entry["new_id"]] = entry["set_value"] if "set_value" in entry else node["inputs"][entry["old_id"]]
            prompt[nid] = dict(node, class_type=rule["new_node_id"], inputs=inputs)
            for target, name, slot in links.get(nid, []) if rule.get("output_mapping") else []:
                for entry in rule["output_mapping"]:
                    if entry["old_idx"] == slot:
                        prompt[target]["inputs"][name][1] = entry["new_idx"]

    def _verdict(self, prompt):
        known = self.rec.verdicts.get(canonical(prompt))
        if known is not None:
            return known
        for nid, node in prompt.items():
            if not isinstance(node, dict) or node.get("class_type") not in self.rec.object_info:
                ctype = node.get("class_type") if isinstance(node, dict) else None
                if self.newer and ctype is not None:
                    # recorded on 0.33.0 (recordings/server-0.33.0/rest.json, "prompt unknown class");
                    # 0.9.2 still answers as 0.3.64 does
                    title = (node.get("_meta") or {}).get("title", ctype)
                    return {"error": {"type": "missing_node_type",
                                      "message": f"Node '{title}' not found. The custom node may not be installed.",
                                      "details": f"Node ID '#{nid}'",
                                      "extra_info": {"node_id": nid, "class_type": ctype, "node_title": title}},
                            "node_errors": {}}
                return {"error": {"type": "invalid_prompt",
                                  "message": f"Cannot execute because node {ctype} does not exist.",
                                  "details": f"Node ID '#{nid}'", "extra_info": {}}, "node_errors": {}}
        if not any(self._is_output(n["class_type"]) for n in prompt.values()):
            return {"error": {"type": "prompt_no_outputs", "message": "Prompt has no outputs", "details": "",
                              "extra_info": {}}, "node_errors": {}}
        return None

    def _is_output(self, class_type):
        return bool(self.rec.object_info.get(class_type, {}).get("output_node"))

    async def _work(self):
        while True:
            while not self.queue or self._paused:
                self._wake.clear()
                await self._wake.wait()
            item = heapq.heappop(self.queue)
            index = self.task_counter
            self.task_counter += 1
            self.running[index] = copy.deepcopy(list(item))
            await self._queue_updated()
            run = Run(self, item)
            history_result = await run.execute()
            prompt = self.running.pop(index)
            self.history[item[1]] = {"prompt": prompt, "outputs": {}, "status": run.status(), **history_result}
            await self._queue_updated()
            await self._send("executing", {"node": None, "prompt_id": item[1]}, run.client_id)


class Run:
    """One prompt going through the worker: the messages a real run sends, in its order."""

    def __init__(self, double, item):
        self.d = double
        self.number, self.pid, self.prompt, self.extra, self.outputs = item
        self.client_id = self.extra.get("client_id")
        self.messages = []
        self.progress = {}
        self.success = True

    async def note(self, event, data, broadcast=False):
        data = {**data, "timestamp": now_ms()}
        self.messages.append([event, data])
        if self.client_id is not None or broadcast:
            await self.d._send(event, data, self.client_id)

    async def send(self, event, data):
        if self.client_id is not None:  # without a client id the recordings show no per-node messages
            await self.d._send(event, data, self.client_id)

    def status(self):
        return {"status_str": "success" if self.success else "error", "completed": self.success,
                "messages": self.messages}

    async def execute(self):
        self.d._interrupt = False
        await self.note("execution_start", {"prompt_id": self.pid})
        sigs = {nid: self.signature(nid) for nid in self.prompt}
        cache = {nid: v for nid, v in self.d.cache.items() if nid in self.prompt}
        cached = [nid for nid in self.prompt if nid in cache and cache[nid][0] == sigs[nid]]
        await self.note("execution_cached", {"nodes": cached, "prompt_id": self.pid})
        executed, ui = [], {nid: cache[nid][1] for nid in cached if cache[nid][1] is not None}
        for nid in self.order(set(cached)):
            if nid in cached:
                if cache[nid][1] is not None:
                    await self.send("executed", {"node": nid, "display_node": nid, "output": cache[nid][1],
                                                 "prompt_id": self.pid})
                self.progress[nid] = self.bar(nid, 1, 1, "finished")
                await self.send("progress_state", {"prompt_id": self.pid, "nodes": copy.deepcopy(self.progress)})
                continue
            failure = await self.run_node(nid, executed, ui)
            if failure:
                self.success = False
                await self.note(*failure)
                break
        else:
            await self.note("execution_success", {"prompt_id": self.pid})
        self.d.cache = {nid: (sigs[nid], ui.get(nid)) for nid in cached + executed}
        meta = {nid: {"node_id": nid, "display_node": nid, "parent_node": None, "real_node_id": nid} for nid in ui}
        return {"outputs": ui, "meta": meta}

    async def run_node(self, nid, executed, ui):
        self.progress[nid] = self.bar(nid, 0.0, 1.0, "running")
        await self.send("progress_state", {"prompt_id": self.pid, "nodes": copy.deepcopy(self.progress)})
        await self.send("executing", {"node": nid, "display_node": nid, "prompt_id": self.pid})
        if self.d._interrupt:  # the real server checks as a node starts, after announcing it
            return "execution_interrupted", {"prompt_id": self.pid, "node_id": nid,
                                             "node_type": self.prompt[nid]["class_type"], "executed": executed}, True
        await asyncio.sleep(self.d.node_seconds)
        failure = self.failure(nid)
        if failure:
            return "execution_error", failure
        steps = self.step_count(nid)
        for step in range(1, (steps or 0) + 1):  # as recorded: the node's state, then the step
            self.progress[nid] = self.bar(nid, step, steps, "running")
            await self.send("progress_state", {"prompt_id": self.pid, "nodes": copy.deepcopy(self.progress)})
            await self.send("progress", {"value": step, "max": steps, "prompt_id": self.pid, "node": nid})
        output = self.d_output(nid)
        if output is not None:
            ui[nid] = output
            await self.send("executed", {"node": nid, "display_node": nid, "output": output, "prompt_id": self.pid})
        executed.append(nid)
        self.progress[nid] = self.bar(nid, steps or 1.0, steps or 1.0, "finished")
        await self.send("progress_state", {"prompt_id": self.pid, "nodes": copy.deepcopy(self.progress)})
        return None

    def step_count(self, nid):
        """How many `progress` steps the node reports: KSampler its own `steps` (one per sampler
        step, as recorded in runs/ksampler_progress.json), ImageUpscaleWithModel its recorded tiles."""
        node = self.prompt[nid]
        step_input = self.d.rec.step_inputs.get(node["class_type"])
        if step_input:
            value = node["inputs"].get(step_input)
            return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
        return self.d.rec.step_counts.get(node["class_type"])

    def bar(self, nid, value, maximum, state):
        return {"value": value, "max": maximum, "state": state, "node_id": nid, "prompt_id": self.pid,
                "display_node_id": nid, "parent_node_id": None, "real_node_id": nid}

    def failure(self, nid):
        """LoadImage of a file that is not an image fails as the recorded run did."""
        node = self.prompt[nid]
        if node["class_type"] != "LoadImage":
            return None
        name = str(node["inputs"].get("image", ""))
        data = self.d.files.get(("input", "", name))
        if data is None or sniff_image(data):
            return None
        err = copy.deepcopy(self.d.rec.load_image_error)
        err.update({"prompt_id": self.pid, "node_id": nid, "executed": [],
                    "exception_message": f"cannot identify image file 'input/{name}'\n",
                    "current_inputs": {"image": [name]}, "current_outputs": list(self.prompt)})
        err.pop("timestamp", None)
        return err

    # -- what each node shows --------------------------------------------------------------
    def d_output(self, nid):
        node = self.prompt[nid]
        ctype, inputs = node["class_type"], node["inputs"]
        if ctype == "PreviewAny":
            return {"text": [self.text_of(inputs.get("source"))]}
        if ctype in ("SaveImage", "PreviewImage"):
            count = self.batch_of(inputs.get("images"))
            if ctype == "SaveImage":
                return {"images": self.save("output", str(inputs.get("filename_prefix", "ComfyUI")), "png", count)}
            return {"images": self.save("temp", self.d.preview_prefix, "png", count)}
        if ctype in ("SaveAnimatedWEBP", "SaveAnimatedPNG"):
            ext = "webp" if ctype.endswith("WEBP") else "png"
            return {"images": self.save("output", str(inputs.get("filename_prefix", "ComfyUI")), ext, 1),
                    "animated": [True]}
        return None

    def save(self, type_, prefix, ext, count):
        subfolder, base = os.path.split(prefix)
        taken = [int(name[len(base) + 1:len(base) + 6]) for (t, s, name) in self.d.files
                 if t == type_ and s == subfolder and name.startswith(base + "_") and name[len(base) + 1:len(base) + 6].isdigit()]
        counter = max(taken, default=0) + 1
        items = []
        for i in range(count):
            name = f"{base}_{counter + i:05}_.{ext}"
            self.d.files[(type_, subfolder, name)] = self.d.rec.sample_bytes[ext]
            if self.d.hostile_output:
                subfolder, name = self.d.hostile_output
                self.d.files[(type_, subfolder, name)] = self.d.rec.sample_bytes[ext]
            items.append({"filename": name, "subfolder": subfolder, "type": type_})
        return items

    def upstream(self, value):
        return self.prompt.get(value[0]) if is_link(value) else None

    def batch_of(self, value):
        node = self.upstream(value)
        while node is not None:
            if node["class_type"] == "EmptyImage":
                return int(node["inputs"].get("batch_size", 1))
            links = [v for v in node["inputs"].values() if is_link(v)]
            node = self.upstream(links[0]) if links else None
        return 1

    def text_of(self, value):
        node = self.upstream(value)
        if node is None:
            return str(value)
        if node["class_type"] == "StringConcatenate":
            i = node["inputs"]
            return f"{self.text_of(i.get('string_a'))}{self.text_of(i.get('delimiter'))}{self.text_of(i.get('string_b'))}"
        return ""

    # -- order and cache -------------------------------------------------------------------
    def signature(self, nid, seen=()):
        node = self.prompt[nid]
        parts = {}
        for k, v in node["inputs"].items():
            if is_link(v) and v[0] in self.prompt and v[0] not in seen:
                parts[k] = [self.signature(v[0], seen + (nid,)), v[1]]
            else:
                parts[k] = v
        return canonical([node["class_type"], parts])

    def order(self, cached):
        """The order ComfyUI's ExecutionList stages nodes: each output's inputs gathered depth
        first from a stack, cached inputs left out; then output nodes as soon as they can run,
        nodes feeding an output, nodes two steps from one, else the first ready."""
        pending, blockers, blocking = [], {}, {}
        for out in self.outputs:
            stack = [out]
            while stack:
                nid = stack.pop()
                if nid in blockers:
                    continue
                pending.append(nid)
                blockers[nid] = set()
                blocking.setdefault(nid, set())
                for v in self.prompt[nid]["inputs"].values():
                    if is_link(v) and v[0] in self.prompt and v[0] not in cached:
                        stack.append(v[0])
                        blocking.setdefault(v[0], set()).add(nid)
            for nid in pending:
                for v in self.prompt[nid]["inputs"].values():
                    if is_link(v) and v[0] in self.prompt and v[0] not in cached:
                        blockers[nid].add(v[0])
        done = []
        while pending:
            ready = [n for n in pending if not blockers[n]]
            if not ready:
                break  # a cycle: the real server refuses these before queueing
            pick = self.pick(ready, blocking)
            pending.remove(pick)
            done.append(pick)
            for n in blocking.get(pick, ()):
                blockers.get(n, set()).discard(pick)
        return done

    def pick(self, ready, blocking):
        out = lambda n: self.d._is_output(self.prompt[n]["class_type"])  # noqa: E731
        for n in ready:
            if out(n):
                return n
        for n in ready:
            if any(out(b) for b in blocking.get(n, ())):
                return n
        for n in ready:
            if any(out(b2) for b in blocking.get(n, ()) for b2 in blocking.get(b, ())):
                return n
        return ready[0]


JOB_STATUSES = ("pending", "in_progress", "completed", "failed", "cancelled")  # jobs.py at dfb874a6


def canonical_uuid(value):
    """validate_job_id (jobs.py at dfb874a6): a string whose UUID spells it back unchanged."""
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _pruned(d):
    return {k: v for k, v in d.items() if v is not None}  # comfy_api.internal.prune_dict


def _workflow_id(extra):
    return ((extra.get("extra_pnginfo") or {}).get("workflow") or {}).get("id")


def queue_job(item, status):
    """normalize_queue_item (jobs.py at dfb874a6): a queued or running prompt as a job."""
    number, pid, _prompt, extra = item[:4]
    return _pruned({"id": pid, "status": status, "priority": number, "create_time": extra.get("create_time"),
                    "outputs_count": 0, "previewable_outputs_count": 0, "workflow_id": _workflow_id(extra)})


def history_job(pid, entry, include_outputs=False):
    """A finished prompt as a job, in the fields ComfyUI 0.33.0 gave (recordings/server-0.33.0/
    server/0.33.0.json: a saved image, a preview-only run, a failed run); the detail
    (/api/jobs/{id}) adds outputs, execution_status and the workflow."""
    number, _, prompt, extra = entry["prompt"][:4]
    status_info = entry.get("status") or {}
    start = end = error = None
    interrupted = False
    for kind, data in status_info.get("messages") or []:
        if kind == "execution_start":
            start = data.get("timestamp")
        elif kind in ("execution_success", "execution_error", "execution_interrupted"):
            end = data.get("timestamp")
            error = data if kind == "execution_error" else error
            interrupted = interrupted or kind == "execution_interrupted"
    status_str = status_info.get("status_str")
    status = ("cancelled" if interrupted else "failed") if status_str == "error" else "completed"
    outputs = entry.get("outputs") or {}
    count, saved, shown = 0, None, None
    for nid, out in outputs.items():
        for media, items in out.items():
            if media == "animated" or not isinstance(items, list):
                continue
            for item in items:
                if isinstance(item, dict):
                    count += 1
                    first = {**item, "nodeId": nid, "mediaType": media}
                    shown = shown or first
                    if saved is None and item.get("type") == "output":
                        saved = first
    # a saved file is the preview; a preview-only run shows its temp image (both recorded)
    job = _pruned({"id": pid, "status": status, "priority": number, "create_time": extra.get("create_time"),
                   "execution_start_time": start, "execution_end_time": end, "execution_error": error,
                   "outputs_count": count, "previewable_outputs_count": count, "preview_output": saved or shown,
                   "workflow_id": _workflow_id(extra)})
    if include_outputs:
        job.update({"outputs": outputs, "execution_status": status_info,
                    "workflow": {"prompt": prompt, "extra_data": extra}})
    return job


IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")


def sniff_image(data):
    return data.startswith(IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


@pytest.fixture
def comfy_double():
    double = ComfyDouble().start()
    try:
        yield double
    finally:
        double.stop()


@pytest.fixture(params=["0.3.64", "newer"])
def comfy_any(request):
    """The double as recorded (0.3.64) and as a newer server (`newer`): a test taking it runs
    against both, so what the user sees must hold on each."""
    double = ComfyDouble()
    double.newer = request.param == "newer"
    double.start()
    try:
        yield double
    finally:
        double.stop()

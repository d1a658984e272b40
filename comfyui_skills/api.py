"""ComfyUI's HTTP API: one method per route, and the only module that spells a route.

`ComfyUI` is the transport `Client` (auth, timeouts, redirects, the one error map) plus a
method for each route the pack uses. Answers that the pack reads field by field come back as
small typed records (`Queue`, `QueueItem`, `Submitted`, `Stored`); the rest as ComfyUI's JSON.

Routes were read from ComfyUI 0.3.64's server.py (the version this pack is recorded against);
where a newer server changed an answer (its `/api/jobs`, the prompt ids it takes, every device in
/system_stats) both are handled, each read from the newer file and commit named where it is used.
"""

import re
import uuid
from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import quote

from . import nextsteps
from .errors import CheckFailed, InputError, ServerError, TransportError
from .transport import Client

PROMPT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
OBJECT_INFO_TIMEOUT = 120.0  # a heavy install takes many seconds to build /object_info
LOG_ROUTES = ("/internal/logs/raw", "/internal/logs")


# -- typed answers -------------------------------------------------------------------------------
@dataclass
class QueueItem:
    """One entry of /queue: [number, prompt_id, prompt, extra_data, outputs_to_execute]."""

    number: object
    prompt_id: str
    prompt: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    outputs: Optional[list] = None
    raw: list = field(default_factory=list, repr=False)

    @classmethod
    def parse(cls, item):
        if not (isinstance(item, list) and len(item) > 1):
            return None
        return cls(number=item[0], prompt_id=item[1],
                   prompt=item[2] if len(item) > 2 and isinstance(item[2], dict) else {},
                   extra=item[3] if len(item) > 3 and isinstance(item[3], dict) else {},
                   outputs=item[4] if len(item) > 4 else None, raw=item)

    @property
    def client_id(self):
        return self.extra.get("client_id")


@dataclass
class Queue:
    running: list
    pending: list  # in the order the server will run them (by number)
    raw: dict = field(default_factory=dict, repr=False)  # the answer as sent, for the diagnosis

    @classmethod
    def parse(cls, body):
        body = body if isinstance(body, dict) else {}
        running = [i for i in map(QueueItem.parse, body.get("queue_running") or []) if i]
        pending = [i for i in map(QueueItem.parse, body.get("queue_pending") or []) if i]
        pending.sort(key=lambda i: i.number if isinstance(i.number, (int, float)) else 0)
        return cls(running, pending, body)

    def places(self, client_id=None):
        """{prompt_id: 0 if running else its 1-based position}, only client_id's prompts when given."""
        def ours(item):
            return client_id is None or item.client_id == client_id

        places = {i.prompt_id: 0 for i in self.running if ours(i)}
        for pos, item in enumerate(self.pending, start=1):
            if ours(item):
                places[item.prompt_id] = pos
        return places


@dataclass
class Submitted:
    """The answer to POST /prompt: the id, its queue number, and errors that drop some outputs."""

    prompt_id: str
    number: object = None
    node_errors: dict = field(default_factory=dict)


@dataclass
class Stored:
    """Where an uploaded file landed; `ref` is what LoadImage-style inputs take."""

    name: str
    subfolder: str = ""
    type: str = "input"
    asset: dict = None  # a server with --enable-assets (0.33.0) registers the upload as an asset

    @property
    def ref(self):
        return f"{self.subfolder}/{self.name}" if self.subfolder else self.name


# -- jobs: newer servers ------------------------------------------------------------------------
# GET /api/jobs and /api/jobs/{id} (Comfy-Org/ComfyUI server.py and comfy_execution/jobs.py at
# 5e14d797 / dfb874a6; PR #11054, Dec 2025): one record per prompt, queued, running or done,
# without the graph. 0.3.64 has neither route (a 404 with an empty body,
# tests/recordings/server/0.3.64.json), so every caller falls back to /queue and /history there.
JOB_STATUSES = ("pending", "in_progress", "completed", "failed", "cancelled")


@dataclass
class JobInfo:
    """One job as /api/jobs words it; `raw` keeps every field (the detail adds outputs, workflow)."""

    id: str
    status: str                    # one of JOB_STATUSES
    priority: object = None        # the queue number: pending jobs run lowest first
    create_time: Optional[int] = None  # ms since the epoch, when the server queued it
    execution_start_time: Optional[int] = None
    execution_end_time: Optional[int] = None
    execution_error: Optional[dict] = None
    outputs_count: Optional[int] = None
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, body):
        if not (isinstance(body, dict) and isinstance(body.get("id"), str) and body.get("status") in JOB_STATUSES):
            return None
        return cls(id=body["id"], status=body["status"], priority=body.get("priority"),
                   create_time=body.get("create_time"), execution_start_time=body.get("execution_start_time"),
                   execution_end_time=body.get("execution_end_time"), execution_error=body.get("execution_error"),
                   outputs_count=body.get("outputs_count"), raw=body)

    @property
    def finished(self):
        return self.status in ("completed", "failed", "cancelled")


@dataclass
class JobPage:
    jobs: list                     # JobInfo records, in the order asked for
    total: int                     # how many matched, before limit/offset
    has_more: bool = False


def canonical_prompt_id(value):
    """Is `value` a prompt id every server takes: a UUID in lowercase hyphenated form?

    Newer servers refuse any other client-supplied id (validate_job_id, comfy_execution/jobs.py
    at dfb874a6: the id is matched verbatim everywhere, so no other spelling is rewritten)."""
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


# -- the routes ----------------------------------------------------------------------------------
class ComfyUI(Client):
    """A ComfyUI server: `ComfyUI("http://127.0.0.1:8188").queue()`."""

    # about the server
    def system_stats(self):
        stats = self.get_json("/system_stats", what="reading /system_stats")
        if not isinstance(stats, dict) or not isinstance(stats.get("system"), dict):
            raise ServerError(f"{self.url}/system_stats is not ComfyUI's answer",
                              hint="check that the URL points at a ComfyUI server", url=self.url)
        return stats

    def features(self):
        return self.get_json("/features", what="reading /features")

    def embeddings(self):
        return self.get_json("/embeddings", what="reading /embeddings")

    def extensions(self):
        return self.get_json("/extensions", what="reading /extensions")

    def object_info(self, class_type=None):
        """Every node class's schema, or {class_type: schema} for one (empty when unknown)."""
        if class_type is None:
            return self.get_json("/object_info", what="reading /object_info",
                                 timeout=max(self.timeout, OBJECT_INFO_TIMEOUT))
        body = self.get_json(f"/object_info/{quote(class_type, safe='')}",
                             what=f"reading /object_info/{class_type}")
        return body if isinstance(body, dict) else {}

    def model_folders(self):
        return self.get_json("/models", what="reading /models")

    def models(self, folder):
        """File names the loaders of `folder` list."""
        return self.get_json(f"/models/{quote(folder, safe='')}", what=f"reading /models/{folder}")

    def model_files(self, folder):
        """[{name, pathIndex, modified, size}] of `folder`, with its paths (/experiment/models)."""
        return self.get_json(f"/experiment/models/{quote(folder, safe='')}",
                             what=f"reading /experiment/models/{folder}")

    def internal_folder_paths(self):
        """{folder: [[absolute paths], [extensions]]} (GET /internal/folder_paths, older servers too)."""
        return self.get_json("/internal/folder_paths", what="reading /internal/folder_paths")

    def model_folder_paths(self):
        """[{name, folders: [absolute paths on the server's machine]}] (GET /experiment/models).

        The paths include roots from extra_model_paths.yaml (app/model_manager.py at a125cd84)."""
        return self.get_json("/experiment/models", what="reading /experiment/models")

    # ComfyUI-Manager: manager.py (its routes differ between its generations)

    def log_lines(self):
        """The server's recent log text, split into lines ([] where it serves no log)."""
        for path in LOG_ROUTES:
            try:
                body = self.get_json(path, what=f"reading {path}")
            except TransportError:  # an older or hosted server: no log to show
                continue
            if isinstance(body, dict) and isinstance(body.get("entries"), list):
                text = "".join(str(e.get("m", "")) for e in body["entries"] if isinstance(e, dict))
            elif isinstance(body, str):
                text = body
            else:
                continue
            return [line for line in text.splitlines() if line.strip()]
        return []

    # the queue
    def queue(self):
        return Queue.parse(self.get_json("/queue", what="reading /queue"))

    def delete_from_queue(self, prompt_ids):
        self.post("/queue", {"delete": list(prompt_ids)}, "POST /queue delete")

    def clear_queue(self):
        self.post("/queue", {"clear": True}, "POST /queue clear")

    def interrupt(self, prompt_id=None):
        """With a prompt_id the server interrupts only if that very prompt is the one running."""
        self.post("/interrupt", {"prompt_id": prompt_id} if prompt_id else {})

    def free(self, unload_models=True, free_memory=True):
        self.post("/free", {"unload_models": unload_models, "free_memory": free_memory})

    def submit(self, prompt, client_id, extra_data=None, on_rejected=None, prompt_id=None):
        """POST /prompt. A rejected workflow raises CheckFailed (`on_rejected(body)` words it).

        `prompt_id`, when given, names the prompt before the server answers (so a POST that times
        out can still be looked for); it must be a canonical UUID, which every server takes."""
        payload = {"prompt": prompt, "client_id": client_id}
        if prompt_id is not None:
            if not canonical_prompt_id(prompt_id):
                raise InputError(f"prompt id {str(prompt_id)[:80]!r} is not a UUID in lowercase hyphenated form",
                                 hint="newer ComfyUI servers refuse any other id: use str(uuid.uuid4()), "
                                      "or give none and the server makes one")
            payload["prompt_id"] = prompt_id
        if extra_data:
            payload["extra_data"] = extra_data
        resp = self.request("POST", "/prompt", json_body=payload)
        body = _json_or_none(resp)
        error = body.get("error") if isinstance(body, dict) else None
        if resp.status_code == 400 and isinstance(error, dict) and error.get("type") == "invalid_prompt_id":
            # a newer server's check of a client id (server.py post_prompt at 5e14d797): the id's
            # fault, not the workflow's
            raise InputError(f"POST /prompt on {self.url}: the server refused prompt id {str(prompt_id)[:80]!r}: "
                             f"{error.get('message') or 'not a valid UUID'}",
                             hint=error.get("details") or "give a lowercase hyphenated UUID, or none")
        if resp.status_code == 400 and isinstance(body, dict) and ("node_errors" in body or "error" in body):
            raise CheckFailed(on_rejected(body) if on_rejected else "the server rejected the workflow",
                              hint=f"fix the inputs named above ({nextsteps.step('validate', 'FILE')} shows the same checks offline)",
                              node_errors=body.get("node_errors") or None, server_error=body.get("error"))
        self.check(resp, "POST /prompt")
        if not isinstance(body, dict) or "prompt_id" not in body:
            raise ServerError(f"POST /prompt on {self.url}: the answer has no prompt_id", body=body, url=self.url,
                              hint=f"the server may have queued it anyway: look with {nextsteps.step('queue', 'list')}")
        if not isinstance(body["prompt_id"], str) or not PROMPT_ID.fullmatch(body["prompt_id"]):
            # it names a state file and goes into URL paths: a plain token only
            raise ServerError(f"POST /prompt on {self.url}: the answer's prompt_id "
                              f"{str(body['prompt_id'])[:80]!r} is not a plain id", url=self.url)
        # a server that predates client ids ignores ours and answers its own: its answer counts
        return Submitted(body["prompt_id"], body.get("number"), body.get("node_errors") or {})

    # history
    def history(self, prompt_id):
        """The history entry of one prompt, or None when the server has none."""
        body = self.get_json(f"/history/{prompt_id}", what=f"reading /history/{prompt_id}")
        if isinstance(body, dict) and isinstance(body.get(prompt_id), dict):
            return body[prompt_id]
        return None

    def history_answer(self, prompt_id):
        """/history/{id} as the server answers it ({} when it has none), for the diagnosis."""
        return self.get_json(f"/history/{prompt_id}", what="reading /history")

    def recent_history(self, max_items):
        """{prompt_id: entry}, oldest first, at most max_items."""
        body = self.get_json("/history", params={"max_items": max(1, max_items)}, what="reading /history")
        return body if isinstance(body, dict) else {}

    # jobs: newer servers (see JobInfo); None where the server has no /api/jobs
    has_jobs = None  # unknown until a jobs route answered; then True or False for this server

    def _jobs_path(self, rest=""):
        # newer servers route it under /api only (it is declared as "/api/jobs" in server.py at
        # 5e14d797); Comfy Cloud documents /api/jobs too, where the transport adds /api itself
        return ("/jobs" if self.cloud else "/api/jobs") + rest

    def _jobs_answer(self, path, params, what, unknown_job_ok=False):
        """The JSON answer, or None when the server has no jobs route (remembered, so it is asked
        once). With unknown_job_ok, a 404 that says so in JSON is {} (a job the server lacks)."""
        if self.has_jobs is False:
            return None
        resp = self.request("GET", path, params=params)
        body = _json_or_none(resp)
        if unknown_job_ok and resp.status_code == 404 and isinstance(body, dict) and "error" in body:
            return {}  # {"error": "Job not found"}: the route is there, the prompt is not
        if resp.status_code in (404, 405):
            self.has_jobs = False  # 0.3.64: a 404 with an empty body (or a proxy's own 404)
            return None
        self.check(resp, what)
        self.has_jobs = True
        return body

    def jobs(self, statuses=(), limit=None, offset=0, sort_by=None, sort_order=None):
        """GET /api/jobs: a JobPage, newest first unless sort_order="asc"; None without the route.

        statuses: some of JOB_STATUSES (all when empty); sort_by "created_at" (the default) or
        "execution_duration"."""
        bad = [s for s in statuses if s not in JOB_STATUSES]
        if bad:
            raise InputError(f"unknown job status {bad[0]!r}: one of {', '.join(JOB_STATUSES)}")
        params = {"status": ",".join(statuses)} if statuses else {}
        if limit is not None:
            params["limit"] = max(1, int(limit))
        if offset:
            params["offset"] = max(0, int(offset))
        if sort_by:
            params["sort_by"] = sort_by
        if sort_order:
            params["sort_order"] = sort_order
        body = self._jobs_answer(self._jobs_path(), params or None, "reading /api/jobs")
        if body is None:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("jobs"), list):
            raise ServerError(f"{self.url}/api/jobs is not ComfyUI's answer", body=body, url=self.url,
                              hint="check that the URL points at a ComfyUI server")
        pages = body.get("pagination") if isinstance(body.get("pagination"), dict) else {}
        listed = [j for j in map(JobInfo.parse, body["jobs"]) if j]
        total = pages.get("total")
        return JobPage(listed, total if isinstance(total, int) else len(listed), bool(pages.get("has_more")))

    def job(self, prompt_id):
        """GET /api/jobs/{id}: its JobInfo (a finished one's raw has outputs and workflow), or
        None when the server does not know the prompt or has no /api/jobs (then has_jobs is False)."""
        if self.has_jobs is None and self.jobs(limit=1) is None:
            return None  # learn from the list whether the routes exist: its 404 means only that
        body = self._jobs_answer(self._jobs_path(f"/{quote(prompt_id, safe='')}"), None,
                                 f"reading /api/jobs/{prompt_id}", unknown_job_ok=True)
        return JobInfo.parse(body) if body else None

    has_job_cancel = None  # unknown until POST /api/jobs/{id}/cancel answered; then True or False

    def cancel_job(self, prompt_id):
        """POST /api/jobs/{id}/cancel: True when the server stopped the prompt, False when it was
        finished or unknown, None where the server has no such route (then has_job_cancel is False).

        The server interrupts the prompt if it is the one running (only that one: interrupt_if_running)
        or removes it from the queue if pending, and answers {"cancelled": bool}: Comfy-Org/ComfyUI
        server.py cancel_job_by_id and comfy_execution/jobs.py cancel_job, added in 4e716f7c (0.25
        development, so 0.26 on; 0.33.0 at 783545f6 has it, recorded in
        tests/recordings/server/jobs_cancel.json). 0.3.64 and 0.9.2 answer 404."""
        if self.cloud or self.has_job_cancel is False:
            return None
        resp = self.request("POST", f"/api/jobs/{quote(prompt_id, safe='')}/cancel", json_body={})
        body = _json_or_none(resp)
        if resp.status_code in (404, 405) and not (isinstance(body, dict) and "cancelled" in body):
            self.has_job_cancel = False
            return None
        self.check(resp, f"cancelling {prompt_id}")
        self.has_job_cancel = True
        return bool(isinstance(body, dict) and body.get("cancelled"))

    def places(self, client_id=None):
        """{prompt_id: 0 if running else its 1-based queue position}, only client_id's prompts
        when given. From /api/jobs where the server has it (ids and numbers only, where /queue
        carries every queued graph), else /queue; only /queue says who queued what, and Comfy
        Cloud's /api/jobs gives no queue number (docs.comfy.org, openapi-cloud list jobs)."""
        if client_id is None and not self.cloud and self.has_jobs is not False:
            try:
                page = self._places_from_jobs()
            except ServerError:  # a server error or an answer we cannot read: /queue says the same
                self.has_jobs, page = False, None
            if page is not None:
                return page
        return self.queue().places(client_id)

    def _places_from_jobs(self):
        # The handler reads the queue before the history (server.py get_jobs at 5e14d797), and a
        # prompt leaves the running list only after its history entry is written: a prompt in
        # neither place here is finished or unknown, as with /queue.
        page = self.jobs(statuses=("in_progress", "pending"))
        if page is None:
            return None
        places = {j.id: 0 for j in page.jobs if j.status == "in_progress"}
        pending = [j for j in page.jobs if j.status == "pending"]
        # the server runs the lowest number first, as in /queue (Queue.parse)
        pending.sort(key=lambda j: j.priority if isinstance(j.priority, (int, float)) else 0)
        for pos, j in enumerate(pending, start=1):
            places[j.id] = pos
        return places

    # files
    def view(self, filename, subfolder="", type_="output"):
        """GET /view, streamed: the caller reads and closes the response."""
        return self.request("GET", "/view", params={"filename": filename, "subfolder": subfolder or "",
                                                     "type": type_ or "output"}, stream=True)

    def has_file(self, filename, subfolder="", type_="input"):
        resp = self.view(filename, subfolder, type_)
        resp.close()
        return resp.status_code == 200

    def upload(self, what, name, fileobj, mime=None, mask_of=None, **fields):
        """POST /upload/image (or /upload/mask with `mask_of`, the original's ref as JSON)."""
        route = "/upload/image"
        if mask_of is not None:
            fields["original_ref"] = mask_of
            route = "/upload/mask"
        spec = (name, fileobj, mime) if mime else (name, fileobj)
        resp = self.request("POST", route, files={"image": spec}, data=fields)
        self.check(resp, f"uploading {what}")
        body = _json_or_none(resp)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise ServerError(f"uploading {what}: {self.url} did not answer with the stored name",
                              hint=f"is {self.url} a ComfyUI server?", status=resp.status_code)
        return Stored(body["name"], body.get("subfolder") or "", body.get("type") or fields.get("type", "input"),
                      body["asset"] if isinstance(body.get("asset"), dict) else None)

    # templates (static files of the comfyui-workflow-templates package, and packs' examples)
    def template_index(self):
        return self.get_json("/templates/index.json", what="the template index")

    def template(self, name):
        return self.get_json(f"/templates/{quote(name, safe='')}.json", what=f"template {name!r}")

    def custom_templates(self):
        """{pack: [example names]} (GET /workflow_templates)."""
        return self.get_json("/workflow_templates", what="the custom nodes' templates")

    def custom_template(self, pack, name):
        # ComfyUI 0.3.64 mounts a pack's example files only under /api (app/custom_node_manager.py
        # at a125cd84); newer servers route both prefixes (same file at fcd026bf). On Comfy Cloud
        # the transport adds /api itself.
        path = f"/workflow_templates/{quote(pack, safe='')}/{quote(name, safe='')}.json"
        return self.get_json(path if self.cloud else "/api" + path, what=f"{pack}'s template {name!r}")

    # routes only newer servers have: 0.3.64 answers 404 (tests/recordings/newer_routes.json), read
    # as None. Read in Comfy-Org/ComfyUI app/node_replace_manager.py at b5d74ccb and
    # comfyanonymous/ComfyUI app/subgraph_manager.py at f86cc10f (both routed under /api too).
    def node_replacements(self):
        """{old class: [{new_node_id, old_node_id, old_widget_ids, input_mapping, output_mapping}]}:
        what the server replaces before it validates a prompt; None where it has no such route."""
        return self._if_served("/node_replacements", "reading /node_replacements")

    def global_subgraphs(self):
        """{id: {source, name, info: {node_pack, ...}}}: the subgraph blueprints the server serves
        (custom node packs' subgraphs/*.json); None where it has no such route."""
        return self._if_served("/global_subgraphs", "reading /global_subgraphs")

    def global_subgraph(self, subgraph_id):
        """One blueprint with its `data` (the blueprint workflow as JSON text); None when unknown."""
        return self._if_served(f"/global_subgraphs/{quote(subgraph_id, safe='')}",
                               f"reading blueprint {subgraph_id}")

    def view_metadata(self, folder, filename):
        """A .safetensors file's __metadata__ (server.py at a125cd84: GET /view_metadata/{folder});
        None when it has none, or is not .safetensors (the server answers 404 for both)."""
        try:
            return self.get_json(f"/view_metadata/{quote(folder, safe='')}", params={"filename": filename},
                                 what=f"reading the metadata of {folder}/{filename}")
        except ServerError as exc:
            if exc.status == 404:
                return None
            raise

    def _if_served(self, path, what):
        try:
            return self.get_json(path, what=what)
        except ServerError as exc:
            if exc.status == 404:
                return None
            raise

    # the WebSocket
    def ws_url(self, client_id=None):
        """The WebSocket address. For Comfy Cloud it carries the key: never print or log it."""
        base = self.url + "/ws"  # Comfy Cloud serves /ws at the root, not under /api
        scheme = "wss" if base.startswith("https") else "ws"
        url = scheme + base[base.index(":"):] + f"?clientId={client_id or self.client_id}"
        if self.cloud and self.api_key:
            url += f"&token={self.api_key}"
        return url


def _json_or_none(resp):
    try:
        return resp.json()
    except ValueError:
        return None

"""ComfyUI-Manager over HTTP, in both of its generations.

3.x, a custom node (recorded 3.37.1 and 3.41 in tests/recordings/manager/; routes of its
glob/manager_server.py, Comfy-Org/ComfyUI-Manager f39cbd56): routes under /manager/ and
/customnode/, bundled pack and model lists, installs queued by POST /manager/queue/install and
/manager/queue/install_model (a model only when its list has it), queue/start a GET up to 3.37
and a POST from 3.38; only the queue's counts can be followed, so whether a task worked is read
from the pack list or the model folder afterwards.

4.x, the comfyui_manager package ComfyUI starts with --enable-manager (ComfyUI 0.33.0 pins
comfyui_manager==4.2.2 in manager_requirements.txt; read in that wheel from PyPI,
comfyui_manager/glob/manager_server.py and data_models/generated_models.py, and recorded in
tests/recordings/manager/manager-4.2.2.json): every route under /v2/; no pack or model list
(its UI asks the registry); a pack install is POST /v2/manager/queue/task {ui_id, client_id,
kind: "install", params: InstallPackParams}, a model POST /v2/manager/queue/install_model
{ModelMetadata, ui_id, client_id} (any URL, no list); POST /v2/manager/queue/start (a form
content type is refused: reject_simple_form_post, so a JSON body); and each finished task is
kept, GET /v2/manager/queue/history?ui_id=, with its result: "success", "skip", the reason it
failed, or the bare word "failed" when its security policy forbade it (the reason then goes to
the server's log only: do_install / do_install_model check is_allowed_security_level('middle+')).
"""

import re
import time
import uuid
from dataclasses import dataclass
from typing import Optional

from .errors import CheckFailed, ServerTimeout, ServerUnreachable, TransportError

TASK_WAIT = 1800.0

# Where Manager 4 keeps its settings: folder_paths.get_system_user_directory("manager")
# (comfyui_manager/common/context.py), i.e. the user folder's __manager/ (ComfyUI/user/ unless
# --user-directory moves it). 'middle+' actions (install a pack or a model) need security_level
# normal, normal- or weak there, and the server listening on a loopback address or
# network_mode = personal_cloud (glob/utils/security_utils.py is_allowed_security_level).
V4_CONFIG = "ComfyUI's user/__manager/config.ini"
V4_SECURITY_HINT = (f"set security_level = normal (or weak) in {V4_CONFIG} with the server listening on a "
                    "loopback address (else also network_mode = personal_cloud), then restart the server")

URL_QUERY = re.compile(r"(https?://[^\s?#'\"]+)[?#][^\s'\"]*")  # a signed URL's query carries its secret


@dataclass
class Manager:
    client: object
    version: str  # as the server words it: "V3.37.1", "V4.2.2"
    v2: bool      # 4.x: its routes are under /v2/ and tasks have a history

    @property
    def restart(self):
        route = "/v2/manager/reboot" if self.v2 else "/manager/reboot"
        return f"restart ComfyUI to load it (ComfyUI-Manager: POST {route}, or its Restart button; " \
               "otherwise stop and start the server process)"

    def _path(self, path):
        return "/v2" + path if self.v2 else path

    # -- lists ------------------------------------------------------------------------------
    def node_map(self):
        """{repository url: [[node classes], {title_aux, ...}]} (the Manager's extension-node-map).
        4.x: mode=cache, its last download of the list or, with no internet, the one it ships."""
        return self.client.get_json(self._path("/customnode/getmappings"),
                                    params={"mode": "cache" if self.v2 else "local"},
                                    what="the Manager's node-to-pack map")

    def packs(self):
        """{id: {title, repository, files, state, ...}} of 3.x's bundled list; {} for 4.x, which
        serves no list."""
        if self.v2:
            return {}
        body = self.client.get_json("/customnode/getlist", params={"mode": "local", "skip_update": "true"},
                                    what="the Manager's node pack list")
        packs = (body or {}).get("node_packs") if isinstance(body, dict) else None
        return packs if isinstance(packs, dict) else {}

    def models(self):
        """3.x's bundled model list ([{name, type, base, save_path, filename, url, ...}]); None
        for 4.x, which serves none and takes any URL instead."""
        if self.v2:
            return None
        body = self.client.get_json("/externalmodel/getlist", params={"mode": "local"},
                                    what="the Manager's model list")
        listed = body.get("models") if isinstance(body, dict) else None
        return listed if isinstance(listed, list) else []

    # -- the queue ----------------------------------------------------------------------------
    def start(self):
        # 3.38+ and 4.x take a POST and refuse form content types there (a CSRF guard; JSON is
        # fine); 3.37 and earlier serve it as a GET and answer a POST with 405
        resp = self.client.request("POST", self._path("/manager/queue/start"), json_body={})
        if resp.status_code == 405 and not self.v2:
            resp = self.client.request("GET", "/manager/queue/start")
        self.client.check(resp, "starting the Manager's queue")
        return resp.status_code  # 201: it was already running

    def status(self):
        """{total_count, done_count, in_progress_count, is_processing} (4.x adds pending_count)."""
        return self.client.get_json(self._path("/manager/queue/status"), what="the Manager's queue status")

    def queue_pack_v3(self, body):
        self.client.post("/manager/queue/install", body, "queueing the node pack install with the Manager")

    def queue_model_v3(self, entry):
        self.client.post("/manager/queue/install_model", entry, "queueing the model install with the Manager")

    def follow_v3(self, wait, poll, reporter=None, clock=time.monotonic):
        """Start 3.x's queue and follow its counts until it is idle or `wait` runs out."""
        self.start()
        deadline = clock() + wait
        while clock() < deadline:
            status = self.status()
            _note(reporter, status)
            if not status.get("is_processing") and not status.get("in_progress_count"):
                return
            time.sleep(poll)

    # -- 4.x tasks ----------------------------------------------------------------------------
    def run_task(self, kind, params, what, wait=TASK_WAIT, poll=1.0, reporter=None, clock=time.monotonic):
        """Queue one 4.x task, start the queue and wait for its history entry; returns a Task.

        `kind` "install" goes to queue/task with `params`; "install-model" to queue/install_model,
        whose body is the ModelMetadata itself."""
        ui_id = str(uuid.uuid4())
        ids = {"ui_id": ui_id, "client_id": self.client.client_id}
        if kind == "install-model":
            path, body = "/v2/manager/queue/install_model", dict(params, **ids)
        else:
            path, body = "/v2/manager/queue/task", dict(ids, kind=kind, params=params)
        resp = self.client.request("POST", path, json_body=body)
        if resp.status_code in (404, 405):
            # the legacy UI (--enable-manager-legacy-ui) queues through /v2/manager/queue/batch
            raise CheckFailed(f"ComfyUI-Manager {self.version} at {self.client.url} has no {path} "
                              "(is it running its legacy UI?)",
                              hint="restart ComfyUI without --enable-manager-legacy-ui")
        self.client.check(resp, f"queueing {what} with ComfyUI-Manager")
        self.start()
        deadline, last, restarts = clock() + wait, None, 0
        while True:
            entry = self.history(ui_id)
            if entry:
                return Task(kind, what, entry)
            if clock() >= deadline:
                raise CheckFailed(f"ComfyUI-Manager had not finished {what} after {wait:g} s",
                                  hint="its queue: GET /v2/manager/queue/status; the server's console says more")
            status = self.status()
            if status != last:
                _note(reporter, status)
                last = status
            # the worker stops 4 s after the queue empties; one that stopped before taking our
            # task (a race with a previous batch) is started again
            if not status.get("is_processing") and restarts < 3:
                restarts += 1
                self.start()
            time.sleep(poll)

    def history(self, ui_id):
        """The finished task's record ({} while it is pending or running)."""
        body = self.client.get_json("/v2/manager/queue/history", params={"ui_id": ui_id},
                                    what="the Manager's task history")
        entry = body.get("history") if isinstance(body, dict) else None
        return entry if isinstance(entry, dict) and entry.get("ui_id") == ui_id else {}


@dataclass
class Task:
    """A finished 4.x task: `entry` is its history record."""

    kind: str
    what: str
    entry: dict

    @property
    def outcome(self):
        return ((self.entry.get("status") or {}).get("status_str")) or "unknown"

    @property
    def ok(self):
        return self.outcome in ("success", "skip")  # skip: it was already there

    @property
    def refused(self):
        # do_install / do_install_model return OperationResult.failed ("failed") only when
        # is_allowed_security_level says no; every other failure carries its own message
        return self.entry.get("result") == "failed"

    @property
    def shown_result(self):
        text = self.entry.get("result")
        return URL_QUERY.sub(r"\1", text) if isinstance(text, str) else text

    @property
    def reason(self):
        status = self.entry.get("status") or {}
        text = self.entry.get("result")
        if not isinstance(text, str) or not text.strip():
            text = "; ".join(str(m) for m in status.get("messages") or []) or self.outcome
        text = URL_QUERY.sub(r"\1", text)
        return " / ".join(line.strip() for line in text.strip().splitlines() if line.strip())

    def failure(self, manager, hint):
        """CheckFailed naming why: the policy and the setting that allows it, or the Manager's words."""
        if self.refused:
            return CheckFailed(f"ComfyUI-Manager {manager.version} refused {self.what}: its security policy does "
                               "not allow it", hint=V4_SECURITY_HINT, result=self.shown_result,
                               manager_task=self.entry.get("ui_id"))
        return CheckFailed(f"ComfyUI-Manager {manager.version} could not do {self.what}: {self.reason}",
                           hint=hint, result=self.shown_result, manager_task=self.entry.get("ui_id"))


def _note(reporter, status):
    if reporter and isinstance(status, dict):
        reporter.note(f"ComfyUI-Manager: {status.get('done_count', 0)} done, "
                      f"{status.get('in_progress_count', 0)} running, "
                      f"{status.get('pending_count', status.get('total_count', 0))} waiting")


def detect(client) -> Optional[Manager]:
    """The server's ComfyUI-Manager, or None; asked once per client.

    3.x answers GET /manager/version; 4.x only GET /v2/manager/version ("V4.2.2")."""
    if client is None:
        return None
    if hasattr(client, "_manager_found"):  # asked once per client
        return client._manager_found
    found = None
    for path, v2 in (("/manager/version", False), ("/v2/manager/version", True)):
        text = _version(client, path)
        if text:
            found = Manager(client, text, v2)
            break
    client._manager_found = found
    return found


def _version(client, path):
    try:
        resp = client.request("GET", path)
    except (ServerUnreachable, ServerTimeout):
        raise  # no server, or a busy one, is not a server without the Manager: the caller must say which
    except TransportError:
        return None
    if resp.status_code != 200 or resp.text.lstrip()[:1] in ("<", "{", "[", ""):
        return None
    return resp.text.strip()

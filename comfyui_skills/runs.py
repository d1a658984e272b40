"""Queue prompts and wait for them: WebSocket first, polling `/history` when the socket is gone.

Completion is ComfyUI's `executing` message with `node: null` for our prompt id. The server sends
it after it has written the history entry, so `/history/{id}` read then is always complete.
Every other event is progress. The socket is opened before `POST /prompt` so that nothing the
server says about our prompt is missed; when it drops we reconnect and meanwhile poll `/queue`
(one request says which of our prompts are queued or running) and `/history/{id}` for the rest.
"""

import json
import queue
import threading
import time
import uuid

import websocket

from . import config, nextsteps
from .errors import CheckFailed, Interrupted, ServerUnreachable, TransportError
from .schema import NodeSpec

WS_CONNECT_TIMEOUT = 2.0
SAFETY_POLL = 5.0           # with the socket up, still look at /queue now and then
POLL_START = 0.25
POLL_CAP_RUNNING = 0.4      # keeps the polling path under 0.5 s from finish to notice
POLL_CAP_QUEUED = 2.0
RECONNECT_EVERY = 1.0
HISTORY_RETRIES = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0)


# -- submitting ---------------------------------------------------------------------------------
def new_client_id():
    return str(uuid.uuid4())


def new_prompt_id():
    """A prompt id of our own, sent with POST /prompt so the prompt has a name before the server
    answers: canonical lowercase UUID, the only client id newer servers take."""
    return str(uuid.uuid4())


def submit(client, workflow, client_id, extra_data=None, prompt_id=None):
    """POST /prompt; a rejected workflow raises CheckFailed naming every node and input at fault."""
    return client.submit(workflow, client_id, extra_data=extra_data, prompt_id=prompt_id,
                         on_rejected=lambda body: rejection_message(body, workflow))


def node_label(workflow, node_id, class_type=None):
    node = (workflow or {}).get(str(node_id)) or {}
    cls = class_type or node.get("class_type") or "?"
    title = (node.get("_meta") or {}).get("title")
    return f"#{node_id} {cls}" + (f" '{title}'" if title and title != cls else "")


def node_error_lines(node_errors, workflow):
    """One line per problem the server found, naming node, class and input."""
    lines = []
    for node_id, info in (node_errors or {}).items():
        label = node_label(workflow, node_id, info.get("class_type"))
        for err in info.get("errors") or []:
            extra = err.get("extra_info") or {}
            where = f" input '{extra['input_name']}'" if extra.get("input_name") else ""
            detail = err.get("details") or ""
            msg = err.get("message") or err.get("type") or "error"
            lines.append(f"  {label}{where}: {err.get('type', 'error')}: {msg}" + (f" ({detail})" if detail else ""))
    return lines


def rejection_message(body, workflow):
    err = body.get("error") or {}
    head = err.get("message") if isinstance(err, dict) else str(err)
    lines = [f"the server rejected the workflow: {head or 'invalid prompt'}"]
    if isinstance(err, dict) and err.get("details") and err.get("details") != head:
        lines[0] += f": {err['details']}"
    lines += node_error_lines(body.get("node_errors"), workflow)
    return "\n".join(lines)


def dropped_outputs(node_errors, workflow):
    """Which output nodes a 200 answer with node_errors will not produce, and why."""
    dropped = {}
    for node_id, info in (node_errors or {}).items():
        for out in info.get("dependent_outputs") or [node_id]:
            dropped.setdefault(str(out), []).append(node_id)
    return [{"node_id": out, "label": node_label(workflow, out), "because_of": sorted(set(causes))}
            for out, causes in sorted(dropped.items())]


# -- one prompt being watched -------------------------------------------------------------------
class Job:
    """What we know about one prompt: where it is, which node runs, how it ended."""

    def __init__(self, prompt_id, workflow=None, number=None, total_nodes=None, label=None, values=None):
        self.prompt_id = prompt_id
        self.workflow = workflow or {}
        self.values = values or {}  # the --sweep/--seeds values this prompt was queued with
        self.dropped = []          # output nodes the server said it will not produce
        self.number = number
        self.label = label
        self.total = total_nodes or len(self.workflow) or None
        self.state = "submitted"   # queued, running, finished, lost
        self.position = None
        self.executed = 0
        self.cached = []
        self.event = None          # execution_error / execution_interrupted data
        self.entry = None          # the /history entry once finished
        self.noticed_at = None     # wall clock when we knew it had finished
        self.finish_seen = False   # executing null or execution_success arrived
        self.lost_reason = None
        self.lost_exit = 1         # 3 or 4 when the server, not the run, let us down
        self.history_error = None  # why the history of a finished prompt could not be read
        self.noticed_via = None    # "websocket" or "polling"
        self.started = time.monotonic()  # queued (run.py) or began watching (queue.py wait)
        self.ended = None          # monotonic time we noticed it finished (or gave it up)

    def elapsed(self):
        """Seconds from queueing (or the start of watching) to noticing its end: this prompt's own,
        in a sweep too (its wait behind the prompts queued before it included)."""
        return round((self.ended or time.monotonic()) - self.started, 3)

    @property
    def done(self):
        return self.state in ("finished", "lost")

    def outcome(self):
        """success | error | interrupted | lost, from the history entry (the server's record)."""
        if self.state == "lost":
            return "lost"
        messages = status_messages(self.entry)
        kinds = [m[0] for m in messages]
        if "execution_interrupted" in kinds:
            return "interrupted"
        if "execution_error" in kinds:
            return "error"
        status = (self.entry or {}).get("status") or {}
        if status.get("status_str") == "error":
            return "error"
        return "success"

    def server_end(self):
        """Server clock (s) of its last word on the prompt, for the finish-to-notice latency."""
        stamps = [m[1].get("timestamp") for m in status_messages(self.entry) if isinstance(m[1], dict)]
        stamps = [s for s in stamps if isinstance(s, (int, float))]
        return max(stamps) / 1000.0 if stamps else None

    def server_seconds(self):
        """How long the server took, from its execution_start to its last word."""
        starts = [m[1].get("timestamp") for m in status_messages(self.entry)
                  if m[0] == "execution_start" and isinstance(m[1], dict)]
        end = self.server_end()
        if not starts or not isinstance(starts[0], (int, float)) or end is None:
            return None
        return round(end - starts[0] / 1000.0, 3)

    def latency_ms(self):
        end = self.server_end()
        if end is None or self.noticed_at is None:
            return None
        return round((self.noticed_at - end) * 1000.0, 1)

    def failure(self):
        """The execution_error / execution_interrupted data, from the socket or the history."""
        for kind, data in status_messages(self.entry):
            if kind in ("execution_error", "execution_interrupted"):
                return dict(data, kind=kind)
        return self.event


def status_messages(entry):
    msgs = ((entry or {}).get("status") or {}).get("messages") or []
    return [m for m in msgs if isinstance(m, (list, tuple)) and len(m) == 2]


def prompt_of(entry):
    """The API workflow a history or queue entry carries ([number, id, prompt, extra, outputs])."""
    prompt = (entry or {}).get("prompt") if isinstance(entry, dict) else entry
    if isinstance(prompt, list) and len(prompt) > 2 and isinstance(prompt[2], dict):
        return prompt[2]
    return {}


def cached_nodes(entry):
    out = set()
    for kind, data in status_messages(entry):
        if kind == "execution_cached" and isinstance(data, dict):
            out.update(str(n) for n in data.get("nodes") or [])
    return out


# -- the WebSocket, read on a thread -------------------------------------------------------------
class Socket:
    """One WebSocket for one client id; messages go to `events` as (kind, payload, wall_time)."""

    def __init__(self, client, client_id, events):
        self.client = client
        self.client_id = client_id
        self.events = events
        self.ws = None
        self.generation = 0

    def url(self):
        return self.client.ws_url(self.client_id)

    def open(self, timeout=WS_CONNECT_TIMEOUT):
        headers = [f"{k}: {v}" for k, v in self.client.auth_headers().items() if not self.client.cloud]
        try:
            ws = websocket.create_connection(self.url(), timeout=timeout, header=headers,
                                             enable_multithread=True, skip_utf8_validation=True)
        except (OSError, websocket.WebSocketException) as exc:
            # a refused handshake's text goes on to dump every header: keep the status line
            return (str(exc) or type(exc).__name__).split(" -+-+- ")[0]
        ws.settimeout(None)
        self.ws = ws
        self.generation += 1
        threading.Thread(target=self._read, args=(ws, self.generation), daemon=True).start()
        return None

    @property
    def up(self):
        return self.ws is not None

    def _read(self, ws, generation):
        reason = "closed by the server"
        try:
            while True:
                opcode, data = ws.recv_data()
                now = time.time()
                if opcode == websocket.ABNF.OPCODE_TEXT:
                    try:
                        self.events.put(("msg", json.loads(data), now))
                    except ValueError:
                        continue
                elif opcode == websocket.ABNF.OPCODE_CLOSE:
                    break
                # binary frames are preview images: not ours to keep
        except (OSError, websocket.WebSocketException) as exc:
            reason = str(exc) or type(exc).__name__
        self.events.put(("closed", reason, generation))

    def dropped(self, generation):
        """The reader of `generation` ended; forget the socket if it is still the current one."""
        if generation == self.generation:
            self._close()

    def _close(self):
        ws, self.ws = self.ws, None
        if ws is not None:
            try:
                ws.close(timeout=0.2)
            except (OSError, websocket.WebSocketException):
                pass

    def close(self):
        self.generation += 1
        self._close()


# -- the wait loop ------------------------------------------------------------------------------
class Cancelled(KeyboardInterrupt):
    """The caller's cancel event was set: handled exactly like Ctrl-C (our prompts are stopped)."""


def check_cancel(cancel):
    if cancel is not None and cancel.is_set():
        raise Cancelled()


class Watcher:
    """Waits for a set of jobs on one server, through the socket or, failing it, by polling."""

    def __init__(self, client, progress, client_id=None, use_ws=True, on_finished=None, observer=False,
                 cancel=None):
        self.client = client
        self.cancel = cancel       # a threading.Event the caller may set to stop the wait
        self.observer = observer   # watching prompts another client queued: the server tells us nothing
                                   # about them but its queue broadcasts, so each one prompts a look
        self.progress = progress
        self.client_id = client_id or new_client_id()
        self.events = queue.Queue()
        self.socket = Socket(client, self.client_id, self.events) if use_ws else None
        self.jobs = {}
        self.on_finished = on_finished
        self.poll_interval = POLL_START
        self.next_poll = 0.0
        self.next_reconnect = 0.0
        self.trouble_since = None  # when the server stopped answering (or answering sense)
        self.retry_window = config.retry_window()
        self.reached = not observer  # run.py has just talked to the server; queue.py wait must find out
        self.ws_note_shown = False
        self.ws_note_pending = None

    def open(self):
        """Open the socket (before POST /prompt). Returns None, or why it could not open."""
        if self.socket is None:
            return "WebSocket not used"
        why = self.socket.open()
        if why:
            self._socket_lost(why)
        else:
            self.reached = True
        return why

    def add(self, job):
        self.jobs[job.prompt_id] = job
        job.state = "queued"

    def close(self):
        if self.socket:
            self.socket.close()

    # -- the loop ---------------------------------------------------------------------------
    def wait(self, max_wait=None):
        """Block until every job is finished or lost; returns the jobs in the order added."""
        start = time.monotonic()
        # an observer looks at once: what it waits for may have finished long ago
        quiet = self._ws_up() and not self.observer
        self.next_poll = time.monotonic() + (SAFETY_POLL if quiet else 0.0)
        while not all(j.done for j in self.jobs.values()):
            check_cancel(self.cancel)
            now = time.monotonic()
            if max_wait is not None and now - start >= max_wait:
                break
            timeout = max(0.0, min(self.next_poll - now, 0.5))
            try:
                kind, payload, extra = self.events.get(timeout=timeout)
            except queue.Empty:
                kind = None
            if kind == "msg":
                self._on_message(payload, extra)
            elif kind == "closed":
                if self.socket and extra == self.socket.generation:
                    self.socket.dropped(extra)
                    self._socket_lost(payload)
            now = time.monotonic()
            if now >= self.next_poll:
                self._poll()
            self._maybe_reconnect(now)
            self.progress.tick()
        return list(self.jobs.values())

    def _ws_up(self):
        return bool(self.socket and self.socket.up)

    def _socket_lost(self, why):
        if self.socket is None:
            return
        if not self.reached:  # said once the server is known to be there; else the error says it all
            self.ws_note_pending = why
        elif not self.ws_note_shown:
            self.progress.message(f"WebSocket to {self.client.url} unavailable ({why}); "
                                  f"polling /history meanwhile")
            self.ws_note_shown = True
        self.poll_interval = POLL_START
        self.next_poll = time.monotonic()
        self.next_reconnect = time.monotonic() + RECONNECT_EVERY

    def _maybe_reconnect(self, now):
        if self.socket is None or self.socket.up or now < self.next_reconnect:
            return
        if self.socket.open(timeout=1.0) is None:
            self.progress.message("WebSocket reconnected")
            self.ws_note_shown = False
            self.next_poll = time.monotonic()  # catch up on anything said while we were away
        else:
            self.next_reconnect = now + RECONNECT_EVERY

    # -- socket messages --------------------------------------------------------------------
    def _on_message(self, msg, wall):
        if not isinstance(msg, dict):
            return
        mtype, data = msg.get("type"), msg.get("data") or {}
        if mtype == "status":
            if self.observer:
                self.next_poll = time.monotonic()
            elif any(j.state == "queued" for j in self.jobs.values() if not j.done):
                self.next_poll = min(self.next_poll, time.monotonic() + 0.3)  # fresh positions soon
            return
        job = self.jobs.get(data.get("prompt_id")) if isinstance(data, dict) else None
        if job is None or job.done:
            return
        if mtype == "execution_start":
            self._running(job)
        elif mtype == "execution_cached":
            job.cached = [str(n) for n in data.get("nodes") or []]
            if job.total:
                job.total = max(job.total - len(job.cached), 0) or job.total
        elif mtype == "executing":
            if data.get("node") is None:
                self._finish(job, wall, via="websocket")
            else:
                self._running(job)
                job.executed += 1
                nid = str(data.get("display_node") or data["node"])
                node = job.workflow.get(nid) or {}
                self.progress.node(job.executed, job.total, nid, node.get("class_type"),
                                   (node.get("_meta") or {}).get("title"))
        elif mtype == "progress":
            self.progress.step(data.get("value") or 0, data.get("max") or 0)
        elif mtype in ("execution_error", "execution_interrupted"):
            job.event = dict(data, kind=mtype)
        elif mtype == "execution_success":
            job.finish_seen = True

    def _running(self, job):
        if job.state != "running":
            job.state = "running"
            job.position = 0
            if len(self.jobs) == 1:
                self.progress.queued(0)

    # -- polling ----------------------------------------------------------------------------
    def _poll(self):
        try:
            self._poll_once()
            self.reached = True
            self.trouble_since = None
            if self.ws_note_pending and not self._ws_up():
                self._socket_lost(self.ws_note_pending)
            self.ws_note_pending = None
        except TransportError as exc:  # gone, slow, or talking nonsense: all worth a retry here
            self._trouble(exc)
        self._schedule_poll()

    def _trouble(self, exc):
        """The server went away (or answers nonsense) while we wait: retry for a while, then give up.

        A server never reached at all (queue.py wait with a wrong --url) is an error at once.
        """
        unfinished = [j for j in self.jobs.values() if not j.done]
        if not self.reached:
            exc.hint = f"check {nextsteps.flag('url')}, or start the server; then: {nextsteps.resume(j.prompt_id for j in unfinished)}"
            raise exc
        now = time.monotonic()
        if self.trouble_since is None:
            self.trouble_since = now
            self.progress.message(f"{exc.message}; retrying for up to {self.retry_window:g} s "
                                  f"(the prompt may survive a quick restart)")
        if now - self.trouble_since < self.retry_window:
            return
        for job in unfinished:
            job.state = "lost"
            job.lost_exit = exc.exit_code
            job.lost_reason = (f"gave up after {self.retry_window:g} s: {exc.message}; the prompt may still "
                               f"run on the server: once it answers, {nextsteps.resume([job.prompt_id])}")

    def _schedule_poll(self):
        if self._ws_up():
            self.next_poll = time.monotonic() + SAFETY_POLL
            return
        running = any(j.state == "running" for j in self.jobs.values() if not j.done)
        cap = POLL_CAP_RUNNING if running else POLL_CAP_QUEUED
        self.next_poll = time.monotonic() + min(self.poll_interval, cap)
        self.poll_interval = min(self.poll_interval * 1.5, cap)

    def _poll_once(self):
        """Where is each unfinished job? The queue first (/api/jobs on newer servers, else /queue),
        then /history for those not in it.

        The server writes the history entry before it takes a prompt off the running list, so a
        prompt in neither place really is unknown to it (a restart, or history cleared).
        """
        pending = [j for j in self.jobs.values() if not j.done]
        if not pending:
            return
        places = self.client.places()
        for job in pending:
            place = places.get(job.prompt_id)
            if place is not None:
                self._place(job, place)
                continue
            entry = self.client.history(job.prompt_id)
            if entry is not None:
                self._finish(job, time.time(), entry)
            elif job.finish_seen:
                self._finish(job, time.time())  # retries, then reports the missing history
            else:
                job.state = "lost"
                job.lost_reason = (f"{self.client.url} no longer knows prompt {job.prompt_id}: neither queued, "
                                   f"running nor in its history (was the server restarted?); run it again")

    def _place(self, job, place):
        if place == 0:
            self._running(job)
        else:
            job.state = "queued"
            if job.position != place and len(self.jobs) == 1:
                self.progress.queued(place)
            job.position = place

    def _finish(self, job, wall, entry=None, via="polling"):
        job.finish_seen = True
        job.ended = time.monotonic() - max(0.0, time.time() - wall)  # when the message arrived
        job.noticed_at = wall
        job.noticed_via = via
        if entry is None:
            entry = self._history_after_finish(job)
        if entry is None:
            job.state = "lost"
            failed = job.history_error
            if failed is not None:
                job.lost_exit = failed.exit_code
                job.lost_reason = (f"prompt {job.prompt_id} finished but reading its history failed: "
                                   f"{failed.message}; try later: {nextsteps.step('queue', 'outputs', job.prompt_id, finds_server=True)}")
            else:
                job.lost_reason = (f"prompt {job.prompt_id} finished but {self.client.url}/history has no entry "
                                   f"for it (history cleared or disabled): its outputs cannot be listed")
            return
        job.entry = entry
        job.workflow = job.workflow or prompt_of(entry)
        job.state = "finished"
        if len(self.jobs) > 1:
            done = sum(j.done for j in self.jobs.values())
            self.progress.label = f"{done}/{len(self.jobs)} prompts done"
        if self.on_finished:
            self.on_finished(job)

    def _history_after_finish(self, job):
        for delay in (0.0,) + HISTORY_RETRIES:
            time.sleep(delay)
            try:
                entry = self.client.history(job.prompt_id)
            except TransportError as exc:
                entry, job.history_error = None, exc
            if entry is not None:
                return entry
        return None


# -- stopping our own prompts -------------------------------------------------------------------
def cancel(client, prompt_ids, client_id=None):
    """Delete our pending prompts and interrupt our running one, never anyone else's.

    `client_id` adds every prompt queued under it. A pending prompt may start between reading
    the queue and deleting it, so look again. Returns {"deleted", "interrupted", "not_found"}.
    """
    wanted = set(prompt_ids)
    if client_id:
        wanted |= set(client.queue().places(client_id))
    done = _cancel_by_job(client, wanted)
    if done is not None:
        return done
    done = {"deleted": [], "interrupted": [], "not_found": []}
    for _ in range(3):
        places = client.queue().places()
        pending = sorted(p for p in wanted if places.get(p, 0) > 0)
        running = sorted(p for p in wanted if places.get(p) == 0)
        if pending:
            client.delete_from_queue(pending)
            done["deleted"] += pending
        for p in running:
            client.interrupt(p)
            done["interrupted"].append(p)
        wanted -= set(pending) | set(running)
        gone = sorted(p for p in wanted if p not in places)
        done["not_found"] += gone
        wanted -= set(gone)
        if not pending:
            break
    again = client.queue().places()
    for p in list(done["deleted"]):
        if again.get(p) == 0:  # it started just before the delete landed
            client.interrupt(p)
            done["deleted"].remove(p)
            done["interrupted"].append(p)
    return done


def _cancel_by_job(client, wanted):
    """A newer server cancels each prompt itself (api.cancel_job): whether it was pending or
    running is decided there, atomically, so a prompt that starts meanwhile is still stopped and
    no other prompt is hit. None where the server has no such route. Pending prompts go first, so
    stopping the running one does not let another of ours start; "deleted" or "interrupted" is
    what the queue showed just before."""
    if not wanted or client.cloud or client.has_job_cancel is False:
        return None
    places = client.places()
    done = {"deleted": [], "interrupted": [], "not_found": []}
    for p in sorted(wanted, key=lambda p: (-places.get(p, -1), p)):
        stopped = client.cancel_job(p)
        if stopped is None:
            return None  # the first answer already says the route is missing: nothing was done
        done["not_found" if not stopped else "interrupted" if places.get(p) == 0 else "deleted"].append(p)
    return done


def stop(watcher, cancel_ours=True):
    """After Ctrl-C or the caller's cancel: cancel our own prompts (or just stop watching) and
    raise Interrupted (exit 130)."""
    watcher.progress.done()
    unfinished = [j.prompt_id for j in watcher.jobs.values() if not j.done]
    if not cancel_ours:
        raise Interrupted("stopped waiting; the prompt keeps running on the server",
                          hint=f"pick it up with: {nextsteps.resume(unfinished)}")
    try:
        done = cancel(watcher.client, unfinished, client_id=watcher.client_id)
    except TransportError as exc:
        raise Interrupted(f"interrupted; could not cancel on the server: {exc.message}",
                          prompt_ids=unfinished) from None
    what = []
    if done["interrupted"]:
        what.append(f"interrupted {', '.join(done['interrupted'])}")
    if done["deleted"]:
        what.append(f"removed {len(done['deleted'])} pending from the queue")
    raise Interrupted("interrupted" + (f": {'; '.join(what)}" if what else ""), prompt_ids=unfinished)


# -- choosing a server --------------------------------------------------------------------------
def class_info(client, classes):
    """The /object_info of just these classes (one small request each); unknown ones are left out."""
    info = {}
    for cls in sorted(set(classes)):
        body = client.object_info(cls)
        if isinstance(body.get(cls), dict):
            info[cls] = body[cls]
    return info


def missing_on(workflow, object_info):
    """What a server lacks for this workflow: node classes, and combo values (models) it does not list."""
    missing = []
    for nid, node in workflow.items():
        cls = node.get("class_type")
        if cls not in object_info:
            missing.append(f"node class {cls} (node {nid})")
            continue
        for inp in NodeSpec(cls, object_info[cls]).inputs.values():
            value = (node.get("inputs") or {}).get(inp.name)
            if inp.options and isinstance(value, str) and value not in inp.options and not inp.takes_upload:
                missing.append(f"{value!r} for {cls}.{inp.name} (node {nid})")
    return missing


def probe(client, classes):
    """How busy a server is and the schema of the classes we need; {"error": ...} when it does not answer."""
    try:
        load = len(client.places())
        info = class_info(client, classes)
    except TransportError as exc:
        # only "nothing there" may lead to an offline export; a slow or broken server is an error
        return {"url": client.url, "client": client, "error": exc.message, "exception": exc,
                "unreachable": isinstance(exc, ServerUnreachable)}
    return {"url": client.url, "client": client, "load": load, "object_info": info}


def probe_all(clients, classes):
    if len(clients) == 1:
        return [probe(clients[0], classes)]
    from concurrent.futures import ThreadPoolExecutor  # only several servers are asked at once

    with ThreadPoolExecutor(max_workers=min(8, len(clients))) as pool:
        return list(pool.map(lambda c: probe(c, classes), clients))


def pick(probes, workflow):
    """The answering server with every node and model and the shortest queue."""
    up = [p for p in probes if "error" not in p]
    for p in up:
        p["missing"] = missing_on(workflow, p["object_info"])
    complete = [p for p in up if not p["missing"]]
    if len(up) > 1 and not complete:
        lines = [f"  {p['url']}: lacks {', '.join(p['missing'][:5])}" for p in up]
        raise CheckFailed("no reachable server has everything this workflow needs:\n" + "\n".join(lines),
                          hint=f"install the missing nodes or models, or pick a server with {nextsteps.flag('url')}")
    return min(complete or up, key=lambda p: p["load"])

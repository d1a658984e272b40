"""The evidence of a failed run, whatever shape it came in, gathered into one record.

A /prompt error body, a /history answer or entry, WebSocket messages, a run result, an error
report, a log or traceback: `detect_kind()` names the shape, `gather()` walks it and fills an
`Evidence` with the pieces that matter. What those pieces mean is the rules' business, in
`diagnosis`.
"""

import re


# -- what we were given -------------------------------------------------------------------------
KINDS = {
    "prompt_error": "a /prompt error answer",
    "prompt_accepted": "a /prompt answer (accepted)",
    "history": "a /history answer",
    "history_entry": "a /history entry",
    "ws_messages": "WebSocket messages",
    "execution_error": "an execution_error message",
    "run_result": "a run result (the JSON a run gives)",
    "error_report": "an error report (the JSON a failed command gives)",
    "recording": "a recorded failure (several of the above)",
    "log": "log or traceback text",
    "live": "the server's record of a prompt id",
    "run_record": "the pack's record of a run the server never ran (state/runs/)",
}


def detect_kind(obj):
    if isinstance(obj, str):
        return "log"
    if isinstance(obj, list):
        return "ws_messages" if obj and all(isinstance(m, dict) and "type" in m for m in obj) else "unknown"
    if not isinstance(obj, dict):
        return "unknown"
    if {"prompt_response", "ws", "history", "log"} & set(obj) and "prompt_id" in obj or "case" in obj:
        return "recording"
    if "node_errors" in obj and "error" in obj:
        return "prompt_error"
    if "node_errors" in obj and "prompt_id" in obj:
        return "prompt_accepted"
    if "prompt_id" in obj and "status" in obj and isinstance(obj.get("status"), str):
        return "run_result"
    if isinstance(obj.get("error"), str) and "message" in obj:
        return "error_report"
    if obj.get("type") in ("execution_error", "execution_interrupted") or "exception_message" in obj:
        return "execution_error"
    if "outputs" in obj and "status" in obj and "prompt" in obj:
        return "history_entry"
    if obj and all(isinstance(v, dict) and ("status" in v or "outputs" in v) for v in obj.values()):
        return "history"
    return "unknown"


class Evidence:
    """The pieces of a failure that recognisers read, wherever in the input they were found."""

    def __init__(self):
        self.prompt_id = None
        self.http_status = None
        self.prompt_error = None        # the top-level `error` of a /prompt answer
        self.node_errors = {}           # node id -> {"class_type", "errors": [...]}
        self.accepted = False           # /prompt answered 200
        self.exec_error = None          # execution_error data
        self.interrupted = None         # execution_interrupted data (or run.py's interrupted_at)
        self.status_str = None          # history status
        self.cached = set()
        self.executed = set()
        self.outputs = None
        self.graph = {}                 # node id -> {"class_type", "inputs"}
        self.queue = None
        self.connection_errors = []
        self.server_error_text = None
        self.run_status = None
        self.log_lines = []             # text the user gave: classified
        self.context_lines = []         # the live server's log tail: quoted as evidence, never blamed
        self.saw_success = False
        self.saw_end = False            # the final `executing: null` of a prompt


def gather(obj, ev=None):
    """Walk any JSON (or text) and fill an Evidence with what it holds."""
    ev = ev or Evidence()
    if isinstance(obj, str):
        _take_text(ev, obj)
    elif isinstance(obj, list):
        if len(obj) == 2 and isinstance(obj[0], str) and isinstance(obj[1], dict):
            _take_message(ev, obj[0], obj[1])  # a history status message [type, data]
        else:
            for item in obj:
                gather(item, ev)
    elif isinstance(obj, dict):
        _take_dict(ev, obj)
    return ev


def _take_dict(ev, d):
    if isinstance(d.get("type"), str) and isinstance(d.get("data"), dict):
        _take_message(ev, d["type"], d["data"])
        return
    if "exception_message" in d or "exception_type" in d:
        ev.exec_error = ev.exec_error or _exec_error_of(d)
    if isinstance(d.get("prompt_id"), str) and not ev.prompt_id:
        ev.prompt_id = d["prompt_id"]
    if "node_errors" in d and isinstance(d["node_errors"], dict):
        _take_prompt_answer(ev, d)
    if isinstance(d.get("errors"), list) and all(isinstance(e, dict) and "type" in e for e in d["errors"]):
        _take_check_errors(ev, d["errors"])
    if "queue_running" in d:
        ev.queue = d
    if isinstance(d.get("status"), dict) and "status_str" in d["status"]:
        ev.status_str = d["status"]["status_str"]
    if isinstance(d.get("prompt"), list) and len(d["prompt"]) > 2 and isinstance(d["prompt"][2], dict):
        ev.graph = d["prompt"][2] or ev.graph
        if isinstance(d.get("outputs"), dict):
            ev.outputs = d["outputs"]
    if isinstance(d.get("workflow"), dict) and not ev.graph:
        ev.graph = {k: v for k, v in d["workflow"].items() if isinstance(v, dict)}
    _take_status_fields(ev, d)
    for key, value in d.items():
        if key in ("workflow", "prompt", "expect", "what", "node_errors", "errors"):
            continue
        if isinstance(value, (dict, list)):
            gather(value, ev)
        elif isinstance(value, str) and key in ("log", "traceback", "stderr", "text", "body", "details"):
            _take_text(ev, value)
        elif isinstance(value, str) and key == "error":
            _take_error_string(ev, value)


def _take_status_fields(ev, d):
    status = d.get("status")
    if isinstance(status, int) and status >= 500:
        ev.http_status = status
        ev.server_error_text = d.get("body") if isinstance(d.get("body"), str) else str(d.get("body"))
    elif isinstance(status, int) and "body" in d:
        ev.http_status = ev.http_status or status
        ev.accepted = ev.accepted or status == 200
    elif isinstance(status, str) and "prompt_id" in d:
        ev.run_status = status
        if isinstance(d.get("interrupted_at"), dict):
            ev.interrupted = ev.interrupted or _node_ref(d["interrupted_at"])
        if isinstance(d.get("error"), dict) and "message" in d["error"] and status == "lost":
            ev.connection_errors.append(d["error"]["message"])


def _take_prompt_answer(ev, d):
    # a 200 answer names the prompt it queued; a 400 has an error (run.py --json keeps it as server_error)
    rejection = next((e for e in (d.get("error"), d.get("server_error")) if isinstance(e, dict)), None)
    if rejection is not None:
        ev.prompt_error = rejection
    elif isinstance(d.get("prompt_id"), str):
        ev.accepted = True
    for nid, entry in (d.get("node_errors") or {}).items():
        if isinstance(entry, dict):
            ev.node_errors.setdefault(str(nid), {"class_type": entry.get("class_type"),
                                                 "errors": list(entry.get("errors") or [])})


def _take_check_errors(ev, errors):
    """validate.py / run.py report the server's error types per node: read them the same way."""
    for e in errors:
        nid = str(e.get("node_id")) if e.get("node_id") is not None else None
        reason = {"type": e.get("type"), "message": e.get("message") or "", "details": e.get("input_name") or "",
                  "extra_info": {"input_name": e.get("input_name"), "received_value": e.get("received_value")},
                  "quote": e.get("message"), "nearest": e.get("nearest")}
        if nid is None:
            ev.prompt_error = ev.prompt_error or reason
            continue
        ev.node_errors.setdefault(nid, {"class_type": e.get("class_type"), "errors": []})["errors"].append(reason)


def _take_message(ev, typ, data):
    if typ == "execution_error":
        ev.exec_error = _exec_error_of(data)
    elif typ == "execution_interrupted":
        ev.interrupted = _node_ref(data)
    elif typ == "execution_cached":
        ev.cached.update(str(n) for n in data.get("nodes") or [])
    elif typ == "executing" and data.get("node") is not None:
        ev.executed.add(str(data["node"]))
    elif typ == "executing":
        ev.saw_end = True
    elif typ == "execution_success":
        ev.saw_success = True
    elif typ == "_connection_closed":
        ev.connection_errors.append(data.get("error") or "connection closed")
    if isinstance(data.get("prompt_id"), str) and not ev.prompt_id:
        ev.prompt_id = data["prompt_id"]


def _take_error_string(ev, text):
    if re.search(r"Connection refused|not running at|ConnectionError|Failed to establish|Connection to remote host "
                 r"was lost|did not accept a connection", text):
        ev.connection_errors.append(text)


def _take_text(ev, text):
    ev.log_lines.extend(line for line in text.splitlines() if line.strip())


def _exec_error_of(d):
    return {"node_id": _str_or_none(d.get("node_id")), "class_type": d.get("node_type") or d.get("class_type"),
            "exception_type": d.get("exception_type") or "", "message": (d.get("exception_message") or "").strip(),
            "traceback": d.get("traceback") or [], "inputs": d.get("current_inputs") or {}}


def _node_ref(d):
    return {"node_id": _str_or_none(d.get("node_id")), "class_type": d.get("node_type") or d.get("class_type")}


def _str_or_none(v):
    return None if v is None else str(v)

"""The baseline: the seed design's wait, `POST /prompt` then `GET /history/{id}` every 5 seconds.

Run in the benchmark's own process (no interpreter start-up, no validation), so it is, if anything,
favoured. Outputs are downloaded through `/view` like ours, so the end-to-end rows compare the same
work.
"""

import time
import uuid
from pathlib import Path

import requests

INTERVAL = 5.0


def server_stamps(entry):
    """(execution_start, last status message) in server seconds, from a /history entry."""
    msgs = [m for m in ((entry or {}).get("status") or {}).get("messages") or []
            if isinstance(m, list) and len(m) == 2 and isinstance(m[1], dict)]
    starts = [m[1]["timestamp"] for m in msgs if m[0] == "execution_start" and "timestamp" in m[1]]
    stamps = [m[1]["timestamp"] for m in msgs if "timestamp" in m[1]]
    if not starts or not stamps:
        return None, None
    return starts[0] / 1000.0, max(stamps) / 1000.0


def queue(session, url, workflow):
    resp = session.post(f"{url}/prompt", json={"prompt": workflow, "client_id": str(uuid.uuid4())}, timeout=30)
    resp.raise_for_status()
    return resp.json()["prompt_id"]


def download(session, url, entry, out_dir):
    count = 0
    for node_out in (entry.get("outputs") or {}).values():
        for item in node_out.get("images") or []:
            params = {k: item.get(k, "") for k in ("filename", "subfolder", "type")}
            resp = session.get(f"{url}/view", params=params, timeout=30)
            resp.raise_for_status()
            Path(out_dir, f"{uuid.uuid4().hex}-{Path(item['filename']).name}").write_bytes(resp.content)
            count += 1
    return count


def run_many(url, workflows, out_dir, interval=INTERVAL):
    """Queue every workflow, poll each unfinished one every `interval` s, download as they finish.

    Returns (wall seconds, {prompt_id: seconds from the server's last word to our noticing}).
    """
    session = requests.Session()
    session.trust_env = False  # never a proxy: the server is local
    start = time.perf_counter()
    pending = [queue(session, url, wf) for wf in workflows]
    noticed = {}
    while pending:
        time.sleep(interval)
        for pid in list(pending):
            resp = session.get(f"{url}/history/{pid}", timeout=30)
            resp.raise_for_status()
            entry = resp.json().get(pid)
            if not entry:  # the server writes the entry when the prompt is done
                continue
            _, end = server_stamps(entry)
            noticed[pid] = time.time() - end if end else None
            download(session, url, entry, out_dir)
            pending.remove(pid)
    return time.perf_counter() - start, noticed

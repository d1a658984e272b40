#!/usr/bin/env python3
"""Record what a real Comfy API v2 server answers, for the v2 test double to replay.

    python tests/support/record_v2.py URL NAME     # URL: comfy-api-proxy in front of a ComfyUI of your own

Writes tests/recordings/v2/NAME.json: health; a model-free job from submission to its end (every
distinct poll answer, the SSE frames, the output's bytes); an input uploaded as an asset and used;
a runtime failure; a slow job cancelled; and the error envelopes of a UI-format workflow, an unknown
class, a bad value, a reused Idempotency-Key, a missing asset and an unknown job. Only small
prompts, but it cancels a job: never point it at a shared server.
"""

import base64
import json
import sys
import threading
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: support.* imports as under pytest
from support.record import tiny_png  # noqa: E402

HERE = Path(__file__).resolve().parents[1] / "recordings" / "v2"
SOLID = {"1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 255}},
         "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "v2rec"}}}
SLOW = {"1": {"class_type": "EmptyImage", "inputs": {"width": 4096, "height": 4096, "batch_size": 4, "color": 0}},
        "2": {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": 31, "sigma": 10.0}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}


def answer(resp):
    out = {"status": resp.status_code, "content_type": resp.headers.get("Content-Type")}
    for h in ("Retry-After", "Location", "Content-Length"):
        if h in resp.headers:
            out.setdefault("headers", {})[h] = resp.headers[h]
    try:
        out["body"] = resp.json()
    except ValueError:
        out["base64"] = base64.b64encode(resp.content).decode()
    return out


def sse_frames(url, sink, stop):
    with requests.get(url, stream=True, timeout=60) as r:
        sink.append({"status": r.status_code, "content_type": r.headers.get("Content-Type")})
        for line in r.iter_lines(decode_unicode=True):
            sink.append(line)
            if stop.is_set():
                return


def follow(base, job_body, sse=True):
    """Every distinct poll answer until the end, and the SSE frames seen meanwhile."""
    frames, stop = [], threading.Event()
    t = None
    if sse:
        t = threading.Thread(target=sse_frames, args=(job_body["urls"]["events"], frames, stop), daemon=True)
        t.start()
    polls, last, end = [], None, time.monotonic() + 120
    while time.monotonic() < end:
        r = requests.get(job_body["urls"]["self"], timeout=30)
        body = r.json()
        key = (body.get("status"), len(body.get("outputs") or []))
        if key != last:
            polls.append(answer(r))
            last = key
        if body.get("status") in ("succeeded", "failed", "canceled") :
            break
        time.sleep(0.05)
    if t:
        t.join(10)
    stop.set()
    return polls, frames


def submit(base, wf, key=None, extra=None):
    headers = {"Idempotency-Key": key or str(uuid.uuid4())}
    return requests.post(f"{base}/api/v2/jobs", json=dict({"workflow": wf}, **(extra or {})), headers=headers,
                         timeout=30)


def main(base, name):
    base = base.rstrip("/")
    rec = {"server": base, "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    rec["health"] = answer(requests.get(f"{base}/api/v2/health", timeout=10))
    rec["native_system_stats"] = answer(requests.get(f"{base}/system_stats", timeout=10))

    wf = json.loads(json.dumps(SOLID))
    wf["1"]["inputs"]["color"] = int(time.time()) % 0xFFFFFF  # a fresh graph: no cache
    first = submit(base, wf)
    rec["submit"] = answer(first)
    rec["polls"], rec["events"] = follow(base, first.json())
    done = rec["polls"][-1]["body"]
    out = done["outputs"][0]
    rec["content"] = answer(requests.get(out["url"], timeout=30))
    rec["cancel_finished"] = answer(requests.post(done["urls"]["cancel"], timeout=30))
    rec["jobs_list"] = answer(requests.get(f"{base}/api/v2/jobs", params={"limit": 3}, timeout=30))

    png = tiny_png()
    up = requests.post(f"{base}/api/v2/assets", files={"file": ("v2rec.png", png, "image/png")},
                       data={"content_type": "image/png", "file_path": "v2rec.png", "tags": "input"}, timeout=30)
    rec["asset_upload"] = answer(up)
    asset = up.json()
    if asset.get("hash"):
        rec["asset_head_known"] = {"status": requests.head(f"{base}/api/v2/assets/by-hash/{asset['hash']}").status_code}
        rec["asset_from_hash"] = answer(requests.post(f"{base}/api/v2/assets/from-hash",
                                                      json={"hash": asset["hash"], "file_path": "v2rec.png"}))
    rec["asset_head_unknown"] = {"status": requests.head(f"{base}/api/v2/assets/by-hash/blake3:" + "0" * 64).status_code}
    use = {"1": {"class_type": "LoadImage", "inputs": {"image": {"__type": "core/ASSET", "info": {"id": asset["id"]}}}},
           "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "v2rec-in"}}}
    r = submit(base, use)
    rec["asset_job_submit"] = answer(r)
    rec["asset_job_polls"], _ = follow(base, r.json(), sse=False)

    bad = requests.post(f"{base}/api/v2/assets", files={"file": ("notpng.png", b"not an image", "image/png")},
                        data={"content_type": "image/png", "file_path": "notpng.png"}, timeout=30).json()
    fail = {"1": {"class_type": "LoadImage", "inputs": {"image": {"__type": "core/ASSET", "info": {"id": bad["id"]}}}},
            "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}
    r = submit(base, fail)
    rec["failing_submit"] = answer(r)
    if r.status_code == 201:
        rec["failing_polls"], _ = follow(base, r.json(), sse=False)

    slow = submit(base, SLOW)
    rec["slow_submit"] = answer(slow)
    time.sleep(1.5)
    rec["slow_before_cancel"] = answer(requests.get(slow.json()["urls"]["self"]))
    rec["slow_cancel"] = answer(requests.post(slow.json()["urls"]["cancel"]))
    rec["slow_after_cancel"], _ = follow(base, slow.json(), sse=False)

    rec["errors"] = {
        "ui_format": answer(submit(base, {"nodes": [], "links": [], "version": 0.4})),
        "unknown_class": answer(submit(base, {"1": {"class_type": "NoSuchNode", "inputs": {}}})),
        "bad_value": answer(submit(base, dict(SOLID, **{"1": {"class_type": "EmptyImage", "inputs": {
            "width": -5, "height": 64, "batch_size": 1, "color": 0}}}))),
        "missing_asset": answer(submit(base, {"1": {"class_type": "LoadImage", "inputs": {"image": {
            "__type": "core/ASSET", "info": {"id": str(uuid.uuid4())}}}}})),
        "unknown_job": answer(requests.get(f"{base}/api/v2/jobs/{uuid.uuid4()}")),
        "not_json": answer(requests.post(f"{base}/api/v2/jobs", data="{", headers={"Content-Type": "application/json"})),
    }
    key = str(uuid.uuid4())
    submit(base, dict(SOLID), key=key)
    rec["errors"]["idempotency_reuse"] = answer(submit(base, dict(SOLID), key=key))
    HERE.mkdir(parents=True, exist_ok=True)
    (HERE / f"{name}.json").write_text(json.dumps(rec, indent=1, sort_keys=True) + "\n")
    print(f"wrote {HERE / (name + '.json')}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

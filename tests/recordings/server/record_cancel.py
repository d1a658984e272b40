"""Record how real servers answer POST /api/jobs/{id}/cancel, and what becomes of the jobs.

    python tests/recordings/server/record_cancel.py http://127.0.0.1:8233 [http://127.0.0.1:8190 ...]

For each server: a slow KSampler prompt (the first checkpoint it lists, 512x512, 40 steps, so it
is still sampling on a CPU when cancelled) and a second prompt queued behind it. The pending one
is cancelled first, then the running one; then the job records, a second cancel of a finished
job and a cancel of an id the server never saw. A server without the route (0.3.64, 0.9.2) gets
only the cancel of an unknown id, and its /queue delete and /interrupt are not recorded here
(tests/recordings/runs/ has them). Job details keep their status fields only (no workflow).
Writes tests/recordings/server/jobs_cancel.json, keyed by the server's version.
"""

import json
import sys
import time
import uuid
from pathlib import Path

import requests

OUT = Path(__file__).resolve().parent / "jobs_cancel.json"
KEEP = ("error", "id", "status", "priority", "create_time", "execution_start_time", "execution_end_time",
        "execution_error", "execution_status", "outputs_count")


def graph(ckpt, seed):
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["1", 1]}},
        "3": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}},
        "4": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "positive": ["2", 0], "negative": ["2", 0],
                                                   "latent_image": ["3", 0], "seed": seed, "steps": 40, "cfg": 7.0,
                                                   "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}},
        "5": {"class_type": "PreviewImage", "inputs": {"images": ["6", 0]}},
        "6": {"class_type": "VAEDecode", "inputs": {"samples": ["4", 0], "vae": ["1", 2]}},
    }


def record(url):
    s = requests.Session()
    s.trust_env = False
    version = s.get(url + "/system_stats", timeout=30).json()["system"]["comfyui_version"]
    exchanges = []

    def ex(name, method, path, body=None, keep=None):
        resp = s.request(method, url + path, json=body, timeout=60)
        try:
            answer, kind = resp.json(), "json"
        except ValueError:
            answer, kind = resp.text, "text"
        if keep and kind == "json" and isinstance(answer, dict):
            answer = {k: v for k, v in answer.items() if k in keep}
        exchanges.append({"name": name, "request": {"method": method, "path": path, "json": body},
                          "response": {"status": resp.status_code, kind: answer,
                                       "content_type": resp.headers.get("Content-Type")}})
        return resp.status_code, answer

    unknown = str(uuid.uuid4())
    status, _ = ex("cancel an unknown id", "POST", f"/api/jobs/{unknown}/cancel", {})
    if status != 200:
        return version, exchanges
    ckpt = s.get(url + "/models/checkpoints", timeout=30).json()[0]
    running, pending = str(uuid.uuid4()), str(uuid.uuid4())
    for pid, seed in ((running, 1), (pending, 2)):
        s.post(url + "/prompt", json={"prompt": graph(ckpt, seed), "prompt_id": pid, "client_id": "recorder"},
               timeout=60).raise_for_status()
    for _ in range(600):  # until the first prompt is sampling
        if s.get(url + f"/api/jobs/{running}", timeout=30).json().get("status") == "in_progress":
            break
        time.sleep(0.5)
    time.sleep(3)
    ex("pending job before", "GET", f"/api/jobs/{pending}", keep=KEEP)
    ex("running job before", "GET", f"/api/jobs/{running}", keep=KEEP)
    ex("cancel the pending job", "POST", f"/api/jobs/{pending}/cancel", {})
    started = time.monotonic()
    ex("cancel the running job", "POST", f"/api/jobs/{running}/cancel", {})
    for _ in range(600):
        if s.get(url + f"/api/jobs/{running}", timeout=30).json().get("status") != "in_progress":
            break
        time.sleep(0.2)
    exchanges.append({"name": "seconds until the running job stopped", "seconds": round(time.monotonic() - started, 1)})
    ex("pending job after", "GET", f"/api/jobs/{pending}", keep=KEEP)
    ex("running job after", "GET", f"/api/jobs/{running}", keep=KEEP)
    _, history = ex("history of the running job", "GET", f"/history/{running}")
    for entry in history.values() if isinstance(history, dict) else ():
        entry.pop("prompt", None)  # the graph above
    ex("cancel the cancelled job again", "POST", f"/api/jobs/{running}/cancel", {})
    return version, exchanges


def main(urls):
    out = json.loads(OUT.read_text()) if OUT.exists() else {}
    for url in urls:
        version, exchanges = record(url.rstrip("/"))
        out[version] = {"recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "exchanges": exchanges}
        print(version, [(e["name"], e.get("response", {}).get("status")) for e in exchanges])
    OUT.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])

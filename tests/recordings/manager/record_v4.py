"""Record ComfyUI-Manager 4's HTTP answers from a ComfyUI started with --enable-manager.

    python tests/recordings/manager/record_v4.py http://127.0.0.1:8233

Recorded from ComfyUI 0.33.0 with comfyui_manager 4.2.2 (its manager_requirements.txt), the
Manager's config.ini as it wrote it on its first start, and no internet on that machine: installs
fail when they reach the registry, GitHub or Hugging Face, and their history says so; a fix,
which its default security_level (normal) forbids, shows what a refused task records. Writes
manager-4.2.2.json (small: routes, queue, task history) and manager-4.2.2-map.json.gz (the node
map /v2/customnode/getmappings answered, which is large).
"""

import gzip
import json
import sys
import time
import uuid
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
CLIENT = "recorder"


def main(url):
    s = requests.Session()
    s.trust_env = False
    exchanges = []

    def ex(name, method, path, params=None, body=None, data=None, headers=None):
        resp = s.request(method, url + path, params=params, json=body, data=data, headers=headers, timeout=120)
        try:
            answer, kind = resp.json(), "json"
        except ValueError:
            answer, kind = resp.text, "text"
        exchanges.append({"name": name, "request": {"method": method, "path": path, "params": params, "json": body,
                                                    "data": data, "headers": headers},
                          "response": {"status": resp.status_code, kind: answer,
                                       "content_type": resp.headers.get("Content-Type")}})
        return resp.status_code, answer

    def task(label, path, body):
        ui_id = body["ui_id"]
        ex(label, "POST", path, body=body)
        ex(f"{label}: start", "POST", "/v2/manager/queue/start", body={})
        for _ in range(600):
            status, answer = ex(f"{label}: history", "GET", "/v2/manager/queue/history", params={"ui_id": ui_id})
            if answer.get("history"):
                break
            ex(f"{label}: status", "GET", "/v2/manager/queue/status")
            time.sleep(0.5)
        ex(f"{label}: status after", "GET", "/v2/manager/queue/status")

    ex("version on the 3.x route", "GET", "/manager/version")
    ex("version", "GET", "/v2/manager/version")
    ex("pack list on the 3.x route", "GET", "/v2/customnode/getlist", params={"mode": "local", "skip_update": "true"})
    ex("model list on the 3.x route", "GET", "/v2/externalmodel/getlist", params={"mode": "local"})
    ex("idle status", "GET", "/v2/manager/queue/status")
    ex("history of an unknown task", "GET", "/v2/manager/queue/history", params={"ui_id": str(uuid.uuid4())})
    ex("start with a form content type", "POST", "/v2/manager/queue/start", data="",
       headers={"Content-Type": "application/x-www-form-urlencoded"})
    ex("task without params", "POST", "/v2/manager/queue/task",
       body={"ui_id": str(uuid.uuid4()), "client_id": CLIENT, "kind": "install"})
    task("install a registry pack", "/v2/manager/queue/task",
         {"ui_id": str(uuid.uuid4()), "client_id": CLIENT, "kind": "install",
          "params": {"id": "comfyui-videohelpersuite", "version": "latest", "selected_version": "latest",
                     "channel": "default", "mode": "cache"}})
    task("install a git pack", "/v2/manager/queue/task",
         {"ui_id": str(uuid.uuid4()), "client_id": CLIENT, "kind": "install",
          "params": {"id": "ComfyUI-GGUF", "version": "unknown", "selected_version": "unknown",
                     "repository": "https://github.com/city96/ComfyUI-GGUF", "channel": "default", "mode": "cache"}})
    task("install a model", "/v2/manager/queue/install_model",
         {"ui_id": str(uuid.uuid4()), "client_id": CLIENT, "name": "lora_x.safetensors", "type": "loras", "base": "",
          "save_path": "loras", "url": "https://huggingface.co/org/repo/resolve/main/lora_x.safetensors",
          "filename": "lora_x.safetensors"})
    # a task its security policy forbids: fix needs 'high+' (security_level normal- or weak on a
    # loopback server), which the default normal does not give; it is refused before anything is done
    task("fix a pack", "/v2/manager/queue/task",
         {"ui_id": str(uuid.uuid4()), "client_id": CLIENT, "kind": "fix",
          "params": {"node_name": "comfyui-videohelpersuite", "node_ver": "1.0.0"}})
    ex("installed packs", "GET", "/v2/customnode/installed")
    _, node_map = ex("node map", "GET", "/v2/customnode/getmappings", params={"mode": "cache"})
    exchanges[-1]["response"]["json"] = "manager-4.2.2-map.json.gz"
    (HERE / "manager-4.2.2-map.json.gz").write_bytes(gzip.compress(json.dumps(node_map, sort_keys=True).encode(),
                                                                   mtime=0))
    exchanges = _trim_polls(exchanges)
    out = {"url": url, "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "exchanges": exchanges}
    (HERE / "manager-4.2.2.json").write_text(json.dumps(out, indent=1) + "\n")
    for e in exchanges:
        print(e["name"], e["response"]["status"], str(e["response"].get("json", e["response"].get("text")))[:160])


def _trim_polls(exchanges):
    """Drop a poll that answered exactly as the previous poll of the same name (their count is noise)."""
    out, last = [], {}
    for e in exchanges:
        if e["name"].endswith((": history", ": status")) and last.get(e["name"]) == e["response"]:
            continue
        last[e["name"]] = e["response"]
        out.append(e)
    return out


if __name__ == "__main__":
    main(sys.argv[1])

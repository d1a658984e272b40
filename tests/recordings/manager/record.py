"""Record ComfyUI-Manager's HTTP answers from a private ComfyUI that has it installed.

    python tests/recordings/manager/record.py http://127.0.0.1:8197 [OUT_NAME]

manager.json.gz was recorded with security_level = normal in the Manager's config.ini;
manager-strong.json.gz with the config.ini it wrote on its first start (security_level = strong:
every install answers 403).

The server had no internet: the Manager switched to its bundled lists ("local" mode), and
queued downloads and installs fail when they reach GitHub or the registry; those failures are
recorded as they happened (status counts and the cm-queue-status WebSocket messages).
"""

import gzip
import json
import sys
import threading
import time
from pathlib import Path

import requests
import websocket

HERE = Path(__file__).resolve().parent


def main(url, out_name="manager.json.gz"):
    out = HERE / out_name
    s = requests.Session()
    s.trust_env = False
    exchanges = []
    ws_messages = []

    def listen():
        ws = websocket.create_connection(url.replace("http", "ws", 1) + "/ws?clientId=recorder", timeout=300)
        while True:
            try:
                msg = ws.recv()
            except Exception:
                return
            if isinstance(msg, str) and msg.startswith('{"type": "cm-'):
                ws_messages.append(json.loads(msg))

    threading.Thread(target=listen, daemon=True).start()
    time.sleep(1)

    def ex(name, method, path, params=None, body=None, headers=None):
        resp = s.request(method, url + path, params=params, json=body if headers is None else None,
                         data=None if headers is None else "", headers=headers, timeout=120)
        try:
            answer = resp.json()
            kind = "json"
        except ValueError:
            answer, kind = resp.text, "text"
        exchanges.append({"name": name, "request": {"method": method, "path": path, "params": params,
                                                    "json": body, "headers": headers},
                          "response": {"status": resp.status_code, kind: answer,
                                       "content_type": resp.headers.get("Content-Type")}})
        return answer

    def start(label):
        # 3.38 made queue/start a POST (a CSRF guard); 3.37 and earlier serve it as a GET
        ex(label, "POST", "/manager/queue/start", body={})
        if exchanges[-1]["response"]["status"] == 405:
            ex(label + " (GET)", "GET", "/manager/queue/start")

    def until_idle(label):
        for _ in range(240):
            status = ex(f"{label}: status", "GET", "/manager/queue/status")
            if not status.get("is_processing") and status.get("in_progress_count") == 0:
                return
            time.sleep(0.5)

    ex("version", "GET", "/manager/version")
    models = ex("model list", "GET", "/externalmodel/getlist", params={"mode": "local"})
    ex("node map", "GET", "/customnode/getmappings", params={"mode": "local"})
    ex("pack list", "GET", "/customnode/getlist", params={"mode": "local", "skip_update": "true"})
    ex("idle status", "GET", "/manager/queue/status")
    ex("install_model not in the list", "POST", "/manager/queue/install_model",
       body={"name": "x", "type": "checkpoints", "base": "SD1.5", "save_path": "default",
             "filename": "evil.safetensors", "url": "http://127.0.0.1:1/evil.safetensors"})
    taesd = next(m for m in models["models"] if m["filename"] == "taesd_decoder.pth")
    ex("install_model listed", "POST", "/manager/queue/install_model", body={**taesd, "ui_id": "taesd"})
    ex("start with a form content type", "POST", "/manager/queue/start",
       headers={"Content-Type": "application/x-www-form-urlencoded"})
    start("start")
    until_idle("model")
    # The Manager checks the entry (save_path, base, filename) against its list but fetches from
    # the url it is sent: a listed entry pointed at a loopback server installs without internet.
    sys.path.insert(0, str(HERE.parents[1]))
    from support.fileserver import FileServer
    from support.model_files import safetensors_bytes
    vae = next(m for m in models["models"] if m["filename"] == "cosmos_cv8x8x8_1.0.safetensors")
    with FileServer() as files:
        files.add("/vae/" + vae["filename"], safetensors_bytes(2 * 2**20))
        ex("install_model listed, from a loopback address", "POST", "/manager/queue/install_model",
           body={**vae, "url": files.url("/vae/" + vae["filename"]), "ui_id": "vae"})
        start("start for the loopback model")
        until_idle("loopback model")
    ex("models/vae after", "GET", "/models/vae")
    ex("installed packs", "GET", "/customnode/installed")
    ex("install a registry pack", "POST", "/manager/queue/install",
       body={"id": "comfyui-videohelpersuite", "version": "latest", "selected_version": "latest",
             "channel": "default", "mode": "local", "ui_id": "comfyui-videohelpersuite"})
    start("start again")
    until_idle("pack")
    ex("install a git pack", "POST", "/manager/queue/install",
       body={"id": "ComfyUI-GGUF", "version": "unknown", "selected_version": "unknown",
             "files": ["https://github.com/city96/ComfyUI-GGUF"], "channel": "default", "mode": "local",
             "ui_id": "ComfyUI-GGUF"})
    start("start for the git pack")
    until_idle("git pack")
    ex("installed packs at the end", "GET", "/customnode/installed")
    record = {"url": url, "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "exchanges": exchanges, "ws": ws_messages}
    out.write_bytes(gzip.compress(json.dumps(record, ensure_ascii=False).encode()))
    print(f"wrote {out}: {len(exchanges)} exchanges, {len(ws_messages)} WebSocket messages")


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"), *sys.argv[2:3])

"""The lean client: what a run costs on the wire, with nothing else (the baseline of bench_startup.py).

    python bench/lean_client.py WORKFLOW.json URL OUT_DIR

Opens the WebSocket, posts the prompt, waits for ComfyUI's `executing` with `node: null` for it,
reads /history and downloads each image: requests + websocket-client, no checks, no state.
"""
import json
import sys
import uuid
from pathlib import Path

import requests
import websocket

workflow, url, out = json.loads(Path(sys.argv[1]).read_text()), sys.argv[2].rstrip("/"), Path(sys.argv[3])
client_id = str(uuid.uuid4())
ws = websocket.create_connection(url.replace("http", "ws", 1) + f"/ws?clientId={client_id}")
prompt_id = requests.post(f"{url}/prompt", json={"prompt": workflow, "client_id": client_id}).json()["prompt_id"]
while True:
    msg = ws.recv()
    if isinstance(msg, str):
        msg = json.loads(msg)
        if msg["type"] == "executing" and msg["data"].get("node") is None and msg["data"].get("prompt_id") == prompt_id:
            break
ws.close()
entry = requests.get(f"{url}/history/{prompt_id}").json()[prompt_id]
for node_output in entry["outputs"].values():
    for image in node_output.get("images", []):
        data = requests.get(f"{url}/view", params=image).content
        (out / image["filename"]).write_bytes(data)
print(prompt_id)

"""Record every response a snapshot reads from a real ComfyUI, for the offline inventory tests.

    .venv/bin/python tests/recordings/inventory/record.py http://127.0.0.1:8192 NAME

writes tests/recordings/inventory/NAME.json.gz: {"/route": {"status": 200, "body": ...}, ...}.
"""
import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from comfyui_skills import inventory  # noqa: E402
from comfyui_skills.transport import Client  # noqa: E402


class RecordingClient(Client):
    def __init__(self, url):
        super().__init__(url)
        self.seen = {}

    def request(self, method, path, **kw):
        resp = super().request(method, path, **kw)
        try:
            body = resp.json()
        except ValueError:
            body = resp.text
        self.seen[path] = {"status": resp.status_code, "body": body}
        return resp


def main(url, name):
    client = RecordingClient(url)
    inventory.take_snapshot(client)
    for extra in ("/experiment/models", "/models/no_such_folder"):  # what the server does there, for reference
        client.request("GET", extra)
    out = Path(__file__).with_name(f"{name}.json.gz")
    out.write_bytes(gzip.compress(json.dumps(client.seen, ensure_ascii=False).encode(), 9, mtime=0))
    print(f"{out}: {len(client.seen)} routes")


if __name__ == "__main__":
    main(*sys.argv[1:3])

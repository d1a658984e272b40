"""A bystander on the server's WebSocket: when did the server's word that a prompt ended get out?

ComfyUI stamps execution_success (server time, ms), then writes the history entry, broadcasts the
queue `status` to every socket, sends `executing` with node null to the prompt's client, and only
then, at most every 10 s, runs gc.collect(), which holds its interpreter lock: no socket frame or
HTTP answer leaves until it ends. A bystander's receipt of that `status` broadcast marks when any
client could first know, so a finish-to-notice figure splits into the server's own delay and the
client's. Meaningful on a server where nobody else is queuing prompts.
"""

import bisect
import json
import threading
import time
import uuid

import websocket


class Observer:
    def __init__(self, host, port):
        url = f"ws://{host}:{port}/ws?clientId={uuid.uuid4()}"
        self.ws = websocket.create_connection(url, timeout=5, http_no_proxy=[host])
        self.ws.settimeout(None)
        self.received = []  # wall-clock receipt times of `status` broadcasts, in order
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            while True:
                opcode, data = self.ws.recv_data()
                now = time.time()
                if opcode != websocket.ABNF.OPCODE_TEXT:
                    continue
                try:
                    kind = json.loads(data).get("type")
                except (ValueError, AttributeError):
                    continue
                if kind == "status":
                    with self.lock:
                        self.received.append(now)
        except (OSError, websocket.WebSocketException):
            return

    def out_after(self, server_end):
        """Seconds from `server_end` (server clock, same machine) to the first broadcast seen after it."""
        with self.lock:
            i = bisect.bisect_left(self.received, server_end)
            return self.received[i] - server_end if i < len(self.received) else None

    def close(self):
        try:
            self.ws.close(timeout=0.2)
        except (OSError, websocket.WebSocketException):
            pass

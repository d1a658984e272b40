"""A loopback file server for download tests and the benchmark: Range requests, byte counts, faults.

    with FileServer() as srv:
        srv.add("/m.safetensors", data)          # bytes, or a Path served from disk in chunks
        srv.url("/m.safetensors")
Knobs: `pace` (seconds per 1 MiB block), `no_length` (a set of paths sent without Content-Length), `cut_after[path] = N` closes the connection after N body bytes (once per request);
`ignore_range = True` answers 200 with the whole file whatever the Range; `headers[path]` adds
headers (Content-Disposition, Content-Type); `redirects[path] = URL` answers 302 to URL.
Records: `served` (body bytes sent, all requests), `seen` (path, headers) of each request,
`sent` ((path, Range header, body bytes sent) of each finished request).
"""

import http.server
import re
import threading
import time
from pathlib import Path

CHUNK = 1 << 20


class _Quiet(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that hung up (a cancelled or refused download) is no news here


class FileServer:
    def __init__(self, host="127.0.0.1"):
        self.files, self.headers, self.redirects, self.cut_after = {}, {}, {}, {}
        self.ignore_range = False
        self.pace = 0.0  # seconds to wait after each 1 MiB block (a slow link, to stop a download mid-way)
        self.no_length = set()  # paths answered without Content-Length (the end is the connection's close)
        self.served = 0
        self.seen = []
        self.sent = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                try:
                    outer._answer(self)
                except (ConnectionError, BrokenPipeError):  # the client stopped reading: its choice
                    self.close_connection = True

        self.httpd = _Quiet((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.host = host
        self.port = self.httpd.server_address[1]

    def url(self, path):
        return f"http://{self.host}:{self.port}{path}"

    def add(self, path, data, **headers):
        self.files[path] = data
        if headers:
            self.headers[path] = {k.replace("_", "-"): v for k, v in headers.items()}

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def _size(self, data):
        return data.stat().st_size if isinstance(data, Path) else len(data)

    def _answer(self, h):
        path = h.path.split("?")[0]
        self.seen.append((path, dict(h.headers)))
        if path in self.redirects:
            h.send_response(302)
            h.send_header("Location", self.redirects[path])
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        data = self.files.get(path)
        if data is None:
            body = b"<html><body>404 Not Found</body></html>"
            h.send_response(404)
            h.send_header("Content-Type", "text/html")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        size = self._size(data)
        start = 0
        m = re.fullmatch(r"bytes=(\d+)-", h.headers.get("Range", ""))
        if m and not self.ignore_range:
            start = int(m.group(1))
            if start >= size:
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{size}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        else:
            h.send_response(200)
        if path in self.no_length:
            h.close_connection = True
        else:
            h.send_header("Content-Length", str(size - start))
        h.send_header("Accept-Ranges", "bytes")
        extra = self.headers.get(path, {})
        if "Content-Type" not in extra:
            h.send_header("Content-Type", "application/octet-stream")
        for k, v in extra.items():
            h.send_header(k, v)
        h.end_headers()
        limit = self.cut_after.get(path)
        sent = 0
        if isinstance(data, Path) and limit is None and not self.pace:  # full speed: the kernel copies
            h.wfile.flush()
            with open(data, "rb") as f:
                sent = h.connection.sendfile(f, offset=start)
            with self.lock:
                self.served += sent
            self.sent.append((path, h.headers.get("Range"), sent))
            return
        try:
            for block in self._blocks(data, start):
                if limit is not None and sent + len(block) > limit:
                    block = block[: limit - sent]
                    self._write(h, block)
                    sent += len(block)
                    h.close_connection = True
                    h.wfile.flush()
                    h.connection.shutdown(2)
                    return
                self._write(h, block)
                sent += len(block)
        finally:
            self.sent.append((path, h.headers.get("Range"), sent))

    def _write(self, h, block):
        h.wfile.write(block)
        if self.pace:
            time.sleep(self.pace)
        with self.lock:
            self.served += len(block)

    def _blocks(self, data, start):
        if isinstance(data, Path):
            with open(data, "rb") as f:
                f.seek(start)
                while True:
                    block = f.read(CHUNK)
                    if not block:
                        return
                    yield block
        else:
            for i in range(start, len(data), CHUNK):
                yield data[i:i + CHUNK]

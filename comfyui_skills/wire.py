"""HTTP/1.1 on the standard library: kept-alive connections, streamed bodies, multipart forms.

Every script is a fresh process, and `requests` costs more to import (about 100 ms here) than
a whole run's talk with a local ComfyUI; this is the little of it the pack uses. transport.Client
builds on it and maps its errors; nothing else should send HTTP to a ComfyUI server.
"""

import http.client
import json
import os
import select
import socket
import threading
from urllib.parse import urlencode, urlsplit


class WireError(OSError):
    """Anything that went wrong on the wire; the subclasses say where."""


class ConnectTimeout(WireError):
    """No connection within the connect timeout: nothing was sent."""


class ConnectFailed(WireError):
    """Refused, unresolvable, unreachable, or cut before an answer began."""


class ReadTimeout(WireError):
    """Connected, but the answer (or the next piece of it) did not come in time."""


class BrokenBody(WireError):
    """The answer stopped before its end."""


class Response:
    """One answer. Without `stream` the body is read at once; with it, read it through
    `iter_content`/`iter_lines` and close the response (or use it as a context manager)."""

    def __init__(self, url, raw, release):
        self.url = url
        self.status_code = raw.status
        self.reason = raw.reason
        self.headers = raw.headers  # an email.message.Message: .get() ignores case
        self._raw = raw
        self._release = release
        self._content = None

    def _guarded(self, read):
        """read() with the wire's errors: a stall is a ReadTimeout, a cut a BrokenBody."""
        try:
            return read()
        except socket.timeout:
            raise ReadTimeout(f"the answer from {self.url} stopped arriving") from None
        except (http.client.HTTPException, OSError) as exc:
            raise BrokenBody(f"the answer from {self.url} broke off: {exc!r}") from None

    def _read(self, amount=None):
        chunk = self._guarded(lambda: self._raw.read(amount) if amount else self._raw.read())
        if amount and not chunk and self._raw.length:
            # http.client ends a short Content-Length body quietly; a cut is not an end
            raise BrokenBody(f"the answer from {self.url} broke off {self._raw.length} bytes short")
        return chunk

    def iter_content(self, size=1 << 16):
        if self._content is not None:
            yield from (self._content[i:i + size] for i in range(0, len(self._content), size))
            return
        while True:
            chunk = self._read(size)
            if not chunk:
                self.close()
                return
            yield chunk

    def iter_lines(self, decode_unicode=False):
        """Lines without their ending, as they arrive (a server-sent event stream)."""
        while True:
            line = self._guarded(self._raw.readline)
            if not line:
                self.close()
                return
            line = line.rstrip(b"\r\n")
            yield line.decode("utf-8", "replace") if decode_unicode else line

    @property
    def content(self):
        if self._content is None:
            self._content = self._read()
            self.close()
        return self._content

    @property
    def text(self):
        return self.content.decode(self._charset(), "replace")

    def json(self):
        return json.loads(self.content)  # ValueError when it is not JSON, as callers expect

    def _charset(self):
        return self.headers.get_content_charset() or "utf-8"

    def close(self):
        if self._release is not None:
            release, self._release = self._release, None
            # reusable only when the whole answer was read and the server keeps the connection open
            release(self._raw.will_close or not self._raw.isclosed())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# How a kept-alive connection the server had closed shows on the next request: an empty answer
# when the close arrived first, a reset when the request reached a socket already closed there.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class Session:
    """Kept-alive connections per origin, safe to share between threads (each request has its
    connection to itself until its answer is read or closed)."""

    def __init__(self, user_agent):
        self.user_agent = user_agent
        self._idle = {}
        self._lock = threading.Lock()

    def request(self, method, url, *, params=None, json_body=None, files=None, data=None, headers=None,
                stream=False, timeout=(5.0, 30.0)):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConnectFailed(f"not an HTTP address: {url!r}")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if params:
            target += ("&" if parts.query else "?") + urlencode(params, doseq=True)
        body, sent = _body(json_body, files, data)
        sent["User-Agent"] = self.user_agent
        sent["Accept"] = "*/*"
        sent.update(headers or {})
        origin = (parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        connect_timeout, read_timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        for reused in self._idle_then_fresh(origin):
            conn = reused or self._connect(origin, connect_timeout)
            conn.sock.settimeout(read_timeout)
            try:
                conn.request(method, target, body=body, headers=sent)
            except socket.timeout:
                conn.close()
                raise ReadTimeout(f"{method} {url}: could not send within {read_timeout:g} s") from None
            except OSError as exc:
                conn.close()
                if reused is not None:
                    continue  # the server had closed the idle connection: nothing reached it, send again
                raise ConnectFailed(f"{method} {url}: connection aborted: {exc!r}") from None
            try:
                raw = conn.getresponse()
            except socket.timeout:
                conn.close()
                raise ReadTimeout(f"{method} {url}: no answer within {read_timeout:g} s") from None
            except (http.client.HTTPException, OSError) as exc:
                conn.close()
                if reused is not None and method in ("GET", "HEAD") and isinstance(exc, _STALE):
                    continue  # a stale kept-alive connection; a POST is never sent twice
                raise ConnectFailed(f"{method} {url}: connection aborted: {exc!r}") from None
            response = Response(url, raw, lambda dead, conn=conn: self._give_back(origin, conn, dead))
            if not stream:
                response.content  # noqa: B018  (read now, so the connection goes back to the pool)
            return response
        raise AssertionError("unreachable")

    def _idle_then_fresh(self, origin):
        """The idle connection to reuse first, if any, then a fresh one."""
        with self._lock:
            pool = self._idle.get(origin) or []
            reused = pool.pop() if pool else None
        if reused is not None and _dropped(reused):
            reused.close()
            reused = None
        if reused is not None:
            yield reused
        yield None

    def _connect(self, origin, connect_timeout):
        scheme, host, port = origin
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=connect_timeout, context=_tls())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=connect_timeout)
        try:
            conn.connect()
        except socket.timeout:
            conn.close()
            raise ConnectTimeout(f"{host}:{port} did not accept a connection within {connect_timeout:g} s") from None
        except OSError as exc:
            conn.close()
            raise ConnectFailed(f"{host}:{port}: {exc.strerror or exc}") from None
        return conn

    def _give_back(self, origin, conn, dead):
        if dead:
            conn.close()
            return
        with self._lock:
            self._idle.setdefault(origin, []).append(conn)

    def close(self):
        with self._lock:
            pools, self._idle = self._idle, {}
        for pool in pools.values():
            for conn in pool:
                conn.close()


def _tls():
    """A verifying TLS context with certifi's roots where it is installed (it comes with
    requests), as requests verified before; else the system's. Only a remote server pays for it."""
    import ssl
    try:
        import certifi
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def _dropped(conn):
    """True when the server closed (or wrote to) an idle connection: it cannot carry a request."""
    if conn.sock is None:
        return True
    try:
        readable, _, _ = select.select([conn.sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _body(json_body, files, data):
    """(bytes or None, headers) for a JSON body, a multipart form with files, or a urlencoded form."""
    if files:
        return _multipart(files, data or {})
    if json_body is not None:
        return json.dumps(json_body).encode("utf-8"), {"Content-Type": "application/json"}
    if data:
        return urlencode(data, doseq=True).encode("ascii"), {"Content-Type": "application/x-www-form-urlencoded"}
    return None, {}


def _multipart(files, fields):
    boundary = os.urandom(16).hex()
    parts = []
    for name, value in fields.items():
        for one in value if isinstance(value, (list, tuple)) else [value]:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"\r\n\r\n'
                         .encode("utf-8") + str(one).encode("utf-8") + b"\r\n")
    for name, spec in files.items():
        filename, fileobj = spec[0], spec[1]
        ctype = spec[2] if len(spec) > 2 and spec[2] else "application/octet-stream"
        content = fileobj.read() if hasattr(fileobj, "read") else fileobj
        if isinstance(content, str):
            content = content.encode("utf-8")
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"; '
                     f'filename="{_quoted(filename)}"\r\nContent-Type: {ctype}\r\n\r\n'.encode("utf-8")
                     + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def _quoted(text):
    # a quote or line break in a name would end the header early
    return str(text).replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")

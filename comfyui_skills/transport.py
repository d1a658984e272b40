"""One HTTP client for every script: base URL joining, auth, timeouts, error mapping.

A local server takes `Authorization: Bearer KEY` when a key is given; Comfy Cloud takes
`X-API-Key` and serves the API under `/api`. Redirects are followed by hand so that a hop to
another host (a signed download URL) never carries the key.
"""

import base64
import uuid
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from . import __version__, wire
from .config import DEFAULT_TIMEOUT, is_cloud
from .errors import ServerError, ServerTimeout, ServerUnreachable
from .nextsteps import flag, step

MAX_REDIRECTS = 5
USER_AGENT = f"comfyui-skills/{__version__}"


def split_credentials(url):
    """(url without user:password@, (user, password) or None): credentials never appear in messages."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return bare, (unquote(parts.username or ""), unquote(parts.password or ""))


def _origin(url):
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


class Client:
    """A ComfyUI server at `url`."""

    def __init__(self, url, api_key=None, timeout=DEFAULT_TIMEOUT, connect_timeout=None):
        url, self.basic_auth = split_credentials(url)
        self.url = url.rstrip("/")
        self.cloud = is_cloud(self.url)
        self.api_key = api_key
        self.timeout = timeout
        self.connect_timeout = connect_timeout or min(timeout, 5.0)
        self.session = wire.Session(USER_AGENT)  # no proxy from the environment: loopback stays loopback
        self.client_id = str(uuid.uuid4())

    # -- addresses -------------------------------------------------------------------------
    def endpoint(self, path):
        if path.startswith(("http://", "https://")):
            return path  # a link the server gave: followed as given, never rebuilt
        prefix = "/api" if self.cloud else ""
        return self.url + prefix + "/" + path.lstrip("/")

    def auth_headers(self):
        if not self.api_key and self.basic_auth:  # a proxy in front of ComfyUI asking for a password
            token = base64.b64encode(":".join(self.basic_auth).encode()).decode()
            return {"Authorization": f"Basic {token}"}
        if not self.api_key:
            return {}
        if self.cloud:
            return {"X-API-Key": self.api_key}
        return {"Authorization": f"Bearer {self.api_key}"}

    # -- requests --------------------------------------------------------------------------
    def request(self, method, path, *, params=None, json_body=None, files=None, data=None,
                stream=False, timeout=None, retry=True, headers=None):
        """Send one request; map every failure to a ComfyError. Returns the `wire.Response`."""
        url = self.endpoint(path)
        timeout = timeout or self.timeout
        idempotent = method == "GET"
        attempts = 2 if retry else 1
        for attempt in range(attempts):
            try:
                return self._send(method, url, params, json_body, files, data, stream, timeout, headers)
            except wire.ConnectTimeout:
                # nothing completed a handshake: from here that is no server, however it is caused
                if attempt + 1 == attempts:
                    raise ServerUnreachable(
                        f"ComfyUI at {self.url} did not accept a connection within {self.connect_timeout:g} s",
                        hint="check the address, or start ComfyUI; use offline mode if there is no server",
                        url=self.url) from None
            except wire.ReadTimeout:
                # A POST that timed out may still have been acted on: never send it twice.
                if not idempotent or attempt + 1 == attempts:
                    raise ServerTimeout(
                        f"{method} {path} on {self.url} got no answer within {timeout:g} s: the server is "
                        f"there but busy or stuck",
                        hint=f"raise {flag('timeout')}, or look at the server's console; nothing was exported offline",
                        url=self.url) from None
            except wire.ConnectFailed as exc:
                raise ServerUnreachable(
                    f"ComfyUI is not running at {self.url}",
                    hint=f"start it, or use offline mode ({step('run', 'FILE')} exports the workflow instead)",
                    url=self.url, reason=_short_reason(exc)) from None
            except wire.WireError as exc:
                raise ServerUnreachable(f"{method} {path} on {self.url} failed: {_short_reason(exc)}",
                                        url=self.url) from None
            if files:
                for _, spec in files.items():
                    spec[1].seek(0)
        raise AssertionError("unreachable")

    def _send(self, method, url, params, json_body, files, data, stream, timeout, extra_headers=None):
        origin = _origin(url)
        # the key goes to this server only: a link to another host (a signed URL) travels without it
        headers = dict(self.auth_headers()) if origin == _origin(self.url) else {}
        headers.update(extra_headers or {})
        for _ in range(MAX_REDIRECTS + 1):
            resp = self.session.request(method, url, params=params, json_body=json_body, files=files, data=data,
                                        headers=headers, stream=stream, timeout=(self.connect_timeout, timeout))
            if resp.status_code not in (301, 302, 303, 307, 308) or "Location" not in resp.headers:
                return resp
            resp.close()
            url = urljoin(resp.url, resp.headers["Location"])
            if urlsplit(url).scheme not in ("http", "https"):
                raise ServerError(f"the server redirected to a non-HTTP address {url!r}", url=self.url)
            if _origin(url) != origin:
                headers = {}  # a signed URL on another host must not see our key
            if resp.status_code == 303 or (resp.status_code in (301, 302) and method == "POST"):
                method, json_body, files, data = "GET", None, None, None
            params = None
        raise ServerError(f"too many redirects from {self.url}", url=self.url)

    def check(self, resp, what):
        """Raise ServerError for a 4xx/5xx answer, quoting the server's own error where it gave one."""
        if resp.status_code < 400:
            return resp
        body = _body_of(resp)
        message = f"{what}: the server answered HTTP {resp.status_code}"
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            message += f": {body['error'].get('message') or body['error'].get('type')}"
        elif isinstance(body, dict) and isinstance(body.get("error"), str):
            message += f": {body['error']}"
        elif isinstance(body, str) and body.strip():
            message += f": {body.strip().splitlines()[0][:200]}"
        hint = None
        if resp.status_code in (401, 403):
            hint = f"give an API key with {flag('api_key')} or COMFYUI_API_KEY"
        elif resp.status_code == 404:
            hint = f"{self.url} may not be a ComfyUI server, or this route is missing in its version"
        raise ServerError(message, hint=hint, status=resp.status_code, body=body, url=self.url)

    def get_json(self, path, params=None, what=None, timeout=None):
        try:
            resp = self.check(self.request("GET", path, params=params, timeout=timeout), what or f"GET {path}")
            return _json_of(resp, what or f"GET {path}", self.url)
        except ServerError as exc:
            exc.route = path
            raise

    def post(self, path, payload, what=None):
        """POST a JSON body; the checked response."""
        return self.check(self.request("POST", path, json_body=payload), what or f"POST {path}")

    def close(self):
        self.session.close()


def _short_reason(exc):
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "No route to host",
                   "Temporary failure in name resolution", "Network is unreachable"):
        if marker in text:
            return marker
    return text[:200]


def _body_of(resp):
    try:
        return resp.json()
    except ValueError:
        return resp.text[:2000]


def _json_of(resp, what, url):
    try:
        return resp.json()
    except ValueError:
        kind = "HTML" if resp.text.lstrip()[:1] == "<" else "something that is not JSON"
        raise ServerError(f"{what}: {url} answered with {kind}", status=resp.status_code,
                          hint=f"is {url} a ComfyUI server? check the address and port",
                          url=url) from None

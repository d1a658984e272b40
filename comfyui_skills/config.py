"""Settings, resolved in one place: the server, its kind, keys and tokens, timeouts, project, folders.

Every setting comes from, first found wins: a flag (or the MCP tool argument / server option that
mirrors it), the project manifest (projects/<project>/project.yaml: `url`/`urls`), the
environment, the default. This is the only module that reads the environment for settings:

    COMFYUI_URL              the server (after --url and the manifest)
    COMFYUI_PROJECT          the project (after --project)
    COMFYUI_API_KEY          the server's own API key (after --api-key); sent to that server only
    COMFY_API_KEY            the Comfy account key partner (paid API) nodes spend; sent only in a
                             prompt's extra_data, and only when the run allows partner nodes
    COMFYUI_CLOUD=1          treat the server as Comfy Cloud (its API shape)
    COMFYUI_API              native, v2 (Comfy API v2) or auto (after --api; default auto)
    COMFYUI_MCP_TOKEN        the bearer token mcp_server.py --http requires off loopback (after --token)
    COMFYUI_SKILLS_STATE     the state folder (snapshots, run records); default state/
    COMFYUI_SKILLS_PROJECTS  the projects folder; default projects/
    COMFYUI_SKILLS_RETRY_WINDOW  seconds a server may stay away mid-wait (default 120)
    HF_TOKEN, CIVITAI_API_TOKEN  download tokens, sent to their own hosts only (https)

`Settings.resolve(...)` reads them once; the engine and both faces (the scripts, the MCP server)
pass the `Settings` around instead of reading the environment again.
"""

import dataclasses
import os
import re
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit


from .errors import InputError

DEFAULT_URL = "http://127.0.0.1:8188"
DEFAULT_TIMEOUT = 30.0
PROBE_CONNECT_TIMEOUT = 1.5  # a probe tries every candidate server; a dead one must not hold it up
DIAGNOSE_CONNECT_TIMEOUT = 2.0  # a diagnosis reads history, queue and log: a little more patience
GIVE_UP_UNREACHABLE = 120.0  # a server gone this long mid-wait is not coming back for this run
CLOUD_HOSTS = ("cloud.comfy.org",)
WS_SCHEMES = {"ws": "http", "wss": "https"}
PACK_ROOT = Path(__file__).resolve().parent.parent
TOKEN_HOSTS = (("HF_TOKEN", "huggingface.co"), ("CIVITAI_API_TOKEN", "civitai.com"))
NATIVE = "native"  # the server's own routes (/prompt, /history, /ws); the only kind so far
SERVER_KINDS = (NATIVE,)


def state_dir():
    return Path(os.environ.get("COMFYUI_SKILLS_STATE") or PACK_ROOT / "state")


def projects_dir():
    return Path(os.environ.get("COMFYUI_SKILLS_PROJECTS") or PACK_ROOT / "projects")


def default_project():
    """The project when no flag names one: $COMFYUI_PROJECT, else None (the "default" project)."""
    return os.environ.get("COMFYUI_PROJECT") or None


def server_api_key():
    return os.environ.get("COMFYUI_API_KEY") or None


def partner_key():
    """The Comfy account key partner nodes spend (ComfyUI takes it from a prompt's extra_data as
    api_key_comfy_org: execution.py at a125cd84). Never printed or saved."""
    return os.environ.get("COMFY_API_KEY") or None


def download_tokens():
    """{host domain: token} for the download hosts that take one."""
    return {domain: os.environ[var] for var, domain in TOKEN_HOSTS if os.environ.get(var)}


def retry_window():
    """How long a server may stay unreachable (or answer garbage) mid-wait before we give up."""
    try:
        return float(os.environ.get("COMFYUI_SKILLS_RETRY_WINDOW") or GIVE_UP_UNREACHABLE)
    except ValueError:
        return GIVE_UP_UNREACHABLE


API_KINDS = ("auto", "native", "v2")


# Comfy API deployments speak v2 only (openapi-v2.yaml, servers: https://{deployment}.run.comfy.app)
V2_ONLY_HOSTS = (".run.comfy.app",)


def server_api(flag=None, url=None):
    """Which routes to speak: "native" (ComfyUI's own), "v2" (Comfy API v2), or "auto" (native,
    and v2 where the server answers native routes with 404 and /api/v2/health with health).
    A Comfy API deployment's address means v2."""
    kind = flag or os.environ.get("COMFYUI_API") or "auto"
    if kind not in API_KINDS:
        from .errors import InputError

        raise InputError(f"COMFYUI_API={kind}: expected one of {', '.join(API_KINDS)}")
    if kind == "auto" and url and (urlsplit(url).hostname or "").endswith(V2_ONLY_HOSTS):
        return "v2"
    return kind


def mcp_token():
    """The bearer token the MCP server's HTTP transport requires, from $COMFYUI_MCP_TOKEN."""
    return os.environ.get("COMFYUI_MCP_TOKEN") or None


def normalize_url(raw, source="the server URL"):
    """Accept `host:port`, `http(s)://host[:port][/path]` (or ws(s)://, the same server); refuse anything else by name."""
    text = (raw or "").strip()
    if not text:
        raise InputError(f"{source} is empty", hint="give a URL such as http://127.0.0.1:8188")
    if "://" not in text:
        if re.match(r"[A-Za-z][A-Za-z0-9+.\-]*:(?![0-9])", text):  # javascript:..., data:..., not host:port
            raise InputError(f"{source} {raw!r}: only http(s):// and ws(s):// URLs are supported")
        text = "http://" + text
    scheme, rest = text.split("://", 1)
    scheme = WS_SCHEMES.get(scheme.lower(), scheme.lower())  # ws://host:port is the same server
    if scheme not in ("http", "https"):
        raise InputError(f"{source} {raw!r}: only http(s):// and ws(s):// URLs are supported")
    text = f"{scheme}://{rest}"
    parts = urlsplit(text)
    try:
        parts.port  # raises for a port that is not a number in range
    except ValueError:
        raise InputError(f"{source} {raw!r}: the port is not a number from 0 to 65535") from None
    host = parts.hostname
    if not host or not re.fullmatch(r"[A-Za-z0-9._:\-\[\]]+", parts.netloc.rsplit("@", 1)[-1]):
        raise InputError(f"{source} {raw!r} is not a valid server address",
                         hint="give a URL such as http://127.0.0.1:8188 or host:port")
    if parts.query or parts.fragment:
        raise InputError(f"{source} {raw!r}: a server URL has no query or fragment")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def is_cloud(url):
    """Comfy Cloud's API shape: by host name, or forced with COMFYUI_CLOUD=1 (proxies, test doubles)."""
    return os.environ.get("COMFYUI_CLOUD") == "1" or urlsplit(url).hostname in CLOUD_HOSTS


def read_manifest(project):
    """The project's `project.yaml` as a dict ({} when there is none)."""
    path = projects_dir() / project / "project.yaml"
    if not path.is_file():
        return {}
    import yaml  # lazily: most runs have no manifest, and yaml costs ~35 ms to import

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the project manifest: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: the project manifest must be a mapping with a `url:` key")
    return data


def manifest_urls(project):
    """Every server URL a manifest lists (`url:` one, or `urls:` several)."""
    data = read_manifest(project)
    path = projects_dir() / project / "project.yaml"
    raw = data.get("urls") or data.get("url") or []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise InputError(f"{path}: `url`/`urls` must be a URL or a list of URLs")
    return [normalize_url(u, source=str(path)) for u in raw]


def resolve_urls(flag=None, project=None):
    """Candidate servers, first found wins: --url, the project manifest, COMFYUI_URL, the default."""
    if flag:
        return [normalize_url(flag)]
    if project:
        urls = manifest_urls(project)
        if urls:
            return urls
    env = os.environ.get("COMFYUI_URL")
    if env:
        return [normalize_url(env, source="COMFYUI_URL")]
    return [DEFAULT_URL]


@dataclasses.dataclass(frozen=True)
class Settings:
    """What a run is configured with, resolved once (see the module's docstring for the order).

    `url` is the address given by flag or argument (None: the manifest, $COMFYUI_URL, the
    default, looked up by `urls()`); `project` None is the "default" project. Frozen: a call that
    needs another server or project makes a copy with `override()`, so one object can be shared by
    the MCP server's threads.
    """

    url: Optional[str] = None
    project: Optional[str] = None
    api_key: Optional[str] = dataclasses.field(default=None, repr=False)
    partner_key: Optional[str] = dataclasses.field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float = PROBE_CONNECT_TIMEOUT
    max_wait: Optional[float] = None  # None: wait as long as it takes (the MCP server sets one)
    kind: str = NATIVE
    api: str = "auto"  # which routes: native, v2 (Comfy API v2), or auto (server_api)
    tokens: dict = dataclasses.field(default_factory=dict, repr=False)  # download host -> token
    configured_url: Optional[str] = None  # the server the api_key was given for

    @classmethod
    def resolve(cls, url=None, project=None, api_key=None, timeout=None, max_wait=None, kind=None, api=None):
        """Flags (or their MCP twins) first, then the manifest and environment, then defaults."""
        if url:
            normalize_url(url)  # refused here, by name, when it is not an address; kept as typed (hints echo it)
        project = project or default_project()
        settings = cls(url=url, project=project, api_key=api_key or server_api_key(), partner_key=partner_key(),
                       timeout=timeout or DEFAULT_TIMEOUT, max_wait=max_wait, kind=kind or NATIVE,
                       api=server_api(api), tokens=download_tokens())
        if kind and kind not in SERVER_KINDS:
            raise InputError(f"server kind {kind!r} is not supported", hint="kinds: " + ", ".join(SERVER_KINDS))
        return dataclasses.replace(settings, configured_url=settings.server_url())

    def urls(self):
        """Candidate servers, first found wins: url, the project manifest, $COMFYUI_URL, the default."""
        return resolve_urls(self.url, self.project)

    def server_url(self):
        return self.urls()[0]

    def override(self, url=None, project=None, keep_key=False):
        """These settings for one call that names its own server or project. The API key stays
        only with the server it was given for: a call naming another address (a prompt
        injection, say) must not carry the key there. keep_key: the address comes from our own
        run record (the server a prompt was queued on with this key)."""
        if not url and not project:
            return self
        if url:
            normalize_url(url)
        changed = dataclasses.replace(self, url=url or self.url, project=project or self.project)
        if keep_key:
            return dataclasses.replace(changed, configured_url=changed.server_url())
        if self.api_key and changed.server_url() != self.configured_url:
            changed = dataclasses.replace(changed, api_key=None)
        return changed

    def api_kind(self, url):
        """native, v2 or auto for the server at `url` (a Comfy API deployment's address means v2)."""
        return server_api(self.api, url)

    @property
    def project_name(self):
        return self.project or "default"

    def outputs_dir(self, project=None):
        return projects_dir() / (project or self.project_name) / "outputs"

    def partner_extra(self, allow_api):
        """extra_data for POST /prompt: the Comfy account key, only for a run that allows partner nodes."""
        return {"api_key_comfy_org": self.partner_key} if allow_api and self.partner_key else None

    def token_for(self, url):
        """The Authorization header the host of `url` may see; {} for any other (and for plain http)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme != "https":
            return {}
        for domain, token in self.tokens.items():
            if host == domain or host.endswith("." + domain):
                return {"Authorization": f"Bearer {token}"}
        return {}

    def secrets(self):
        """Every secret these settings hold: no output may show one."""
        found = [self.api_key, self.partner_key, server_api_key(), partner_key(), *self.tokens.values()]
        return [s for s in dict.fromkeys(found) if s and len(s) >= 4]

    def client(self, url=None, connect_timeout=None, probe=False):
        """The server object the engine talks to (see `server.open`)."""
        from . import server

        return server.open(self, url or self.server_url(),
                           connect_timeout=self.connect_timeout if probe else connect_timeout)

    def clients(self, probe=True):
        return [self.client(u, probe=probe) for u in self.urls()]

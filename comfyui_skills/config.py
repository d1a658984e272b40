"""Where things are: the server URL, the state folder, the projects folder."""

import os
import re
from pathlib import Path
from urllib.parse import urlsplit


from .errors import InputError

DEFAULT_URL = "http://127.0.0.1:8188"
DEFAULT_TIMEOUT = 30.0
CLOUD_HOSTS = ("cloud.comfy.org",)
WS_SCHEMES = {"ws": "http", "wss": "https"}
PACK_ROOT = Path(__file__).resolve().parent.parent


def state_dir():
    return Path(os.environ.get("COMFYUI_SKILLS_STATE") or PACK_ROOT / "state")


def projects_dir():
    return Path(os.environ.get("COMFYUI_SKILLS_PROJECTS") or PACK_ROOT / "projects")


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


def normalize_url(raw, source="--url"):
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


def resolve_url(flag=None, project=None):
    return resolve_urls(flag, project)[0]

"""Fetching a model file into a folder: resumable, verified, and never leaving junk behind.

The bytes go to `<name>.part` next to the target. A later call for the same name continues
from that part with an HTTP Range request, but only when the server says it honoured the range
(206 with a matching Content-Range); otherwise it starts over. The part is renamed to its name
only when it is whole, looks like what its name says (not an HTML error page; a parseable
safetensors header), and matches the expected sha256 where one is known. An existing file is
never replaced.

Tokens: HF_TOKEN goes only to huggingface.co and its subdomains, CIVITAI_API_TOKEN only to
civitai.com and its subdomains, both only over https, and neither across a redirect to any other
host (signed CDN links need none). Redirects are followed here, by hand, to keep it so.
"""

import errno
import http.client
import hashlib
import json
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import requests

from . import __version__, config
from .errors import DownloadFailed, InputError, Interrupted, ServerUnreachable
from .nextsteps import flag
from .spool import Spool, hash_file

SLICE = 1 << 20  # one read from the socket: cancel and progress are looked at between two
MAX_REDIRECTS = 10
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
USER_AGENT = f"comfyui-skills/{__version__}"
MODEL_SUFFIXES = (".safetensors", ".sft", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".onnx", ".pt2")
SAFETENSORS_SUFFIXES = (".safetensors", ".sft")
MAX_SAFETENSORS_HEADER = 100 * 2**20  # the format's own reader refuses larger headers
DISK_ERRORS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "the disk quota is used up",
               errno.EROFS: "the folder is on a read-only file system", errno.EACCES: "permission denied",
               errno.EPERM: "permission denied", errno.EFBIG: "the file is larger than this process may write"}
HTML_START = re.compile(rb"\s*(<!doctype\s+html|<html|<head|<body|<\?xml|<title)", re.I)


@dataclass
class Downloaded:
    path: Path
    bytes: int
    sha256: str
    resumed_from: int = 0  # bytes already on disk from an earlier attempt, not fetched again

    def as_dict(self):
        return {"path": str(self.path), "bytes": self.bytes, "sha256": self.sha256,
                "resumed_from": self.resumed_from}


# -- tokens ---------------------------------------------------------------------------------------
def token_from_env(url, environ=None):
    """The Authorization header the host of `url` may see (tokens from `config`, or from the
    `environ` mapping given); {} for any other."""
    tokens = config.download_tokens() if environ is None else {
        domain: environ[var] for var, domain in config.TOKEN_HOSTS if environ.get(var)}
    return config.Settings(tokens=tokens).token_for(url)


# -- names ----------------------------------------------------------------------------------------
def safe_name(name, where):
    """`name` when it is a plain file name; InputError when it names a path or leaves the folder."""
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{where} gives no file name")
    if "/" in name or "\\" in name or ".." in name or any(ord(c) < 32 for c in name):
        raise InputError(f"{where} names {name[:120]!r}: not a plain file name (path parts or '..' are refused)")
    if name.startswith(".") or name.endswith(".part"):
        raise InputError(f"{where} names {name[:120]!r}: a hidden or .part name is refused")
    return name


def name_from_url(url):
    """The last path segment, decoded; None when the URL ends in a folder."""
    segment = urlsplit(url).path.rsplit("/", 1)[-1]
    return unquote(segment) if segment else None


def name_from_disposition(header):
    """The file name of a Content-Disposition header (RFC 6266: filename* wins), or None."""
    if not header:
        return None
    star = re.search(r"filename\*\s*=\s*([^']*)'[^']*'([^;]+)", header, re.I)
    if star:
        return unquote(star.group(2).strip().strip('"'), encoding=star.group(1) or "utf-8", errors="replace")
    plain = re.search(r'filename\s*=\s*("(?:[^"\\]|\\.)*"|[^;]+)', header, re.I)
    if plain:
        value = plain.group(1).strip()
        return value[1:-1].replace('\\"', '"') if value.startswith('"') else value
    return None


# -- the download ---------------------------------------------------------------------------------
def download(url, folder_path, name=None, sha256=None, token_for=token_from_env, reporter=None, cancel=None,
             size=None, session=None):
    """Fetch `url` into `folder_path` (which must exist); the finished file as `Downloaded`.

    `token_for(url) -> headers` gives the credentials the first host may see; `reporter` gets
    `transfer(name, done, total, rate)` calls; `cancel` (a threading.Event) stops it, keeping the
    part for a later resume. `size`, when known, is checked like the hash.
    """
    folder = Path(folder_path)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    if sha256 is not None:
        sha256 = _check_hex(sha256)
    if urlsplit(url).scheme not in ("http", "https"):
        raise InputError(f"{url[:200]!r} is not an http(s) address")
    if name is not None:
        safe_name(name, str(flag("name")))
    own = session is None
    session = session or new_session()
    try:
        return _Fetch(session, url, folder, name, sha256, size, token_for, reporter, cancel).run()
    finally:
        if own:
            session.close()


def new_session():
    s = requests.Session()
    s.trust_env = False  # no proxy or .netrc credentials from the environment
    s.headers["User-Agent"] = USER_AGENT
    return s


def _check_hex(text):
    value = text.strip().lower()
    if value.startswith("sha256:"):
        value = value[len("sha256:"):]
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise InputError(f"{flag('sha256')} {text[:80]!r} is not 64 hex digits")
    return value


class _Fetch:
    def __init__(self, session, url, folder, name, sha256, size, token_for, reporter, cancel):
        self.session, self.url, self.folder = session, url, folder
        self.name, self.sha256, self.size = name, sha256, size
        self.token_for, self.reporter = token_for, reporter
        self.cancel = cancel or threading.Event()

    def run(self):
        guess = self.name or _plain(name_from_url(self.url))
        if guess:
            self._refuse_existing(guess)
        offset = self._part_size(guess)
        resp = self._get(offset)
        try:
            name = self._final_name(resp)
            if name != guess:  # the server named it: that name's own part decides the range
                self._refuse_existing(name)
                if self._part_size(name) != offset:
                    resp.close()
                    offset = self._part_size(name)
                    resp = self._get(offset)
            return self._receive(resp, name, offset)
        finally:
            resp.close()

    # -- request ------------------------------------------------------------------------------
    def _get(self, offset):
        headers = dict(self.token_for(self.url) or {})
        if offset:
            headers["Range"] = f"bytes={offset}-"
        url, first_host = self.url, _host(self.url)
        for _ in range(MAX_REDIRECTS + 1):
            try:
                resp = self.session.get(url, headers=headers, stream=True, allow_redirects=False,
                                        timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
            except requests.exceptions.RequestException as exc:
                raise ServerUnreachable(f"cannot reach {_shown(url)}: {_reason(exc)}", url=_shown(url)) from None
            if resp.status_code in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                resp.close()
                url = urljoin(url, resp.headers["Location"])
                if urlsplit(url).scheme not in ("http", "https"):
                    raise DownloadFailed(f"{_shown(self.url)} redirected to a non-HTTP address")
                if _host(url) != first_host:
                    headers.pop("Authorization", None)  # a token never follows to another host
                continue
            self.final_url = url
            if resp.status_code >= 400 and resp.status_code != 416:
                resp.close()
                raise DownloadFailed(f"{_shown(url)} answered HTTP {resp.status_code} {resp.reason or ''}".rstrip(),
                                     hint=_status_hint(resp.status_code, url), status=resp.status_code)
            return resp
        raise DownloadFailed(f"{_shown(self.url)}: more than {MAX_REDIRECTS} redirects")

    def _final_name(self, resp):
        if self.name:
            return self.name
        from_header = name_from_disposition(resp.headers.get("Content-Disposition"))
        if from_header is not None:
            return safe_name(from_header, f"the Content-Disposition of {_shown(self.final_url)}")
        for url in (self.final_url, self.url):
            candidate = name_from_url(url)
            if candidate and "." in candidate:
                return safe_name(candidate, f"the address {_shown(url)}")
        original = name_from_url(self.url)
        return safe_name(original or "", f"the address {_shown(self.url)}")

    # -- bytes to disk ------------------------------------------------------------------------
    def _receive(self, resp, name, offset):
        target = self.folder / name
        part = self.folder / (name + ".part")
        total = _total(resp, offset)
        if resp.status_code == 416:
            if offset and total == offset:  # the part already holds the whole file
                return self._finish(part, target, offset, offset)
            offset = 0
            resp.close()
            resp = self._get(0)
            total = _total(resp, 0)
        elif offset and not _honoured(resp, offset):
            offset = 0  # the server sent the whole file from byte 0: start the part over
        if offset == 0:
            _unlink(part)
        self._refuse_html_type(resp, name)
        if self.size is not None and total is not None and total != self.size:
            raise DownloadFailed(f"{_shown(self.final_url)} serves {total} bytes, but {name} is {self.size} bytes",
                                 hint="the address may point at another file or version")
        self._check_room(total, offset, part)
        started = time.monotonic()
        try:
            spool = Spool(part, offset)
        except OSError as exc:
            raise self._disk_error(exc, part) from None
        done = offset
        try:
            try:
                done = self._pump(resp, spool, name, offset, total, started)
            finally:
                spool.close()  # the bytes received so far reach the part, for a resume, whatever happened
            os.fsync(spool.fd)  # whole on disk before it gets its name (one inode: the O_DIRECT writes too)
        except requests.exceptions.RequestException as exc:  # before OSError: requests' errors are OSErrors
            raise DownloadFailed(f"the download of {name} was cut off after {spool.received} bytes: {_reason(exc)}",
                                 hint="run the same command again: it continues from the .part file") from None
        except (http.client.HTTPException, ConnectionError, TimeoutError) as exc:
            raise DownloadFailed(f"the download of {name} was cut off after {spool.received} bytes: {_reason(exc)}",
                                 hint="run the same command again: it continues from the .part file") from None
        except OSError as exc:
            _unlink(part)
            raise self._disk_error(exc, part) from None
        finally:
            spool.discard()
        if self.reporter:
            self.reporter.transfer(name, done, total, (done - offset) / max(time.monotonic() - started, 1e-6))
        if total is not None and done != total:
            raise DownloadFailed(f"the download of {name} was cut off at {done} of {total} bytes",
                                 hint="run the same command again: it continues from the .part file")
        return self._finish(part, target, done, offset, spool)

    def _pump(self, resp, spool, name, offset, total, started):
        """Socket to spool: each pool block is filled a slice at a time (cancel and progress are
        checked between slices), then handed to the writer and the hasher whole."""
        readinto = _body_reader(resp)
        done, last = offset, 0.0
        block = None
        try:
            while True:
                if block is None:
                    block, want, filled = spool.take(), spool.room(), 0
                n = readinto(block.view[filled:min(want, filled + SLICE)])
                if not n:
                    break
                filled += n
                done += n
                if filled == want:
                    spool.put(block, filled)
                    block = None
                if self.cancel.is_set():
                    raise Interrupted(f"download of {name} stopped at {done} bytes; run it again to resume")
                now = time.monotonic()
                if self.reporter and now - last >= 0.25:
                    last = now
                    self.reporter.transfer(name, done, total, (done - offset) / max(now - started, 1e-6))
        finally:
            if block is not None:  # a part-filled block still goes to disk, so a resume starts after it
                if filled:
                    spool.put(block, filled)
                else:
                    spool.give_back(block)
        return done

    def _finish(self, part, target, done, offset, digest=None):
        if digest is None:
            digest = hashlib.sha256()
            hash_file(part, digest, done)
        got = digest.hexdigest()
        problem = _content_problem(part, target.name)
        if problem:
            _unlink(part)
            raise DownloadFailed(f"{_shown(self.final_url)} did not serve a model file for {target.name}: {problem}; "
                                 "nothing was kept", hint="the address may need a token, or point at a web page")
        if self.size is not None and done != self.size:
            _unlink(part)
            raise DownloadFailed(f"{target.name}: got {done} bytes, expected {self.size}; nothing was kept")
        if self.sha256 and got != self.sha256:
            _unlink(part)
            raise DownloadFailed(f"{target.name}: sha256 {got} does not match the expected {self.sha256}; "
                                 "nothing was kept", hint="the file at that address is not the one expected")
        try:
            os.link(part, target)  # unlike rename, never replaces a file that appeared meanwhile
        except FileExistsError:
            _unlink(part)
            raise InputError(f"{target} appeared while downloading; it was left as it is") from None
        except OSError:  # a file system without hard links
            if target.exists():
                _unlink(part)
                raise InputError(f"{target} appeared while downloading; it was left as it is") from None
            os.replace(part, target)
        _unlink(part)
        return Downloaded(target, done, got, offset)

    # -- checks -------------------------------------------------------------------------------
    def _refuse_existing(self, name):
        if (self.folder / name).exists():
            raise InputError(f"{self.folder / name} already exists; it is never overwritten",
                             hint=f"delete it first, or give another name with {flag('name')}")

    def _part_size(self, name):
        if not name:
            return 0
        try:
            return (self.folder / (name + ".part")).stat().st_size
        except OSError:
            return 0

    def _refuse_html_type(self, resp, name):
        ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype in ("text/html", "application/xhtml+xml") and name.lower().endswith(MODEL_SUFFIXES):
            raise DownloadFailed(f"{_shown(self.final_url)} answered with a web page (text/html), not the model "
                                 f"file {name}; nothing was kept",
                                 hint="the address may need a token (HF_TOKEN, CIVITAI_API_TOKEN) or a login")

    def _check_room(self, total, offset, part):
        try:
            read_only = bool(os.statvfs(self.folder).f_flag & os.ST_RDONLY)
        except (OSError, AttributeError):
            read_only = False
        if read_only or not os.access(self.folder, os.W_OK):
            why = "it is on a read-only file system" if read_only else "permission denied"
            raise DownloadFailed(f"cannot write into {self.folder}: {why}; nothing was downloaded")
        if total is None:
            return
        try:
            usage = shutil.disk_usage(self.folder)
        except OSError:
            return
        if usage.total == 0:  # ramfs and some FUSE file systems tell no size at all: not a full disk
            return
        free = usage.free
        if free < total - offset:
            from .units import human_bytes
            raise DownloadFailed(f"{self.folder} has {human_bytes(free)} free, {part.name[:-5]} needs "
                                 f"{human_bytes(total - offset)} more; nothing was downloaded")

    def _disk_error(self, exc, part):
        reason = DISK_ERRORS.get(exc.errno, exc.strerror or str(exc))
        return DownloadFailed(f"cannot write {part.name[:-5]} into {self.folder}: {reason}; no partial file was kept")


def _body_reader(resp):
    """readinto(view) -> bytes stored (0 at the end) for the body. A plain (not content-encoded)
    body is read straight from the socket by http.client (no copy per piece); anything else is
    decoded by requests and copied in."""
    fp = getattr(resp.raw, "_fp", None)
    if fp is not None and hasattr(fp, "readinto") and resp.headers.get("Content-Encoding", "identity") == "identity":
        return fp.readinto
    pieces = resp.iter_content(SLICE)
    left = memoryview(b"")

    def readinto(view):
        nonlocal left
        if not left:
            left = memoryview(next(pieces, b""))
        n = min(len(left), len(view))
        view[:n] = left[:n]
        left = left[n:]
        return n

    return readinto


def _content_problem(part, name):
    """Why the bytes are not the kind of file `name` says (None when they may be)."""
    lower = name.lower()
    with open(part, "rb") as f:
        head = f.read(8)
        if lower.endswith(MODEL_SUFFIXES) and HTML_START.match(head + f.read(504)):
            return "it is an HTML page"
        if lower.endswith(SAFETENSORS_SUFFIXES):
            return _safetensors_problem(f, head, os.fstat(f.fileno()).st_size)
        if lower.endswith(".gguf") and head[:4] != b"GGUF":
            return "it does not start with the GGUF magic"
    return None


def _safetensors_problem(f, head, file_size):
    if len(head) < 8:
        return "it is too short to be a safetensors file"
    length = int.from_bytes(head, "little")
    if length < 2 or length > MAX_SAFETENSORS_HEADER or 8 + length > file_size:
        return "its safetensors header length is impossible"
    f.seek(8)
    try:
        header = json.loads(f.read(length).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "its safetensors header is not JSON"
    if not isinstance(header, dict):
        return "its safetensors header is not a JSON object"
    return None


def _total(resp, offset):
    """The whole file's size as this answer tells it, or None."""
    crange = resp.headers.get("Content-Range", "")
    m = re.match(r"bytes\s+(?:\d+-\d+|\*)/(\d+)", crange)
    if m:
        return int(m.group(1))
    length = resp.headers.get("Content-Length")
    if resp.status_code == 200 and length and length.isdigit() and "Content-Encoding" not in resp.headers:
        return int(length)
    return None


def _honoured(resp, offset):
    m = re.match(r"bytes\s+(\d+)-\d+/", resp.headers.get("Content-Range", ""))
    return resp.status_code == 206 and m is not None and int(m.group(1)) == offset


def _plain(name):
    """A URL's last segment when it is a usable, safe file name; None otherwise (decided later)."""
    if not name or "." not in name:
        return None
    try:
        return safe_name(name, "the address")
    except InputError:
        return None


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        pass  # a read-only folder holds no part of ours anyway


def _host(url):
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _shown(url):
    """An address fit for messages: no credentials, no query (signed URLs carry secrets there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _reason(exc):
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "Temporary failure in name resolution",
                   "Network is unreachable", "timed out", "Connection reset", "IncompleteRead",
                   "Connection broken"):
        if marker in text:
            return marker
    return type(exc).__name__


def _status_hint(status, url):
    host = (urlsplit(url).hostname or "").lower()
    if status in (401, 403):
        if host == "huggingface.co" or host.endswith(".huggingface.co"):
            return "a gated or private repository: set HF_TOKEN (and accept its licence on the model page)"
        if host == "civitai.com" or host.endswith(".civitai.com"):
            return "set CIVITAI_API_TOKEN"
        return "the address needs credentials"
    if status == 404:
        return "check the address; the file may have moved or been renamed"
    return None


def plan_commands(url, folder_path, name):
    """Exact commands that fetch `url` as `folder_path/name` on the machine where the server lives."""
    import shlex

    target = shlex.quote(str(Path(folder_path) / name)) if folder_path else shlex.quote(name)
    where = shlex.quote(str(folder_path)) if folder_path else "."
    quoted = shlex.quote(url)
    commands = []
    hf = re.match(r"https://huggingface\.co/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", url.split("?")[0])
    if hf and "/" not in unquote(hf.group(3)):  # hf puts a file of a subfolder into that subfolder
        repo, revision, path = hf.groups()
        rev = f" --revision {shlex.quote(revision)}" if revision != "main" else ""
        commands.append(f"hf download {shlex.quote(repo)} {shlex.quote(unquote(path))}{rev} --local-dir {where}")
    auth = ""
    host = (urlsplit(url).hostname or "").lower()
    if host == "huggingface.co" or host.endswith(".huggingface.co"):
        auth = ' -H "Authorization: Bearer $HF_TOKEN"'
    elif host == "civitai.com" or host.endswith(".civitai.com"):
        auth = ' -H "Authorization: Bearer $CIVITAI_API_TOKEN"'
    commands.append(f"curl -L --fail -C -{auth} -o {target}.part {quoted} && mv -n {target}.part {target}")
    commands.append(f"wget -c{auth.replace(' -H ', ' --header=')} -O {target} {quoted}")
    return commands


def looks_like_url(text):
    return bool(re.match(r"https?://", text or ""))

"""Where a downloaded model goes, and how it gets there.

Three ways, best first: straight into the server's own model folder when that folder is on this
machine; through ComfyUI-Manager's model install queue when the server has the Manager and it
takes this file (3.x: only a file in its model list; 4.x: any URL); else exact commands for the
user to run where the server lives.
"""

import ipaddress
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from . import downloads, manager
from .errors import CheckFailed, DownloadFailed, InputError, ServerError, TransportError
from .nextsteps import flag

MANAGER_WAIT = 3600.0
LOOPBACK_NAMES = ("localhost", "localhost.localdomain")


@dataclass
class Placed:
    """What happened: `how` is "downloaded", "manager" or "commands" (nothing fetched here)."""

    how: str
    folder: str
    name: str
    path: Optional[str] = None
    downloaded: Optional[downloads.Downloaded] = None
    commands: list = field(default_factory=list)
    note: Optional[str] = None

    def as_dict(self):
        out = {"how": self.how, "folder": self.folder, "name": self.name, "path": self.path,
               "commands": self.commands, "note": self.note}
        if self.downloaded:
            out.update(self.downloaded.as_dict())
        return out


@dataclass
class Source:
    url: str
    folder: str
    name: Optional[str] = None
    sha256: Optional[str] = None


def source(text, folder=None, name=None, sha256=None):
    """What to fetch for `text`: a URL (with `folder`), or a file name the pack knows, which brings
    its own link, folder, name and sha256 (a corrupt or swapped file is then refused)."""
    from . import models

    if downloads.looks_like_url(text):
        if not folder:
            raise InputError(f"{flag('folder')} is needed with a URL (checkpoints, loras, vae, ...)")
        return Source(text, folder, name, sha256)
    known = models.known_file(text)
    if known is None or not known.url:
        raise InputError(f"{text!r} is neither a URL nor a file the pack knows ({models.REFERENCE})",
                         hint=f"give the download URL and {flag('folder')}")
    if folder and folder != known.folder:
        raise InputError(f"{text} belongs in {known.folder}, not {folder}")
    return Source(known.url, known.folder, name or known.name, sha256 or known.sha256)


def server_folders(client, folder):
    """The paths the server reads `folder` from (its models dir and extra_model_paths.yaml roots)."""
    listed = client.model_folder_paths()
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, dict) and entry.get("name") == folder:
            return [Path(p) for p in entry.get("folders") or [] if isinstance(p, str)]
    names = sorted(e.get("name") for e in listed if isinstance(e, dict)) if isinstance(listed, list) else []
    raise InputError(f"the server has no model folder {folder!r}",
                     hint=f"its folders: {', '.join(names[:40])}" if names else None)


def local_folders(client, folder):
    """The server's paths for `folder` that are on this machine, in the server's order.

    A loopback server shares this machine's files. For another host a path that happens to exist
    here is trusted only when the files the server lists under it are all here too.
    """
    paths = [p for p in server_folders(client, folder) if p.is_dir()]
    if not paths or _is_loopback(client.url):
        return paths
    try:
        listed = client.model_files(folder)
    except TransportError:
        return []
    confirmed = []
    for index, path in enumerate(server_folders(client, folder)):
        names = [f.get("name") for f in listed if isinstance(f, dict) and f.get("pathIndex") == index]
        if path in paths and names and all((path / n).is_file() for n in names if isinstance(n, str)):
            confirmed.append(path)
    return confirmed


def _is_loopback(url):
    host = (urlsplit(url).hostname or "").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def choose(paths, wanted=None, folder=""):
    """The one path to write to: `wanted` (one of `paths`), or the only one."""
    if wanted is not None:
        wanted_path = Path(wanted).resolve()
        for p in paths:
            if p.resolve() == wanted_path:
                return p
        raise InputError(f"{flag('path', wanted)} is not one of the server's {folder} folders on this machine",
                         hint="choose one of: " + ", ".join(map(str, paths)) if paths else None)
    if len(paths) > 1:
        raise InputError(f"the server reads {folder} from {len(paths)} folders here; choose one with {flag('path')}",
                         hint="; ".join(map(str, paths)))
    return paths[0]


def place(client, url, folder, name=None, sha256=None, path=None, reporter=None, cancel=None, size=None,
          token_for=downloads.token_from_env, subdir=()):
    """Get `url` into the server's `folder`, the best way this setup allows (see the module doc).

    `subdir`: folder names under the model folder (a workflow asking for `SD15/x.safetensors`
    finds the file only there); each is a plain name, created when missing."""
    name = name or downloads.name_from_url(url)
    subdir = tuple(downloads.safe_name(d, "the workflow's subfolder") for d in subdir or ())
    paths = local_folders(client, folder)
    if paths:
        target = _made(choose(paths, path, folder), subdir)
        got = downloads.download(url, target, name=name, sha256=sha256, token_for=token_for,
                                 reporter=reporter, cancel=cancel, size=size)
        return Placed("downloaded", folder, "/".join(subdir + (got.path.name,)), str(got.path), got)
    if path is not None:
        raise InputError(f"{flag('path', path)}: none of the server's {folder} folders is on this machine")
    entry = manager_entry(client, url, name, folder, subdir)
    if entry is not None:
        return through_manager(client, entry, folder, reporter)
    remote = server_folders(client, folder)
    where = remote[0].joinpath(*subdir) if remote else None
    return Placed("commands", folder, name or "?", str(where / name) if where and name else None,
                  commands=downloads.plan_commands(url, where, name or "model.safetensors"),
                  note=f"the server's {folder} folder is not on this machine; run one of these where it is, "
                       "then refresh the inventory")


def _made(folder, subdir):
    """`folder`/`subdir`, created; a folder that cannot be made is one clear line."""
    target = folder.joinpath(*subdir)
    if subdir:
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = downloads.DISK_ERRORS.get(exc.errno, exc.strerror or str(exc))
            raise DownloadFailed(f"cannot make the folder {target}: {reason}; nothing was downloaded") from None
    return target


def manager_entry(client, url, name, folder=None, subdir=()):
    """What to ask the server's Manager for, or None: 3.x's own list entry for this file (it
    refuses any other); for 4.x, which takes any URL, a ModelMetadata saved under `folder`."""
    found = manager.detect(client)
    if found is None:
        return None
    if found.v2:
        parts = urlsplit(url)
        # a query or a password may carry a secret, which would end up in the Manager's history and log
        if not name or not folder or parts.query or parts.password or parts.username:
            return None
        # save_path is relative to the models folder (glob/utils/model_utils.py get_model_dir)
        return {"name": name, "type": folder, "base": "", "save_path": "/".join((folder,) + tuple(subdir)),
                "url": url, "filename": name}
    try:
        listed = found.models()
    except TransportError:
        return None
    for entry in listed:
        if isinstance(entry, dict) and entry.get("url") == url:
            return entry
    for entry in listed:
        if isinstance(entry, dict) and name and entry.get("filename") == name:
            return entry
    return None


def through_manager(client, entry, folder, reporter=None, wait=MANAGER_WAIT, poll=1.0, clock=time.monotonic):
    """Queue the Manager's install of `entry`, follow its queue, and check the file is listed."""
    found = manager.detect(client)
    name = entry["filename"]
    if found.v2:
        task = found.run_task("install-model", entry, f"the download of {name}", wait, poll, reporter, clock)
        if not task.ok:
            raise task.failure(found, "the server must reach that address (no internet there, or a link that "
                                      "needs a token); or download the file where the server lives")
    else:
        try:
            found.queue_model_v3(entry)
        except ServerError as exc:
            if exc.status == 403:
                raise CheckFailed("ComfyUI-Manager refused the model install (HTTP 403): its security_level does "
                                  "not allow it", hint="set security_level = normal in the Manager's config.ini "
                                  "with the server stopped, or download the file where the server lives") from None
            raise
        found.follow_v3(wait, poll, reporter, clock)
    # the Manager saves under its entry's save_path, which may be a subfolder ("checkpoints/SDXL")
    listed = [n for n in client.models(folder) or [] if isinstance(n, str)]
    value = name if name in listed else next((n for n in listed if n.replace("\\", "/").endswith("/" + name)), None)
    if value is not None:
        return Placed("manager", folder, value, note="installed by ComfyUI-Manager on the server" +
                      (f"; the server lists it as {value!r}" if value != name else ""))
    raise CheckFailed(f"ComfyUI-Manager finished its queue but {folder} does not list {name}",
                      hint="the server's console says why (no internet there, or a refused address)")

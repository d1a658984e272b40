"""Custom node packs: which pack provides a node class, and installing one.

The Manager's extension-node-map (when the server has ComfyUI-Manager) says which repository
provides which classes; without it, the few packs diagnosis.KNOWN_PACKS knows by name pattern.
Installing goes through the Manager's HTTP queue (queue the install, start the queue, follow
its status); ComfyUI loads a new pack only at start-up, so a restart always follows. Without the
Manager, the exact shell lines that do the same where the server lives.
"""

import shlex
import time
from dataclasses import dataclass, field
from typing import Optional

from . import diagnosis
from .errors import CheckFailed, InputError, ServerError, TransportError

INSTALL_WAIT = 1800.0
RESTART_NOTE = ("restart ComfyUI to load it (ComfyUI-Manager: POST /manager/reboot, or its Restart button; "
                "otherwise stop and start the server process)")


@dataclass
class Pack:
    id: str
    repository: Optional[str] = None
    title: Optional[str] = None
    source: str = "known"  # "manager" (its node map) or "known" (diagnosis.KNOWN_PACKS)
    classes: list = field(default_factory=list)

    def as_dict(self):
        return {"id": self.id, "repository": self.repository, "title": self.title, "source": self.source,
                "classes": self.classes}


def workflow_classes(workflow):
    """Node classes an API-format or editor-format workflow uses."""
    if isinstance(workflow, dict) and isinstance(workflow.get("nodes"), list):
        return sorted({n.get("type") for n in workflow["nodes"] if isinstance(n, dict) and n.get("type")})
    return sorted({n.get("class_type") for n in (workflow or {}).values()
                   if isinstance(n, dict) and isinstance(n.get("class_type"), str)})


def missing_classes(workflow, object_info):
    # editor-only nodes (notes, reroutes, groups) are not server classes
    frontend_only = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode", "GroupNode"}
    return [c for c in workflow_classes(workflow) if c not in object_info and c not in frontend_only]


def providers(classes, client=None):
    """{class: Pack or None} for node classes the server lacks."""
    node_map, packs = _manager_lists(client)
    by_class = {}
    for repo, (names, meta) in ((r, v) for r, v in node_map.items() if _map_entry(v)):
        for name in names:
            by_class.setdefault(name, (repo, meta))
    found = {}
    for cls in classes:
        if cls in by_class:
            repo, meta = by_class[cls]
            pid, info = _pack_of_repo(packs, repo)
            found[cls] = Pack(pid or repo.rstrip("/").rsplit("/", 1)[-1], repo,
                              (info or {}).get("title") or meta.get("title_aux"), "manager")
            continue
        pack, repo = diagnosis.pack_for(cls)
        found[cls] = Pack(pack, repo, None, "known") if pack else None
    grouped = {}
    for cls, pack in found.items():
        if pack:
            grouped.setdefault(pack.id, pack).classes.append(cls)
    return {cls: (grouped[p.id] if p else None) for cls, p in found.items()}


def _map_entry(value):
    return isinstance(value, list) and len(value) >= 2 and isinstance(value[0], list) and isinstance(value[1], dict)


def _manager_lists(client):
    if client is None or client.manager_version() is None:
        return {}, {}
    try:
        node_map = client.manager_node_map()
        packs = (client.manager_packs() or {}).get("node_packs") or {}
    except TransportError:
        return {}, {}
    return (node_map if isinstance(node_map, dict) else {}), (packs if isinstance(packs, dict) else {})


def _pack_of_repo(packs, repo):
    want = repo.rstrip("/").lower()
    for pid, info in packs.items():
        urls = [info.get("repository") or "", info.get("reference") or ""] + list(info.get("files") or [])
        if any(isinstance(u, str) and u.rstrip("/").lower() == want for u in urls):
            return pid, info
    return None, None


def find_pack(client, name):
    """The Manager's list entry for `name` (its id, title or repository URL), as (id, info)."""
    _, packs = _manager_lists(client)
    if name in packs:
        return name, packs[name]
    lower = name.rstrip("/").lower()
    for pid, info in packs.items():
        if lower in (pid.lower(), str(info.get("title", "")).lower(),
                     str(info.get("repository", "")).rstrip("/").lower()):
            return pid, info
    return None, None


def follow_manager_queue(client, wait, poll, reporter=None, clock=time.monotonic):
    """Start ComfyUI-Manager's queue and follow its status until it is idle or `wait` runs out."""
    client.manager_queue_start()
    deadline = clock() + wait
    while clock() < deadline:
        status = client.manager_queue_status()
        if reporter:
            reporter.note(f"ComfyUI-Manager: {status.get('done_count', 0)}/{status.get('total_count', 0)} done")
        if not status.get("is_processing") and not status.get("in_progress_count"):
            return
        time.sleep(poll)


def install_request(pid, info):
    """The body the Manager's own UI posts to /manager/queue/install for this list entry."""
    version = info.get("version") or "unknown"
    body = {"id": pid, "version": version, "selected_version": "latest" if version != "unknown" else "unknown",
            "channel": "default", "mode": "local", "ui_id": pid}
    if version == "unknown":  # a pack known only by its git repository
        body["files"] = list(info.get("files") or [info.get("repository")])
    return body


def install(client, pack, wait=INSTALL_WAIT, poll=1.0, reporter=None):
    """Install `pack` (a Manager list id, title or repository URL) through the Manager's queue.

    Returns {"pack", "installed", "restart"}; CheckFailed when the Manager refuses or the pack is
    not installed after its queue ran (the server's console says why)."""
    if client.manager_version() is None:
        raise CheckFailed(f"{client.url} has no ComfyUI-Manager, so nothing can install {pack} over HTTP",
                          hint="run one of these where the server lives: " + " ; ".join(shell_lines(pack)))
    pid, info = find_pack(client, pack)
    if pid is None:
        raise InputError(f"ComfyUI-Manager's list has no node pack {pack!r}",
                         hint="give its id, title or repository URL as the Manager lists it")
    try:
        client.manager_queue_install(install_request(pid, info))
    except ServerError as exc:
        if exc.status in (403, 404) and "security" in str(exc.body or "").lower():
            raise CheckFailed(f"ComfyUI-Manager refused to install {pid}: its security policy does not allow it",
                              hint="a pack known only by its git URL needs security_level weak/normal- or "
                              "allow_git_url_install in the Manager's config.ini (edited with the server "
                              "stopped); or install it by hand: " + " ; ".join(shell_lines(pack, info))) from None
        raise
    follow_manager_queue(client, wait, poll, reporter)
    _, after = find_pack(client, pid)
    state = (after or {}).get("state")
    if state in ("installed", "enabled", "disabled") or (after or {}).get("installed") == "True":
        return {"pack": pid, "installed": True, "restart": RESTART_NOTE}
    raise CheckFailed(f"ComfyUI-Manager ran its queue but {pid} is not installed (state: {state or 'unknown'})",
                      hint="the server's console says why (no internet there, or a failed pip install)")


def shell_lines(pack, info=None):
    """Commands that install `pack` by hand where the server lives (then restart it)."""
    repo = (info or {}).get("repository")
    if not repo:
        for _, pid, known_repo in diagnosis.KNOWN_PACKS:
            if pid.lower() == pack.lower() or known_repo.lower() == pack.rstrip("/").lower():
                repo = known_repo
    if not repo and pack.startswith(("https://", "git@")):
        repo = pack
    lines = [f"comfy node install {shlex.quote(pack)}"]
    if repo:
        folder = "custom_nodes/" + repo.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") \
            if hasattr(str, "removesuffix") else "custom_nodes/" + repo.rstrip("/").rsplit("/", 1)[-1]
        lines.append(f"cd <ComfyUI folder> && git clone {shlex.quote(repo)} {shlex.quote(folder)} && "
                     f"pip install -r {shlex.quote(folder)}/requirements.txt")
    return lines

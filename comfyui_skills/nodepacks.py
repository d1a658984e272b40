"""Custom node packs: which pack provides a node class, and installing one.

The Manager's extension-node-map (when the server has ComfyUI-Manager) says which repository
provides which classes; without it, the few packs diagnosis.KNOWN_PACKS knows by name pattern.
Installing goes through the Manager's HTTP queue (queue the install, start the queue, follow
it; manager.py speaks to both of its generations); ComfyUI loads a new pack only at start-up, so
a restart always follows. Without the Manager, the exact shell lines that do the same where the
server lives.
"""

import shlex
from dataclasses import dataclass, field
from typing import Optional

from . import diagnosis, manager
from .errors import CheckFailed, InputError, ServerError, TransportError

INSTALL_WAIT = 1800.0


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
    try:  # a Manager that does not answer leaves the known packs
        found = manager.detect(client)
        if found is None:
            return {}, {}
        node_map, packs = found.node_map(), found.packs()
    except TransportError:
        return {}, {}
    return (node_map if isinstance(node_map, dict) else {}), packs


def _pack_of_repo(packs, repo):
    want = repo.rstrip("/").lower()
    for pid, info in packs.items():
        urls = [info.get("repository") or "", info.get("reference") or ""] + list(info.get("files") or [])
        if any(isinstance(u, str) and u.rstrip("/").lower() == want for u in urls):
            return pid, info
    return None, None


def _find_in(packs, name):
    if name in packs:
        return name, packs[name]
    lower = name.rstrip("/").lower()
    for pid, info in packs.items():
        if lower in (pid.lower(), str(info.get("title", "")).lower(),
                     str(info.get("repository", "")).rstrip("/").lower()):
            return pid, info
    return None, None


def install_request(pid, info):
    """The body 3.x's own UI posts to /manager/queue/install for this list entry."""
    version = info.get("version") or "unknown"
    body = {"id": pid, "version": version, "selected_version": "latest" if version != "unknown" else "unknown",
            "channel": "default", "mode": "local", "ui_id": pid}
    if version == "unknown":  # a pack known only by its git repository
        body["files"] = list(info.get("files") or [info.get("repository")])
    return body


def install_params_v4(pack):
    """InstallPackParams for Manager 4 (comfyui_manager 4.2.2 data_models/generated_models.py).

    A registry id installs its latest release ("<id>@latest" is resolved against the registry,
    glob/manager_core.py resolve_node_spec); a repository URL installs from git as the Manager's
    "unknown" version, found in its custom-node list under the repository's name (load_nightly
    keys every GitHub entry by it, case-insensitively)."""
    if pack.startswith(("https://", "http://", "git@")):
        repo = pack.rstrip("/")
        name = repo.rsplit("/", 1)[-1]
        name = name[:-4] if name.endswith(".git") else name
        return {"id": name, "version": "unknown", "selected_version": "unknown", "repository": repo,
                "channel": "default", "mode": "cache"}
    return {"id": pack, "version": "latest", "selected_version": "latest", "channel": "default", "mode": "cache"}


def install(client, pack, wait=INSTALL_WAIT, poll=1.0, reporter=None):
    """Install `pack` (a Manager list id, title or repository URL) through the Manager's queue.

    Returns {"pack", "installed", "restart"}; CheckFailed when the Manager refuses it or its task
    fails (4.x says why; 3.x only that the pack is not there after its queue ran)."""
    found = manager.detect(client)
    if found is None:
        raise CheckFailed(f"{client.url} has no ComfyUI-Manager, so nothing can install {pack} over HTTP",
                          hint="run one of these where the server lives: " + " ; ".join(shell_lines(pack)))
    if found.v2:
        return _install_v4(found, pack, wait, poll, reporter)
    pid, info = _find_in(found.packs(), pack)
    if pid is None:
        raise InputError(f"ComfyUI-Manager's list has no node pack {pack!r}",
                         hint="give its id, title or repository URL as the Manager lists it")
    try:
        found.queue_pack_v3(install_request(pid, info))
    except ServerError as exc:
        if exc.status in (403, 404) and "security" in str(exc.body or "").lower():
            raise CheckFailed(f"ComfyUI-Manager refused to install {pid}: its security policy does not allow it",
                              hint="a pack known only by its git URL needs security_level weak/normal- or "
                              "allow_git_url_install in the Manager's config.ini (edited with the server "
                              "stopped); or install it by hand: " + " ; ".join(shell_lines(pack, info))) from None
        raise
    found.follow_v3(wait, poll, reporter)
    _, after = _find_in(found.packs(), pid)
    state = (after or {}).get("state")
    if state in ("installed", "enabled", "disabled") or (after or {}).get("installed") == "True":
        return {"pack": pid, "installed": True, "restart": found.restart}
    raise CheckFailed(f"ComfyUI-Manager ran its queue but {pid} is not installed (state: {state or 'unknown'})",
                      hint="the server's console says why (no internet there, or a failed pip install)")


def _install_v4(found, pack, wait, poll, reporter):
    params = install_params_v4(pack)
    task = found.run_task("install", params, f"the install of {params['id']}", wait, poll, reporter)
    if not task.ok:
        hint = ("the registry may not be reachable from the server, or does not know this id: give the "
                "pack's repository URL to install it from git" if params["selected_version"] == "latest"
                else "the server needs internet access to GitHub; or install it by hand where it lives")
        raise task.failure(found, hint)
    return {"pack": params["id"], "installed": True, "result": task.outcome, "restart": found.restart}


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

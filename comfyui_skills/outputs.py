"""Every output a history entry reports, fetched through /view onto disk, never over a file.

Kinds: `image`; `animated` (core SaveAnimatedWEBP/PNG and SaveVideo report files under `images`
with `animated: [true]`); `video` (the `gifs` key of VideoHelperSuite and other packs, or a video
extension); `audio`; `3d` (SaveGLB's `3d` key, Preview3D's `result` path); `text` (PreviewAny's
`text`), written as a .txt file. Anything else that lists `{filename, type}` records is fetched too.
"""

import os
import tempfile
from pathlib import Path, PurePosixPath

from . import files, nextsteps, wire
from .errors import InputError, ServerError
from .runs import cached_nodes, prompt_of

VIDEO_EXT = {".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v"}
ANIMATED_EXT = {".gif", ".apng"}
AUDIO_EXT = {".flac", ".mp3", ".wav", ".ogg", ".opus", ".m4a", ".aac"}
MODEL3D_EXT = {".glb", ".gltf", ".obj", ".fbx", ".stl", ".ply", ".usdz"}
KEY_KINDS = {"images": "image", "gifs": "video", "video": "video", "videos": "video",
             "audio": "audio", "3d": "3d", "meshes": "3d"}
CHUNK = 1 << 20


def kind_of(key, filename, animated=False):
    ext = PurePosixPath(filename).suffix.lower()
    if ext in VIDEO_EXT:
        return "video"
    if ext in AUDIO_EXT:
        return "audio"
    if ext in MODEL3D_EXT:
        return "3d"
    if ext in ANIMATED_EXT or (key == "images" and animated):
        return "animated"
    return KEY_KINDS.get(key, "image" if ext in {".png", ".jpg", ".jpeg", ".webp"} else "file")


def collect(entry, workflow=None):
    """Flat list of output records from a /history entry, in node order."""
    outputs = (entry or {}).get("outputs") or {}
    workflow = workflow or prompt_of(entry)
    cached = cached_nodes(entry)
    items = []
    for node_id, out in outputs.items():
        if not isinstance(out, dict):
            continue
        node = workflow.get(str(node_id)) or {}
        base = {"node": str(node_id), "class_type": node.get("class_type"),
                "title": (node.get("_meta") or {}).get("title"), "from_cache": str(node_id) in cached}
        items += [dict(base, **rec) for rec in _records(out)]
    return items


def _records(out):
    animated = any(bool(a) for a in out.get("animated") or [] if a is not None)
    for key, value in out.items():
        if key == "text":
            for i, text in enumerate(value if isinstance(value, (list, tuple)) else [value]):
                yield {"kind": "text", "key": key, "index": i, "text": str(text)}
        elif key == "result" and isinstance(value, (list, tuple)) and value and isinstance(value[0], str):
            path = PurePosixPath(value[0].replace("\\", "/"))
            if path.suffix.lower() in MODEL3D_EXT:  # Preview3D names a file in the output folder
                yield {"kind": "3d", "key": key, "filename": path.name,
                       "subfolder": str(path.parent) if str(path.parent) != "." else "", "type": "output"}
        elif isinstance(value, (list, tuple)):
            for rec in value:
                if isinstance(rec, dict) and isinstance(rec.get("filename"), str):
                    yield {"kind": kind_of(key, rec["filename"], animated), "key": key,
                           "filename": rec["filename"], "subfolder": rec.get("subfolder") or "",
                           "type": rec.get("type") or "output"}


def wanted(item, previews=False):
    if item["kind"] == "text":
        return True
    return item.get("type") == "output" or previews


def local_path(root, item):
    """Where a server file lands: its subfolder kept; temp/input files under their own folder."""
    sub = item.get("subfolder") or ""
    if item.get("type") not in (None, "output"):
        sub = f"{item['type']}/{sub}" if sub else item["type"]
    return files.safe_join(root, sub, item["filename"])


def download_all(client, items, root, previews=False, prompt_id=None):
    """Fetch every wanted item into `root`; returns the records with path and bytes filled in."""
    root = Path(root)
    done = []
    for item in items:
        if not wanted(item, previews):
            continue
        if item["kind"] == "text":
            done.append(_save_text(root, item, prompt_id))
        else:
            done.append(download(client, item, root))
    return done


def _save_text(root, item, prompt_id):
    name = f"text-{(prompt_id or 'run')[:8]}-node{item['node']}"
    name += f"-{item['index'] + 1}.txt" if item.get("index") else ".txt"
    target = files.safe_join(root, "", name)
    data = item["text"].encode("utf-8")
    path = publish_new(target, lambda fh: fh.write(data), root)
    return dict(item, path=str(path), bytes=len(data))


def download(client, item, root):
    resp = client.view(item["filename"], item.get("subfolder") or "", item.get("type") or "output")
    with resp:
        client.check(resp, f"downloading {item['filename']} via /view")
        expected = resp.headers.get("Content-Length")
        written = []

        def write(fh):
            n = 0
            try:
                for chunk in resp.iter_content(CHUNK):
                    fh.write(chunk)
                    n += len(chunk)
            except wire.WireError:
                # wire's errors are OSErrors too: caught here, a broken connection is not a full disk
                raise ServerError(f"{item['filename']}: the connection broke before the whole file arrived"
                                  + (f" ({expected} bytes expected)" if expected else ""),
                                  hint=f"nothing was kept; fetch it again with {nextsteps.step('queue', 'outputs', 'PROMPT_ID', finds_server=True)}",
                                  url=client.url) from None
            if expected is not None and expected.isdigit() and n != int(expected):
                raise ServerError(f"{item['filename']}: the download stopped at {n} of {expected} bytes",
                                  hint=f"nothing was kept; fetch it again with {nextsteps.step('queue', 'outputs', 'PROMPT_ID', finds_server=True)}",
                                  url=client.url)
            written.append(n)

        path = publish_new(local_path(root, item), write, root)
    return dict(item, path=str(path), bytes=written[0])


def publish_new(target, write, root):
    """Write through a hidden .part file, then link it to the first free name: never a half file."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise _unwritable(root, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        return _link_free(tmp, target)
    except OSError as exc:
        raise _unwritable(root, exc) from None
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _link_free(tmp, target):
    while True:
        path = files.free_name(target)
        try:
            os.link(tmp, path)  # refuses to replace a file that appeared meanwhile
            return path
        except FileExistsError:
            continue


def _unwritable(root, exc):
    why = exc.strerror or str(exc)
    return InputError(f"cannot write outputs to {root}: {why}",
                      hint=f"give a writable folder with {nextsteps.flag('out')}; the files stay on the server, "
                           f"fetch them with: {nextsteps.step('queue', 'outputs', 'PROMPT_ID', out='DIR', finds_server=True)}")

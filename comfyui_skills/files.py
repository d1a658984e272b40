"""Reading user files safely and writing ours atomically, never over someone else's."""

import json
import os
import re
from pathlib import Path

from .errors import InputError

MAX_JSON_BYTES = 64 * 1024 * 1024


def read_json(path, what="file"):
    """Parse a JSON file (or '-' for stdin); every failure is an InputError naming the file."""
    name = "stdin" if str(path) == "-" else str(path)
    try:
        if str(path) == "-":
            import sys
            raw = sys.stdin.buffer.read(MAX_JSON_BYTES + 1)
        else:
            p = Path(path)
            if p.is_dir():
                raise InputError(f"{name}: is a folder, not a {what}")
            size = p.stat().st_size
            if size > MAX_JSON_BYTES:
                raise InputError(f"{name}: {size / 1e6:.0f} MB is too large for a {what} "
                                 f"(limit {MAX_JSON_BYTES // 2**20} MiB)")
            raw = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except PermissionError:
        raise InputError(f"{name}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_JSON_BYTES:
        raise InputError(f"{name}: too large for a {what} (limit {MAX_JSON_BYTES // 2**20} MiB)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{name}: not a text file (it is not UTF-8), so not a {what}") from None
    if not text.strip():
        raise InputError(f"{name}: the file is empty, not a {what}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:  # the C parser's own guard: refuses ~1000 levels in well under a millisecond
        raise InputError(f"{name}: nested too deeply to be a {what}") from None


def atomic_write(path, data, overwrite=True):
    """Write bytes or text to `path` via a temp file in the same folder.

    With overwrite=False an existing file is never replaced: FileExistsError instead.
    """
    import tempfile  # here: commands that only read files (validate.py) need not import it

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _publish(tmp, path, overwrite)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return path


def _publish(tmp, path, overwrite):
    if overwrite:
        os.replace(tmp, path)
        return
    os.link(tmp, path)  # fails with FileExistsError rather than clobbering a file that appeared meanwhile
    os.unlink(tmp)


def _unlink_quietly(p):
    try:
        os.unlink(p)
    except OSError:
        pass


def write_json(path, obj, overwrite=True):
    return atomic_write(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n", overwrite=overwrite)


def free_name(path, companions=()):
    """`path` if nothing is there, else `stem-2.ext`, `stem-3.ext`, ... (first free).

    `companions` are other suffixes written beside it under the same stem (say ".ui.json"
    beside "x.json"): a stem counts as free only when none of those files exist either.
    """
    path = Path(path)
    suffixes = (path.suffix, *companions)
    candidate, n = path.stem, 1
    while any(path.with_name(candidate + suffix).exists() for suffix in suffixes):
        n += 1
        candidate = f"{path.stem}-{n}"
    return path.with_name(candidate + path.suffix)


_UNSAFE = re.compile(r"[\x00-\x1f<>:\"|?*\\]")


def safe_part(name):
    """One path component from untrusted text: no separators, no '..', no control characters."""
    cleaned = _UNSAFE.sub("_", str(name)).replace("/", "_").strip().strip(".")
    return cleaned or "_"


def safe_join(root, subfolder, filename):
    """root/subfolder/filename with every untrusted part sanitised; always inside root."""
    root = Path(root).resolve()
    parts = [safe_part(p) for p in re.split(r"[\\/]+", subfolder or "") if p not in ("", ".", "..")]
    target = root.joinpath(*parts, safe_part(filename))
    if root != target and root not in target.parents:
        raise InputError(f"refusing to write {target} outside {root}")
    return target

"""Sending an image (or a mask painted over one) to the server's input folder.

ComfyUI stores whatever bytes it is given, so the checks that the file is an image happen here,
before anything is sent.
"""

import io
import json
import re
from pathlib import Path

from .errors import InputError, ServerError
from .files import safe_part
from .nextsteps import flag, step

MAX_BYTES = 100 * 1024 * 1024  # ComfyUI 0.3.64's max_upload_size (GET /features)
KINDS = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"GIF87a", "gif"), (b"GIF89a", "gif"),
         (b"BM", "bmp"), (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"))
TYPES = ("input", "temp")


def image_kind(data):
    """'png', 'jpeg', 'webp', 'gif', 'bmp' or 'tiff' from the first bytes; None for anything else."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    for magic, kind in KINDS:
        if data.startswith(magic):
            return kind
    return None


def read_image(path):
    """The bytes of an image file; an InputError naming the file for anything else."""
    return read_upload(path, image=True)


def read_upload(path, image=False):
    """The bytes of a file to upload (an image, when `image`); an InputError naming the file."""
    p = Path(path)
    try:
        if p.is_dir():
            raise InputError(f"{path}: is a folder, not an image")
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise InputError(f"{path}: {size / 2**20:.0f} MiB is over ComfyUI's upload limit of 100 MiB")
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file", hint="check the path") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not data:
        raise InputError(f"{path}: the file is empty" + (", not an image" if image else ""))
    if image and image_kind(data) is None:
        raise InputError(f"{path}: not an image (PNG, JPEG, WEBP, GIF, BMP or TIFF expected)",
                         hint="ComfyUI would store it, and LoadImage would then fail at run time")
    return data


def upload_name(path):
    """The file's own name, made safe: no folders, no control or reserved characters."""
    name = re.sub(r"\s+", " ", safe_part(Path(path).name))
    return name if name != "_" else "image.png"


def clean_subfolder(subfolder):
    """'a/b' from anything: no '..', no absolute paths, each part made safe."""
    parts = [safe_part(p) for p in re.split(r"[\\/]+", subfolder or "") if p not in ("", ".", "..")]
    return "/".join(parts)


def split_ref(name):
    """'sub/photo.png' -> ('sub', 'photo.png'), as LoadImage writes inputs in subfolders."""
    sub, _, base = str(name).replace("\\", "/").rpartition("/")
    return clean_subfolder(sub), base


def upload(client, path, subfolder="", overwrite=False, type_="input", original=None, image=True):
    """Upload `path`; with `original` ('name' or 'sub/name' in the input folder), as that image's mask.

    `image=False` takes any file (a video or audio for LoadVideo/LoadAudio-style inputs).
    Returns {"file", "name", "subfolder", "type", "ref"}: `ref` is what LoadImage takes; plus
    `asset` (id, name, asset_hash, size, mime_type, tags) where the server registered the file.
    """
    data = read_upload(path, image=image or original is not None)
    name, subfolder = upload_name(path), clean_subfolder(subfolder)
    fields = {"type": type_, "subfolder": subfolder}
    if overwrite:
        fields["overwrite"] = "true"
    mask_of = None
    if original is not None:
        orig_sub, orig_name = split_ref(original)
        if not orig_name or not client.has_file(orig_name, orig_sub, "input"):
            raise InputError(f"{flag('original', original)}: no such image in the server's input folder",
                             hint=f"upload the original first ({step('upload', 'FILE')}), then its mask")
        mask_of = json.dumps({"filename": orig_name, "subfolder": orig_sub, "type": "input"})
    kind = image_kind(data)
    try:
        stored = client.upload(path, name, io.BytesIO(data), "image/" + kind if kind else None,
                               mask_of=mask_of, **fields)
    except ServerError as exc:
        if exc.status == 400:
            exc.hint = f"the server refused the file name or subfolder; rename the file or pick another {flag('subfolder')}"
        raise
    result = {"file": str(path), "name": stored.name, "subfolder": stored.subfolder, "type": stored.type,
              "ref": stored.ref}
    if stored.asset:
        result["asset"] = stored.asset
    return result

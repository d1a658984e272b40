"""Contact sheets: many outputs as one picture, each tile labelled with what differs.

Images are shrunk into square tiles; an animated image (GIF, WEBP, APNG) or a video becomes a
grid of frames in its tile, a WAV file its waveform. Video frames need PyAV (`pip install av`,
the pack's `video` extra); without it a video gets a tile that says so. Other sounds (FLAC, MP3)
are drawn from their samples when PyAV is there too.
"""

import math
import os
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import files

TILE = 256
LABEL_H = 18
GAP = 4
VIDEO_EXT = (".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v")
AUDIO_EXT = (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".opus", ".aac")
BACKGROUND = (32, 32, 32)
INK = (230, 230, 230)


def _pil():
    from PIL import Image, ImageDraw, ImageFont, ImageSequence

    return Image, ImageDraw, ImageFont, ImageSequence


def tile_of(path, size=TILE):
    """The picture one file gets in a sheet: an RGB image at most size x size."""
    Image, _, _, _ = _pil()
    lower = str(path).lower()
    if lower.endswith(VIDEO_EXT):
        return _frame_grid(_video_frames(path), size) or _note_tile(size, "video", "frames need PyAV (pip install av)")
    if lower.endswith(AUDIO_EXT):
        return _waveform(path, size)
    try:
        with Image.open(path) as im:
            if getattr(im, "is_animated", False) and getattr(im, "n_frames", 1) > 1:
                return _frame_grid(_image_frames(im), size)
            im.draft("RGB", (size, size))  # JPEG decodes at a fraction of its size
            im = im.convert("RGB")
            factor = max(im.width, im.height) // size
            if factor > 1:
                im = im.reduce(factor)  # whole-pixel box averaging: several times faster than a resample
            im.thumbnail((size, size), Image.BILINEAR)
            grow = size // max(im.size)
            if grow > 1:  # a small picture (64x64 tests, icons) fills its tile, pixels kept sharp
                im = im.resize((im.width * grow, im.height * grow), Image.NEAREST)
            return im
    except (OSError, ValueError) as exc:
        return _note_tile(size, Path(path).suffix or "file", f"not readable: {str(exc)[:40]}")


def _note_tile(size, head, text):
    Image, ImageDraw, _, _ = _pil()
    im = Image.new("RGB", (size, size), (60, 60, 60))
    d = ImageDraw.Draw(im)
    d.text((8, size // 2 - 12), head, fill=INK)
    d.text((8, size // 2 + 2), text[:size // 6], fill=INK)
    return im


def _image_frames(im, most=9):
    _, _, _, ImageSequence = _pil()
    total = getattr(im, "n_frames", 1)
    wanted = set(_spread(total, most))
    return [f.convert("RGB") for i, f in enumerate(ImageSequence.Iterator(im)) if i in wanted]


def _spread(total, most):
    if total <= most:
        return list(range(total))
    return [round(i * (total - 1) / (most - 1)) for i in range(most)]


def _video_frames(path, most=9):
    try:
        import av  # optional: the `video` extra
    except ImportError:
        return []
    frames = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            decoded = [f.to_image() for f in container.decode(stream)]
    except Exception:  # noqa: BLE001 - a broken video gets a note tile, not a crash
        return []
    for i in _spread(len(decoded), most):
        frames.append(decoded[i].convert("RGB"))
    return frames


def _frame_grid(frames, size):
    """Frames side by side in a square grid inside one tile."""
    Image, _, _, _ = _pil()
    if not frames:
        return None
    cols = math.ceil(math.sqrt(len(frames)))
    rows = math.ceil(len(frames) / cols)
    cell = size // cols
    out = Image.new("RGB", (size, size), BACKGROUND)
    for i, f in enumerate(frames):
        f = f.copy()
        f.thumbnail((cell - 2, cell - 2), Image.BILINEAR)
        out.paste(f, ((i % cols) * cell + 1, (i // cols) * cell + (size - rows * cell) // 2 + 1))
    return out


def _samples(path):
    """Mono samples in -1..1 (WAV by the standard library, others with PyAV), or None."""
    if str(path).lower().endswith(".wav"):
        try:
            with wave.open(str(path), "rb") as w:
                width, channels, n = w.getsampwidth(), w.getnchannels(), w.getnframes()
                raw = w.readframes(n)
        except (OSError, wave.Error, EOFError):
            return None
        if width not in (1, 2, 4):
            return None
        import array

        data = array.array({1: "b", 2: "h", 4: "i"}[width], raw if width != 1 else bytes((b - 128) & 255 for b in raw))
        scale = float(2 ** (8 * width - 1))
        return [data[i] / scale for i in range(0, len(data), channels)]
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(str(path)) as container:
            out = []
            for frame in container.decode(audio=0):
                arr = frame.to_ndarray()
                out += list(arr[0].astype(float) / (max(1.0, abs(arr).max())))
            return out
    except Exception:  # noqa: BLE001
        return None


def _waveform(path, size):
    Image, ImageDraw, _, _ = _pil()
    samples = _samples(path)
    if not samples:
        return _note_tile(size, "audio", "waveform needs PyAV for this format")
    im = Image.new("RGB", (size, size), BACKGROUND)
    d = ImageDraw.Draw(im)
    mid, per = size // 2, max(1, len(samples) // size)
    for x in range(size):
        chunk = samples[x * per:(x + 1) * per] or [0.0]
        lo, hi = min(chunk), max(chunk)
        d.line([(x, mid - hi * (mid - 4)), (x, mid - lo * (mid - 4))], fill=(120, 200, 255))
    return im


def contact_sheet(paths, out, labels=None, tile=TILE, cols=None):
    """Write one PNG of `paths` as labelled tiles to `out` (a free name next to it if taken);
    returns its path."""
    Image, ImageDraw, _, _ = _pil()
    paths = list(paths)
    labels = list(labels or [Path(p).name for p in paths])
    cols = cols or math.ceil(math.sqrt(len(paths)))
    rows = math.ceil(len(paths) / cols)
    sheet = Image.new("RGB", (cols * (tile + GAP) + GAP, rows * (tile + LABEL_H + GAP) + GAP), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    # decoding is most of the time and Pillow does it without the GIL: one thread per core
    with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1, len(paths)))) as pool:
        tiles = list(pool.map(lambda p: tile_of(p, tile), paths))
    for i, (im, label) in enumerate(zip(tiles, labels)):
        x, y = GAP + (i % cols) * (tile + GAP), GAP + (i // cols) * (tile + LABEL_H + GAP)
        sheet.paste(im, (x + (tile - im.width) // 2, y + (tile - im.height) // 2))
        draw.text((x + 2, y + tile + 3), str(label)[:tile // 6], fill=INK)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target = files.free_name(target)
    sheet.save(target, optimize=False, compress_level=1)
    return str(target)


def labels_for(items):
    """Tile labels for [(path, values)] from one command: the values that differ between them
    (seed, a swept input), else the file's place."""
    keys = []
    for _, values in items:
        for k in values:
            if k not in keys and len({repr(v.get(k)) for _, v in items}) > 1:
                keys.append(k)
    out = []
    for i, (_, values) in enumerate(items, 1):
        shown = ", ".join(f"{k}={_short(values.get(k))}" for k in keys if values.get(k) is not None)
        out.append(shown or f"#{i}")
    return out


def _short(v):
    text = str(v)
    return text if len(text) <= 24 else text[:21] + "..."

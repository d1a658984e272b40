"""The workflow and prompt ComfyUI embeds in the images, audio and video it saves.

Where each save node puts them (ComfyUI a125cd84) and how the frontend 1.58.1 reads them back:
  PNG    SaveImage: tEXt chunks "prompt" / "workflow" (one per extra_pnginfo key); SaveAnimatedPNG:
         the same in private "comf" chunks. iTXt (zlib-compressed or not) and zTXt are read too.
  WebP   SaveAnimatedWEBP: EXIF in the RIFF "EXIF" chunk, IFD0 ASCII tags 0x0110 = "prompt:{...}"
         and 0x010F, 0x010E... = "workflow:{...}" (the text before the first ':' is the key).
  FLAC   SaveAudio: Vorbis comment block, "prompt={...}" / "workflow={...}".
  Ogg    SaveAudioOpus: the same Vorbis comment, in the OpusTags packet (or Vorbis' comment header).
  MP3    SaveAudioMP3: ID3v2 TXXX frames, description "prompt" / "workflow".
  MP4    SaveVideo / CreateVideo (PyAV, movflags=use_metadata_tags): moov/udta/meta with a "keys"
         box naming "prompt" / "workflow" and ilst items pointing at them by index.
  WebM   SaveWEBM: Matroska Tags, SimpleTag TagName "PROMPT" / "WORKFLOW" (libavformat capitalises).
VideoHelperSuite's Video Combine writes one ffmpeg "comment" tag instead (MP4 ©cmt, Matroska
COMMENT): a JSON object {"prompt": "<the prompt as a JSON string>", "workflow": {...}}.

Only the container's metadata is read, seeking past media data, so a large video costs a few
reads; every length is checked against the file and against MAX_VALUE_BYTES before anything is
read into memory.
"""

import json
import struct
import zlib
from pathlib import Path

from .errors import InputError

MAX_VALUE_BYTES = 64 * 1024 * 1024   # one metadata value; the same limit as a .json workflow
MAX_ELEMENTS = 100000                # boxes/chunks/elements walked before giving up on a file

KEYS = ("workflow", "prompt")


class Found:
    """What one media file carries: the raw text of each key seen (lower-cased) and where."""

    def __init__(self, kind, looked_for):
        self.kind = kind
        self.looked_for = looked_for   # words for "no 'workflow'/'prompt' ...", naming the place
        self.values = {}               # key -> (text, where)

    def add(self, key, text, where):
        key = key.strip().lower()
        if key in KEYS or key == "comment":
            self.values[key] = (text, where)


def sniff(head):
    """The container a file's first bytes name, or None (then it is read as JSON)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head.startswith(b"fLaC"):
        return "FLAC"
    if head.startswith(b"OggS"):
        return "Ogg"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
                                   and head[1] < 0xFE):  # FF FE is a UTF-16 text's byte-order mark
        return "MP3"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "WebM/Matroska"
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "MP4/MOV"
    return None


def read(path, kind):
    """Found for the file at `path`, already sniffed as `kind`; InputError when it is damaged."""
    name = str(path)
    try:
        with open(path, "rb") as f:
            reader = Reader(f, name, kind)
            found = Found(kind, LOOKED_FOR[kind])
            PARSERS[kind](reader, found)
            return found
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from None


class Reader:
    """Bounded reads from a seekable file: every failure names the file and the container."""

    def __init__(self, f, name, kind):
        self.f = f
        self.name = name
        self.kind = kind
        f.seek(0, 2)
        self.size = f.tell()
        f.seek(0)
        self.steps = 0

    def fail(self, what):
        article = article_for(self.kind)
        return InputError(f"{self.name}: {article} {self.kind} that is truncated or damaged: {what}",
                          kind="damaged_file")

    def step(self):
        self.steps += 1
        if self.steps > MAX_ELEMENTS:
            raise self.fail(f"more than {MAX_ELEMENTS} metadata elements")

    def at(self, offset, n, what):
        """n bytes at offset, all of them or a 'truncated' InputError."""
        if n > MAX_VALUE_BYTES:
            raise InputError(f"{self.name}: {what} is {n / 1e6:.0f} MB, larger than any workflow "
                             f"(limit {MAX_VALUE_BYTES // 2**20} MiB)", kind="too_large")
        if offset < 0 or offset + n > self.size:
            raise self.fail(f"{what} at byte {offset} runs past the end of the file ({self.size} bytes)")
        self.f.seek(offset)
        data = self.f.read(n)
        if len(data) != n:
            raise self.fail(f"{what} at byte {offset} could not be read whole")
        return data


def text_of(raw):
    """Metadata text: UTF-8 as the frontend decodes it; Latin-1 (PNG tEXt's own charset) otherwise."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def inflate(reader, data, what):
    """zlib data, refusing to expand beyond MAX_VALUE_BYTES (a tiny chunk can hold gigabytes)."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, MAX_VALUE_BYTES)
    except zlib.error as exc:
        raise reader.fail(f"{what} does not decompress ({exc})") from None
    if d.unconsumed_tail:
        raise InputError(f"{reader.name}: {what} decompresses to more than {MAX_VALUE_BYTES // 2**20} MiB",
                         kind="too_large")
    return out


# -- PNG ----------------------------------------------------------------------------------------
def parse_png(r, found):
    pos = 8
    while pos + 8 <= r.size:
        r.step()
        length, ctype = struct.unpack(">I4s", r.at(pos, 8, "a chunk header"))
        name = ctype.decode("latin-1")
        if ctype == b"IEND":
            return
        if pos + 12 + length > r.size:
            raise r.fail(f"chunk {name!r} at byte {pos} runs past the end of the file ({r.size} bytes)")
        if ctype in (b"tEXt", b"comf", b"zTXt", b"iTXt"):
            png_text(r, found, ctype, r.at(pos + 8, length, f"the {name} chunk"), pos)
        pos += 12 + length
    raise r.fail("it ends before its IEND chunk")


def png_text(r, found, ctype, data, pos):
    name = ctype.decode("latin-1")
    key, sep, rest = data.partition(b"\0")
    if not sep:
        raise r.fail(f"the {name} chunk at byte {pos} has no keyword terminator")
    key = key.decode("latin-1")
    if key.strip().lower() not in KEYS:
        return
    where = f"{name} chunk {key!r}"
    if ctype == b"zTXt":
        value = inflate(r, rest[1:], f"the {where}")
    elif ctype == b"iTXt":
        if len(rest) < 2:
            raise r.fail(f"the {where} at byte {pos} is cut short")
        compressed, method, rest = rest[0], rest[1], rest[2:]
        _lang, _, rest = rest.partition(b"\0")
        _translated, _, value = rest.partition(b"\0")
        if compressed:
            if method != 0:
                raise r.fail(f"the {where} uses compression method {method}, which PNG does not define")
            value = inflate(r, value, f"the {where}")
    else:
        value = rest
    found.add(key, text_of(value), where)


# -- WebP ---------------------------------------------------------------------------------------
def parse_webp(r, found):
    pos = 12
    end = min(r.size, 8 + struct.unpack("<I", r.at(4, 4, "the RIFF header"))[0])
    while pos + 8 <= end:
        r.step()
        ctype, length = struct.unpack("<4sI", r.at(pos, 8, "a chunk header"))
        if ctype == b"EXIF":
            exif = r.at(pos + 8, length, "the EXIF chunk")
            if exif.startswith(b"Exif\0\0"):
                exif = exif[6:]
            exif_tags(r, found, exif)
            return  # the frontend reads the first EXIF chunk only
        pos += 8 + length + (length & 1)


def exif_tags(r, found, tiff):
    """IFD0's ASCII tags "key:value" (where SaveAnimatedWEBP writes them)."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        raise r.fail("its EXIF chunk has no TIFF header")
    order = "<" if tiff[:2] == b"II" else ">"
    ifd = struct.unpack(order + "I", tiff[4:8])[0]
    if ifd + 2 > len(tiff):
        raise r.fail("its EXIF directory lies outside the EXIF chunk")
    count = struct.unpack(order + "H", tiff[ifd:ifd + 2])[0]
    for i in range(count):
        entry = ifd + 2 + 12 * i
        if entry + 12 > len(tiff):
            raise r.fail("its EXIF directory is cut short")
        tag, typ, n, value = struct.unpack(order + "HHI4s", tiff[entry:entry + 12])
        if typ != 2:  # ASCII
            continue
        if n <= 4:
            raw = value[:n]
        else:
            offset = struct.unpack(order + "I", value)[0]
            if offset + n > len(tiff):
                raise r.fail(f"EXIF tag 0x{tag:04X} points outside the EXIF chunk")
            raw = tiff[offset:offset + n]
        key, sep, text = text_of(raw.rstrip(b"\0")).partition(":")
        if sep:
            found.add(key, text, f"EXIF tag 0x{tag:04X} '{key}:'")


# -- Vorbis comments: FLAC and Ogg ----------------------------------------------------------------
def vorbis_comments(r, found, data, where):
    try:
        vendor_len = struct.unpack_from("<I", data, 0)[0]
        pos = 4 + vendor_len
        count = struct.unpack_from("<I", data, pos)[0]
        pos += 4
        for _ in range(count):
            r.step()
            n = struct.unpack_from("<I", data, pos)[0]
            pos += 4
            if pos + n > len(data):
                raise struct.error
            key, sep, value = data[pos:pos + n].partition(b"=")
            pos += n
            if sep:
                found.add(key.decode("latin-1"), text_of(value), f"{where} {key.decode('latin-1')}=")
    except struct.error:
        raise r.fail(f"its {where} is cut short") from None


def parse_flac(r, found):
    pos = 4
    while pos + 4 <= r.size:
        r.step()
        header = r.at(pos, 4, "a metadata block header")
        last, btype, length = header[0] & 0x80, header[0] & 0x7F, int.from_bytes(header[1:], "big")
        if btype == 4:
            vorbis_comments(r, found, r.at(pos + 4, length, "the Vorbis comment block"), "Vorbis comment")
        if pos + 4 + length > r.size:
            raise r.fail(f"metadata block at byte {pos} runs past the end of the file ({r.size} bytes)")
        if last:
            return
        pos += 4 + length
    raise r.fail("it ends inside its metadata blocks")


def parse_ogg(r, found):
    """The first logical stream's second packet is its comment header (OpusTags or Vorbis')."""
    pos, packets, packet, serial, size = 0, 0, bytearray(), None, 0
    while pos + 27 <= r.size:
        r.step()
        header = r.at(pos, 27, "an Ogg page header")
        if header[:4] != b"OggS":
            raise r.fail(f"no Ogg page at byte {pos}")
        page_serial = struct.unpack_from("<I", header, 14)[0]
        nseg = header[26]
        lacing = r.at(pos + 27, nseg, "an Ogg page's segment table")
        body_pos = pos + 27 + nseg
        pos = body_pos + sum(lacing)
        if serial is None:
            serial = page_serial
        if page_serial != serial:
            continue
        for seg in lacing:
            size += seg
            if size > MAX_VALUE_BYTES:
                raise InputError(f"{r.name}: an Ogg header packet is larger than any workflow "
                                 f"(limit {MAX_VALUE_BYTES // 2**20} MiB)", kind="too_large")
        body = r.at(body_pos, sum(lacing), "an Ogg page")
        start = 0
        for seg in lacing:
            packet += body[start:start + seg]
            start += seg
            if seg < 255:
                packets += 1
                if packets == 2:
                    return ogg_comment(r, found, bytes(packet))
                packet, size = bytearray(), 0
    raise r.fail("it ends before its comment header")


def ogg_comment(r, found, packet):
    if packet.startswith(b"OpusTags"):
        vorbis_comments(r, found, packet[8:], "OpusTags comment")
    elif packet.startswith(b"\x03vorbis"):
        vorbis_comments(r, found, packet[7:], "Vorbis comment")


# -- MP3: ID3v2 ---------------------------------------------------------------------------------
def syncsafe(b):
    return (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3]


def parse_mp3(r, found):
    head = r.at(0, min(10, r.size), "the ID3 header")
    if not head.startswith(b"ID3"):
        return  # a bare MPEG stream: no tag at all
    if len(head) < 10:
        raise r.fail("its ID3 header is cut short")
    version, flags, size = head[3], head[5], syncsafe(head[6:10])
    if version not in (3, 4):
        return  # ID3v2.2's three-letter frames: nothing ComfyUI writes
    tag = r.at(10, size, "the ID3 tag")
    if flags & 0x80 and version == 3:  # v2.3 unsynchronises the whole tag
        tag = tag.replace(b"\xff\x00", b"\xff")
    pos = 0
    if flags & 0x40:  # an extended header, sized differently in each version
        ext = struct.unpack_from(">I", tag, 0)[0] if len(tag) >= 4 else len(tag)
        pos = syncsafe(tag[:4]) if version == 4 else ext + 4
    while pos + 10 <= len(tag):
        r.step()
        fid = tag[pos:pos + 4]
        if fid == b"\0\0\0\0":
            return  # padding
        n = syncsafe(tag[pos + 4:pos + 8]) if version == 4 else struct.unpack_from(">I", tag, pos + 4)[0]
        if pos + 10 + n > len(tag):
            raise r.fail(f"ID3 frame {fid.decode('latin-1')!r} runs past the end of the tag")
        if fid == b"TXXX":
            txxx(r, found, tag[pos + 10:pos + 10 + n])
        pos += 10 + n


def txxx(r, found, frame):
    if not frame:
        return
    enc, body = frame[0], frame[1:]
    codec, nul = {0: ("latin-1", b"\0"), 1: ("utf-16", b"\0\0"), 2: ("utf-16-be", b"\0\0"),
                  3: ("utf-8", b"\0")}.get(enc, (None, None))
    if codec is None:
        raise r.fail(f"an ID3 TXXX frame has text encoding {enc}, which ID3 does not define")
    cut = next((i for i in range(0, len(body) - len(nul) + 1, len(nul)) if body[i:i + len(nul)] == nul), -1)
    if cut < 0:
        return
    try:
        key = body[:cut].decode(codec)
        value = body[cut + len(nul):].decode(codec).rstrip("\0")
    except UnicodeDecodeError:
        raise r.fail("an ID3 TXXX frame's text does not decode") from None
    found.add(key.lstrip("\ufeff"), value, f"ID3 TXXX frame {key.lstrip(chr(0xFEFF))!r}")


# -- MP4 / MOV ----------------------------------------------------------------------------------
def boxes(r, start, end):
    """(type, payload start, payload end) of each box between start and end."""
    pos = start
    while pos + 8 <= end:
        r.step()
        size, btype = struct.unpack(">I4s", r.at(pos, 8, "a box header"))
        header = 8
        if size == 1:
            size = struct.unpack(">Q", r.at(pos + 8, 8, "a box's 64-bit size"))[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise r.fail(f"box {btype.decode('latin-1')!r} at byte {pos} runs past its container "
                         f"(or the end of the file)")
        yield btype, pos + header, pos + size
        pos += size


def child(r, start, end, wanted):
    return next(((s, e) for t, s, e in boxes(r, start, end) if t == wanted), None)


def parse_mp4(r, found):
    moov = child(r, 0, r.size, b"moov")
    if moov is None:
        return
    for btype, s, e in boxes(r, *moov):  # ffmpeg writes moov/udta/meta; Apple's tools moov/meta
        metas = [(s, e)] if btype == b"meta" else \
            [(ms, me) for t, ms, me in boxes(r, s, e) if t == b"meta"] if btype == b"udta" else []
        for ms, me in metas:
            # ISO's meta is a full box (version and flags first); QuickTime's starts with its hdlr
            mp4_meta(r, found, ms if r.at(ms + 4, 4, "the meta box") == b"hdlr" else ms + 4, me)


def mp4_meta(r, found, start, end):
    keys, items = {}, None
    for btype, s, e in boxes(r, start, end):
        if btype == b"keys":
            data = r.at(s, e - s, "the keys box")
            count = struct.unpack_from(">I", data, 4)[0] if len(data) >= 8 else 0
            pos = 8
            for index in range(1, count + 1):
                if pos + 8 > len(data):
                    raise r.fail("its keys box is cut short")
                size = struct.unpack_from(">I", data, pos)[0]
                if size < 8 or pos + size > len(data):
                    raise r.fail("its keys box is cut short")
                keys[index] = text_of(data[pos + 8:pos + size])  # after size and namespace ('mdta')
                pos += size
        elif btype == b"ilst":
            items = (s, e)
    if items is None:
        return
    for btype, s, e in boxes(r, *items):
        if btype == b"\xa9cmt":
            key = "comment"
        else:
            key = keys.get(int.from_bytes(btype, "big"))
            if key is None or key.strip().lower() not in KEYS:
                continue
        data = child(r, s, e, b"data")
        if data is not None and data[1] - data[0] >= 8:
            value = r.at(data[0] + 8, data[1] - data[0] - 8, f"the {key!r} metadata item")  # after type, locale
            found.add(key, text_of(value), f"metadata item {key!r}")


# -- Matroska / WebM ----------------------------------------------------------------------------
SEGMENT, TAGS, TAG, SIMPLE_TAG, TAG_NAME, TAG_STRING = 0x18538067, 0x1254C367, 0x7373, 0x67C8, 0x45A3, 0x4487
UNKNOWN = -1


def vint(r, pos, what, keep_marker):
    first = r.at(pos, 1, what)[0]
    length = next((i + 1 for i in range(8) if first & (0x80 >> i)), 0)
    if length == 0:
        raise r.fail(f"{what} at byte {pos} is not valid EBML")
    raw = r.at(pos, length, what)
    value = int.from_bytes(raw, "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
        if value == (1 << (7 * length)) - 1:
            value = UNKNOWN
    return value, length


def elements(r, start, end):
    pos = start
    while pos < end:
        r.step()
        eid, n = vint(r, pos, "an element id", True)
        size, m = vint(r, pos + n, "an element size", False)
        body = pos + n + m
        if size == UNKNOWN:  # only a Segment or Cluster does this, and lasts to the end
            size = end - body
        if body + size > end:
            raise r.fail(f"element 0x{eid:X} at byte {pos} runs past its parent (or the end of the file)")
        yield eid, body, body + size
        pos = body + size


def parse_mkv(r, found):
    segment = next(((s, e) for eid, s, e in elements(r, 0, r.size) if eid == SEGMENT), None)
    if segment is None:
        return
    for eid, s, e in elements(r, *segment):
        if eid != TAGS:
            continue
        for tid, ts, te in elements(r, s, e):
            if tid != TAG:
                continue
            for sid, ss, se in elements(r, ts, te):
                if sid == SIMPLE_TAG:
                    parts = {cid: (cs, ce) for cid, cs, ce in elements(r, ss, se)}
                    if TAG_NAME in parts and TAG_STRING in parts:
                        name = text_of(r.at(parts[TAG_NAME][0], parts[TAG_NAME][1] - parts[TAG_NAME][0],
                                            "a TagName")).rstrip("\0")
                        if name.strip().lower() in KEYS + ("comment",):
                            cs, ce = parts[TAG_STRING]
                            found.add(name, text_of(r.at(cs, ce - cs, f"the {name} tag")).rstrip("\0"),
                                      f"SimpleTag {name!r}")


PARSERS = {"PNG": parse_png, "WebP": parse_webp, "FLAC": parse_flac, "Ogg": parse_ogg, "MP3": parse_mp3,
           "MP4/MOV": parse_mp4, "WebM/Matroska": parse_mkv}
LOOKED_FOR = {
    "PNG": "no 'workflow'/'prompt' text chunk",
    "WebP": "no 'workflow:'/'prompt:' EXIF tag",
    "FLAC": "no workflow=/prompt= Vorbis comment",
    "Ogg": "no workflow=/prompt= comment in its Opus/Vorbis comment header",
    "MP3": "no 'workflow'/'prompt' ID3 TXXX frame",
    "MP4/MOV": "no 'workflow'/'prompt' metadata item or comment",
    "WebM/Matroska": "no WORKFLOW/PROMPT/COMMENT tag",
}


def article_for(kind):
    return "an" if kind[0] in "AEIMO" else "a"


def parsed(found):
    """({"workflow": obj, "prompt": obj} for the values that are JSON, [why each other one is not])."""
    out, problems = {}, []
    for key in KEYS:
        if key in found.values:
            text, where = found.values[key]
            value, problem = json_value(text, f"the {where}")
            if problem:
                problems.append(problem)
            else:
                out[key] = value
    if not out and "comment" in found.values and not problems:
        # VideoHelperSuite: {"prompt": "<JSON string>", "workflow": {...}} in one comment tag
        text, where = found.values["comment"]
        comment, problem = json_value(text, f"the {where}")
        if isinstance(comment, dict):
            for key in KEYS:
                value = comment.get(key)
                if isinstance(value, str):
                    value, problem = json_value(value, f"the {key!r} inside the {where}")
                    if problem:
                        problems.append(problem)
                        continue
                if value is not None:
                    out[key] = value
    return out, problems


def json_value(text, what):
    """(value, None) or (None, a one-line reason); NaN and Infinity parse, as in the frontend."""
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"{what} is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    except RecursionError:
        return None, f"{what} is nested too deeply to be a workflow"


def head_of(path, n=16):
    with open(path, "rb") as f:
        return f.read(n)


def is_file(path):
    return str(path) != "-" and Path(path).is_file()

"""Workflows read out of the files ComfyUI saves: every workflow-taking command accepts them.

The recorded files (tests/fixtures/embedded/) come from a live ComfyUI 0.3.64 (record_live.py:
SaveImage, SaveAnimatedPNG, SaveAnimatedWEBP, CreateVideo + SaveVideo, SaveWEBM) or, where that
server could not write them (no torchaudio; no VideoHelperSuite), from PyAV the way those nodes'
source does (make_with_pyav.py). The damaged and missing-field files are built here, by hand.
"""

import importlib.util
import json
import struct
import zlib
from pathlib import Path

import pytest

from comfyui_skills import embedded, workflow
from comfyui_skills.errors import InputError
from conftest import closed_port, script

FIX = Path(__file__).parent / "fixtures" / "embedded"
SENT = json.loads((FIX / "sent.json").read_text())
WORKFLOW, PROMPT = SENT["workflow"], SENT["prompt"]

RECORDED = ["saveimage.png", "saveanimatedpng.png", "saveanimatedwebp.webp", "savevideo.mp4", "savewebm.webm"]
MADE_WITH_PYAV = ["saveaudio.flac", "saveaudiomp3.mp3", "saveaudioopus.opus", "vhs_combine.mp4", "vhs_combine.webm"]


# -- the real files -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", RECORDED + MADE_WITH_PYAV)
def test_the_workflow_read_from_a_saved_file_is_the_one_that_made_it(name):
    loaded = workflow.read(FIX / name)
    assert loaded.format == workflow.UI and loaded.embedded == workflow.EDITOR_WORKFLOW
    assert loaded.workflow == WORKFLOW
    assert loaded.also == PROMPT   # the API prompt that ran, carried beside it
    assert loaded.source.startswith(f"the editor workflow embedded in {FIX / name} (")


def test_a_json_file_reads_as_before():
    loaded = workflow.read(FIX / "sent.json")
    assert loaded.source is None and loaded.embedded is None


# -- containers built by hand ---------------------------------------------------------------------
def png_chunk(ctype, data):
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def png(*chunks):
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    idat = png_chunk(b"IDAT", zlib.compress(b"\0\0"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + b"".join(chunks) + idat + png_chunk(b"IEND", b"")


def text(key, value):
    return png_chunk(b"tEXt", key.encode() + b"\0" + value.encode("latin-1"))


def webp(*strings):
    entries, blob = b"", b""
    base = 8 + 2 + 12 * len(strings) + 4
    for i, s in enumerate(strings):
        raw = s.encode() + b"\0"
        entries += struct.pack(">HHII", 0x0110 - i, 2, len(raw), base + len(blob))
        blob += raw
    tiff = b"MM\0*" + struct.pack(">I", 8) + struct.pack(">H", len(strings)) + entries + b"\0\0\0\0" + blob
    exif = b"Exif\0\0" + tiff
    body = b"WEBP" + b"VP8L" + struct.pack("<I", 2) + b"\x2f\0" + b"EXIF" + struct.pack("<I", len(exif)) + exif
    body += b"\0" * (len(exif) & 1)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def vorbis(**comments):
    out = struct.pack("<I", 4) + b"test" + struct.pack("<I", len(comments))
    for k, v in comments.items():
        raw = f"{k}={v}".encode()
        out += struct.pack("<I", len(raw)) + raw
    return out


def flac(**comments):
    streaminfo = b"\0" * 34
    block = vorbis(**comments)
    return (b"fLaC" + bytes([0]) + len(streaminfo).to_bytes(3, "big") + streaminfo
            + bytes([0x84]) + len(block).to_bytes(3, "big") + block)


def ogg_page(packet, seq):
    lacing = bytes([255] * (len(packet) // 255) + [len(packet) % 255])
    return b"OggS\0\0" + b"\0" * 8 + struct.pack("<II", 1, seq) + b"\0\0\0\0" + bytes([len(lacing)]) + lacing + packet


def ogg(**comments):
    return ogg_page(b"OpusHead" + b"\1\1\0\0\x80\xbb\0\0\0\0\0", 0) + ogg_page(b"OpusTags" + vorbis(**comments), 1)


def syncsafe(n):
    return bytes([(n >> 21) & 127, (n >> 14) & 127, (n >> 7) & 127, n & 127])


def mp3(**frames):
    body = b""
    for k, v in frames.items():
        data = b"\3" + k.encode() + b"\0" + v.encode()
        body += b"TXXX" + syncsafe(len(data)) + b"\0\0" + data
    return b"ID3\4\0\0" + syncsafe(len(body)) + body + b"\xff\xfb\x90\0" + b"\0" * 32


def box(btype, payload):
    return struct.pack(">I", 8 + len(payload)) + btype + payload


def mp4(quicktime=False, **items):
    keys = b"\0\0\0\0" + struct.pack(">I", len(items)) + b"".join(
        struct.pack(">I", 8 + len(k)) + b"mdta" + k.encode() for k in items)
    ilst = b"".join(box(struct.pack(">I", i + 1), box(b"data", b"\0\0\0\1\0\0\0\0" + v.encode()))
                    for i, v in enumerate(items.values()))
    meta = box(b"meta", (b"" if quicktime else b"\0\0\0\0") + box(b"hdlr", b"\0" * 8 + b"mdta" + b"\0" * 13)
               + box(b"keys", keys) + box(b"ilst", ilst))
    return (box(b"ftyp", b"isom\0\0\2\0isom") + box(b"moov", meta if quicktime else box(b"udta", meta))
            + box(b"mdat", b"\0" * 16))


def ebml(eid, payload):
    size = len(payload)  # a 3-byte size: enough for these files
    return eid + bytes([0x20 | (size >> 16), (size >> 8) & 255, size & 255]) + payload


def webm(**tags):
    simple = b"".join(ebml(b"\x67\xc8", ebml(b"\x45\xa3", k.upper().encode()) + ebml(b"\x44\x87", v.encode()))
                      for k, v in tags.items())
    segment = ebml(b"\x15\x49\xa9\x66", b"") + ebml(b"\x12\x54\xc3\x67", ebml(b"\x73\x73", simple))
    return ebml(b"\x1a\x45\xdf\xa3", ebml(b"\x42\x82", b"webm")) + ebml(b"\x18\x53\x80\x67", segment)


def exif_string(key, value):
    return f"{key}:{value}"


BUILDERS = {
    "png": (lambda **kv: png(*(text(k, v) for k, v in kv.items())), "PNG", "no 'workflow'/'prompt' text chunk"),
    "webp": (lambda **kv: webp(*(exif_string(k, v) for k, v in kv.items())), "WebP", "EXIF tag"),
    "flac": (flac, "FLAC", "Vorbis comment"),
    "opus": (ogg, "Ogg", "comment header"),
    "mp3": (mp3, "MP3", "ID3 TXXX frame"),
    "mp4": (mp4, "MP4/MOV", "metadata item"),
    "webm": (webm, "WebM/Matroska", "WORKFLOW/PROMPT/COMMENT tag"),
}
KINDS = sorted(BUILDERS)


def write(tmp_path, ext, data):
    path = tmp_path / f"made.{ext}"
    path.write_bytes(data)
    return path


def read_error(path):
    with pytest.raises(InputError) as exc:
        workflow.read(path)
    assert "\n" not in exc.value.message
    return exc.value.message


@pytest.mark.parametrize("ext", KINDS)
def test_the_editor_workflow_wins_over_the_prompt_in_every_container(tmp_path, ext):
    build = BUILDERS[ext][0]
    loaded = workflow.read(write(tmp_path, ext, build(prompt=json.dumps(PROMPT), workflow=json.dumps(WORKFLOW))))
    assert loaded.workflow == WORKFLOW and loaded.embedded == workflow.EDITOR_WORKFLOW


@pytest.mark.parametrize("ext", KINDS)
def test_a_file_with_only_the_prompt_gives_the_api_prompt(tmp_path, ext):
    loaded = workflow.read(write(tmp_path, ext, BUILDERS[ext][0](prompt=json.dumps(PROMPT))))
    assert loaded.format == workflow.API and loaded.workflow == PROMPT
    assert loaded.source.startswith("the API prompt embedded in")


@pytest.mark.parametrize("ext", KINDS)
def test_a_file_with_neither_says_so_in_one_line(tmp_path, ext):
    build, kind, looked_for = BUILDERS[ext]
    message = read_error(write(tmp_path, ext, build(parameters="a cat")))
    assert "with no ComfyUI workflow or prompt in it" in message and kind in message and looked_for in message


@pytest.mark.parametrize("ext", KINDS)
def test_a_value_that_is_not_json_is_named(tmp_path, ext):
    message = read_error(write(tmp_path, ext, BUILDERS[ext][0](workflow='{"nodes": [')))
    assert "workflow" in message.lower() and "is not JSON" in message


@pytest.mark.parametrize("ext", KINDS)
def test_a_truncated_file_is_one_clear_line(tmp_path, ext):
    data = BUILDERS[ext][0](prompt=json.dumps(PROMPT), workflow=json.dumps(WORKFLOW))
    message = read_error(write(tmp_path, ext, data[:len(data) // 2]))
    assert "truncated or damaged" in message


def test_a_bad_workflow_beside_a_good_prompt_falls_back_and_says_why(tmp_path):
    loaded = workflow.read(write(tmp_path, "png", png(text("workflow", "{oops"), text("prompt", json.dumps(PROMPT)))))
    assert loaded.workflow == PROMPT and "is not JSON" in loaded.source


def test_quicktime_style_moov_meta_is_read_too(tmp_path):
    data = mp4(quicktime=True, workflow=json.dumps(WORKFLOW))
    assert workflow.read(write(tmp_path, "mov", data)).workflow == WORKFLOW


def test_png_compressed_itxt_and_ztxt_are_read(tmp_path):
    itxt = png_chunk(b"iTXt", b"workflow\0\1\0en\0\0" + zlib.compress(json.dumps(WORKFLOW).encode()))
    assert workflow.read(write(tmp_path, "png", png(itxt))).workflow == WORKFLOW
    ztxt = png_chunk(b"zTXt", b"prompt\0\0" + zlib.compress(json.dumps(PROMPT).encode()))
    assert workflow.read(write(tmp_path, "png", png(ztxt))).workflow == PROMPT
    plain = png_chunk(b"iTXt", b"workflow\0\0\0\0\0" + json.dumps(WORKFLOW).encode())
    assert workflow.read(write(tmp_path, "png", png(plain))).workflow == WORKFLOW


def test_a_decompression_bomb_stops_at_the_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded, "MAX_VALUE_BYTES", 1000)
    bomb = png_chunk(b"zTXt", b"workflow\0\0" + zlib.compress(b" " * 100000))
    assert "decompresses to more than" in read_error(write(tmp_path, "png", png(bomb)))


def test_a_huge_chunk_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded, "MAX_VALUE_BYTES", 1000)
    assert "larger than any workflow" in read_error(write(tmp_path, "png", png(text("workflow", "x" * 5000))))


def test_a_chunk_claiming_more_than_the_file_holds_is_damaged(tmp_path):
    liar = struct.pack(">I", 2**31) + b"tEXt" + b"workflow\0{}"
    data = png()[:33] + liar
    assert "runs past the end of the file" in read_error(write(tmp_path, "png", data))


def test_a_real_png_without_its_chunks_says_which_chunk_is_missing(tmp_path):
    data = (FIX / "saveimage.png").read_bytes()
    pos, kept = 8, data[:8]
    while pos < len(data):
        n = struct.unpack(">I", data[pos:pos + 4])[0]
        if data[pos + 4:pos + 8] != b"tEXt":
            kept += data[pos:pos + 12 + n]
        pos += 12 + n
    r = script("validate", write(tmp_path, "png", kept))
    assert r.returncode == 2
    assert ("a PNG with no ComfyUI workflow or prompt in it (no 'workflow'/'prompt' text chunk)" in r.stdout + r.stderr)
    assert "Traceback" not in r.stderr


def test_a_workflow_key_holding_something_else_is_named(tmp_path):
    message = read_error(write(tmp_path, "png", png(text("workflow", "[1, 2]"))))
    assert "'workflow' is not a workflow: a JSON list" in message


# -- every workflow-taking command ----------------------------------------------------------------
def test_validate_reads_a_png_and_says_which_workflow(pack_env):
    r = script("validate", FIX / "saveimage.png", "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["verdict"] == "ok" and "editor workflow embedded in" in report["source"]
    assert "read the editor workflow embedded in" in r.stderr


def test_convert_turns_the_embedded_editor_workflow_into_the_prompt_that_ran(pack_env, tmp_path):
    # the prompt that ran was made by the 0.3.64 server's own frontend (1.27.10), whose titles differ
    r = script("convert", FIX / "savevideo.mp4", "--frontend", "1.27.10", env=pack_env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == PROMPT
    assert "read the editor workflow embedded in" in r.stderr
    r = script("convert", FIX / "saveanimatedwebp.webp", "--out-dir", tmp_path, "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    line = json.loads(r.stdout)
    assert line["written"].endswith("saveanimatedwebp.api.json") and "EXIF" in line["source"]


def test_export_takes_an_audio_file(pack_env):
    r = script("export", FIX / "saveaudio.flac", "--project", "demo", "--name", "from_flac", env=pack_env)
    assert r.returncode == 0, r.stderr
    assert "read the editor workflow embedded in" in r.stderr
    written = Path(pack_env["COMFYUI_SKILLS_PROJECTS"]) / "demo" / "workflows" / "from_flac.json"
    assert json.loads(written.read_text()) == ui_to_api(WORKFLOW)


def test_run_takes_a_video_file(pack_env):
    r = script("run", FIX / "savewebm.webm", "--url", f"127.0.0.1:{closed_port()}", "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    assert "read the editor workflow embedded in" in r.stderr
    assert json.loads(r.stdout)["status"] == "offline"


def test_a_damaged_file_on_the_command_line_is_exit_2_without_a_traceback(pack_env, tmp_path):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes((FIX / "savevideo.mp4").read_bytes()[:2000])
    for name in ("validate", "convert", "export", "run"):
        extra = {"export": ["--project", "p"], "run": ["--url", f"127.0.0.1:{closed_port()}"]}.get(name, [])
        r = script(name, cut, *extra, env=pack_env)
        assert r.returncode == 2 and "truncated or damaged" in r.stdout + r.stderr and "Traceback" not in r.stderr


def ui_to_api(editor):
    from comfyui_skills import conversion, inventory
    return conversion.ui_to_api(editor, conversion.as_schema(inventory.load().object_info))


# -- live --------------------------------------------------------------------------------------
@pytest.mark.live
def test_live_saved_files_round_trip(live_url, tmp_path):
    spec = importlib.util.spec_from_file_location("record_live", FIX / "record_live.py")
    recorder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recorder)
    sent = recorder.record(live_url, tmp_path)
    for name in recorder.KEEP.values():
        loaded = workflow.read(tmp_path / name)
        assert loaded.workflow == sent["workflow"] and loaded.also == sent["prompt"], name

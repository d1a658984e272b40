"""Downloading model files: what lands in the folder, what never does, and what is never sent.

Served by a loopback file server (tests/support/fileserver.py) that honours Range requests and counts
the bytes it sends; the folder is given directly (no ComfyUI). Full-disk and read-only cases
mount a small tmpfs / a read-only bind mount, so they run only as root and skip otherwise.
"""

import hashlib
import os
import subprocess
import threading

import pytest

from comfyui_skills import downloads
from comfyui_skills.errors import DownloadFailed, InputError, Interrupted
from support.fileserver import FileServer
from support.model_files import safetensors_bytes

SIZE = 3 * 2**20 + 12345
DATA = safetensors_bytes(SIZE)
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def srv():
    with FileServer() as s:
        s.add("/m/model.safetensors", DATA)
        yield s


def no_token(url):
    return {}


def fetch(srv, folder, path="/m/model.safetensors", **kw):
    kw.setdefault("token_for", no_token)
    return downloads.download(srv.url(path), folder, **kw)


def test_a_file_lands_under_its_name_with_its_hash(srv, tmp_path):
    got = fetch(srv, tmp_path, sha256=SHA)
    assert got.path == tmp_path / "model.safetensors" and got.sha256 == SHA and got.bytes == SIZE
    assert (tmp_path / "model.safetensors").read_bytes() == DATA
    assert os.listdir(tmp_path) == ["model.safetensors"]


def test_a_cut_off_download_resumes_without_fetching_again_what_is_on_disk(srv, tmp_path):
    srv.cut_after["/m/model.safetensors"] = SIZE // 2
    with pytest.raises(DownloadFailed, match="cut off") as err:
        fetch(srv, tmp_path)
    assert "again" in err.value.hint
    part = tmp_path / "model.safetensors.part"
    kept = part.stat().st_size
    assert 0 < kept <= SIZE // 2 and not (tmp_path / "model.safetensors").exists()
    del srv.cut_after["/m/model.safetensors"]
    before = srv.served
    got = fetch(srv, tmp_path, sha256=SHA)
    assert got.resumed_from == kept and srv.served - before == SIZE - kept
    assert srv.seen[-1][1].get("Range") == f"bytes={kept}-"
    assert got.path.read_bytes() == DATA and not part.exists()


def test_a_large_download_cut_at_an_odd_byte_keeps_every_byte_and_resumes_to_the_same_file(srv, tmp_path):
    # several of the engine's 4 MiB blocks, cut inside one at an offset no disk block lines up with:
    # whole blocks go to disk with O_DIRECT, the odd head and tail through the page cache
    size, cut = 13 * 2**20 + 777, 5 * 2**20 + 123
    data = safetensors_bytes(size)
    srv.add("/m/big.safetensors", data)
    srv.cut_after["/m/big.safetensors"] = cut
    with pytest.raises(DownloadFailed, match="cut off"):
        fetch(srv, tmp_path, path="/m/big.safetensors")
    assert (tmp_path / "big.safetensors.part").stat().st_size == cut  # nothing received was lost
    del srv.cut_after["/m/big.safetensors"]
    got = fetch(srv, tmp_path, path="/m/big.safetensors", sha256=hashlib.sha256(data).hexdigest())
    assert got.resumed_from == cut and got.bytes == size
    assert got.path.read_bytes() == data and os.listdir(tmp_path) == ["big.safetensors"]


def test_a_server_that_ignores_the_range_makes_it_start_over(srv, tmp_path):
    (tmp_path / "model.safetensors.part").write_bytes(b"\0" * 1000)  # wrong bytes: must not be kept
    srv.ignore_range = True
    got = fetch(srv, tmp_path, sha256=SHA)
    assert got.resumed_from == 0 and got.path.read_bytes() == DATA


def test_a_complete_part_is_finished_without_fetching(srv, tmp_path):
    (tmp_path / "model.safetensors.part").write_bytes(DATA)
    got = fetch(srv, tmp_path, sha256=SHA)
    assert got.resumed_from == SIZE and srv.served == 0 and got.path.read_bytes() == DATA


def test_a_wrong_hash_leaves_nothing_in_the_folder(srv, tmp_path):
    with pytest.raises(DownloadFailed, match="does not match"):
        fetch(srv, tmp_path, sha256="0" * 64)
    assert os.listdir(tmp_path) == []


def test_an_existing_file_is_never_overwritten(srv, tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"mine")
    with pytest.raises(InputError, match="never overwritten"):
        fetch(srv, tmp_path)
    assert (tmp_path / "model.safetensors").read_bytes() == b"mine" and srv.served == 0


@pytest.mark.parametrize("path,headers,name", [
    ("/m/..%2F..%2Fevil.safetensors", {}, None),
    ("/m/download", {"Content_Disposition": 'attachment; filename="../../evil.safetensors"'}, None),
    ("/m/download", {"Content_Disposition": "attachment; filename*=UTF-8''..%2Fevil.safetensors"}, None),
    ("/m/model.safetensors", {}, "../evil.safetensors"),
    ("/m/model.safetensors", {}, "sub/evil.safetensors"),
])
def test_a_name_that_leaves_the_folder_is_refused(srv, tmp_path, path, headers, name):
    srv.add(path, DATA, **headers)
    inside = tmp_path / "models"
    inside.mkdir()
    with pytest.raises(InputError, match="not a plain file name"):
        fetch(srv, inside, path=path, name=name)
    assert os.listdir(inside) == [] and os.listdir(tmp_path) == ["models"]


def test_content_disposition_names_the_file_when_the_address_does_not(srv, tmp_path):
    srv.add("/api/download/models/42", DATA, Content_Disposition='attachment; filename="lora_v2.safetensors"')
    assert fetch(srv, tmp_path, path="/api/download/models/42").path.name == "lora_v2.safetensors"


@pytest.mark.parametrize("body,ctype", [
    (b"<!DOCTYPE html><html><body>Access to model is restricted</body></html>", "text/html; charset=utf-8"),
    (b"<html><head><title>Sign in</title></head></html>" + b" " * 5000, "application/octet-stream"),
    (b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all.." + b"\0" * 100, "application/octet-stream"),
])
def test_an_error_page_served_as_a_model_file_is_caught(srv, tmp_path, body, ctype):
    srv.add("/m/page.safetensors", body, Content_Type=ctype)
    with pytest.raises(DownloadFailed, match="nothing was kept"):
        fetch(srv, tmp_path, path="/m/page.safetensors")
    assert os.listdir(tmp_path) == []


def test_a_redirect_to_another_host_drops_the_token(tmp_path):
    secret = "hf_SECRET_TOKEN_123"

    def token_for(url):
        return {"Authorization": f"Bearer {secret}"} if "127.0.0.1" in url else {}

    with FileServer("127.0.0.1") as origin, FileServer("localhost") as cdn:
        cdn.add("/blob/model.safetensors", DATA)
        origin.redirects["/resolve/model.safetensors"] = origin.url("/same-host-hop")
        origin.redirects["/same-host-hop"] = cdn.url("/blob/model.safetensors")
        got = downloads.download(origin.url("/resolve/model.safetensors"), tmp_path, token_for=token_for)
    assert got.path.read_bytes() == DATA
    assert [h.get("Authorization") for _, h in origin.seen] == [f"Bearer {secret}"] * 2  # kept on its own host
    assert all("Authorization" not in h for _, h in cdn.seen) and cdn.seen


@pytest.mark.parametrize("url,env,sent", [
    ("https://huggingface.co/a/b/resolve/main/m.safetensors", {"HF_TOKEN": "h"}, "Bearer h"),
    ("https://cdn-lfs.huggingface.co/x", {"HF_TOKEN": "h"}, "Bearer h"),
    ("https://huggingface.co.evil.example/m", {"HF_TOKEN": "h"}, None),
    ("https://nothuggingface.co/m", {"HF_TOKEN": "h"}, None),
    ("http://huggingface.co/m", {"HF_TOKEN": "h"}, None),  # never in clear text
    ("https://civitai.com/api/download/models/1", {"HF_TOKEN": "h", "CIVITAI_API_TOKEN": "c"}, "Bearer c"),
    ("https://civitai.com/api/download/models/1", {"HF_TOKEN": "h"}, None),
    ("https://example.com/m", {"HF_TOKEN": "h", "CIVITAI_API_TOKEN": "c"}, None),
])
def test_each_token_goes_only_to_its_own_host(url, env, sent):
    assert downloads.token_from_env(url, env).get("Authorization") == sent


def test_cancel_keeps_the_part_for_a_resume(srv, tmp_path):
    stop = threading.Event()

    class StopHalfway:
        def transfer(self, name, done, total, rate):
            if done > 0:
                stop.set()

    srv.add("/m/big.safetensors", safetensors_bytes(40 * 2**20))
    with pytest.raises(Interrupted, match="resume"):
        fetch(srv, tmp_path, path="/m/big.safetensors", reporter=StopHalfway(), cancel=stop)
    assert os.listdir(tmp_path) == ["big.safetensors.part"]


def test_progress_reports_bytes_up_to_the_whole(srv, tmp_path):
    seen = []

    class Keep:
        def transfer(self, name, done, total, rate):
            seen.append((name, done, total))

    fetch(srv, tmp_path, reporter=Keep())
    assert seen[-1] == ("model.safetensors", SIZE, SIZE)
    assert [d for _, d, _ in seen] == sorted(d for _, d, _ in seen)


# -- the folder cannot take it ---------------------------------------------------------------------
@pytest.fixture
def mounted(tmp_path):
    """mount(kind) -> a folder on a 1 MiB tmpfs ("full"), a read-only bind mount ("ro") or a ramfs
    ("ramfs", a file system that refuses O_DIRECT)."""
    done = []

    def mount(kind):
        where = tmp_path / kind
        where.mkdir()
        cmd = {"full": ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)],
               "ro": ["mount", "--bind", "-o", "ro", str(where), str(where)],
               "ramfs": ["mount", "-t", "ramfs", "ramfs", str(where)]}[kind]
        if os.geteuid() != 0 or subprocess.run(cmd, capture_output=True).returncode != 0:
            pytest.skip("needs root to mount a small tmpfs or a read-only folder")
        done.append(where)
        return where

    yield mount
    for where in done:
        subprocess.run(["umount", str(where)], capture_output=True)


def refused_in_one_line(srv, folder, match):
    """The download fails with one line matching `match`, and leaves nothing in the folder."""
    with pytest.raises(DownloadFailed, match=match) as err:
        fetch(srv, folder)
    assert "\n" not in str(err.value) and os.listdir(folder) == []


def test_a_folder_too_small_is_refused_before_downloading(srv, mounted):
    refused_in_one_line(srv, mounted("full"), "free.*needs")


def test_a_disk_that_fills_up_mid_way_leaves_no_partial_file(srv, mounted):
    srv.no_length.add("/m/model.safetensors")  # the size is unknown until the disk is full
    refused_in_one_line(srv, mounted("full"), "no space left")


def test_a_read_only_folder_gives_one_line_and_no_file(srv, mounted):
    refused_in_one_line(srv, mounted("ro"), "read-only|permission")


def test_a_file_system_without_direct_io_still_gets_the_whole_file(srv, mounted):
    folder = mounted("ramfs")
    data = safetensors_bytes(9 * 2**20 + 5)
    srv.add("/m/big.safetensors", data)
    got = fetch(srv, folder, path="/m/big.safetensors", sha256=hashlib.sha256(data).hexdigest())
    assert got.path.read_bytes() == data and os.listdir(folder) == ["big.safetensors"]

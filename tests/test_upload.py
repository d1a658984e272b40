import json
import os
import uuid

import pytest
import requests

from conftest import script
from support.record import tiny_png


@pytest.fixture
def png(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(tiny_png((200, 30, 30)))
    return path


def upload(url, *args, env):
    return script("upload", "--url", url, *args, env=env)


def test_upload_image_prints_the_stored_name(comfy_double, png, pack_env):
    r = upload(comfy_double.url, png, "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"file": str(png), "name": "photo.png", "subfolder": "", "type": "input",
                                    "ref": "photo.png"}
    assert comfy_double.files[("input", "", "photo.png")] == png.read_bytes()


def test_same_name_other_bytes_gets_a_new_name_unless_overwrite(comfy_double, png, tmp_path, pack_env):
    assert upload(comfy_double.url, png, env=pack_env).stdout.strip() == "photo.png (input)"
    other = tmp_path / "b" / "photo.png"
    other.parent.mkdir()
    other.write_bytes(tiny_png((0, 0, 255)))
    assert upload(comfy_double.url, other, env=pack_env).stdout.strip() == "photo (1).png (input)"
    assert upload(comfy_double.url, other, "--overwrite", env=pack_env).stdout.strip() == "photo.png (input)"
    assert comfy_double.files[("input", "", "photo.png")] == other.read_bytes()


def test_subfolder_is_sanitised_and_used(comfy_double, png, pack_env):
    r = upload(comfy_double.url, png, "--subfolder", "../../a/./b", "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["subfolder"], out["ref"]) == ("a/b", "a/b/photo.png")


def test_upload_name_is_sanitised(comfy_double, tmp_path, pack_env):
    weird = tmp_path / 'a:b*c?.png'
    weird.write_bytes(tiny_png())
    out = json.loads(upload(comfy_double.url, weird, "--json", env=pack_env).stdout)
    assert out["name"] == "a_b_c_.png"


def test_mask_goes_to_upload_mask_with_original_ref(comfy_double, png, tmp_path, pack_env):
    upload(comfy_double.url, png, "--subfolder", "p", env=pack_env)
    mask = tmp_path / "photo_mask.png"
    mask.write_bytes(tiny_png((0, 0, 0)))
    r = upload(comfy_double.url, mask, "--mask", "--original", "p/photo.png", "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["name"] == "photo_mask.png"
    assert ("POST", "/upload/mask") in [(m, p) for m, p, _ in comfy_double.requests]


def test_mask_of_a_missing_original_is_refused(comfy_double, png, pack_env):
    r = upload(comfy_double.url, png, "--mask", "--original", "never-uploaded.png", env=pack_env)
    assert r.returncode == 2
    assert "never-uploaded.png" in r.stderr and "upload the original first" in r.stderr


@pytest.mark.parametrize("content,words", [(b"just text\n", "not an image"), (b"", "empty")])
def test_non_image_is_refused_before_sending(comfy_double, tmp_path, pack_env, content, words):
    bad = tmp_path / "fake.png"
    bad.write_bytes(content)
    r = upload(comfy_double.url, bad, env=pack_env)
    assert r.returncode == 2
    assert words in r.stderr and "fake.png" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not [p for _, p, _ in comfy_double.requests if p.startswith("/upload")]


@pytest.mark.parametrize("magic", [b"\xff\xd8\xff\xe0", b"RIFF\0\0\0\0WEBPVP8 ", b"GIF89a", b"BM", b"II*\x00",
                                   b"MM\x00*"])
def test_every_image_kind_is_accepted(comfy_double, tmp_path, pack_env, magic):
    f = tmp_path / "x.img"
    f.write_bytes(magic + b"\0" * 32)
    assert upload(comfy_double.url, f, env=pack_env).returncode == 0


def test_missing_file_and_folder(comfy_double, tmp_path, pack_env):
    r = upload(comfy_double.url, tmp_path / "nope.png", env=pack_env)
    assert r.returncode == 2 and "no such file" in r.stderr
    r = upload(comfy_double.url, tmp_path, env=pack_env)
    assert r.returncode == 2 and "folder" in r.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file(comfy_double, png, pack_env):
    png.chmod(0)
    r = upload(comfy_double.url, png, env=pack_env)
    assert r.returncode == 2 and "permission denied" in r.stderr


def test_mask_without_original_is_a_usage_error(comfy_double, png, pack_env):
    r = upload(comfy_double.url, png, "--mask", env=pack_env)
    assert r.returncode == 2 and "--original" in r.stderr


def test_server_refusal_is_exit_4(comfy_double, png, pack_env):
    comfy_double.fail("/upload/image", 500)
    r = upload(comfy_double.url, png, env=pack_env)
    assert r.returncode == 4
    assert "HTTP 500" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.live
def test_live_upload_image_and_mask(live_url, tmp_path, pack_env):
    stamp = uuid.uuid4().hex[:8]
    image = tmp_path / f"skills-test-{stamp}.png"
    image.write_bytes(tiny_png((10, 200, 10)))
    r = upload(live_url, image, "--subfolder", "skills-tests", "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["ref"] == f"skills-tests/{image.name}"
    view = requests.get(live_url + "/view", params={"filename": image.name, "subfolder": "skills-tests",
                                                    "type": "input"}, timeout=30)
    assert view.content == image.read_bytes()
    mask = tmp_path / f"skills-test-{stamp}_mask.png"
    mask.write_bytes(tiny_png((0, 0, 0)))
    r = upload(live_url, mask, "--mask", "--original", out["ref"], "--subfolder", "skills-tests", "--json",
               env=pack_env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["name"] == mask.name
    r = upload(live_url, mask, "--mask", "--original", f"missing-{stamp}.png", env=pack_env)
    assert r.returncode == 2

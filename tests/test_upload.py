import json
import os
import subprocess
import time
import uuid

import pytest
import requests

from conftest import closed_port, script
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
    assert "asset" not in out  # the shared servers run without --enable-assets


@pytest.mark.live
def test_live_upload_names_the_asset_a_server_with_assets_registered(comfy_home, tmp_path, pack_env):
    # ComfyUI 0.33.0 started with --enable-assets registers every upload as an asset (server.py
    # image_upload) and says so in its answer; upload.py passes it on
    if "--enable-assets" not in (comfy_home / "comfy" / "cli_args.py").read_text():
        pytest.skip(f"the ComfyUI in {comfy_home} has no --enable-assets")
    base = tmp_path / "comfy"
    for d in ("input", "output", "temp", "user", "models/checkpoints", "custom_nodes"):
        (base / d).mkdir(parents=True)
    port = closed_port()
    with open(base / "server.log", "wb") as log:
        proc = subprocess.Popen([str(comfy_home / ".venv/bin/python"), "main.py", "--cpu", "--listen", "127.0.0.1",
                                 "--port", str(port), "--base-directory", str(base), "--enable-assets",
                                 "--database-url", f"sqlite:///{base / 'assets.db'}"],
                                cwd=comfy_home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + 180
        while time.monotonic() < end and proc.poll() is None:
            try:
                if requests.get(url + "/features", timeout=2).json().get("assets") is True:
                    break
            except (requests.RequestException, ValueError):
                time.sleep(0.5)
        else:
            pytest.fail(f"our ComfyUI with --enable-assets did not come up; see {base / 'server.log'}")
        image = tmp_path / "asset-me.png"
        image.write_bytes(tiny_png((40, 90, 200)))
        r = upload(url, image, "--json", env=pack_env)
        assert r.returncode == 0, r.stderr
        asset = json.loads(r.stdout)["asset"]
        assert asset["name"] == "asset-me.png" and asset["size"] == image.stat().st_size
        assert asset["asset_hash"].startswith("blake3:") and "input" in asset["tags"]
        listed = requests.get(f"{url}/api/assets/{asset['id']}", timeout=10).json()
        assert listed["id"] == asset["id"]  # the id is the server's own
        r = upload(url, image, env=pack_env)
        assert r.returncode == 0 and f"asset {asset['id']}" in r.stdout  # the same bytes: the same asset
    finally:
        proc.kill()
        proc.wait(10)

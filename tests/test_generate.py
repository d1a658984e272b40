"""generate.py: from one sentence to files, on the models the server has.

Against the double, which serves the template index and the template files recorded from a real
ComfyUI 0.3.64 (templates 0.1.95): default (SD1.5), sdxl_simple_example, flux_schnell,
image_qwen_image_edit_2509 and the partner template api_bfl_flux_pro_t2i.
"""

import json
from pathlib import Path

import pytest

from conftest import ROOT, closed_port, script
from comfyui_skills import generate

SD15 = "tiny-random-sd15.safetensors"
PNG = ROOT / "projects" / "examples" / "inputs" / "swatch.png"


def with_sd15(double):
    double.add_model("checkpoints", SD15, "CheckpointLoaderSimple.ckpt_name")


def gen(double, env, *args):
    return script("generate", *args, "--url", double.url, env=env)


def test_a_sentence_becomes_the_sd15_template_on_the_installed_checkpoint(comfy_double, pack_env):
    with_sd15(comfy_double)
    r = gen(comfy_double, pack_env, "a red fox in the snow", "--size", "64x64", "--steps", "2", "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["template"] == "default" and out["task"] == "text-to-image"
    assert out["models"] == [{"name": SD15, "folder": "checkpoints", "family": "sd15",
                              "swapped_from": "v1-5-pruned-emaonly-fp16.safetensors"}]
    wf = out["workflow"]
    by_class = {n["class_type"]: n["inputs"] for n in wf.values()}
    assert by_class["CheckpointLoaderSimple"]["ckpt_name"] == SD15
    assert by_class["EmptyLatentImage"]["width"] == 64 and by_class["KSampler"]["steps"] == 2
    texts = [n["inputs"]["text"] for n in wf.values() if n["class_type"] == "CLIPTextEncode"]
    assert "a red fox in the snow" in texts
    assert by_class["KSampler"]["cfg"] == 8 and by_class["KSampler"]["sampler_name"] == "euler"  # the template's own
    assert "stands in for the template's v1-5-pruned-emaonly-fp16.safetensors" in r.stderr
    assert not comfy_double.posted  # a dry run queues nothing


def test_it_runs_and_downloads_the_picture(comfy_double, pack_env, tmp_path):
    with_sd15(comfy_double)
    r = gen(comfy_double, pack_env, "a red fox", "--size", "64x64", "--steps", "2", "--out", tmp_path / "o", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "success"
    [png] = out["outputs"]
    assert Path(png["path"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    [posted] = comfy_double.posted
    assert any(n["inputs"].get("text") == "a red fox" for n in posted["prompt"].values())


def test_two_runs_without_a_seed_get_different_seeds(comfy_double, pack_env):
    # the template's own seed would make the second run a cached copy of the first
    with_sd15(comfy_double)
    seeds = []
    for _ in range(2):
        out = json.loads(gen(comfy_double, pack_env, "a fox", "--dry-run", "--json").stdout)
        seeds.append(next(n["inputs"]["seed"] for n in out["workflow"].values() if n["class_type"] == "KSampler"))
    assert seeds[0] != seeds[1]


def test_nothing_installed_names_the_best_template_its_files_and_the_fetch_command(comfy_double, pack_env):
    r = gen(comfy_double, pack_env, "a red fox", "--json")
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["error"] == "NothingRunnable" and out["template"]
    assert out["missing"] and all(m["name"] and m["directory"] for m in out["missing"])
    assert all(c.startswith("python scripts/models.py download ") for c in out["commands"])
    assert "Traceback" not in r.stderr and "nothing installed on this server can do text-to-image" in r.stderr


def test_nothing_installed_ends_with_the_command_that_gets_the_quickest_template(comfy_double, pack_env):
    # of the text-to-image templates the double serves (default: SD1.5 2.1 GB, sdxl_simple_example,
    # flux_schnell: 17 GB), the one with the least to download, whatever the strongest is
    r = gen(comfy_double, pack_env, "a red fox")
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert lines[-1] == f"  $ python scripts/models.py need --template default --download --url {comfy_double.url}"
    assert "the quickest to get is default" in lines[0] and "1 file(s), about 2.1 GB" in lines[0]
    assert "v1-5-pruned-emaonly-fp16.safetensors -> models/checkpoints/ (2.1 GB)" in r.stderr
    out = json.loads(gen(comfy_double, pack_env, "a red fox", "--json").stdout)
    assert out["template"] == "default" and out["download_bytes"] == 2_100_000_000
    assert out["fetch"] == f"python scripts/models.py need --template default --download --url {comfy_double.url}"

    # the command runs: the double's checkpoints folder is on no machine here and it has no
    # Manager, so it prints what to run where the server lives, and the template is not runnable yet
    words = out["fetch"].split()[2:]
    r = script("models", *words, "--json", env=pack_env)
    assert r.returncode == 1, r.stderr
    done = json.loads(r.stdout)
    assert [d["how"] for d in done["downloads"]] == ["commands"] and done["runnable"] is False
    assert any(c.startswith("hf download Comfy-Org/stable-diffusion-v1-5-archive v1-5-pruned-emaonly-fp16.safetensors")
               for c in done["downloads"][0]["commands"])


def test_partner_templates_are_never_chosen_unasked(comfy_double, pack_env):
    with_sd15(comfy_double)
    r = gen(comfy_double, pack_env, "a red fox", "--template", "api_bfl_flux_pro_t2i", "--dry-run")
    assert r.returncode == 1 and "spend credits" in r.stderr and "--allow-api" in r.stderr
    assert not comfy_double.posted


@pytest.mark.parametrize("args,expect", [
    (["--template", "defualt"], "did you mean"),
    (["--size", "64by64"], "--size '64by64'"),
    (["--size", "65x64"], "multiple of 8"),
    (["--image", "README.md"], "not an image"),
    (["--image", "no/such.png"], "no such file"),
])
def test_odd_requests_get_one_clear_line(comfy_double, pack_env, args, expect):
    with_sd15(comfy_double)
    r = gen(comfy_double, pack_env, "a red fox", *args, "--dry-run")
    assert r.returncode == 2, r.stderr
    assert expect in r.stderr.lower() or expect in r.stderr
    assert "Traceback" not in r.stderr


def test_an_unknown_task_is_refused_with_the_known_ones(comfy_double, pack_env):
    r = gen(comfy_double, pack_env, "a red fox", "--task", "painting")
    assert r.returncode == 2 and "text-to-image" in r.stderr


def test_with_the_server_down_it_chooses_from_the_snapshot_and_exports(comfy_double, pack_env):
    with_sd15(comfy_double)
    assert script("inventory", "--url", comfy_double.url, env=pack_env).returncode == 0
    url = f"127.0.0.1:{closed_port()}"
    r = script("generate", "a red fox", "--url", url, "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "offline" and Path(out["path"]).is_file()
    exported = json.loads(Path(out["path"]).read_text())
    assert any(n["inputs"].get("text") == "a red fox" for n in exported.values())


@pytest.mark.parametrize("request_text,image,task", [
    ("make me a picture of a lighthouse at dawn", False, "text-to-image"),
    ("a 5-second video of waves", False, "text-to-video"),
    ("a short piano loop", False, "text-to-audio"),
    ("upscale this", True, "upscale"),
    ("turn this photo into a watercolour", True, "image-edit"),
    ("animate it", True, "image-to-video"),
    ("a cat", True, "image-to-image"),
])
def test_the_task_is_read_from_the_words(request_text, image, task):
    assert generate.infer_task(request_text, image) == task


def test_an_edit_nothing_installed_can_do_falls_back_to_image_to_image_and_says_so(comfy_double, pack_env):
    with_sd15(comfy_double)
    r = gen(comfy_double, pack_env, "turn it into a watercolour", "--image", PNG, "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["task"] == "image-to-image" and out["template"] == "image2image"
    assert "done as image-to-image instead" in out["why"][0]
    loads = [n["inputs"]["image"] for n in out["workflow"].values() if n["class_type"] == "LoadImage"]
    assert loads == [str(PNG)]  # run.py's pipeline uploads it before queueing


def test_a_chosen_template_that_cannot_run_says_so_not_that_the_task_cannot(comfy_double, pack_env):
    with_sd15(comfy_double)  # SD1.5 can do text-to-image here; flux_schnell's file is missing
    r = gen(comfy_double, pack_env, "a red fox", "--template", "flux_schnell", "--dry-run")
    assert r.returncode == 1
    assert "template flux_schnell" in r.stderr and "cannot run on this server yet" in r.stderr
    assert "nothing installed on this server can do" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("  $ python scripts/models.py need --template flux_schnell "
                                                        "--download")


def test_the_quickest_template_is_compared_at_the_precision_sizes_are_published():
    # As on a real 0.3.64 with nothing installed: Lotus Depth (tagged text to image; a depth
    # model on an SD1.5 VAE) totals 2.06 GB in the index, SD1.5's one file is "2.1 GB" in the
    # pack's data. At two figures they are equal, and the template needing fewer files wins.
    import gzip
    from comfyui_skills import templates

    oi = json.loads(gzip.decompress((ROOT / "tests" / "recordings" / "object_info.json.gz").read_bytes()))
    recorded = json.loads(gzip.decompress((ROOT / "tests" / "recordings" / "templates" / "templates.json.gz")
                                          .read_bytes()))["/templates/default.json"]["body"]

    def template(name, size):
        return templates.Template(name, name, "", "Image", "", "image", "image", "webp", size_bytes=size)

    lotus = {"nodes": [
        {"id": 1, "type": "UNETLoader", "widgets_values": ["lotus-depth-d-v1-1.safetensors", "default"],
         "properties": {"models": [{"name": "lotus-depth-d-v1-1.safetensors", "directory": "diffusion_models",
                                    "url": "https://huggingface.co/Comfy-Org/lotus/resolve/main/lotus-depth-d-v1-1.safetensors"}]}},
        {"id": 2, "type": "VAELoader", "widgets_values": ["vae-ft-mse-840000-ema-pruned.safetensors"]}]}
    fits = [generate.fit(template("image_lotus_depth_v1_1", 2_060_000_000), lotus, oi, {}),
            generate.fit(template("default", 2_132_696_762), recorded, oi, {})]
    err = generate._nothing_runnable(fits[0], "text-to-image", ranked=fits)
    assert err.details["template"] == "default" and len(err.details["missing"]) == 1
    assert str(err.details["fetch"]) == "python scripts/models.py need --template default --download"

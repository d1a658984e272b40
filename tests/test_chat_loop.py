"""The chat loop against the test double: records that end in their real status, contact sheets
for runs that make several files, earlier outputs as inputs (last, last:N), the gallery."""

import json
from pathlib import Path

from conftest import ROOT, script

SOLID = ROOT / "projects" / "examples" / "workflows" / "solid-color.json"


def run(double, env, *args):
    r = script("run", *map(str, args), "--url", double.url, "--json", env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def records(env):
    folder = Path(env["COMFYUI_SKILLS_STATE"]) / "runs"
    return [json.loads(p.read_text()) for p in folder.glob("*.json")]


def test_a_finished_run_records_success_its_outputs_and_what_it_filled(comfy_double, pack_env):
    out = run(comfy_double, pack_env, SOLID, "--set", "1.color=255")
    (rec,) = records(pack_env)
    assert rec["status"] == "success" and rec["prompt_id"] == out["prompt_id"]
    assert [o["path"] for o in rec["outputs"]] == [str(Path(o["path"]).resolve()) for o in out["outputs"]]
    assert rec["filled"] == {"1.color": 255} == out["filled"]


def test_a_sweep_writes_one_labelled_contact_sheet_and_last_n_counts_the_whole_command(comfy_double, pack_env):
    from PIL import Image

    out = run(comfy_double, pack_env, SOLID, "--sweep", "1.color=0,255,65280")
    sheet = out["contact_sheet"]
    assert Path(sheet).is_file() and len(out["runs"]) == 3
    with Image.open(sheet) as im:
        assert im.width > 2 * 64 and im.height > 2 * 64  # 3 tiles: a 2x2 grid
    third = out["runs"][2]["outputs"][0]["path"]
    again = script("preview", "last:3", "last:1", "--json", env=pack_env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["files"][0] == str(Path(third).resolve())
    bad = script("preview", "last:9", env=pack_env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "made 3 file(s); give last:1 to last:3" in bad.stderr


def test_the_gallery_lists_every_output_newest_first_with_its_settings(comfy_double, pack_env):
    run(comfy_double, pack_env, SOLID, "--set", "1.color=1")
    second = run(comfy_double, pack_env, SOLID, "--set", "1.color=2")
    r = script("gallery", "--json", "--since", "today", env=pack_env)
    assert r.returncode == 0, r.stderr
    g = json.loads(r.stdout)
    assert g["count"] == 2 and g["outputs"][0]["prompt_id"] == second["prompt_id"]
    assert g["outputs"][0]["filled"] == {"1.color": 2}
    page = Path(pack_env["COMFYUI_SKILLS_PROJECTS"]) / "default" / "gallery.html"
    assert page.is_file()  # the runs wrote it
    text = page.read_text()
    assert text.count('class="item"') == 2 and second["prompt_id"] in text


def test_again_with_an_output_file_remakes_it(comfy_double, pack_env):
    first = run(comfy_double, pack_env, SOLID, "--set", "1.color=77")
    path = first["outputs"][0]["path"]
    again = run(comfy_double, pack_env, "--again", path)
    assert again["prompt_id"] != first["prompt_id"]
    sent = comfy_double.history[again["prompt_id"]]["prompt"][2]
    assert sent["1"]["inputs"]["color"] == 77


CHECKPOINT = "v1-5-pruned-emaonly-fp16.safetensors"


def one_line_refusal(r, code=2):
    assert r.returncode == code, r.stderr
    assert "Traceback" not in r.stderr
    return r.stderr.strip().splitlines()[-1]


def test_odd_input_gets_one_line(comfy_double, pack_env, tmp_path):
    from PIL import Image

    comfy_double.add_model("checkpoints", CHECKPOINT, "CheckpointLoaderSimple.ckpt_name")
    loras = tmp_path / "loras"
    loras.mkdir()
    (loras / "notalora.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}garbage")
    comfy_double.model_paths["loras"] = [str(loras)]
    comfy_double.add_model("loras", "notalora.safetensors", "LoraLoader.lora_name", "LoraLoaderModelOnly.lora_name")
    env = dict(pack_env, COMFYUI_URL=comfy_double.url)
    r = script("generate", "a fox", "--lora", "notalora:0.7", env=env)
    assert "--lora notalora.safetensors: not a" in one_line_refusal(r)
    picture = tmp_path / "in.png"
    Image.new("RGB", (64, 48)).save(picture)
    mask = tmp_path / "mask.png"
    Image.new("RGB", (32, 32)).save(mask)
    line = one_line_refusal(script("generate", "a fox", "--image", str(picture), "--mask", str(mask), env=env))
    assert "32x32, but the image" in line and "64x48" in line
    line = one_line_refusal(script("generate", "a fox", "--image", str(picture), "--region", "middle", env=env))
    assert "--region 'middle': no such region" in line
    line = one_line_refusal(script("generate", "a fox", "--image", "last:2", env=env))
    assert "project default has no outputs yet" in line
    assert not list((Path(pack_env["COMFYUI_SKILLS_STATE"]) / "runs").glob("*.json")) if \
        (Path(pack_env["COMFYUI_SKILLS_STATE"]) / "runs").is_dir() else True  # nothing was queued


def test_a_workflow_that_cannot_inpaint_is_refused_with_the_reason_not_run_unmasked(comfy_double, pack_env,
                                                                                       tmp_path):
    from PIL import Image

    picture = tmp_path / "in.png"
    Image.new("RGB", (64, 64)).save(picture)
    wf = tmp_path / "invert.json"
    wf.write_text(json.dumps({"1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
                              "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
                              "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "i"}}}))
    r = script("run", str(wf), "--image", str(picture), "--region", "top", "--url", comfy_double.url, env=pack_env)
    line = one_line_refusal(r, code=1)
    assert "cannot inpaint with this workflow: no sampler takes a latent encoded from the input image" in line
    assert "nothing was run" in line and "--task image-to-image" in line
    assert not comfy_double.history


def test_a_dry_run_shows_the_lora_and_mask_in_the_graph(comfy_double, pack_env, tmp_path):
    from PIL import Image

    comfy_double.add_model("checkpoints", CHECKPOINT, "CheckpointLoaderSimple.ckpt_name")
    comfy_double.add_model("loras", "detail_style.safetensors", "LoraLoader.lora_name", "LoraLoaderModelOnly.lora_name")
    picture = tmp_path / "in.png"
    Image.new("RGB", (64, 48)).save(picture)
    r = script("generate", "a stormy sky", "--image", str(picture), "--region", "top-half", "--lora",
               "detail_style:0.6", "--dry-run", "--json", "--url", comfy_double.url, env=pack_env)
    assert r.returncode == 0, r.stderr
    wf = json.loads(r.stdout)["workflow"]
    classes = [n["class_type"] for n in wf.values()]
    assert {"LoraLoader", "LoadImageMask", "SetLatentNoiseMask", "ImageCompositeMasked"} <= set(classes)
    assert next(n for n in wf.values() if n["class_type"] == "LoraLoader")["inputs"]["strength_model"] == 0.6
    # the edit keeps the input's size: a template scales to it; the pack's inpaint recipe encodes the
    # input as it is (no node scales it to another size)
    scales = [n for n in wf.values() if n["class_type"].startswith("ImageScale")]
    assert all(n["class_type"] == "ImageScale" and (n["inputs"]["width"], n["inputs"]["height"]) == (64, 48)
               for n in scales), scales
    comp = next(n for n in wf.values() if n["class_type"] == "ImageCompositeMasked")  # outside the mask: the input
    assert wf[comp["inputs"]["destination"][0]]["class_type"] == "LoadImage"
    assert not comfy_double.history

"""identify: every installed file identified once (header first), kept in the snapshot, and what
generate.py chooses from it.

Model files are real headers (the key sets ComfyUI's detection reads, support/model_files.py) whose
data is a sparse hole, named as community files are: nothing in the name says the family.
"""

import json
import os
import time

import pytest

from conftest import script
from comfyui_skills import families, identify
from support.model_files import (CASES, FLUX_DEV, SD15_UNET, SD_VAE, SDXL_UNET, WAN_14B, prefixed,
                                 write_safetensors)

SD15_CKPT, SDXL_CKPT = CASES["sd15-checkpoint"][0], CASES["sdxl-checkpoint"][0]
LORA_SDXL = CASES["lora-sdxl-kohya"][0]


def tree(tmp_path, files):
    """{folder: {name: spec or (spec, full)}} written under tmp_path/models; returns the roots."""
    roots = {}
    for folder, names in files.items():
        base = tmp_path / "models" / folder
        base.mkdir(parents=True, exist_ok=True)
        roots[folder] = [str(base)]
        for name, spec in names.items():
            spec, full = spec if isinstance(spec, tuple) else (spec, True)
            write_safetensors(base / name, spec, full=full)
    return roots


def listing_of(roots):
    return {f: sorted(os.listdir(paths[0])) for f, paths in roots.items()}


def test_community_names_are_identified_by_their_header(tmp_path):
    roots = tree(tmp_path, {"checkpoints": {"analogMadness_v70.safetensors": SD15_CKPT,
                                            "portrait_blend_v2.safetensors": SDXL_CKPT,
                                            "half_done.safetensors": (SDXL_CKPT, False)},
                            "loras": {"detail_slider.safetensors": LORA_SDXL}})
    found = identify.identify_listing(listing_of(roots), roots=roots)
    ck = found["checkpoints"]
    assert (ck["analogMadness_v70.safetensors"].recipe_family, ck["analogMadness_v70.safetensors"].how) == \
        ("sd15", "header")
    assert (ck["portrait_blend_v2.safetensors"].recipe_family, ck["portrait_blend_v2.safetensors"].kind) == \
        ("sdxl", "checkpoint")
    assert "shorter than its header" in ck["half_done.safetensors"].problem
    assert not ck["half_done.safetensors"].usable
    lora = found["loras"]["detail_slider.safetensors"]
    assert (lora.family, lora.kind) == ("sdxl", "lora")


def test_files_sharing_a_tensor_table_keep_their_own_name_metadata_and_completeness(tmp_path):
    roots = tree(tmp_path, {"checkpoints": {"a_plain_one.safetensors": SDXL_CKPT,
                                            "ponyRealism_v2.safetensors": SDXL_CKPT,
                                            "z_cut.safetensors": (SDXL_CKPT, False)}})
    write_safetensors(tmp_path / "models" / "checkpoints" / "b_spec.safetensors", SDXL_CKPT,
                      metadata={"modelspec.architecture": "stable-diffusion-xl-v1-base",
                                "modelspec.title": "Illustrious XL"})
    found = identify.identify_listing(listing_of(roots), roots=roots)["checkpoints"]
    assert [found[n].recipe_family for n in sorted(found)] == ["sdxl", "illustrious", "pony", "sdxl"]
    assert [bool(found[n].problem) for n in sorted(found)] == [False, False, False, True]


def test_a_file_not_readable_here_is_known_by_view_metadata_else_by_name():
    asked = []

    def metadata_of(folder, name):
        asked.append(name)
        return {"modelspec.architecture": "stable-diffusion-xl-v1-base"} if name == "mystery.safetensors" else None

    found = identify.identify_listing({"checkpoints": ["mystery.safetensors", "flux1-schnell.safetensors"]},
                                      metadata_of=metadata_of)["checkpoints"]
    assert (found["mystery.safetensors"].family, found["mystery.safetensors"].how) == ("sdxl", "metadata")
    assert (found["flux1-schnell.safetensors"].family, found["flux1-schnell.safetensors"].how) == ("flux1", "name")
    assert asked == ["mystery.safetensors", "flux1-schnell.safetensors"]


def test_only_files_whose_size_or_time_changed_are_read_again(tmp_path):
    roots = tree(tmp_path, {"checkpoints": {"a.safetensors": SD15_CKPT, "b.safetensors": SD15_CKPT}})
    first = identify.to_record(identify.identify_listing(listing_of(roots), roots=roots))
    # what the snapshot holds for a is kept as long as its size and time are the same
    first["checkpoints"]["a.safetensors"]["family"] = "remembered"
    b = tmp_path / "models" / "checkpoints" / "b.safetensors"
    write_safetensors(b, SDXL_CKPT)
    os.utime(b, (time.time() + 5, time.time() + 5))
    again = identify.identify_listing(listing_of(roots), roots=roots, previous=first)["checkpoints"]
    assert again["a.safetensors"].family == "remembered"
    assert again["b.safetensors"].family == "sdxl"


def test_z_image_and_flux2_components_named_as_the_official_files():
    ids = identify.Identities(identify.identify_listing({
        "text_encoders": ["qwen_3_4b.safetensors", "mistral_3_small_flux2_fp8.safetensors"],
        "vae": ["flux2-vae.safetensors"], "diffusion_models": ["z_image_turbo_bf16.safetensors"]}))
    assert ids.of("qwen_3_4b.safetensors", "text_encoders").family == "te:qwen3_4b"
    assert ids.of("mistral_3_small_flux2_fp8.safetensors", "text_encoders").family == "te:mistral3_24b"
    assert ids.of("flux2-vae.safetensors", "vae").family == "vae:flux2"
    assert ids.family_of("z_image_turbo_bf16.safetensors", "diffusion_models") == "z-image"


# -- through the scripts, against the double -----------------------------------------------------

def on_disk(double, tmp_path, files):
    """The double lists these files from disk, at the paths /experiment/models gives."""
    roots = tree(tmp_path, files)
    loaders = {"checkpoints": ("CheckpointLoaderSimple.ckpt_name",), "loras": ("LoraLoader.lora_name",)}
    for folder, paths in roots.items():
        double.model_paths[folder] = paths
        double.lists_disk(folder, *loaders.get(folder, ()))
    return roots


def test_snapshot_keeps_each_files_identity_and_models_shows_it(comfy_double, pack_env, tmp_path):
    on_disk(comfy_double, tmp_path, {"checkpoints": {"analogMadness_v70.safetensors": SD15_CKPT,
                                                     "half_done.safetensors": (SDXL_CKPT, False)}})
    r = script("inventory", "--url", comfy_double.url, env=pack_env)
    assert r.returncode == 0, r.stderr
    r = script("inventory", "models", "checkpoints", "--json", env=pack_env)
    files = {e["name"]: e for e in json.loads(r.stdout)["folders"]["checkpoints"]}
    assert (files["analogMadness_v70.safetensors"]["family"], files["analogMadness_v70.safetensors"]["how"]) == \
        ("sd15", "header")
    assert "shorter than its header" in files["half_done.safetensors"]["problem"]
    text = script("inventory", "models", "checkpoints", env=pack_env).stdout
    assert "analogMadness_v70.safetensors" in text and "sd15 checkpoint (by header" in text
    assert "NOT USABLE" in text


def gen(double, env, *args):
    return script("generate", *args, "--url", double.url, env=env)


def test_a_community_sdxl_file_alone_gets_the_sdxl_recipe_at_sdxl_size(comfy_double, pack_env, tmp_path):
    on_disk(comfy_double, tmp_path, {"checkpoints": {"portrait_blend_v2.safetensors": SDXL_CKPT}})
    r = gen(comfy_double, pack_env, "a red fox", "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["recipe"] == "sdxl"
    by_class = {n["class_type"]: n["inputs"] for n in out["workflow"].values()}
    assert by_class["CheckpointLoaderSimple"]["ckpt_name"] == "portrait_blend_v2.safetensors"
    assert (by_class["EmptyLatentImage"]["width"], by_class["EmptyLatentImage"]["height"]) == (1024, 1024)
    assert "known by its header" in r.stderr


def test_a_community_sd15_file_keeps_the_official_sd15_template(comfy_double, pack_env, tmp_path):
    # the double serves templates 0.1.95, whose `default` is SD1.5: the official settings win
    on_disk(comfy_double, tmp_path, {"checkpoints": {"analogMadness_v70.safetensors": SD15_CKPT}})
    out = json.loads(gen(comfy_double, pack_env, "a red fox", "--dry-run", "--json").stdout)
    assert out["template"] == "default" and out["recipe"] is None
    assert out["models"][0]["name"] == "analogMadness_v70.safetensors"


def test_a_truncated_file_is_never_chosen(comfy_double, pack_env, tmp_path):
    on_disk(comfy_double, tmp_path, {"checkpoints": {"half_done.safetensors": (SD15_CKPT, False)}})
    r = gen(comfy_double, pack_env, "a red fox", "--dry-run", "--json")
    assert r.returncode == 1
    assert "half_done" not in json.dumps(json.loads(r.stdout).get("workflow") or {})


@pytest.mark.parametrize("files, model, expect", [
    ({"loras": {"detail_slider.safetensors": LORA_SDXL}}, "detail_slider.safetensors", "is a LoRA (sdxl)"),
    ({"checkpoints": {"half_done.safetensors": (SD15_CKPT, False)}}, "half_done.safetensors",
     "shorter than its header"),
    ({"checkpoints": {"video.safetensors": CASES["wan21-t2v-1.3b"][0]}}, "video.safetensors",
     "no recipe of the pack covers"),
    ({"checkpoints": {"a.safetensors": SD15_CKPT}}, "nope.safetensors", "no installed model file"),
])
def test_odd_model_choices_get_one_line(comfy_double, pack_env, tmp_path, files, model, expect):
    on_disk(comfy_double, tmp_path, files)
    r = gen(comfy_double, pack_env, "a red fox", "--model", model, "--dry-run")
    assert r.returncode == 2, r.stderr
    assert expect in r.stderr and "Traceback" not in r.stderr


def test_model_forces_the_recipe_of_its_family(comfy_double, pack_env, tmp_path):
    on_disk(comfy_double, tmp_path, {"checkpoints": {"analogMadness_v70.safetensors": SD15_CKPT,
                                                     "portrait_blend_v2.safetensors": SDXL_CKPT}})
    out = json.loads(gen(comfy_double, pack_env, "a red fox", "--model", "portrait_blend_v2.safetensors",
                         "--dry-run", "--json").stdout)
    assert out["recipe"] == "sdxl"
    assert [m["name"] for m in out["models"]] == ["portrait_blend_v2.safetensors"]


# -- run it with what I have ---------------------------------------------------------------------

SDXL_WORKFLOW = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
    "10": {"class_type": "LoraLoader", "inputs": {"model": ["4", 0], "clip": ["4", 1], "lora_name": "gone.safetensors",
                                                  "strength_model": 1.0, "strength_clip": 1.0}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox", "clip": ["10", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["10", 1]}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
    "3": {"class_type": "KSampler", "inputs": {"model": ["10", 0], "seed": 1, "steps": 2, "cfg": 7.0,
                                               "sampler_name": "euler", "scheduler": "normal", "positive": ["6", 0],
                                               "negative": ["7", 0], "latent_image": ["5", 0], "denoise": 1.0}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "t"}},
}


def test_use_installed_swaps_the_checkpoint_for_one_of_its_family_and_leaves_the_lora_out(comfy_double, pack_env,
                                                                                            tmp_path):
    on_disk(comfy_double, tmp_path, {"checkpoints": {"analogMadness_v70.safetensors": SD15_CKPT,
                                                     "portrait_blend_v2.safetensors": SDXL_CKPT}})
    wf = tmp_path / "sdxl.json"
    wf.write_text(json.dumps(SDXL_WORKFLOW))
    assert script("inventory", "--url", comfy_double.url, env=pack_env).returncode == 0
    r = script("validate", wf, env=pack_env)
    assert r.returncode == 1
    assert "installed alternative: portrait_blend_v2.safetensors (same family as sd_xl_base_1.0.safetensors)" \
        in r.stdout
    r = script("models", "need", wf, "--json", "--url", comfy_double.url, env=pack_env)
    need = {m["name"]: m for m in json.loads(r.stdout)["models"]}
    assert need["sd_xl_base_1.0.safetensors"]["alternative"] == "portrait_blend_v2.safetensors"
    assert "alternative" not in need["gone.safetensors"]
    r = script("run", wf, "--use-installed", "--json", "--url", comfy_double.url, env=pack_env)
    assert r.returncode == 0, r.stderr
    assert "node 4 CheckpointLoaderSimple: sd_xl_base_1.0.safetensors is not installed; using " \
           "portrait_blend_v2.safetensors (sdxl checkpoint, known by its header)" in r.stderr
    assert "node 10 LoraLoader: gone.safetensors is not installed; left out" in r.stderr
    [posted] = comfy_double.posted
    prompt = posted["prompt"]
    assert "10" not in prompt and prompt["3"]["inputs"]["model"] == ["4", 0] and prompt["6"]["inputs"]["clip"] == ["4", 1]
    assert prompt["4"]["inputs"]["ckpt_name"] == "portrait_blend_v2.safetensors"


def test_diagnose_names_the_lora_made_for_another_family(pack_env):
    from comfyui_skills import diagnosis

    graph = {"4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
             "10": {"class_type": "LoraLoader", "inputs": {"model": ["4", 0], "clip": ["4", 1],
                                                          "lora_name": "moxin_sd15.safetensors"}}}
    found = diagnosis.classify_exception("RuntimeError: Error(s) in loading state_dict: size mismatch for x", "10",
                                         "LoraLoader", [], diagnosis.Commands(), graph=graph)
    assert found["cause"] == "model_family_mismatch"
    assert "node 10 LoraLoader loads moxin_sd15.safetensors, a LoRA for sd15" in found["summary"]
    assert "sd_xl_base_1.0.safetensors, is sdxl" in found["summary"]


# -- one file, every source: the header decides, metadata and the name fill in ------------------

def test_identify_falls_back_when_file_is_broken(tmp_path):
    path = tmp_path / "flux1-dev.safetensors"
    path.write_bytes(b"version https://git-lfs.github.com/spec/v1\n")
    found = identify.identity(path.name, "diffusion_models", path=str(path))
    assert (found.family, found.variant, found.how) == ("flux1", "dev", "name")
    assert "flux1-dev.safetensors" in found.problem


def test_header_family_refined_by_metadata(tmp_path):
    spec = prefixed("model.diffusion_model.", SDXL_UNET)
    path = write_safetensors(tmp_path / "merge.safetensors", spec,
                             metadata={"modelspec.architecture": "stable-diffusion-xl-v1-base",
                                       "modelspec.title": "Pony Realism"})
    found = identify.identity("merge.safetensors", "checkpoints", path=str(path))
    assert (found.family, found.variant, found.how) == ("sdxl", "pony", "metadata")
    assert "UNet input_blocks" in found.evidence and "pony" in found.evidence


def test_header_wins_over_a_contradicting_name(tmp_path):
    path = write_safetensors(tmp_path / "sdxl_something.safetensors", prefixed("model.diffusion_model.", SD15_UNET))
    found = identify.identity(path.name, "checkpoints", path=str(path))
    assert (found.family, found.how) == ("sd15", "header")
    assert "name says sdxl" in found.evidence


def test_name_refines_what_the_header_cannot_tell(tmp_path):
    vae = write_safetensors(tmp_path / "sdxl_vae.safetensors", SD_VAE)
    found = identify.identity(vae.name, "vae", path=str(vae))
    assert (found.family, found.how) == ("vae:sdxl", "name")
    assert found.confidence > families.CONFIDENCE_NAME  # the header corroborates the architecture
    kontext = write_safetensors(tmp_path / "flux1-kontext-dev.safetensors", FLUX_DEV)
    assert identify.identity(kontext.name, "diffusion_models", path=str(kontext)).variant == "kontext"
    # a name cannot turn a guidance-distilled (dev-style) model into schnell
    wrong = write_safetensors(tmp_path / "flux1-schnell.safetensors", FLUX_DEV)
    found = identify.identity(wrong.name, "diffusion_models", path=str(wrong))
    assert (found.variant, found.how) == ("dev", "header") and "variant schnell" in found.evidence
    wan = write_safetensors(tmp_path / "wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors", WAN_14B)
    found = identify.identity(wan.name, "diffusion_models", path=str(wan))
    assert (found.family, found.variant) == ("wan22", "t2v")
    small = write_safetensors(tmp_path / "wan2.2_t2v_small.safetensors", CASES["wan21-t2v-1.3b"][0])
    assert identify.identity(small.name, "diffusion_models", path=str(small)).family == "wan21"  # no Wan 2.2 1.3B


def test_unknown_name_and_no_other_source():
    assert families.identify_name("my_model.safetensors", "checkpoints") is None
    found = identify.identity("my_model.safetensors", "checkpoints")
    assert (found.family, found.kind, found.how, found.confidence) == ("unknown", "checkpoint", "none", 0.0)


def test_identify_uses_view_metadata_answer_without_a_file():
    # What GET /view_metadata/loras?filename=... returns: the __metadata__ dict.
    found = identify.identity("style.safetensors", "loras", metadata={"ss_base_model_version": "sdxl_base_v1-0"})
    assert (found.family, found.kind, found.how) == ("sdxl", "lora", "metadata")


@pytest.mark.live
def test_live_checkpoints_folder(comfy_home):
    folder = comfy_home / "models" / "checkpoints"
    files = sorted(p for p in folder.glob("*.safetensors"))
    if not files:
        pytest.skip("no .safetensors checkpoints in {}".format(folder))
    for path in files:
        found = identify.identity(path.name, "checkpoints", path=str(path))
        assert found.kind == "checkpoint" or found.kind == "diffusion_model", (path.name, found)
        if "random-sd15" in path.name:
            assert found.family == "sd15" and found.how == "header"

"""The pack's own recipes: every family's graphs, their settings, what a template's graph does,
and the prompting guide.

Offline, graphs are built against the node schemas recorded from real servers: ComfyUI 0.3.64
(tests/recordings/object_info.json.gz) and the node classes the recipes use as 0.3.64 and 0.33.0
served them (tests/recordings/recipes/<version>.json, recorded with tests/support/recipelive.py, which
also holds each server's POST /prompt answer to each graph).
"""

import gzip
import json

import pytest

from conftest import script
from support.double import RECORDINGS
from comfyui_skills import identify, validation
from comfyui_skills.errors import CheckFailed
from comfyui_skills.identify import Identities, Installed
from comfyui_skills.recipes import build, choose, graph_task, guide, table

OBJECT_INFO = json.loads(gzip.decompress((RECORDINGS / "object_info.json.gz").read_bytes()))
FIXTURES = RECORDINGS.parent / "fixtures" / "templates"
RECORDED = {p.stem: json.loads(p.read_text()) for p in sorted((RECORDINGS / "recipes").glob("*.json"))}


def item(name, folder, family, kind, variant=None, parts=(), how="header", problem=None, size=1000):
    return Installed(name, folder, family, kind, how, 0.95, "test", variant, tuple(parts), problem, size, 1.0)


SDXL_PARTS = ("vae:sd", "te:clip_l", "te:clip_g")
INSTALLED = [
    item("analogMadness_v70.safetensors", "checkpoints", "sd15", "checkpoint", parts=("vae:sd", "te:clip_l")),
    item("sd21_thing.safetensors", "checkpoints", "sd2", "checkpoint", parts=("vae:sd", "te:clip_h")),
    item("portrait_blend_v2.safetensors", "checkpoints", "sdxl", "checkpoint", parts=SDXL_PARTS),
    item("ponyDiffusionV6XL.safetensors", "checkpoints", "sdxl", "checkpoint", "pony", SDXL_PARTS),
    item("waiNSFWIllustrious_v140.safetensors", "checkpoints", "sdxl", "checkpoint", "illustrious", SDXL_PARTS),
    item("sd3.5_large_fp8_scaled.safetensors", "checkpoints", "sd3", "checkpoint", "sd35-large",
         ("vae:flux", "te:clip_l", "te:clip_g", "te:t5xxl")),
    item("sd3.5_medium.safetensors", "diffusion_models", "sd3", "diffusion_model", "sd35-medium"),
    item("flux1-dev-fp8.safetensors", "checkpoints", "flux1", "checkpoint", "dev", ("vae:flux", "te:t5xxl")),
    item("flux1-dev.safetensors", "diffusion_models", "flux1", "diffusion_model", "dev"),
    item("flux1-schnell.safetensors", "diffusion_models", "flux1", "diffusion_model", "schnell"),
    item("flux1-dev-kontext_fp8_scaled.safetensors", "diffusion_models", "flux1", "diffusion_model", "kontext"),
    item("flux2_dev_fp8mixed.safetensors", "diffusion_models", "flux2", "diffusion_model"),
    item("Chroma1-HD-fp8_scaled_rev2.safetensors", "diffusion_models", "chroma", "diffusion_model"),
    item("qwen_image_fp8_e4m3fn.safetensors", "diffusion_models", "qwen-image", "diffusion_model"),
    item("qwen_image_edit_fp8_e4m3fn.safetensors", "diffusion_models", "qwen-image", "diffusion_model", "edit"),
    item("z_image_turbo_bf16.safetensors", "diffusion_models", "lumina2", "diffusion_model", "z-image"),
    item("lumina_2_model_bf16.safetensors", "diffusion_models", "lumina2", "diffusion_model"),
    item("hidream_i1_dev_fp8.safetensors", "diffusion_models", "hidream", "diffusion_model"),
    item("clip_l.safetensors", "text_encoders", "te:clip_l", "text_encoder"),
    item("clip_g.safetensors", "text_encoders", "te:clip_g", "text_encoder"),
    item("t5xxl_fp8_e4m3fn_scaled.safetensors", "text_encoders", "te:t5xxl", "text_encoder"),
    item("qwen_2.5_vl_7b_fp8_scaled.safetensors", "text_encoders", "te:qwen25_7b", "text_encoder", "vl"),
    item("qwen_3_4b.safetensors", "text_encoders", "te:qwen3_4b", "text_encoder"),
    item("mistral_3_small_flux2_fp8.safetensors", "text_encoders", "te:mistral3_24b", "text_encoder"),
    item("llama_3.1_8b_instruct_fp8_scaled.safetensors", "text_encoders", "te:llama3_8b", "text_encoder"),
    item("gemma_2_2b_fp16.safetensors", "text_encoders", "te:gemma2_2b", "text_encoder"),
    item("ae.safetensors", "vae", "vae:flux", "vae"),
    item("qwen_image_vae.safetensors", "vae", "vae:qwen-image", "vae"),
    item("flux2-vae.safetensors", "vae", "vae:flux2", "vae"),
    item("RealESRGAN_x4plus.safetensors", "upscale_models", "upscale", "upscale_model"),
]


def identities(items=INSTALLED):
    by = {}
    for i in items:
        by.setdefault(i.folder, {})[i.name] = i
    return Identities(by)


def listing(items=INSTALLED):
    out = {}
    for i in items:
        out.setdefault(i.folder, []).append(i.name)
    return out


def with_files(object_info, items=INSTALLED):
    """object_info whose loader lists show the installed files (as the server's would)."""
    from support.double import with_listed
    from comfyui_skills import models
    listed = {}
    for cls, spec in object_info.items():
        for section in ("required", "optional"):
            for inp in ((spec.get("input") or {}).get(section) or {}):
                folder = models.folder_for(cls, inp)
                if folder:
                    listed[f"{cls}.{inp}"] = [i.name for i in items
                                              if i.folder == folder or {folder, i.folder} <= {"clip", "text_encoders"}
                                              or {folder, i.folder} <= {"unet", "diffusion_models"}]
    listed["LoadImage.image"] = ["example.png"]
    return with_listed(object_info, {k: v for k, v in listed.items() if v})


INFO_064 = with_files(OBJECT_INFO)
MAINS = [i for i in INSTALLED if i.kind in choose.MAIN_KINDS]
CASES = [(i, task) for i in MAINS for task in table.get(i.recipe_family).tasks]


def built(main, task, info=INFO_064):
    opt = choose.option_for(main, task, identities(), info)
    assert opt.runnable, opt.missing
    return build.build(opt.recipe, task, opt.parts, info, prompt="a red fox", seed=1, image="example.png"), opt


def by_class(graph):
    out = {}
    for n in graph.values():
        out.setdefault(n["class_type"], []).append(n["inputs"])
    return out


@pytest.mark.parametrize("main, task", [c for c in CASES if c[0].recipe_family != "flux2"],
                         ids=lambda v: getattr(v, "name", v))
def test_every_family_and_task_builds_a_graph_the_0364_schema_accepts(main, task):
    graph, opt = built(main, task)
    check = validation.validate(graph, INFO_064, models=listing(), input_files=["example.png"])
    assert check["verdict"] == "ok", check["errors"][:2]
    assert main.name in json.dumps(graph)  # the file itself, never a stand-in
    assert any(n["class_type"] == "SaveImage" for n in graph.values())


def test_flux2_on_a_server_without_its_nodes_names_them():
    opt = choose.option_for(MAINS[[m.recipe_family for m in MAINS].index("flux2")], "text-to-image", identities(),
                            INFO_064)
    assert not opt.runnable and "node Flux2Scheduler" in opt.missing


def test_each_family_gets_its_own_settings():
    sd15 = by_class(built(MAINS[0], "text-to-image")[0])
    assert (sd15["EmptyLatentImage"][0]["width"], sd15["KSampler"][0]["cfg"], sd15["KSampler"][0]["steps"]) == \
        (512, 8.0, 20)
    sdxl = by_class(built(MAINS[2], "text-to-image")[0])
    assert sdxl["EmptyLatentImage"][0]["width"] == 1024 and sdxl["KSampler"][0]["sampler_name"] == "dpmpp_2m"
    pony = by_class(built(MAINS[3], "text-to-image")[0])
    assert pony["CLIPSetLastLayer"][0]["stop_at_clip_layer"] == -2
    assert pony["CLIPTextEncode"][0]["text"].startswith("score_9, score_8_up, score_7_up, a red fox")
    flux = by_class(built(next(m for m in MAINS if m.name == "flux1-dev.safetensors"), "text-to-image")[0])
    assert flux["FluxGuidance"][0]["guidance"] == 3.5 and "ConditioningZeroOut" in flux
    assert flux["DualCLIPLoader"][0]["type"] == "flux" and flux["KSampler"][0]["cfg"] == 1.0
    schnell = by_class(built(next(m for m in MAINS if m.name == "flux1-schnell.safetensors"), "text-to-image")[0])
    assert schnell["KSampler"][0]["steps"] == 4 and "FluxGuidance" not in schnell
    qwen = by_class(built(next(m for m in MAINS if m.recipe_family == "qwen-image"), "text-to-image")[0])
    assert qwen["ModelSamplingAuraFlow"][0]["shift"] == 3.1 and qwen["EmptySD3LatentImage"][0]["width"] == 1328
    hidream = by_class(built(next(m for m in MAINS if m.recipe_family == "hidream"), "text-to-image")[0])
    assert [hidream["QuadrupleCLIPLoader"][0][f"clip_name{i}"] for i in range(1, 5)] == [
        "clip_l.safetensors", "clip_g.safetensors", "t5xxl_fp8_e4m3fn_scaled.safetensors",
        "llama_3.1_8b_instruct_fp8_scaled.safetensors"]


def test_a_checkpoint_with_its_own_encoders_loads_nothing_else():
    sd35 = by_class(built(next(m for m in MAINS if m.name.startswith("sd3.5_large")), "text-to-image")[0])
    assert "TripleCLIPLoader" not in sd35 and "VAELoader" not in sd35
    medium = by_class(built(next(m for m in MAINS if m.name == "sd3.5_medium.safetensors"), "text-to-image")[0])
    assert medium["TripleCLIPLoader"][0]["clip_name3"] == "t5xxl_fp8_e4m3fn_scaled.safetensors"


def test_a_family_without_its_text_encoder_names_what_it_lacks():
    bare = [i for i in INSTALLED if i.folder != "text_encoders"]
    opt = choose.option_for(next(m for m in MAINS if m.name == "flux1-dev.safetensors"), "text-to-image",
                            identities(bare), INFO_064)
    assert opt.missing == ["a clip_l text encoder in models/text_encoders", "a t5xxl text encoder in models/text_encoders"]


def test_inpaint_masks_the_latent_with_the_images_alpha_and_outpaint_pads():
    inpaint = by_class(built(MAINS[0], "inpaint")[0])
    assert inpaint["SetLatentNoiseMask"] and inpaint["KSampler"][0]["denoise"] == 1.0
    outpaint = by_class(built(MAINS[2], "outpaint")[0])
    assert outpaint["ImagePadForOutpaint"][0]["left"] == build.OUTPAINT_PAD


def test_upscale_with_an_upscale_model_needs_no_diffusion_model():
    opts = choose.options(identities(), "upscale", INFO_064)
    assert opts[0].recipe.id == "upscale"
    graph = build.build(opts[0].recipe, "upscale", opts[0].parts, INFO_064, prompt="", image="example.png")
    assert {n["class_type"] for n in graph.values()} == {"LoadImage", "UpscaleModelLoader", "ImageUpscaleWithModel",
                                                         "SaveImage"}


def test_what_fits_the_device_comes_before_the_stronger_family():
    small = item("analogMadness_v70.safetensors", "checkpoints", "sd15", "checkpoint", parts=("vae:sd", "te:clip_l"),
                 size=2 * 2**30)
    big = item("qwen_image_fp8_e4m3fn.safetensors", "diffusion_models", "qwen-image", "diffusion_model",
               size=20 * 2**30)
    rest = [i for i in INSTALLED if i.kind not in choose.MAIN_KINDS]
    ids = identities([small, big] + rest)
    assert choose.options(ids, "text-to-image", INFO_064)[0].family == "qwen-image"
    assert choose.options(ids, "text-to-image", INFO_064, memory_bytes=8 * 2**30)[0].family == "sd15"


def test_a_truncated_file_is_never_an_option():
    cut = item("cut.safetensors", "checkpoints", "sdxl", "checkpoint", parts=SDXL_PARTS, problem="truncated")
    assert choose.options(identities([cut]), "text-to-image", INFO_064) == []


def test_a_server_without_the_clip_type_is_refused_in_one_line():
    info = json.loads(json.dumps(INFO_064))
    spec = info["CLIPLoader"]["input"]["required"]["type"]
    spec[0] = [t for t in spec[0] if t != "qwen_image"]
    with pytest.raises(CheckFailed, match="no type 'qwen_image'"):
        built(next(m for m in MAINS if m.recipe_family == "qwen-image"), "text-to-image", info)


# -- what a template's graph does --------------------------------------------------------------

def ui(*types):
    return {"nodes": [{"id": i, "type": t, "mode": 0} for i, t in enumerate(types)]}


def test_lotus_depth_is_never_text_to_image():
    # the real template as ComfyUI 0.33.0 serves it (templates 0.11.44, whose index tags it "Text to Image")
    lotus = json.loads((FIXTURES / "image_lotus_depth_v1_1-0.11.44.json").read_text())
    assert graph_task.tasks_of(lotus, OBJECT_INFO) == set()
    assert not graph_task.does(lotus, "text-to-image", OBJECT_INFO)
    t2i = ui("CheckpointLoaderSimple", "CLIPTextEncode", "EmptyLatentImage", "KSampler", "VAEDecode", "SaveImage")
    assert graph_task.tasks_of(t2i, OBJECT_INFO) == {"text-to-image"}
    inpaint = ui("CheckpointLoaderSimple", "LoadImage", "CLIPTextEncode", "VAEEncodeForInpaint", "KSampler",
                 "VAEDecode", "SaveImage")
    assert {"image-to-image", "inpaint"} <= graph_task.tasks_of(inpaint, OBJECT_INFO)


# -- recorded real servers ---------------------------------------------------------------------

def server_verdict(answer):
    if answer["status"] != 200:
        return "rejected"
    return "partial" if answer["body"].get("node_errors") else "ok"


def with_listed_image(object_info, names):
    """The recorded schema as it was once the test image was uploaded (the recorder uploads it
    after reading /object_info; the server lists it from then on)."""
    from support.double import with_listed
    listed = {f"{cls}.image": names for cls in ("LoadImage", "LoadImageOutput") if cls in object_info}
    return with_listed(object_info, listed) if names else object_info


@pytest.mark.parametrize("version", sorted(RECORDED))
def test_the_real_servers_accepted_every_graph_and_our_check_agrees(version):
    rec = RECORDED[version]
    cases = [c for c in rec["cases"] if "answer" in c]
    assert cases
    refused = [c for c in rec["cases"] if "refused" in c]
    assert all("needs node" in c["refused"] or "no type" in c["refused"] for c in refused), refused
    for c in cases:
        if c["recipe"]:  # the pack's own graphs: accepted whole
            assert c["answer"]["status"] == 200 and not c["answer"]["body"].get("node_errors"), (c["file"], c["task"])
        uploaded = [n["inputs"]["image"] for n in c["workflow"].values() if n["class_type"] in ("LoadImage", "LoadImageOutput")
                    and isinstance(n["inputs"].get("image"), str)]
        check = validation.validate(c["workflow"], with_listed_image(rec["object_info"], uploaded),
                                    server_version=version)
        assert check["verdict"] == server_verdict(c["answer"]), (c["file"], c["task"], check["errors"][:1])
    accepted = {c["family"] for c in cases}
    assert {"pony", "illustrious", "sd2", "sd3", "flux1", "flux1-kontext", "chroma", "qwen-image", "qwen-image-edit",
            "z-image", "lumina2", "hidream"} <= accepted
    # Flux.2's nodes came after 0.3.64: there it is refused in one line, never run as another family
    assert ("flux2" in accepted) == (version != "0.3.64")
    for c in cases:
        assert c["recipe"] in (c["family"], None) and c["file"] in json.dumps(c["workflow"]), (c["file"], c["task"])


@pytest.mark.parametrize("version", sorted(RECORDED))
def test_the_community_sdxl_file_got_the_sdxl_recipe_and_a_real_png_came_out(version):
    rec = RECORDED[version]
    community = rec["community_sdxl"]
    assert community["exit_code"] == 0 and community["chosen"]["recipe"] == "sdxl"
    loaders = [n["inputs"] for n in community["workflow"].values() if n["class_type"] == "CheckpointLoaderSimple"]
    assert loaders[0]["ckpt_name"] == "portrait_blend_v2.safetensors"
    latent = next(n["inputs"] for n in community["workflow"].values() if n["class_type"] == "EmptyLatentImage")
    assert (latent["width"], latent["height"]) == (1024, 1024)
    assert community["answer"]["status"] == 200
    assert rec["png"]["exit_code"] == 0 and rec["png"]["png_ok"]


# -- the guide ---------------------------------------------------------------------------------

def test_the_guide_of_a_family_and_of_a_file(pack_env):
    g = guide.guide("pony")
    assert g["settings"]["clip_skip"] == 2 and "score_9" in g["prompt_style"] and "civitai" in g["source"]
    r = script("models", "guide", "flux1-schnell.safetensors", "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["family"] == "flux1" and out["settings"]["steps"] == 4 and out["settings"]["negative_prompt"] is False
    r = script("models", "guide", "not_a_family", env=pack_env)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "families:" in r.stderr


def test_every_recipe_cites_its_source_and_has_a_guide():
    for r in table.RECIPES:
        assert r.source and r.guide and r.tasks, r.id
        assert r.size in r.buckets, r.id


def test_generate_never_takes_lotus_for_text_to_image_and_builds_the_installed_familys_recipe():
    from comfyui_skills import generate, templates

    lotus = json.loads((FIXTURES / "image_lotus_depth_v1_1-0.11.44.json").read_text())
    index = templates.parse_index([{"moduleName": "default", "title": "Image", "type": "image", "templates": [
        {"name": "image_lotus_depth_v1_1", "title": "Lotus Depth", "mediaType": "image",
         "tags": ["Text to Image", "Image"], "models": ["Lotus"]}]}])
    ck = item("analogMadness_v70.safetensors", "checkpoints", "sd15", "checkpoint", parts=("vae:sd", "te:clip_l"))
    info = with_files(OBJECT_INFO, [ck])
    chosen = generate.plan("a red fox", index, lambda name: lotus, info, listing([ck]), identities=identities([ck]))
    assert chosen.recipe == "sd15" and chosen.template == "recipe:sd15"
    assert [m["name"] for m in chosen.models] == ["analogMadness_v70.safetensors"]
    with pytest.raises(CheckFailed) as nothing:
        generate.plan("a red fox", index, lambda name: lotus, OBJECT_INFO, {}, identities=identities([]))
    assert not isinstance(nothing.value, generate.NothingRunnable)  # Lotus is not proposed to download
    assert "(image_lotus_depth_v1_1) do something else by their graph" in nothing.value.message


def test_image_to_image_on_a_recipe_takes_a_local_image_and_the_size_asked_however_small():
    # ComfyUI 0.9.2 has no SD1.5 image-to-image template: the recipe runs, with the user's own file
    # (uploaded when the run starts) and a 64x64 size, which by megapixels would round to 0.0
    from comfyui_skills import generate, templates

    ck = item("analogMadness_v70.safetensors", "checkpoints", "sd15", "checkpoint", parts=("vae:sd", "te:clip_l"))
    info = with_files(OBJECT_INFO, [ck])
    chosen = generate.plan("a watercolour", templates.parse_index([]), None, info, listing([ck]),
                           task="image-to-image", image="projects/examples/inputs/swatch.png", size="64x64",
                           identities=identities([ck]))
    assert chosen.recipe == "sd15"
    nodes = by_class(chosen.workflow)
    assert nodes["LoadImage"] == [{"image": "projects/examples/inputs/swatch.png"}]
    [scale] = nodes["ImageScale"]
    assert (scale["width"], scale["height"], scale["crop"]) == (64, 64, "center") and "ImageScaleToTotalPixels" not in nodes
    unsized = generate.plan("a watercolour", templates.parse_index([]), None, info, listing([ck]),
                            task="image-to-image", image="example.png", identities=identities([ck]))
    [by_pixels] = by_class(unsized.workflow)["ImageScaleToTotalPixels"]
    assert by_pixels["megapixels"] == 0.26  # the recipe's 512x512 in the image's own proportions


def test_a_recipe_takes_the_denoise_asked_and_makes_a_count_in_one_batch():
    # found live on ComfyUI 0.9.2 and 0.33.0, where the recipe runs: --denoise 0.5 was sent as the
    # recipe's 0.75, and --count 4 made four prompts of a batch of four each (16 pictures)
    from comfyui_skills import generate, templates

    ck = item("analogMadness_v70.safetensors", "checkpoints", "sd15", "checkpoint", parts=("vae:sd", "te:clip_l"))
    info, index = with_files(OBJECT_INFO, [ck]), templates.parse_index([])
    water = generate.plan("a watercolour", index, None, info, listing([ck]), task="image-to-image",
                          image="example.png", denoise=0.5, identities=identities([ck]))
    assert [k["denoise"] for k in by_class(water.workflow)["KSampler"]] == [0.5]
    four = generate.plan("a lighthouse", index, None, info, listing([ck]), count=4, identities=identities([ck]))
    assert by_class(four.workflow)["EmptyLatentImage"][0]["batch_size"] == 4
    assert [c.slot for c in four.changes] == ["batch"]  # so the run sends one prompt, not four


def test_a_gguf_model_loads_through_unetloadergguf_where_the_server_has_it():
    gguf = item("flux1-dev-Q4_K_S.gguf", "diffusion_models", "flux1", "diffusion_model", "dev")
    items = [gguf] + [i for i in INSTALLED if i.kind not in choose.MAIN_KINDS]
    opt = choose.option_for(gguf, "text-to-image", identities(items), INFO_064)
    assert opt.missing == ["the UnetLoaderGGUF node (ComfyUI-GGUF) for a .gguf file"]
    info = dict(INFO_064, UnetLoaderGGUF={"input": {"required": {"unet_name": [["flux1-dev-Q4_K_S.gguf"]]}},
                                          "output": ["MODEL"], "output_name": ["MODEL"], "name": "UnetLoaderGGUF"})
    opt = choose.option_for(gguf, "text-to-image", identities(items), info)
    graph = build.build(opt.recipe, "text-to-image", opt.parts, info, prompt="a red fox")
    assert by_class(graph)["UnetLoaderGGUF"] == [{"unet_name": "flux1-dev-Q4_K_S.gguf"}]


def test_a_turbo_template_is_no_place_for_a_plain_sdxl_file():
    from comfyui_skills import generate, templates

    turbo = json.loads((FIXTURES / "sdxlturbo_example-ui.json").read_text())  # as templates 0.1.95 ship it
    index = templates.parse_index([{"moduleName": "default", "title": "Image", "type": "image", "templates": [
        {"name": "sdxlturbo_example", "title": "SDXL Turbo", "mediaType": "image", "tags": ["Text to Image"]}]}])
    ck = item("portrait_blend_v2.safetensors", "checkpoints", "sdxl", "checkpoint", parts=SDXL_PARTS)
    chosen = generate.plan("a red fox", index, lambda name: turbo, with_files(OBJECT_INFO, [ck]), listing([ck]),
                           identities=identities([ck]))
    assert chosen.recipe == "sdxl"
    latent = by_class(chosen.workflow)["EmptyLatentImage"][0]
    assert (latent["width"], latent["height"]) == (1024, 1024)


# -- live: the procedure on each real server, whose install's models/ gets placeholders, then loses them --

@pytest.mark.live
def test_live_every_recipe_graph_is_accepted_whole_and_a_community_sdxl_file_gets_its_recipe(live_url, comfy_home):
    from support import recipelive

    url, home = live_url, str(comfy_home)
    rec = recipelive.record_server(url, home, png=False)
    community = rec["community_sdxl"]
    assert community["chosen"]["recipe"] == "sdxl" and community["answer"]["status"] == 200
    answered = [c for c in rec["cases"] if "answer" in c]
    assert answered and all(c["answer"]["status"] == 200 and not c["answer"]["body"].get("node_errors")
                            for c in answered), [(c["file"], c["task"], c["answer"]) for c in answered
                                                 if c["answer"]["status"] != 200]
    from support import genlive
    has_flux2 = "Flux2Scheduler" in genlive.session().get(f"{url.rstrip('/')}/object_info/Flux2Scheduler",
                                                          timeout=60).json()
    assert ("flux2" in {c["family"] for c in answered}) == has_flux2

"""Official templates: both index shapes, search, what a template needs, fetching and snapshots."""

import copy
import gzip
import json
from pathlib import Path

import pytest

from comfyui_skills import templates
from comfyui_skills.errors import InputError, ServerError
from comfyui_skills.api import ComfyUI

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "templates"
RECORDED = json.loads(gzip.decompress((HERE / "recordings" / "templates" / "templates.json.gz").read_bytes()))
OBJECT_INFO = HERE.parent.parent / "shared" / "conformance" / "object_info"


def fixture(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def recorded(route):
    return RECORDED[route]["body"]


@pytest.fixture(scope="module")
def old_index():
    return templates.parse_index(recorded("/templates/index.json"))


@pytest.fixture(scope="module")
def new_index():
    return templates.parse_index(fixture("index-0.1.123-excerpt.json"))


@pytest.fixture(scope="module")
def bare():
    return json.loads((OBJECT_INFO / "comfyui-0.3.64-bare.json").read_text())


@pytest.fixture(scope="module")
def with_models():
    return json.loads((OBJECT_INFO / "comfyui-0.3.64-models.json").read_text())


# -- the index -----------------------------------------------------------------------------

def test_the_index_0_3_64_serves_reads_sizes_in_gib(old_index):
    assert old_index.shape == "0.1"
    default = templates.find(old_index, "default")
    assert default.title and default.category == "Getting Started" and default.media_type == "image"
    assert "Text to Image" in default.tags and "SD1.5" in default.models
    raw = default.raw
    assert default.size_bytes == round(raw["size"] * 2 ** 30) and default.size_bytes > 10 ** 9
    assert default.vram_bytes == round(raw["vram"] * 2 ** 30)
    assert default.partner is False
    assert len(old_index) == sum(len(c["templates"]) for c in recorded("/templates/index.json"))


def test_partner_templates_are_flagged_in_the_old_index(old_index):
    partner = [t for t in old_index if t.partner]
    assert partner and all(t.name.startswith("api_") or "API" in t.tags for t in partner)
    assert all(t.open_source is False for t in partner)
    assert not any(t.partner for t in old_index if t.category == "Getting Started")


def test_the_current_index_reads_sizes_in_bytes_and_new_fields(new_index):
    assert new_index.shape == "current"
    turbo = templates.find(new_index, "image_z_image_turbo")
    assert turbo.size_bytes == turbo.raw["size"] and turbo.vram_bytes is None
    assert turbo.open_source is True and turbo.partner is False
    assert turbo.min_comfyui_version == turbo.raw["minComfyUIVersion"]
    edit = templates.find(new_index, "image_flux2_klein_image_edit_9b_distilled")
    assert edit.input_files == tuple(i["file"] for i in edit.raw["io"]["inputs"])
    banana = templates.find(new_index, "api_nano_banana_2_1_t2i")
    assert banana.partner and banana.size_bytes == 0
    llm = [t for t in new_index if t.category_type == "llm"]
    assert llm and llm[0].category == "LLM"


def test_an_index_shape_is_told_by_its_sizes_alone():
    entry = {"name": "x", "mediaType": "image", "mediaSubtype": "webp", "description": "", "size": 6.5}
    old = templates.parse_index([{"moduleName": "default", "title": "Image", "templates": [entry]}])
    assert old.shape == "0.1" and old.templates[0].size_bytes == round(6.5 * 2 ** 30)
    entry = dict(entry, size=6979321856)
    new = templates.parse_index([{"moduleName": "default", "title": "Image", "templates": [entry]}])
    assert new.shape == "current" and new.templates[0].size_bytes == 6979321856


def test_requires_custom_nodes_is_kept():
    entry = {"name": "x", "mediaType": "image", "mediaSubtype": "webp", "description": "",
             "requiresCustomNodes": ["comfyui-kjnodes"]}
    index = templates.parse_index([{"moduleName": "default", "title": "Image", "templates": [entry]}])
    assert index.templates[0].requires_custom_nodes == ("comfyui-kjnodes",)


@pytest.mark.parametrize("raw", [{"templates": []}, [1, 2], [{"title": "Image"}],
                                 [{"title": "Image", "templates": [{"title": "no name"}]}]])
def test_a_broken_index_is_one_clear_error(raw):
    with pytest.raises(InputError) as exc:
        templates.parse_index(raw, source="index.json")
    assert exc.value.message.startswith("index.json: ")


def test_filter_by_task_any_spelling(old_index):
    by_tag = templates.filter(old_index, task="Text to Image")
    assert by_tag and all("Text to Image" in t.tags or "Text-to-Image" in t.tags for t in by_tag)
    assert templates.filter(old_index, task="text-to-image") == by_tag
    assert templates.filter(old_index, task="t2i") == by_tag
    assert "default" in [t.name for t in by_tag]
    assert not any("Image to Video" in t.tags and "Text to Image" not in t.tags for t in by_tag)


def test_filter_by_media_text_and_partner(old_index, new_index):
    videos = templates.filter(old_index, media="video")
    assert videos and all(t.media_type == "video" or t.category_type == "video" for t in videos)
    assert [t.name for t in templates.filter(new_index, media="llm")] == ["api_openrouter_gpt5_6_luna"]
    flux = templates.filter(old_index, text="flux schnell")
    assert "flux_schnell" in [t.name for t in flux]
    assert all("flux" in (t.name + t.title + t.description).lower() for t in flux)
    local = templates.filter(old_index, task="t2i", partner=False)
    assert local and not any(t.partner for t in local) and len(local) < len(templates.filter(old_index, task="t2i"))
    assert templates.filter(old_index, text="no such words anywhere") == []


def test_an_unknown_name_names_the_nearest(old_index):
    with pytest.raises(InputError) as exc:
        templates.find(old_index, "flux_schnel")
    assert exc.value.details["nearest"][0] == "flux_schnell"
    assert "flux_schnell" in exc.value.hint
    with pytest.raises(InputError) as exc:
        templates.find(old_index, "sdxl")
    assert "sdxl_simple_example" in exc.value.details["nearest"]
    with pytest.raises(InputError) as exc:
        templates.find(old_index, "qqqqzzzz")
    assert exc.value.hint.startswith("the index has")


# -- what a template needs -----------------------------------------------------------------


@pytest.mark.conformance
def test_the_default_template_needs_its_checkpoint(bare, with_models):
    workflow = recorded("/templates/default.json")
    missing = templates.requirements(workflow, bare)
    assert not missing.runnable and not missing.uses_api and not missing.missing_nodes
    assert {"CheckpointLoaderSimple", "KSampler", "SaveImage"} <= set(missing.node_classes)
    (need,) = missing.models
    assert need.name == "v1-5-pruned-emaonly-fp16.safetensors" and need.directory == "checkpoints"
    assert need.url.startswith("https://") and not need.present and need.use is None
    assert missing.missing_models == (need,)
    here = templates.requirements(workflow, with_models)
    assert here.runnable and here.models[0].present and here.models[0].use == need.name


@pytest.mark.conformance
def test_models_listed_by_folder_count_as_present(bare):
    workflow = recorded("/templates/default.json")
    listing = {"checkpoints": ["v1-5-pruned-emaonly-fp16.safetensors"]}
    assert templates.requirements(workflow, bare, models_by_folder=listing).runnable
    assert not templates.requirements(workflow, bare, models_by_folder={"loras": listing["checkpoints"]}).runnable


@pytest.mark.conformance
def test_a_file_under_another_subfolder_is_present_with_its_exact_value(bare):
    workflow = recorded("/templates/sdxl_simple_example.json")
    wanted = [m.name for m in templates.requirements(workflow, bare).models]
    assert "sd_xl_base_1.0.safetensors" in wanted
    listing = {"checkpoints": ["SDXL/" + n for n in wanted], "vae": [], "loras": []}
    found = templates.requirements(workflow, bare, models_by_folder=listing)
    assert found.runnable
    base = next(m for m in found.models if m.name == "sd_xl_base_1.0.safetensors")
    assert base.present and base.use == "SDXL/sd_xl_base_1.0.safetensors"
    windows = templates.requirements(workflow, bare, models_by_folder={"checkpoints": ["SDXL\\" + n for n in wanted]})
    assert next(m for m in windows.models if m.name == base.name).use == "SDXL\\sd_xl_base_1.0.safetensors"


@pytest.mark.conformance
def test_a_subfolder_name_in_the_workflow_finds_the_file_at_the_top(bare):
    workflow = copy.deepcopy(recorded("/templates/default.json"))
    loader = next(n for n in workflow["nodes"] if n["type"] == "CheckpointLoaderSimple")
    loader["widgets_values"] = ["SD15\\v1-5-pruned-emaonly-fp16.safetensors"]
    loader["properties"] = {}
    object_info = copy.deepcopy(bare)
    object_info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0][:] = ["v1-5-pruned-emaonly-fp16.safetensors"]
    need = templates.requirements(workflow, object_info).models[0]
    assert need.name == "SD15\\v1-5-pruned-emaonly-fp16.safetensors" and need.directory == "checkpoints"
    assert need.present and need.use == "v1-5-pruned-emaonly-fp16.safetensors"


@pytest.mark.conformance
def test_nodes_and_models_inside_subgraphs(bare, with_models):
    workflow = fixture("image_z_image_turbo.json")
    needs = templates.requirements(workflow, bare)
    assert {"UNETLoader", "CLIPLoader", "VAELoader", "KSampler", "SaveImage"} <= set(needs.node_classes)
    assert not any(c == sg["id"] for c in needs.node_classes for sg in workflow["definitions"]["subgraphs"])
    assert "MarkdownNote" not in needs.node_classes
    by_name = {m.name: m for m in needs.models}
    assert by_name["z_image_turbo_bf16.safetensors"].directory == "diffusion_models"
    assert by_name["qwen_3_4b.safetensors"].directory == "text_encoders"
    assert all(m.nodes[0].startswith("57:") for m in needs.models)  # inside the subgraph node 57
    assert not needs.runnable
    assert templates.requirements(workflow, with_models).runnable


@pytest.mark.conformance
def test_partner_nodes_are_told_apart_from_their_helpers(bare):
    flux_pro = templates.requirements(recorded("/templates/api_bfl_flux_pro_t2i.json"), bare)
    assert flux_pro.uses_api and flux_pro.api_nodes == ("FluxProUltraImageNode",) and flux_pro.runnable
    assert flux_pro.models == ()
    recraft = templates.requirements(fixture("api_recraft_image_gen_with_color_control.json"), bare)
    assert recraft.api_nodes == ("RecraftTextToImageNode",)  # RecraftColorRGB only builds settings
    assert "RecraftColorRGB" in recraft.node_classes
    # bypassed nodes do not run: the template's vectorize branch is off
    assert "RecraftVectorizeImageNode" not in recraft.node_classes


@pytest.mark.conformance
def test_partner_nodes_on_a_server_without_the_api_node_flag(bare):
    older = {k: {kk: vv for kk, vv in v.items() if kk != "api_node"} for k, v in bare.items()}
    needs = templates.requirements(recorded("/templates/api_bfl_flux_pro_t2i.json"), older)
    assert needs.api_nodes == ("FluxProUltraImageNode",)
    assert not templates.requirements(recorded("/templates/default.json"), older).uses_api


@pytest.mark.conformance
def test_unknown_classes_name_their_pack_and_muted_nodes_are_skipped(bare):
    workflow = copy.deepcopy(recorded("/templates/default.json"))
    workflow["nodes"].append({"id": 90, "type": "ImageResizeKJv2", "mode": 0, "widgets_values": [512, 512],
                              "properties": {"cnr_id": "comfyui-kjnodes", "ver": "1.1.0"}})
    workflow["nodes"].append({"id": 91, "type": "SomethingMuted", "mode": 2, "widgets_values": []})
    needs = templates.requirements(workflow, bare)
    assert [(m.class_type, m.pack, m.nodes) for m in needs.missing_nodes] == \
        [("ImageResizeKJv2", "comfyui-kjnodes", ("90 ImageResizeKJv2",))]
    assert "SomethingMuted" not in needs.node_classes
    assert not needs.runnable
    assert needs.as_dict()["missing_nodes"][0]["pack"] == "comfyui-kjnodes"


@pytest.mark.conformance
def test_an_unknown_loader_still_names_its_model_files(bare):
    workflow = {"nodes": [{"id": 1, "type": "GGUFLoaderKJ", "mode": 0, "widgets_values": ["flux1-dev-Q4.gguf", "auto"]}]}
    needs = templates.requirements(workflow, bare)
    assert [m.name for m in needs.missing_models] == ["flux1-dev-Q4.gguf"]
    assert needs.missing_nodes[0].class_type == "GGUFLoaderKJ"


@pytest.mark.conformance
def test_an_api_prompt_is_read_too(with_models, bare):
    prompt = {"4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5-pruned-emaonly-fp16.safetensors"}},
              "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "x"}},
              "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}}}
    assert templates.requirements(prompt, with_models).runnable
    needs = templates.requirements(prompt, bare)
    assert [m.name for m in needs.missing_models] == ["v1-5-pruned-emaonly-fp16.safetensors"]
    assert needs.missing_models[0].directory == "checkpoints"


def test_not_a_workflow_is_a_clear_error():
    with pytest.raises(InputError):
        templates.requirements({"hello": 1}, {})
    with pytest.raises(InputError):
        templates.requirements([], {})


# -- from the server -----------------------------------------------------------------------

@pytest.fixture
def client(comfy_double):
    c = ComfyUI(comfy_double.url, timeout=10)
    yield c
    c.close()


def test_fetch_the_index_and_templates(client):
    index = templates.fetch_index(client)
    assert index.shape == "0.1" and "default" in index.names()
    assert templates.fetch_template(client, "default") == recorded("/templates/default.json")
    with pytest.raises(ServerError) as exc:
        templates.fetch_template(client, "no_such_template")
    assert exc.value.status == 404


def test_a_broken_index_from_the_server_is_a_server_error(client, comfy_double):
    comfy_double.garble("/templates/index.json", "html")
    with pytest.raises(ServerError):
        templates.fetch_index(client)


def test_custom_templates(client, comfy_double):
    assert templates.fetch_custom_templates(client) == recorded("/workflow_templates")
    example = {"nodes": [], "links": []}
    comfy_double.custom_templates["comfyui-kjnodes"] = {"resize example": example}
    assert templates.fetch_custom_templates(client)["comfyui-kjnodes"] == ["resize example"]
    assert templates.fetch_custom_template(client, "comfyui-kjnodes", "resize example") == example
    with pytest.raises(ServerError) as exc:
        templates.fetch_custom_template(client, "comfyui-kjnodes", "nope")
    assert exc.value.status == 404


def test_snapshot_round_trip(client, comfy_double, tmp_path):
    comfy_double.custom_templates["pack"] = {"ex": {"nodes": []}}
    saved = templates.save_snapshot(client, tmp_path)
    recorded_names = {r[len("/templates/"):-len(".json")] for r in RECORDED
                      if r.startswith("/templates/") and r != "/templates/index.json" and RECORDED[r]["status"] == 200}
    assert set(saved.manifest["files"]) == recorded_names
    assert set(saved.manifest["unavailable"]) == set(saved.index.names()) - recorded_names
    loaded = templates.load_snapshot(tmp_path)
    assert loaded.index == saved.index and len(loaded.index) == len(recorded("/templates/index.json")[0]["templates"]) + \
        sum(len(c["templates"]) for c in recorded("/templates/index.json")[1:])
    assert loaded.template("default") == recorded("/templates/default.json")
    assert loaded.custom_template("pack", "ex") == {"nodes": []}
    assert loaded.manifest["templates_version"] == RECORDED["/system_stats"]["body"]["system"]["installed_templates_version"]
    with pytest.raises(InputError) as exc:
        loaded.template("flux_schnel")
    assert "flux_schnell" in exc.value.hint
    not_served = saved.manifest["unavailable"][0]
    with pytest.raises(InputError, match="was not saved"):
        loaded.template(not_served)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no work folders left


def test_loading_reads_a_template_only_when_asked(client, tmp_path):
    templates.save_snapshot(client, tmp_path)
    root = tmp_path / "templates"
    (root / json.loads((root / "manifest.json").read_text())["files"]["flux_schnell"]).write_text("{not json")
    loaded = templates.load_snapshot(tmp_path)
    assert loaded.template("default")["nodes"]
    with pytest.raises(InputError, match="flux_schnell.json: not valid JSON"):
        loaded.template("flux_schnell")


def test_a_failed_save_keeps_the_previous_snapshot(client, comfy_double, tmp_path):
    templates.save_snapshot(client, tmp_path)
    before = (tmp_path / "templates" / "manifest.json").read_text()
    comfy_double.fail("/templates/flux_schnell.json", 500)
    with pytest.raises(ServerError):
        templates.save_snapshot(client, tmp_path)
    assert (tmp_path / "templates" / "manifest.json").read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["templates"]


def test_no_snapshot_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no template snapshot"):
        templates.load_snapshot(tmp_path)

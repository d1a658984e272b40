"""Model knowledge has one home (comfyui_skills/data/models.json, read by comfyui_skills.models):
the folder validate.py and diagnose.py name for a loader input is the folder ComfyUI's loader
reads, a file the pack knows gets its download pointer under any name a workflow uses for it, and
references/models.md is what the data generates."""

import copy
import glob
import json
from pathlib import Path

import pytest

from comfyui_skills import diagnosis, models
from comfyui_skills.validation import validate
from conftest import CONFORMANCE

FIXTURES = Path(__file__).parent / "fixtures" / "validation"
# /object_info of 0.3.64 servers holding a placeholder for every file the 2025 / 2026 templates name
MODELS_OI = [CONFORMANCE / "object_info" / "comfyui-0.3.64-models.json",
             CONFORMANCE / "templates-2026" / "object_info-0.3.64-models-2026.json"]


def _template_directories():
    """{file name: {directory}} from the official templates' own `properties.models` entries:
    the recorded models-state server held a placeholder for each file in that directory."""
    dirs = {}
    paths = glob.glob(str(CONFORMANCE / "convert" / "ui" / "*.json"))
    paths += glob.glob(str(CONFORMANCE / "templates-2026" / "ui" / "*.json"))
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            wf = json.load(fh)
        nodes = list(wf.get("nodes") or [])
        for sub in (wf.get("definitions") or {}).get("subgraphs") or []:
            nodes += sub.get("nodes") or []
        entries = [m for n in nodes for m in (n.get("properties") or {}).get("models") or []]
        for m in entries + list(wf.get("models") or []):
            dirs.setdefault(m["name"], set()).add(m["directory"])
    return dirs


def _folder_reading_inputs():
    """(class, input, folder) for every input of the models-state /object_info dumps whose options
    are template model files, with the one directory all those files were placed in."""
    object_info = {}
    for path in MODELS_OI:
        with open(path, encoding="utf-8") as fh:
            object_info.update(json.load(fh))
    dirs = _template_directories()
    found = []
    for ct, spec in object_info.items():
        for section in ("required", "optional"):
            for name, config in (spec.get("input", {}).get(section) or {}).items():
                named = [dirs[o] for o in _options(config) if isinstance(o, str) and o in dirs]
                if named:
                    common = set.intersection(*named)
                    assert len(common) == 1, (ct, name, common)
                    found.append((ct, name, common.pop()))
    return object_info, found


def _options(config):
    """A combo input's choices, classic ([[...], {...}]) or V3 (["COMBO", {"options": [...]}])."""
    if isinstance(config[0], list):
        return config[0]
    if config[0] == "COMBO" and len(config) > 1:
        return (config[1] or {}).get("options") or []
    return []


@pytest.mark.conformance
def test_every_folder_reading_loader_input_maps_to_the_folder_its_options_came_from():
    _, found = _folder_reading_inputs()
    classes = {ct for ct, _, _ in found}
    assert {"CheckpointLoaderSimple", "UNETLoader", "CLIPVisionLoader", "UpscaleModelLoader",
            "ModelPatchLoader", "QuadrupleCLIPLoader"} <= classes  # the check reaches the ambiguous names
    wrong = [(ct, name, folder, models.folder_for(ct, name)) for ct, name, folder in found
             if models.folder_for(ct, name) != folder]
    assert wrong == []


def _config(spec, name):
    inputs = spec["input"]
    return (inputs.get("required") or {}).get(name) or (inputs.get("optional") or {})[name]


def _fill_required(spec, skip):
    """Values the node accepts for every required input but `skip` (defaults, first choices)."""
    inputs = {}
    for name, config in (spec["input"].get("required") or {}).items():
        if name == skip:
            continue
        kind, opts = config[0], (config[1] if len(config) > 1 else {}) or {}
        if isinstance(kind, list):
            inputs[name] = kind[0] if kind else ""
        elif kind == "COMBO":
            inputs[name] = (opts.get("options") or [""])[0]
        elif "default" in opts:
            inputs[name] = opts["default"]
    return inputs


@pytest.mark.conformance
def test_validate_and_diagnose_name_that_folder_for_a_missing_model():
    object_info, found = _folder_reading_inputs()
    for ct, name, folder in found:
        # make the loader an output so the validator checks it on its own, as the server would in a graph
        oi = {ct: dict(copy.deepcopy(object_info[ct]), output_node=True)}
        node = {"class_type": ct, "inputs": dict(_fill_required(oi[ct], name), **{name: "nope.safetensors"})}
        errors = [e for e in validate({"1": node}, oi)["errors"] if e.get("input_name") == name]
        classic = isinstance(_config(oi[ct], name)[0], list)  # the server checks no V3 COMBO list, nor do we
        assert bool(errors) == classic, (ct, name, errors)
        assert not errors or f"models/{folder}/" in errors[0]["message"], (ct, name, errors)

        body = {"error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
                          "details": "", "extra_info": {}},
                "node_errors": {"1": {"class_type": ct, "dependent_outputs": ["9"], "errors": [
                    {"type": "value_not_in_list", "message": "Value not in list",
                     "details": f"{name}: 'nope.safetensors' not in []",
                     "extra_info": {"input_name": name, "received_value": "nope.safetensors"}}]}}}
        finding = diagnosis.validation_findings(diagnosis.gather(body), diagnosis.Commands())[0]
        assert finding["cause"] == "model_missing" and f"models/{folder}," in finding["summary"], (ct, name)


def test_generic_input_names_read_a_folder_only_on_the_core_class():
    assert models.folder_for("UpscaleModelLoader", "model_name") == "upscale_models"
    assert models.folder_for("SAMLoader", "model_name") is None  # a custom node's model_name is its own business
    assert models.folder_for("ModelPatchLoader", "name") == "model_patches"
    assert models.folder_for("SomeCustomNode", "name") is None
    assert models.folder_for("CLIPVisionLoader", "clip_name") == "clip_vision"
    assert models.folder_for("SomeCustomClipLoader", "clip_name") == "text_encoders"
    assert models.folder_for("CLIPLoader", "type") is None
    assert models.folder_for("LoraModelLoader", "lora") is None  # a LORA_MODEL link, not a file


def test_known_file_by_name_alias_and_subfolder():
    current = models.known_file("v2-1_768-ema-pruned.safetensors")
    assert current.folder == "checkpoints" and current.url.endswith("/v2-1_768-ema-pruned.safetensors")
    assert models.known_file("v2-1_768-ema-pruned.ckpt") == current
    assert models.known_file("SD2.x/v2-1_768-ema-pruned.ckpt") == current
    assert models.known_file("SDXL\\sd_xl_base_1.0.safetensors").name == "sd_xl_base_1.0.safetensors"
    assert models.known_file("clip_l.safetensors").name == "clip_l.safetensors"
    assert models.known_file("l.safetensors") is None  # a name inside another name is not that file
    assert models.known_file("my_own_finetune.safetensors") is None


def test_families_are_the_ones_the_files_name():
    ids = {f.id for f in models.families()}
    assert {"sd15", "sdxl", "flux1", "wan22", "hunyuan3d"} <= ids
    assert models.family("pony").based_on == "sdxl"
    assert models.family("qwen-image").clip_type == "qwen_image"
    unknown = {(f.name, i) for f in models.known_files() for i in f.families if i not in ids}
    assert unknown == set()


def test_an_older_name_gets_the_download_pointer(wf_2024):
    oi, wf = wf_2024
    e = [e for e in validate(wf, oi)["errors"] if e["type"] == "value_not_in_list"][0]
    assert "models/checkpoints/" in e["message"]
    assert "get it with: python scripts/models.py download v2-1_768-ema-pruned.safetensors" in e["hint"]

    wf["4"]["inputs"]["ckpt_name"] = "my_own_finetune.ckpt"
    e = [e for e in validate(wf, oi)["errors"] if e["type"] == "value_not_in_list"][0]
    assert "(see references/models.md)" in e["hint"]


def test_diagnose_an_older_name_downloads_the_current_file_and_says_to_rename():
    body = {"error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
                      "details": "", "extra_info": {}},
            "node_errors": {"4": {"class_type": "CheckpointLoaderSimple", "dependent_outputs": ["9"], "errors": [
                {"type": "value_not_in_list", "message": "Value not in list",
                 "details": "ckpt_name: 'SD2/v2-1_768-ema-pruned.ckpt' not in ['other.safetensors']",
                 "extra_info": {"input_name": "ckpt_name", "received_value": "SD2/v2-1_768-ema-pruned.ckpt"}}]}}}
    finding = diagnosis.validation_findings(diagnosis.gather(body), diagnosis.Commands())[0]
    download = [f for f in finding["fixes"] if (f["command"] or "").startswith("python scripts/models.py download")][0]
    # the pack knows the file by its current name; it lands at the top of checkpoints under that name
    assert download["command"] == "python scripts/models.py download v2-1_768-ema-pruned.safetensors"
    assert "set `ckpt_name` to 'v2-1_768-ema-pruned.safetensors'" in download["text"]
    assert "'v2-1_768-ema-pruned.ckpt' is its older name" in download["text"]


def test_the_reference_is_what_the_data_generates():
    assert models.REFERENCE_FILE.read_text(encoding="utf-8") == models.reference_markdown(), \
        "references/models.md is stale: python -m comfyui_skills.models --write-reference"


def test_the_reference_lists_every_known_file_with_its_link():
    text = models.reference_markdown()
    for f in models.known_files():
        assert f"`{f.name}`" in text and f.url in text


def test_check_reference_fails_on_a_stale_file(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "models.md"
    stale.write_text("# an old hand-written table\n", encoding="utf-8")
    monkeypatch.setattr(models, "REFERENCE_FILE", stale)
    assert models.main(["--check-reference"]) == 1
    assert "--write-reference" in capsys.readouterr().err
    assert models.main(["--write-reference"]) == 0
    assert models.main(["--check-reference"]) == 0


@pytest.fixture
def wf_2024():
    """The classic SD 2.1 text-to-image graph as 2024 workflows wrote it, against a recorded 0.3.64
    server whose checkpoints folder lacks the file."""
    oi = json.loads((FIXTURES / "object_info_models_subset.json").read_text(encoding="utf-8"))["object_info"]
    oi["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0] = ["DreamShaper_8_pruned.safetensors"]
    wf = {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v2-1_768-ema-pruned.ckpt"}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 768, "height": 768, "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a castle", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
        "3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20, "cfg": 7.0, "sampler_name": "euler",
                                                   "scheduler": "normal", "denoise": 1.0, "model": ["4", 0],
                                                   "positive": ["6", 0], "negative": ["7", 0],
                                                   "latent_image": ["5", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "sd21"}},
    }
    return oi, wf

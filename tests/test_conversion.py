"""convert.py: editor workflows to API format like the frontend, and back; broken input is named."""

import json

import pytest
from conftest import script

from comfyui_skills import conversion, inventory
from comfyui_skills.errors import InputError
from comfyui_skills.schema import InputSpec

# A slice of a real /object_info (ComfyUI 0.3.64), enough for these graphs.
OBJECT_INFO = {
    "CheckpointLoaderSimple": {
        "input": {"required": {"ckpt_name": [["a.safetensors", "b.safetensors"], {}]}},
        "input_order": {"required": ["ckpt_name"]},
        "output": ["MODEL", "CLIP", "VAE"], "output_name": ["MODEL", "CLIP", "VAE"],
        "display_name": "Load Checkpoint"},
    "CLIPTextEncode": {
        "input": {"required": {"text": ["STRING", {"multiline": True, "dynamicPrompts": True}],
                               "clip": ["CLIP", {}]}},
        "input_order": {"required": ["text", "clip"]},
        "output": ["CONDITIONING"], "output_name": ["CONDITIONING"], "display_name": "CLIP Text Encode (Prompt)"},
    "KSampler": {
        "input": {"required": {
            "model": ["MODEL", {}], "seed": ["INT", {"default": 0, "min": 0, "control_after_generate": True}],
            "steps": ["INT", {"default": 20, "min": 1}], "cfg": ["FLOAT", {"default": 8.0}],
            "sampler_name": [["euler", "dpmpp_2m"], {}], "scheduler": [["normal", "karras"], {}],
            "positive": ["CONDITIONING", {}], "negative": ["CONDITIONING", {}],
            "latent_image": ["LATENT", {}], "denoise": ["FLOAT", {"default": 1.0}]}},
        "input_order": {"required": ["model", "seed", "steps", "cfg", "sampler_name", "scheduler",
                                     "positive", "negative", "latent_image", "denoise"]},
        "output": ["LATENT"], "output_name": ["LATENT"], "display_name": "KSampler"},
    "ModelPass": {
        "input": {"required": {"model": ["MODEL", {}], "strength": ["FLOAT", {"default": 1.0}]}},
        "input_order": {"required": ["model", "strength"]},
        "output": ["MODEL"], "output_name": ["MODEL"], "display_name": "Model Pass"},
}


def node(id_, type_, inputs=(), outputs=(), widgets=None, mode=0, title=None):
    out = {"id": id_, "type": type_, "mode": mode, "inputs": list(inputs), "outputs": list(outputs)}
    if widgets is not None:
        out["widgets_values"] = widgets
    if title:
        out["title"] = title
    return out


def graph():
    """Checkpoint -> (bypassed ModelPass) -> Reroute -> KSampler; a PrimitiveNode drives steps."""
    return {
        "version": 0.4, "last_node_id": 9, "last_link_id": 9,
        "nodes": [
            node(1, "CheckpointLoaderSimple", outputs=[{"name": "MODEL", "type": "MODEL", "links": [1]},
                                                       {"name": "CLIP", "type": "CLIP", "links": [4]}],
                 widgets=["a.safetensors"]),
            node(2, "ModelPass", inputs=[{"name": "model", "type": "MODEL", "link": 1}],
                 outputs=[{"name": "MODEL", "type": "MODEL", "links": [2]}], widgets=[0.5], mode=4),
            node(3, "Reroute", inputs=[{"name": "", "type": "*", "link": 2}],
                 outputs=[{"name": "", "type": "MODEL", "links": [3]}]),
            node(4, "KSampler", title="My sampler",
                 inputs=[{"name": "model", "type": "MODEL", "link": 3},
                         {"name": "steps", "type": "INT", "widget": {"name": "steps"}, "link": 6},
                         {"name": "positive", "type": "CONDITIONING", "link": 5},
                         {"name": "negative", "type": "CONDITIONING", "link": 7}],
                 widgets=[42, True, 10, 7.5, "sample_euler", "karras", 1.0]),
            node(5, "CLIPTextEncode", inputs=[{"name": "clip", "type": "CLIP", "link": 4}],
                 outputs=[{"name": "CONDITIONING", "type": "CONDITIONING", "links": [5]}],
                 widgets=["a {cat|cat} // comment"]),
            node(6, "PrimitiveNode", outputs=[{"name": "INT", "type": "INT", "links": [6],
                                               "widget": {"name": "steps"}}], widgets=[33, "fixed"]),
            node(7, "CLIPTextEncode", inputs=[{"name": "clip", "type": "CLIP", "link": 8}],
                 outputs=[{"name": "CONDITIONING", "type": "CONDITIONING", "links": [7]}],
                 widgets=["muted"], mode=2),
            node(8, "MarkdownNote", widgets=["# notes"]),
        ],
        "links": [[1, 1, 0, 2, 0, "MODEL"], [2, 2, 0, 3, 0, "MODEL"], [3, 3, 0, 4, 0, "MODEL"],
                  [4, 1, 1, 5, 0, "CLIP"], [5, 5, 0, 4, 2, "CONDITIONING"], [6, 6, 0, 4, 1, "INT"],
                  [7, 7, 0, 4, 3, "CONDITIONING"], [8, 1, 1, 7, 0, "CLIP"]],
    }


def test_ui_to_api_follows_the_frontend():
    api = conversion.ui_to_api(graph(), OBJECT_INFO)
    assert set(api) == {"1", "4", "5"}  # bypassed, muted, reroute, primitive, note: gone
    ks = api["4"]
    assert ks["_meta"] == {"title": "My sampler"}
    assert ks["inputs"] == {"seed": 42, "steps": 33, "cfg": 7.5, "sampler_name": "euler", "scheduler": "karras",
                            "denoise": 1.0, "model": ["1", 0], "positive": ["5", 0]}  # negative: muted source
    assert api["5"]["inputs"]["text"] == "a cat "
    assert api["1"]["_meta"] == {"title": "Load Checkpoint"}


def test_subgraph_nodes_get_outer_inner_ids_and_promoted_values():
    wf = {
        "version": 0.4, "links": [[1, 1, 0, 2, 0, "MODEL"]],
        "nodes": [node(1, "CheckpointLoaderSimple", outputs=[{"name": "MODEL", "type": "MODEL", "links": [1]}],
                       widgets=["b.safetensors"]),
                  node(2, "sg-1", inputs=[{"name": "model", "type": "MODEL", "link": 1}], widgets=[0.25])],
        "definitions": {"subgraphs": [{
            "id": "sg-1", "name": "Pass", "inputs": [{"name": "model", "type": "MODEL"},
                                                     {"name": "strength", "type": "FLOAT"}],
            "outputs": [],
            "nodes": [node(7, "ModelPass", inputs=[{"name": "model", "type": "MODEL", "link": 10},
                                                   {"name": "strength", "type": "FLOAT",
                                                    "widget": {"name": "strength"}, "link": 11}],
                           widgets=[1.0])],
            "links": [{"id": 10, "origin_id": -10, "origin_slot": 0, "target_id": 7, "target_slot": 0, "type": "MODEL"},
                      {"id": 11, "origin_id": -10, "origin_slot": 1, "target_id": 7, "target_slot": 1, "type": "FLOAT"}],
        }]},
    }
    api = conversion.ui_to_api(wf, OBJECT_INFO)
    assert api["2:7"]["inputs"] == {"model": ["1", 0], "strength": 0.25}


def test_api_to_ui_round_trip_and_layout():
    api = conversion.ui_to_api(graph(), OBJECT_INFO)
    ui = conversion.api_to_ui(api, OBJECT_INFO)
    assert conversion.ui_to_api(json.loads(json.dumps(ui)), OBJECT_INFO) == api
    pos = {n["id"]: n["pos"] for n in ui["nodes"]}
    assert pos[1][0] < pos[5][0] < pos[4][0]  # columns by dependency depth
    sampler = next(n for n in ui["nodes"] if n["id"] == 4)
    assert sampler["widgets_values"][:2] == [42, "fixed"]  # control slot after the seed
    assert sampler["title"] == "My sampler"


@pytest.mark.parametrize("mutate, words", [
    (lambda wf: wf["links"].pop(0), ["node 2", "link 1"]),
    (lambda wf: wf["nodes"][3].update(widgets_values="x"), ["node 4", "widgets_values"]),
    (lambda wf: wf["nodes"][0].update(type="NoSuchNode"), ["node 1", "NoSuchNode", "--keep-unknown"]),
    (lambda wf: wf["links"].__setitem__(0, [1, 99, 0, 2, 0, "MODEL"]), ["node 2", "node 99"]),
])
def test_broken_workflows_name_the_node(mutate, words):
    wf = graph()
    mutate(wf)
    with pytest.raises(InputError) as exc:
        conversion.ui_to_api(wf, OBJECT_INFO)
    for word in words:
        assert word in exc.value.message + (exc.value.hint or "")


def test_keep_unknown_passes_nodes_through():
    wf = graph()
    wf["nodes"][1].update(type="Mystery", mode=0,
                          inputs=[{"name": "model", "type": "MODEL", "link": 1},
                                  {"name": "amount", "type": "FLOAT", "widget": {"name": "amount"}, "link": None}],
                          widgets_values=[0.7])
    api = conversion.ui_to_api(wf, OBJECT_INFO, keep_unknown=True)
    assert api["2"] == {"class_type": "Mystery", "inputs": {"amount": 0.7, "model": ["1", 0]},
                        "_meta": {"title": "Mystery"}}
    assert api["4"]["inputs"]["model"] == ["2", 0]


@pytest.fixture
def files(tmp_path):
    oi = tmp_path / "object_info.json"
    oi.write_text(json.dumps(OBJECT_INFO))
    ui = tmp_path / "wf.json"
    ui.write_text(json.dumps(graph()))
    return tmp_path, oi, ui


def test_cli_converts_one_file_to_stdout_and_back(files, pack_env):
    tmp, oi, ui = files
    r = script("convert", ui, "--object-info", oi, env=pack_env)
    assert r.returncode == 0, r.stderr
    api = json.loads(r.stdout)
    assert api["4"]["class_type"] == "KSampler"
    (tmp / "api.json").write_text(r.stdout)
    back = script("convert", tmp / "api.json", "--object-info", oi, env=pack_env)
    assert back.returncode == 0 and json.loads(back.stdout)["nodes"]


def test_cli_errors_are_one_line_exit_2(files, pack_env):
    tmp, oi, _ = files
    bad = tmp / "bad.json"
    bad.write_text(json.dumps({"hello": 1}))
    r = script("convert", bad, "--object-info", oi, env=pack_env)
    assert r.returncode == 2 and "not a ComfyUI workflow" in r.stderr and "Traceback" not in r.stderr
    wf = graph()
    wf["nodes"][0]["type"] = "NoSuchNode"
    bad.write_text(json.dumps(wf))
    r = script("convert", bad, "--object-info", oi, env=pack_env)
    assert r.returncode == 2 and "node 1" in r.stderr and "Traceback" not in r.stderr


def test_cli_out_dir_never_overwrites(files, pack_env):
    tmp, oi, ui = files
    out = tmp / "out"
    assert script("convert", ui, "--object-info", oi, "--out-dir", out, env=pack_env).returncode == 0
    r = script("convert", ui, "--object-info", oi, "--out-dir", out, env=pack_env)
    assert r.returncode == 2 and "--force" in r.stderr
    assert script("convert", ui, "--object-info", oi, "--out-dir", out, "--force", env=pack_env).returncode == 0


# What the official frontend (ComfyUI 0.3.64's bundled frontend, in Chromium) put in the prompt
# when a PrimitiveNode holding `value` fed the widget: it coerces like JavaScript's Number(),
# rounds to the widget's step and clamps to its range.
WIDTH = ["INT", {"default": 512, "min": 1, "max": 16384, "step": 1}]
LATENT_WIDTH = ["INT", {"default": 512, "min": 16, "max": 16384, "step": 8}]
SIGMA = ["FLOAT", {"default": 1.0, "min": 0.1, "max": 10.0, "step": 0.1}]
CFG = ["FLOAT", {"default": 8.0, "min": 0.0, "max": 100.0, "step": 0.1, "round": 0.01}]
DENOISE = ["FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01}]
SEED = ["INT", {"default": 0, "min": 0, "max": 18446744073709551615, "control_after_generate": True}]


@pytest.mark.parametrize("declaration, value, sent", [
    (WIDTH, "PBR", None), (WIDTH, "12", 12), (WIDTH, "", 1), (WIDTH, "1e3", 1000), (WIDTH, " 7 ", 7),
    (WIDTH, True, 1), (WIDTH, 12.7, 13), (WIDTH, None, 1), (WIDTH, "0x10", 16), (WIDTH, 99999, 16384),
    (WIDTH, -5, 1), (WIDTH, 12.5, 13), (WIDTH, 13.5, 14), (WIDTH, "Infinity", 16384), (WIDTH, [3], 3),
    (WIDTH, {"a": 1}, None), (LATENT_WIDTH, 100, 104), (LATENT_WIDTH, 99, 96), (LATENT_WIDTH, 13, 16),
    (SIGMA, "2.5", 2.5), (SIGMA, "x", None), (SIGMA, 0.05, 0.1), (SIGMA, 99, 10), (SIGMA, "0.123456", 0.1),
    (SIGMA, 1.005, 1), (CFG, 7.777, 7.8), (CFG, "7.25", 7.3), (DENOISE, 0.123456, 0.12), (DENOISE, 0.005, 0.01),
    (SEED, 2**53 + 1, 2**53), (SEED, "18446744073709551615", 18446744073709552000), (SEED, 1.5, 2),
])
def test_a_primitive_value_lands_in_a_number_widget_as_the_frontend_sends_it(declaration, value, sent):
    got = conversion.number_widget_value(value, InputSpec("x", "required", declaration))
    assert got == sent and (got is None) == (sent is None)


def test_a_primitive_holding_text_sends_null_to_an_int_widget():
    object_info = inventory.load_bundled().object_info
    ui = conversion.api_to_ui({"1": {"class_type": "EmptyImage",
                                     "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}},
                               "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}, object_info)
    image = next(n for n in ui["nodes"] if n["type"] == "EmptyImage")
    image["inputs"].append({"name": "width", "type": "INT", "widget": {"name": "width"}, "link": 99})
    ui["nodes"].append({"id": 50, "type": "PrimitiveNode", "pos": [0, 0], "size": [300, 80], "mode": 0,
                        "inputs": [], "outputs": [{"name": "INT", "type": "INT", "links": [99],
                                                   "widget": {"name": "width"}}],
                        "properties": {}, "widgets_values": ["PBR", "fixed"]})
    ui["links"].append([99, 50, 0, image["id"], len(image["inputs"]) - 1, "INT"])
    api = conversion.ui_to_api(ui, object_info)
    assert api[str(image["id"])]["inputs"]["width"] is None

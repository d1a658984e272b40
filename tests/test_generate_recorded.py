"""generate.py's workflows, family by family, as a real ComfyUI 0.3.64 judged them.

tests/recordings/generate/<family>.json (made by tests/recordings/generate/record.py, see
tests/support/genlive.py for the procedure): a server that had only the files one official template
names (empty placeholders) was asked by generate.py for a picture; the workflow it built was
POSTed to /prompt (`answer`), and again once the files were gone (`answer_without_files`).
Offline, the pack's own validation must give the server's verdict on both; live (COMFYUI_URL
and COMFYUI_HOME set, on a ComfyUI with the recorded templates package), the whole procedure is
repeated on a ComfyUI of our own.
"""

import gzip
import json
import subprocess
import time
from types import SimpleNamespace

import pytest
import requests

from support import genlive
from comfyui_skills import generate, templates, validation
from support.double import RECORDINGS, with_listed

RECORDED_TEMPLATES = "0.1.95"  # comfyui-workflow-templates of the ComfyUI 0.3.64 that was recorded
RECORDED = {p.stem: json.loads(p.read_text()) for p in sorted((RECORDINGS / "generate").glob("*.json"))}
OBJECT_INFO = json.loads(gzip.decompress((RECORDINGS / "object_info.json.gz").read_bytes()))
MODEL_SUFFIXES = validation.MODEL_EXTENSIONS


def test_every_family_the_templates_cover_was_recorded():
    assert set(RECORDED) == set(genlive.FAMILIES)
    tasks = {r["task"] for r in RECORDED.values()}
    assert {"text-to-image", "image-to-image", "image-edit"} <= tasks


def model_values(workflow):
    return {v for node in workflow.values() for v in node["inputs"].values()
            if isinstance(v, str) and v.lower().endswith(MODEL_SUFFIXES)}


def texts(workflow):
    return {v for node in workflow.values() for k, v in node["inputs"].items()
            if k in ("text", "prompt", "text_l", "text_g", "clip_l", "t5xxl") and isinstance(v, str)}


@pytest.mark.parametrize("family", sorted(RECORDED))
def test_generate_chose_the_familys_template_and_used_its_files_and_the_text(family):
    rec = RECORDED[family]
    assert rec["generate"]["exit_code"] == 0, rec["generate"]["stderr"]
    assert rec["chosen"]["template"] == rec["template"] and rec["chosen"]["task"] == rec["task"]
    installed = {n for names in rec["files"].values() for n in names}
    assert model_values(rec["workflow"]) == installed
    assert all(m["swapped_from"] is None for m in rec["chosen"]["models"])  # its own files, no stand-ins
    assert rec["request"] in texts(rec["workflow"])
    seeds = [n["inputs"][k] for n in rec["workflow"].values() for k in ("seed", "noise_seed") if k in n["inputs"]]
    assert 1 in seeds  # --seed 1 (an SDXL refiner that adds no noise keeps its own)
    loads = [n["class_type"] for n in rec["workflow"].values() if rec["uploaded_image"] in n["inputs"].values()]
    assert bool(loads) == (rec["task"] in genlive.IMAGE_TASKS)
    assert set(loads) <= {"LoadImage", "LoadImageOutput"}


def server_verdict(answer):
    if answer["status"] != 200:
        return validation.REJECTED
    return validation.PARTIAL if answer["body"]["node_errors"] else validation.OK


def blamed(answer):
    return {(nid, e["extra_info"]["input_name"]) for nid, node in answer["body"].get("node_errors", {}).items()
            for e in node["errors"]}


@pytest.mark.parametrize("family", sorted(RECORDED))
def test_the_packs_validation_gives_the_servers_verdict_with_the_files(family):
    rec = RECORDED[family]
    assert rec["answer"] == {"status": 200, "body": {"prompt_id": rec["answer"]["body"]["prompt_id"],
                                                     "number": rec["answer"]["body"]["number"], "node_errors": {}}}
    info = with_listed(OBJECT_INFO, rec["loader_options"])
    inputs = [rec["uploaded_image"]] if rec["uploaded_image"] else []
    got = validation.validate(rec["workflow"], info, models=rec["files"], input_files=inputs)
    assert got["verdict"] == server_verdict(rec["answer"]) == validation.OK, got["errors"]


@pytest.mark.parametrize("family", sorted(RECORDED))
def test_the_packs_validation_gives_the_servers_verdict_without_the_files(family):
    rec = RECORDED[family]
    answer = rec["answer_without_files"]
    info = with_listed(OBJECT_INFO, {k: v for k, v in rec["loader_options"].items() if k == "LoadImage.image"})
    inputs = [rec["uploaded_image"]] if rec["uploaded_image"] else []
    got = validation.validate(rec["workflow"], info, models={f: [] for f in rec["files"]}, input_files=inputs)
    assert got["verdict"] == server_verdict(answer)
    assert {(e["node_id"], e["input_name"]) for e in got["errors"]} == blamed(answer)


# -- choosing among runnable templates of one family -------------------------------------------------
def fit_of(name, files, swaps=(), size_gib=None):
    needs = templates.Requirements((), (), tuple(templates.ModelNeed(f, "diffusion_models", present=f not in dict(swaps),
                                                                     use=f) for f in files), ())
    template = SimpleNamespace(name=name, vram_bytes=None, size_bytes=size_gib and size_gib * 2**30)
    return generate.Fit(template, {}, needs, {old: (new, "diffusion_models", "hidream") for old, new in swaps}, [])


def test_a_template_on_its_own_files_beats_an_earlier_one_on_stand_ins():
    # with only flux1-schnell installed, flux_dev (listed first) ran on it with dev's 20 steps
    on_stand_in = fit_of("flux_dev_checkpoint_example", ["flux1-dev-fp8.safetensors"],
                         swaps=[("flux1-dev-fp8.safetensors", "flux1-schnell-fp8.safetensors")])
    own = fit_of("flux_schnell", ["flux1-schnell-fp8.safetensors"])
    assert [f.template.name for f in generate.rank([on_stand_in, own], "text-to-image")] == \
        ["flux_schnell", "flux_dev_checkpoint_example"]


def test_stand_ins_need_the_memory_of_the_template_that_names_them():
    # hidream_i1_fast's index size is for its own file; run on dev's files it needs what dev needs
    encoders = ["clip_l_hidream.safetensors", "llama_3.1_8b_instruct_fp8_scaled.safetensors"]
    fast = fit_of("hidream_i1_fast", ["hidream_i1_fast_fp8.safetensors", *encoders], size_gib=22.6,
                  swaps=[("hidream_i1_fast_fp8.safetensors", "hidream_i1_dev_fp8.safetensors")])
    dev = fit_of("hidream_i1_dev", ["hidream_i1_dev_fp8.safetensors", *encoders], size_gib=31.0)
    ranked = generate.rank([fast, dev], "text-to-image", memory_bytes=int(23.5 * 2**30))
    assert [f.template.name for f in ranked] == ["hidream_i1_dev", "hidream_i1_fast"]
    assert generate.need_bytes(fast, ranked) == dev.template.size_bytes


# -- live: the whole procedure on a ComfyUI of our own -----------------------------------------------
LIVE_PORT = 8198


@pytest.fixture(scope="module")
def own_comfy(comfy_home, live_url, tmp_path_factory):
    # the recordings hold the workflows of the templates package 0.3.64 ships (genlive.FAMILIES names
    # its templates): a newer package changes them (0.9.2's default.json saves as "SD1.5", 0.33.0's
    # has no default.json), so the comparison means something only on the same package
    shipped = requests.get(live_url + "/system_stats", timeout=30).json()["system"].get("installed_templates_version")
    if shipped != RECORDED_TEMPLATES:
        pytest.skip(f"this ComfyUI ships templates {shipped}; the recordings are of templates {RECORDED_TEMPLATES}")
    base = tmp_path_factory.mktemp("comfy8198")
    for d in ("input", "output", "temp", "user", "models", "custom_nodes"):
        (base / d).mkdir()
    url = f"http://127.0.0.1:{LIVE_PORT}"
    with open(base / "server.log", "ab") as log:
        proc = subprocess.Popen(
            [str(comfy_home / ".venv" / "bin" / "python"), "main.py", "--cpu", "--listen", "127.0.0.1",
             "--port", str(LIVE_PORT), "--base-directory", str(base)],
            cwd=comfy_home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        end = time.monotonic() + 120
        while True:
            try:
                if requests.get(url + "/system_stats", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > end or proc.poll() is not None:
                pytest.fail(f"our ComfyUI on {LIVE_PORT} did not start; see {base / 'server.log'}")
            time.sleep(0.5)
        yield SimpleNamespace(url=url, base=base)
    finally:
        proc.kill()  # our own process, by its id
        proc.wait(10)


@pytest.mark.live
@pytest.mark.parametrize("family", ["sd15", "sd15-img2img", "sdxl", "flux-schnell", "hidream"])
def test_live_a_server_with_one_familys_files_accepts_what_generate_builds(own_comfy, pack_env, family):
    got = genlive.record_family(own_comfy.url, own_comfy.base, family, pack_env)
    want = RECORDED[family]
    assert got["generate"]["exit_code"] == 0, got["generate"]["stderr"]
    assert got["chosen"]["template"] == want["template"]
    assert got["files"] == want["files"] and got["workflow"] == want["workflow"]
    assert got["answer"]["status"] == 200 and got["answer"]["body"]["node_errors"] == {}
    assert server_verdict(got["answer_without_files"]) == server_verdict(want["answer_without_files"])
    assert blamed(got["answer_without_files"]) == blamed(want["answer_without_files"])

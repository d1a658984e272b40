"""The procedure that checks the pack's recipes on a real ComfyUI (tests/recordings/recipes/).

On a server whose models/ folder this machine can write (COMFYUI_HOME), with the random-weight
SD1.5 checkpoint it was set up with:
1. (done last, as it waits for the server's queue) `generate.py "a red fox" --size 64x64 --steps 2`
   runs and gives a real PNG;
2. one community-named SDXL checkpoint is added (a real SDXL header extended as a sparse file to
   its full size; no family in its name or metadata): `generate.py --dry-run` must build the SDXL
   recipe at 1024x1024 with that file, and POST /prompt must accept it whole;
3. placeholders named as the official (or community) files of every family are added, each a real
   header of its family extended as a sparse file, plus one tensor of a dtype no loader knows, so
   a prompt that did start would fail at once at the loader instead of building a 12B-parameter
   model on the CPU; for every family and task a recipe covers, generate.plan builds the graph
   (forcing that file with --model) and POST /prompt judges it. Every queued prompt is deleted
   and interrupted at once (genlive.post_then_cancel).
4. the placeholders this procedure added are removed again (nothing else is touched), so other
   users of the server do not get them chosen.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from support import genlive
from support.model_files import CASES, prefixed, write_safetensors

ROOT = genlive.ROOT
PNG = genlive.PNG
TEXT = "a red fox"
EDIT_TEXT = "make it a night scene"
POISON = {"placeholder.not_a_dtype": ("PLACEHOLDER", (1,))}  # safetensors refuses the dtype on load
COMMUNITY_SDXL = "portrait_blend_v2.safetensors"
GIB = 2 ** 30


def spec(name):
    return CASES[name][0]


def _sized(tensors, total):
    """The spec plus one padding tensor, so the sparse file has the size such a file really has."""
    return dict(tensors, **{"placeholder.padding": ("U8", (total,))})


SD35_CHECKPOINT = {**prefixed("model.diffusion_model.", spec("sd35-large")), **prefixed("first_stage_model.",
                   spec("vae-flux")), **prefixed("text_encoders.clip_l.", spec("te-clip_l")),
                   **prefixed("text_encoders.clip_g.", spec("te-clip_g")),
                   **prefixed("text_encoders.t5xxl.", spec("te-t5xxl"))}
Z_IMAGE = dict(spec("lumina2"), **{"cap_embedder.1.weight": (3840, 2560)})
QWEN3_4B = {"model.layers.0.post_attention_layernorm.weight": (2560,), "model.layers.0.self_attn.q_norm.weight": (128,),
            "model.embed_tokens.weight": (151936, 2560)}
MISTRAL3 = {"model.layers.0.post_attention_layernorm.weight": (5120,), "model.embed_tokens.weight": (131072, 5120)}
FLUX2_VAE = dict(spec("vae-flux"), **{"decoder.conv_in.weight": (512, 32, 3, 3)})

# (folder, file name as the official repackaged or community file is named, tensors)
PLACEHOLDERS = [
    ("checkpoints", "ponyDiffusionV6XL_v6StartWithThisOne.safetensors", spec("sdxl-checkpoint")),
    ("checkpoints", "waiNSFWIllustrious_v140.safetensors", spec("sdxl-checkpoint")),
    ("checkpoints", "v2-1_768-ema-pruned.safetensors", spec("sd2-checkpoint")),
    ("checkpoints", "sd3.5_large_fp8_scaled.safetensors", SD35_CHECKPOINT),
    ("checkpoints", "flux1-dev-fp8.safetensors", spec("flux1-dev-in-checkpoint")),
    ("diffusion_models", "sd3.5_medium.safetensors", spec("sd35-medium")),
    ("diffusion_models", "flux1-dev.safetensors", spec("flux1-dev")),
    ("diffusion_models", "flux1-schnell.safetensors", spec("flux1-schnell")),
    ("diffusion_models", "flux1-dev-kontext_fp8_scaled.safetensors", spec("flux1-dev")),
    ("diffusion_models", "flux2_dev_fp8mixed.safetensors", spec("flux2")),
    ("diffusion_models", "Chroma1-HD-fp8_scaled_rev2.safetensors", spec("chroma")),
    ("diffusion_models", "qwen_image_fp8_e4m3fn.safetensors", spec("qwen-image")),
    ("diffusion_models", "qwen_image_edit_fp8_e4m3fn.safetensors", spec("qwen-image")),
    ("diffusion_models", "z_image_turbo_bf16.safetensors", Z_IMAGE),
    ("diffusion_models", "lumina_2_model_bf16.safetensors", spec("lumina2")),
    ("diffusion_models", "hidream_i1_dev_fp8.safetensors", spec("hidream")),
    ("text_encoders", "clip_l.safetensors", spec("te-clip_l")),
    ("text_encoders", "clip_g.safetensors", spec("te-clip_g")),
    ("text_encoders", "t5xxl_fp8_e4m3fn_scaled.safetensors", spec("te-t5xxl")),
    ("text_encoders", "qwen_2.5_vl_7b_fp8_scaled.safetensors", spec("te-qwen25-vl-7b")),
    ("text_encoders", "qwen_3_4b.safetensors", QWEN3_4B),
    ("text_encoders", "mistral_3_small_flux2_fp8.safetensors", MISTRAL3),
    ("text_encoders", "llama_3.1_8b_instruct_fp8_scaled.safetensors", spec("te-llama3")),
    ("text_encoders", "gemma_2_2b_fp16.safetensors", spec("te-gemma2")),
    ("vae", "ae.safetensors", spec("vae-flux")),
    ("vae", "qwen_image_vae.safetensors", spec("vae-wan21")),
    ("vae", "flux2-vae.safetensors", FLUX2_VAE),
    ("upscale_models", "RealESRGAN_x4plus.safetensors", spec("upscale-esrgan")),
]
MAIN_FOLDERS = ("checkpoints", "diffusion_models")


def add(home, folder, name, tensors):
    """Write the placeholder unless a file of that name is there already; True when added."""
    path = Path(home) / "models" / folder / name
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    write_safetensors(path, {**tensors, **POISON})
    return True


def remove(home, added):
    for folder, name in added:
        path = Path(home) / "models" / folder / name
        if path.is_file():
            path.unlink()


def env_for(state):
    env = dict(os.environ, COMFYUI_SKILLS_STATE=str(Path(state) / "state"),
               COMFYUI_SKILLS_PROJECTS=str(Path(state) / "projects"))
    env.pop("COMFYUI_URL", None)
    return env


def run_generate(url, env, *args, timeout=1200):
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "generate.py"), *args, "--url", url], cwd=ROOT,
                       capture_output=True, text=True, env=env, timeout=timeout)
    try:
        out = json.loads(r.stdout)
    except ValueError:
        out = None
    lines = r.stderr.strip().splitlines()
    return {"exit_code": r.returncode, "output": out, "stderr": lines[:4] + (["..."] if len(lines) > 16 else [])
            + lines[max(4, len(lines) - 12):]}


def record_png(url, env):
    """Step 1: a real picture from the random SD1.5 checkpoint(s) the server has."""
    got = run_generate(url, env, TEXT, "--size", "64x64", "--steps", "2", "--json")
    out = got.get("output") or {}
    pngs = [o["path"] for o in out.get("outputs") or [] if str(o.get("path", "")).endswith(".png")]
    got["png_ok"] = bool(pngs) and Path(pngs[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    got.pop("output", None)
    got["chosen"] = {k: out.get(k) for k in ("template", "recipe", "status")}
    return got


def record_community(url, home, env, http):
    """Step 2: one community-named SDXL file, full size, sparse."""
    path = Path(home) / "models" / "checkpoints" / COMMUNITY_SDXL
    added = False
    if not path.exists():
        write_safetensors(path, {**_sized(spec("sdxl-checkpoint"), int(6.46 * GIB)), **POISON})
        added = True
    genlive.listed(url, {"checkpoints": [COMMUNITY_SDXL]}, http)
    got = run_generate(url, env, TEXT, "--seed", "1", "--dry-run", "--json")
    out = got.pop("output") or {}
    wf = out.get("workflow") or {}
    got["chosen"] = {k: out.get(k) for k in ("template", "recipe", "models", "why")}
    got["workflow"] = wf
    got["answer"] = genlive.post_then_cancel(url, wf, http) if wf else None
    return got, [("checkpoints", COMMUNITY_SDXL)] if added else []


def record_families(url, home, http, added):
    """Step 3: every family's graphs for every task its recipe covers."""
    from comfyui_skills import api, generate
    from comfyui_skills.recipes import table

    for f, n, t in PLACEHOLDERS:
        if add(home, f, n, t):
            added.append((f, n))  # at once: the caller removes them even if this fails
    wanted = {}
    for f, n, _ in PLACEHOLDERS:
        wanted.setdefault(f, []).append(n)
    genlive.listed(url, wanted, http, timeout=60)
    cases = []
    with tempfile.TemporaryDirectory() as state:
        catalog = generate.catalog_from_server(api.ComfyUI(url, timeout=120), Path(state), fresh=True)
        for folder, name, _ in PLACEHOLDERS:
            if folder not in MAIN_FOLDERS:
                continue
            item = catalog.identities.of(name, folder)
            recipe = table.get(item.recipe_family)
            for task in (recipe.tasks if recipe else ("text-to-image",)):
                case = {"file": name, "folder": folder, "family": item.recipe_family, "how": item.how, "task": task}
                image = PNG if task in genlive.IMAGE_TASKS else None
                try:
                    chosen = generate.plan(EDIT_TEXT if task == "image-edit" else TEXT, catalog.index,
                                           catalog.load_template, catalog.object_info, catalog.models_by_folder,
                                           task=task, image=image, seed=1, model=name,
                                           memory_bytes=catalog.memory_bytes, frontend_version=catalog.frontend,
                                           identities=catalog.identities)
                except Exception as exc:  # recorded: a family this server lacks the nodes of
                    case["refused"] = getattr(exc, "message", str(exc))
                    cases.append(case)
                    continue
                wf, _ = genlive.with_uploaded_image(url, chosen.workflow, http=http) if image else (chosen.workflow,
                                                                                                      None)
                case.update(recipe=chosen.recipe, template=chosen.template, workflow=wf,
                            answer=genlive.post_then_cancel(url, wf, http))
                cases.append(case)
        used = {n["class_type"] for c in cases for n in (c.get("workflow") or {}).values()}
        object_info = {k: v for k, v in catalog.object_info.items() if k in used}
    return cases, object_info


def record_server(url, home, png=True):
    http = genlive.session()
    stats = http.get(f"{url}/system_stats", timeout=30).json()
    rec = {"comfyui_version": stats["system"]["comfyui_version"], "recorded_at": time.strftime("%Y-%m-%dT%H:%MZ",
                                                                                                 time.gmtime())}
    added = []
    try:
        with tempfile.TemporaryDirectory() as state:
            env = env_for(state)
            rec["community_sdxl"], more = record_community(url, home, env, http)
            added += more
            rec["cases"], rec["object_info"] = record_families(url, home, http, added)
    finally:
        remove(home, added)
    rec["placeholders_added_then_removed"] = [f"{f}/{n}" for f, n in added]
    if png:  # last: it waits behind whatever the server is doing
        with tempfile.TemporaryDirectory() as state:
            try:
                rec["png"] = record_png(url, env_for(state))
            except subprocess.TimeoutExpired as exc:
                rec["png"] = {"exit_code": None, "png_ok": False, "stderr": [f"timed out after {exc.timeout} s"]}
    return rec

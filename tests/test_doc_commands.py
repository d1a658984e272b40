"""Every command the README, the skills and the references show runs, against the test double
(and, marked live, against a real ComfyUI): a doc that shows a broken command fails here."""

import json
import os
import sys

import pytest

from conftest import ROOT
from support.doc_commands import argv, commands, doc_files

CHECKPOINT = "v1-5-pruned-emaonly-fp16.safetensors"
FAILURE_FILE = ROOT / "tests" / "fixtures" / "failures" / "oom_cpu.json"
EXAMPLE = ROOT / "projects" / "examples" / "workflows" / "solid-color.json"


def run_doc(doc, url, tmp_path, small_images=False):
    """Run every command `doc` shows. small_images: a real CPU server takes minutes for one image at a
    template's own size, so generate lines also get --size 64x64 --steps 2 (the last flag wins);
    they still read the sentence, choose, fill and run a real template."""
    import subprocess

    env = dict(os.environ, COMFYUI_URL=url, COMFYUI_SKILLS_STATE=str(tmp_path / "state"),
               COMFYUI_SKILLS_PROJECTS=str(tmp_path / "projects"), WORKFLOW=str(EXAMPLE),
               FAILURE_FILE=str(FAILURE_FILE))
    env.pop("COMFYUI_API_KEY", None)
    snapshot = subprocess.run([sys.executable, "scripts/inventory.py"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)  # an agent following the skills has one
    assert snapshot.returncode == 0, snapshot.stderr
    queued = subprocess.run([sys.executable, "scripts/run.py", str(EXAMPLE), "--no-wait", "--json",
                             "--set", "1.color=4242"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert queued.returncode == 0, queued.stderr
    env["PROMPT_ID"] = json.loads(queued.stdout)["prompt_ids"][0] if "prompt_ids" in queued.stdout \
        else json.loads(queued.stdout)["prompt_id"]
    listed = subprocess.run([sys.executable, "scripts/inventory.py", "models", "loras", "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    env["LORA"] = next(iter(_names(listed.stdout)), "no-lora-installed")  # $LORA: a LoRA the server has
    failures = []
    for _, line, script, rest, expected in [c for c in commands() if c[0] == doc]:
        args = argv(script, rest, env)
        shrink = small_images and script.endswith("generate.py") and "--dry-run" not in args
        r = subprocess.run([sys.executable, *args, *(["--size", "64x64", "--steps", "2"] if shrink else [])],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=300 if shrink else 120)
        if r.returncode != expected:
            failures.append(f"{line}\n  exit {r.returncode} (documented {expected}): {r.stderr.strip()[-500:]}")
        if "Traceback" in r.stderr:
            failures.append(f"{line}\n  printed a traceback")
    return failures


def _names(text):
    """File names in an `inventory.py models loras --json` answer, extensions off."""
    try:
        found = json.loads(text)
    except ValueError:
        return []
    files = (found.get("folders") or {}).get("loras") or []
    return [f["name"].rsplit(".", 1)[0] for f in files if isinstance(f, dict) and isinstance(f.get("name"), str)]


DOCS = sorted({c[0] for c in commands()})


def test_docs_show_commands():
    assert {"README.md", "SKILL.md", "skills/comfyui-api/SKILL.md", "skills/comfyui-inventory/SKILL.md",
            "skills/comfyui-troubleshooter/SKILL.md"} <= set(DOCS)
    assert len(doc_files()) >= 5


@pytest.mark.parametrize("doc", DOCS)
def test_every_documented_command_runs_against_the_double(doc, comfy_double, tmp_path):  # noqa: F811
    comfy_double.add_model("checkpoints", CHECKPOINT, "CheckpointLoaderSimple.ckpt_name")
    comfy_double.add_model("loras", "detail_style.safetensors", "LoraLoader.lora_name", "LoraLoaderModelOnly.lora_name")
    failures = run_doc(doc, comfy_double.url, tmp_path)
    assert not failures, "\n".join(failures)


@pytest.mark.live
@pytest.mark.parametrize("doc", DOCS)
def test_every_documented_command_runs_live(doc, live_url, tmp_path):
    # A CPU test server has no real checkpoint, so the text-to-image lines cannot pass there.
    failures = [f for f in run_doc(doc, live_url, tmp_path, small_images=True)
                if "text-to-image" not in f.splitlines()[0]]
    assert not failures, "\n".join(failures)


@pytest.mark.live
def test_live_walkthrough_ends_with_an_image_on_disk(live_url, tmp_path):
    failures = [f for f in run_doc("skills/comfyui-api/SKILL.md", live_url, tmp_path, small_images=True)
                if "text-to-image" not in f.splitlines()[0]]
    assert not failures, "\n".join(failures)
    pngs = list((tmp_path / "projects").rglob("*.png"))
    assert pngs and all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)

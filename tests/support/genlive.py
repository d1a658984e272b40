"""generate.py against a real ComfyUI that has one family's model files at a time.

The procedure both tests/recordings/generate/record.py (which records it) and the live test in
tests/test_generate_recorded.py (which repeats it) follow, on a ComfyUI of our own whose
--base-directory we may write:

1. empty models/, then put an empty placeholder file under models/<folder>/ for exactly the files
   the family's official template names (ComfyUI lists and validates files by name; it would
   only fail on opening them, at execution);
2. run `scripts/generate.py TEXT --task TASK --seed 1 --dry-run --json --url URL` (with --image
   for image tasks);
3. upload the image, put its uploaded name in the LoadImage nodes (as pipeline.run does) and POST
   the workflow to /prompt; then delete it from the queue and interrupt it at once, so the
   server never spends long loading empty files;
4. empty models/ and POST the same workflow again: the server's answer when the files are absent.
"""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from comfyui_skills import templates  # noqa: E402

PNG = ROOT / "projects" / "examples" / "inputs" / "swatch.png"
TEXT = "a lighthouse on a cliff at dawn, watercolour"
EDIT_TEXT = "make it a night scene with a full moon"

# family -> (the official template (templates 0.1.95) whose files are installed, task)
FAMILIES = {
    "sd15": ("default", "text-to-image"),
    "sd15-img2img": ("image2image", "image-to-image"),
    "sdxl": ("sdxl_simple_example", "text-to-image"),
    "sd35": ("sd3.5_simple_example", "text-to-image"),
    "flux-dev": ("flux_dev_checkpoint_example", "text-to-image"),
    "flux-schnell": ("flux_schnell", "text-to-image"),
    "flux-dev-full": ("flux_dev_full_text_to_image", "text-to-image"),
    "flux-kontext": ("flux_kontext_dev_basic", "image-edit"),
    "hidream": ("hidream_i1_dev", "text-to-image"),
    "hidream-edit": ("hidream_e1_1", "image-edit"),
    "qwen-image": ("image_qwen_image", "text-to-image"),
    "qwen-image-edit": ("image_qwen_image_edit", "image-edit"),
    "chroma": ("image_chroma_text_to_image", "text-to-image"),
    "lumina2": ("image_netayume_lumina_t2i", "text-to-image"),
    "omnigen2": ("image_omnigen2_t2i", "text-to-image"),
}
IMAGE_TASKS = ("image-to-image", "image-edit", "inpaint", "outpaint", "upscale")


def session():
    s = requests.Session()
    s.trust_env = False  # loopback only, never through a proxy
    return s


def files_of(url, template, http=None):
    """{folder: [names]} the template loads, as templates.requirements reads its workflow."""
    http = http or session()
    workflow = http.get(f"{url}/templates/{template}.json", timeout=30).json()
    info = http.get(f"{url}/object_info", timeout=60).json()
    out = {}
    for need in templates.requirements(workflow, info).models:
        out.setdefault(need.directory, []).append(need.name)
    return {folder: sorted(set(names)) for folder, names in out.items()}


def install_only(base, files):
    """models/ holds exactly `files` ({folder: [names]}), each an empty placeholder. Folders stay:
    ComfyUI 0.3.64 answers /models/<folder> with a 500 once a folder it made at start is gone."""
    models = Path(base) / "models"
    for old in sorted(models.rglob("*"), reverse=True):
        if old.is_file() or old.is_symlink():
            old.unlink()
    for folder, names in files.items():
        for name in names:
            path = models / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")


def listed(url, files, http=None, timeout=20):
    """Wait until /models/<folder> lists every placeholder (ComfyUI rescans on a folder change)."""
    http = http or session()
    end = time.monotonic() + timeout
    while True:
        seen = {folder: http.get(f"{url}/models/{folder}", timeout=10).json() for folder in files}
        if all(set(names) <= set(seen[folder]) for folder, names in files.items()):
            return seen
        if time.monotonic() > end:
            raise AssertionError(f"the server lists {seen}, not {files}")
        time.sleep(0.5)


def generate(url, text, task, env=None, image=PNG):
    """What `generate.py --dry-run --json` chose: (returncode, the JSON it printed or None, stderr)."""
    args = [sys.executable, str(ROOT / "scripts" / "generate.py"), text, "--task", task, "--seed", "1",
            "--dry-run", "--json", "--url", url]
    if task in IMAGE_TASKS:
        args += ["--image", str(image)]
    env = dict(env or os.environ)
    r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)
    try:
        out = json.loads(r.stdout)
    except ValueError:
        out = None
    return r.returncode, out, r.stderr


def with_uploaded_image(url, workflow, image=PNG, http=None):
    """The workflow with the inputs generate.py gave `image`'s local path reading it uploaded to
    the server's input folder instead (LoadImage, and LoadImageOutput, which reads the input
    folder too: nodes.py LoadImageOutput inherits LoadImage.load_image)."""
    http = http or session()
    wf = json.loads(json.dumps(workflow))
    loads = [n for n in wf.values() if str(image) in n.get("inputs", {}).values()]
    if not loads:
        return wf, None
    name = f"genlive-{image.name}"
    resp = http.post(f"{url}/upload/image", files={"image": (name, image.read_bytes())},
                     data={"type": "input", "overwrite": "true"}, timeout=30)
    resp.raise_for_status()
    uploaded = resp.json()["name"]
    for node in loads:
        node["inputs"] = {k: uploaded if v == str(image) else v for k, v in node["inputs"].items()}
    return wf, uploaded


def post_then_cancel(url, workflow, http=None):
    """POST /prompt's answer {status, body}; a queued prompt is deleted and interrupted at once."""
    http = http or session()
    resp = http.post(f"{url}/prompt", json={"prompt": workflow, "client_id": str(uuid.uuid4())}, timeout=60)
    body = resp.json()
    pid = body.get("prompt_id") if resp.status_code == 200 else None
    if pid:
        http.post(f"{url}/queue", json={"delete": [pid]}, timeout=30)
        http.post(f"{url}/interrupt", json={"prompt_id": pid}, timeout=30)
    return {"status": resp.status_code, "body": body}


def loader_options(url, files, uploaded=None, http=None):
    """{"Class.input": [options]} for every server input whose list shows an installed file."""
    http = http or session()
    info = http.get(f"{url}/object_info", timeout=60).json()
    names = {n for ns in files.values() for n in ns} | ({uploaded} if uploaded else set())
    out = {}
    for cls, spec in info.items():
        for section in ("required", "optional"):
            for inp, value in ((spec.get("input") or {}).get(section) or {}).items():
                options = _options(value)
                if options and names & set(options):
                    out[f"{cls}.{inp}"] = sorted(o for o in options if o in names)
    return out


def _options(spec):
    if isinstance(spec, list) and spec:
        if isinstance(spec[0], list):
            return [o for o in spec[0] if isinstance(o, str)]
        if spec[0] == "COMBO" and len(spec) > 1 and isinstance(spec[1], dict):
            return [o for o in spec[1].get("options") or [] if isinstance(o, str)]
    return None


def wait_idle(url, http=None, timeout=60):
    """Nothing running or pending (the interrupted prompt has ended)."""
    http = http or session()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        q = http.get(f"{url}/queue", timeout=10).json()
        if not q["queue_running"] and not q["queue_pending"]:
            return
        time.sleep(0.3)
    raise AssertionError(f"the queue did not empty: {q}")


def record_family(url, base, family, env=None):
    """Steps 1-3 for one family: the recording tests/recordings/generate/<family>.json holds."""
    template, task = FAMILIES[family]
    http = session()
    files = files_of(url, template, http)
    install_only(base, files)
    listed(url, files, http)
    text = EDIT_TEXT if task == "image-edit" else TEXT
    code, out, stderr = generate(url, text, task, env)
    rec = {"family": family, "template": template, "task": task, "request": text, "files": files,
           "generate": {"exit_code": code, "stderr": stderr.strip().splitlines()}}
    if code != 0 or out is None:
        rec["generate"]["output"] = out
        return rec
    rec["chosen"] = {"template": out["template"], "task": out["task"], "models": out["models"], "why": out["why"]}
    workflow, uploaded = with_uploaded_image(url, out["workflow"], http=http)
    rec["uploaded_image"] = uploaded
    rec["workflow"] = workflow
    rec["answer"] = post_then_cancel(url, workflow, http)
    rec["loader_options"] = loader_options(url, files, uploaded, http)
    wait_idle(url, http)
    # the same workflow once the files are gone: what the server says of each missing file
    install_only(base, {})
    listed_empty(url, files, http)
    rec["answer_without_files"] = post_then_cancel(url, workflow, http)
    return rec


def listed_empty(url, files, http, timeout=20):
    end = time.monotonic() + timeout
    while any(http.get(f"{url}/models/{folder}", timeout=10).json() for folder in files):
        if time.monotonic() > end:
            raise AssertionError("the server still lists files that were removed")
        time.sleep(0.5)

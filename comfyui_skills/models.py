"""What the pack knows of models, read from one data file (data/models.json).

- which models/ folder a loader input reads: folder_for(class_type, input_name);
- files the official templates name, with folder, family, size, link, sha256 and older names:
  known_file(name);
- model families and what they make: families(), family(id).

references/models.md is generated from the same data (`python -m comfyui_skills.models
--write-reference`), so the people's table and the scripts' answers cannot drift apart. The data is
read on first use and kept: a validation that never meets a model file never reads it.
"""

from __future__ import annotations  # annotations stay text: no typing import on the validate path

import json
import sys
from collections import namedtuple
from functools import lru_cache
from pathlib import Path

from .config import PACK_ROOT

DATA_FILE = Path(__file__).resolve().parent / "data" / "models.json"
REFERENCE_FILE = PACK_ROOT / "references" / "models.md"
REFERENCE = "references/models.md"

# Named tuples, not dataclasses: importing dataclasses and building the classes costs ~15 ms, which
# every validate.py run would pay though most never meet a model file.


class KnownFile(namedtuple("KnownFile", "name folder families url title size size_checked sha256 aliases")):
    """A model file the pack knows.

    name: str, the file name the official templates use; folder: str, its models/ folder;
    families: tuple of family ids; url: str | None, the download link; title: str | None, what it is;
    size: str | None, rounded as published ("6.9 GB"); size_checked: bool, False when that size was
    not checked against the repo; sha256: str | None; aliases: tuple of older names of the same file
    (another format, a renamed upload).
    """
    __slots__ = ()

    @property
    def size_label(self) -> str | None:
        """The size as the reference prints it: "6.9 GB", or "15 GB ?" when unchecked."""
        if not self.size:
            return None
        return self.size if self.size_checked else f"{self.size} ?"


class Family(namedtuple("Family", "id name media tasks comfy_models clip_type based_on")):
    """A model family.

    id: str ("sdxl"); name: str; media: tuple (image, video, audio, 3d); tasks: tuple;
    comfy_models: tuple of the model classes ComfyUI detects it as (comfy/supported_models.py);
    clip_type: str | None, the CLIPLoader / DualCLIPLoader `type` for its text encoders;
    based_on: str | None, the family id this one is a fine-tune or variant of.
    """
    __slots__ = ()


def folder_for(class_type: str | None, input_name: str) -> str | None:
    """The models/ folder whose files `input_name` of `class_type` lists, or None if it reads none.

    A core class answers from what ComfyUI's own node reads; any other class (a custom node, or
    None) from the usual meaning of the input name (`ckpt_name`, `lora_name`...). Generic names
    (`model_name`, `name`) only count on the core class known to read a folder with them.
    """
    inputs = _data()["loader_inputs"]
    by_class = inputs["by_class"].get(class_type)
    if by_class is not None:
        return by_class.get(input_name)
    return inputs["by_input"].get(input_name)


def known_file(name: str) -> KnownFile | None:
    """The known file `name` refers to: by its name, an older name, or its base name when the
    workflow keeps it in a subfolder ("SDXL/sd_xl_base_1.0.safetensors", "sd\\x.ckpt"). Case is
    ignored, as a hint is worth giving for a file the user spelt differently."""
    if not isinstance(name, str) or not name:
        return None
    index = _file_index()
    key = name.strip().lower()
    return index.get(key) or index.get(key.replace("\\", "/").rsplit("/", 1)[-1])


def known_files() -> tuple[KnownFile, ...]:
    """Every known file, in the data's order."""
    return _files()


def families() -> tuple[Family, ...]:
    """Every model family, in the data's order."""
    return _families()


def family(family_id: str) -> Family | None:
    return _family_index().get(family_id)


# -- loading ------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _data() -> dict:
    # JSON, not YAML: the stdlib parses it in about a millisecond; importing yaml alone costs ~35 ms
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _files() -> tuple[KnownFile, ...]:
    return tuple(KnownFile(name=f["name"], folder=f["folder"], families=tuple(f.get("families") or ()),
                           url=f.get("url"), title=f.get("title"), size=f.get("size"),
                           size_checked=f.get("size_checked", True), sha256=f.get("sha256"),
                           aliases=tuple(f.get("aliases") or ()))
                 for f in _data()["files"])


@lru_cache(maxsize=1)
def _file_index() -> dict[str, KnownFile]:
    index = {}
    for f in _files():
        for n in (f.name,) + f.aliases:
            index.setdefault(n.lower(), f)
    return index


@lru_cache(maxsize=1)
def _family_index() -> dict[str, Family]:
    return {f.id: f for f in _families()}


@lru_cache(maxsize=1)
def _families() -> tuple[Family, ...]:
    return tuple(Family(id=f["id"], name=f["name"], media=tuple(f["media"]), tasks=tuple(f["tasks"]),
                        comfy_models=tuple(f.get("comfy_models") or ()), clip_type=f.get("clip_type"),
                        based_on=f.get("based_on"))
                 for f in _data()["families"])


# -- references/models.md -----------------------------------------------------------------------
INTRO = """\
# Common models: folder, file, size, where to get them

Each file goes in ComfyUI's `models/<folder>/` (or a folder `extra_model_paths.yaml` maps to it).
File names and download links are the ones ComfyUI's official workflow templates ask for (templates
0.1.95, shipped with ComfyUI 0.3.64, and 0.1.123): a workflow built from a template finds the file
under exactly this name. Sizes are approximate (from the published repos, rounded); a `?` marks a
size not checked against the repo. A file much smaller than its size here is a broken download
(a diagnosis then reports `model_corrupt`). An older name in brackets is the same model under the
name older workflows use; validation and diagnosis point to the download for either.

Download with this pack (into the server's own folder when it is on this machine, through its
ComfyUI-Manager otherwise, else it prints the commands to run where the server lives; resumable,
checked against the file's sha256 where the pack knows it), by file name or for a whole workflow:

    @DOWNLOAD@
    @NEED@

or with comfy-cli from the ComfyUI folder, or any HTTP client:

    comfy model download --url <download link> --relative-path models/<folder>
    curl -L -o models/<folder>/<file> <download link>

Gated repos (Flux dev, SD 3.5) need a Hugging Face token (`HF_TOKEN` for this pack, `hf auth login`,
or the `Authorization: Bearer` header); without one the download is an HTML login page, which ComfyUI
reports as `Error while deserializing header: header too large`.

This file is generated from `comfyui_skills/data/models.json` (which also holds each file's SHA256
where the templates give it): edit the data, then run
`python -m comfyui_skills.models --write-reference`.
"""

TOGETHER = """\
## What belongs together

A LoRA, VAE, ControlNet or text encoder made for another base model fails with shape errors
(`size mismatch for ...`, `mat1 and mat2 shapes cannot be multiplied`) or, for LoRAs, loads
silently with `lora key not loaded` lines in the log and no effect.
"""


def reference_markdown() -> str:
    """references/models.md as the data says it: files by folder, what belongs together, families."""
    data = _data()
    names = {f.id: f.name for f in _families()}
    order = {f.id: i for i, f in enumerate(_families())}
    from . import nextsteps

    out = [INTRO.replace("@DOWNLOAD@", str(nextsteps.step("models", "download", "<file>")))
           .replace("@NEED@", str(nextsteps.step("models", "need", "<workflow.json>", download=True)))]
    for folder, dirs in data["folders"].items():
        rows = [f for f in _files() if f.folder == folder]
        if not rows:
            continue
        rows.sort(key=lambda f: (order.get(f.families[0], len(order)) if f.families else len(order),
                                 f.name.lower()))
        out.append(f"## models/{folder}\n")
        if len(dirs) > 1:
            others = ", ".join(f"`models/{d}/`" for d in dirs if d != folder)
            out.append(f"ComfyUI reads {others} for this folder too.\n")
        out.append("| model | file | size | download |\n|---|---|---|---|")
        for f in rows:
            model = f.title or ", ".join(names.get(i, i) for i in f.families)
            file = f"`{f.name}`" + "".join(f" (older name `{a}`)" for a in f.aliases)
            out.append(f"| {model} | {file} | {f.size_label or ''} | {f.url or ''} |")
        out.append("")
    out.append(TOGETHER)
    out.append("| base | diffusion model / checkpoint | text encoders (loader, type) | VAE |\n|---|---|---|---|")
    for p in data["pairings"]:
        out.append(f"| {p['base']} | {p['model']} | {p['text_encoders']} | {p['vae']} |")
    out.append("\n## Model families\n")
    out.append("ComfyUI recognises a loaded model by its tensors (`comfy/supported_models.py`); the type is "
               "the `type` a CLIPLoader or DualCLIPLoader needs for the family's text encoders. A family "
               "with no ComfyUI class here needs a ComfyUI newer than 0.3.64.\n")
    out.append("| id | family | makes | ComfyUI model classes | text-encoder type |\n|---|---|---|---|---|")
    for f in _families():
        base = f" (based on {names.get(f.based_on, f.based_on)})" if f.based_on else ""
        out.append(f"| `{f.id}` | {f.name}{base} | {', '.join(f.tasks)} | {', '.join(f.comfy_models)} | "
                   f"{f'`{f.clip_type}`' if f.clip_type else ''} |")
    return "\n".join(out) + "\n"


def write_reference(path: Path | None = None) -> bool:
    """Rewrite the reference (references/models.md unless `path`) from the data; True when it changed."""
    path = path or REFERENCE_FILE
    text = reference_markdown()
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    path.write_text(text, encoding="utf-8")
    return True


USAGE = f"usage: python -m comfyui_skills.models --write-reference | --check-reference  ({REFERENCE} from data/models.json)"


def main(argv=None) -> int:
    """The maintainer's two actions; one flag, no parser (the library leaves flags to commands/)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv not in (["--write-reference"], ["--check-reference"]):
        print(USAGE, file=sys.stderr)
        return 2
    if argv == ["--write-reference"]:
        print(f"{REFERENCE}: {'rewritten' if write_reference() else 'already up to date'}")
        return 0
    current = REFERENCE_FILE.read_text(encoding="utf-8") if REFERENCE_FILE.exists() else ""
    if current != reference_markdown():
        print(f"{REFERENCE} differs from comfyui_skills/data/models.json; run "
              "python -m comfyui_skills.models --write-reference", file=sys.stderr)
        return 1
    print(f"{REFERENCE}: up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())

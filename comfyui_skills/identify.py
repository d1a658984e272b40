"""Every installed model file identified once, and that one answer used everywhere.

For each file a server lists in its model folders, the strongest source that is available here
decides (`identity()`; signatures.py reads headers and metadata, families.py names):

1. the file's own header, when the file is readable from this machine: the server's model
   folders come from `GET /experiment/models` (its roots, extra_model_paths.yaml included), else
   `GET /internal/folder_paths`;
2. the server's `GET /view_metadata/{folder}?filename=` (modelspec.*, trainer ss_* keys), for a
   .safetensors file this machine cannot read;
3. the file name.

A weaker source still fills in what a stronger one cannot tell (an SDXL VAE has the SD VAE's keys,
a Flux.1 Kontext model dev's), and never overrules it: the evidence then says who disagreed.

Each file gets family, kind, variant, confidence and how it was known, plus the size and time
the server reported, kept in the inventory snapshot (`model_identities`) and worked out again
only for a file whose size or time changed. A file shorter than its header says is marked
`problem` and never chosen to run.

`recipe_family()` names the family the way the pack's recipes and model data count it: an SDXL
file of the Pony line is `pony`, a Flux.1 Kontext file `flux1-kontext`, a Lumina-2 architecture
file with Z-Image's text width `z-image`.
"""

import hashlib
import json
import os
import re
import struct
from dataclasses import dataclass, replace

from . import families, models, signatures
from .errors import ServerError

# Folders whose files are model weights a workflow loads by name; others (configs, custom_nodes,
# photomaker...) are left alone. ComfyUI folder names (folder_paths.py at 0.3.64).
FOLDERS = tuple(families.FOLDER_KINDS) + ("diffusers", "gligen", "hypernetworks", "style_models",
                                            "photomaker", "embeddings")

# Names families.py has no rule for yet, for files this machine cannot read: components of the
# 2025-26 families, named as the official repackaged files are (Comfy-Org/*_ComfyUI on Hugging Face,
# as the 0.11.x templates name them: image_z_image_turbo, image_flux2_fp8, image_flux2_klein_*).
EXTRA_NAME_RULES = [(re.compile(p), f, v, k) for p, f, v, k in (
    (r"qwen_3_4b|qwen3_4b", "te:qwen3_4b", None, "text_encoder"),
    (r"qwen_3_8b|qwen3_8b", "te:qwen3_8b", None, "text_encoder"),
    (r"mistral_3_small|mistral3_small|mistral_small_3", "te:mistral3_24b", None, "text_encoder"),
    (r"flux2.*vae|flux_2.*vae", "vae:flux2", None, "vae"),
    (r"z_image", "lumina2", "z-image", None),
    (r"flux_?2_klein|flux2_klein", "flux2", "klein", None),
)]


@dataclass(frozen=True)
class Installed:
    """One installed file and what it is."""
    name: str
    folder: str
    family: str
    kind: str
    how: str
    confidence: float
    evidence: str
    variant: str = None
    parts: tuple = ()
    problem: str = None
    size: int = None
    modified: float = None

    @property
    def usable(self):
        """False for a truncated or unreadable file: it is listed but never chosen."""
        return not self.problem

    @property
    def recipe_family(self):
        return recipe_family(self.family, self.variant)

    @property
    def kind_word(self):
        return {"lora": "a LoRA", "controlnet": "a ControlNet", "vae": "a VAE"}.get(self.kind, f"a {self.kind}")

    def as_dict(self):
        out = {"name": self.name, "folder": self.folder, "family": self.family, "variant": self.variant,
               "kind": self.kind, "confidence": round(self.confidence, 2), "how": self.how,
               "evidence": self.evidence, "size": self.size, "modified": self.modified}
        if self.parts:
            out["parts"] = list(self.parts)
        if self.problem:
            out["problem"] = self.problem
        return out

    @classmethod
    def from_dict(cls, name, folder, d):
        return cls(name=name, folder=folder, family=d.get("family") or "unknown", kind=d.get("kind") or "unknown",
                   how=d.get("how") or "none", confidence=float(d.get("confidence") or 0.0),
                   evidence=d.get("evidence") or "", variant=d.get("variant"), parts=tuple(d.get("parts") or ()),
                   problem=d.get("problem"), size=d.get("size"), modified=d.get("modified"))


def recipe_family(family, variant=None):
    """The family id the recipes and models.json use for (families.py family, variant)."""
    if family == "sdxl" and variant in ("pony", "illustrious"):
        return variant
    if family == "flux1" and variant == "kontext":
        return "flux1-kontext"
    if family == "lumina2" and variant == "z-image":
        return "z-image"
    if family == "qwen-image" and variant == "edit":
        return "qwen-image-edit"
    return family


# -- one file --------------------------------------------------------------------------------------

def _refine(found, other):
    """Let a weaker source fill what the header could not tell (sub-family, variant)."""
    if other is None:
        return found
    ambiguous = found.confidence < families.CONFIDENCE_HEADER
    if other.family == found.family:
        if not other.variant or other.variant == found.variant:
            return found
        if found.variant is not None and not (
                ambiguous and (found.family, found.variant, other.variant) in families.VARIANT_REFINES):
            return replace(found, evidence="{}; {} says variant {} (header wins)".format(
                found.evidence, other.how, other.variant))
        family, variant = found.family, other.variant
    elif ambiguous and other.family in families.REFINES.get(found.family, ()):
        family, variant = other.family, other.variant or found.variant
    else:
        return found
    conf = min(families.CONFIDENCE_HEADER, other.confidence + 0.1)  # the header corroborates the architecture
    return replace(found, family=family, variant=variant, how=other.how, confidence=conf,
                   evidence="{}; {}".format(found.evidence, other.evidence))


def identity(name, folder=None, path=None, metadata=None):
    """The best Identity the available sources give.

    path: the file on disk, if this machine can read it (header first);
    metadata: a __metadata__ dict, e.g. from GET /view_metadata/{folder}?filename=name.
    Never raises for an unreadable file: the Identity carries the problem.
    """
    found = None
    problem = None
    if path is not None:
        try:
            header = signatures.read_header(path)
        except signatures.NotAModelFile as exc:
            problem = exc.message
        else:
            found = signatures.identify_header(header)
            problem = found.problem
            if metadata is None and header.format == "safetensors":
                metadata = header.metadata
    by_meta = signatures.identify_metadata(metadata, name) if metadata else None
    by_name = families.identify_name(name, folder)
    folder_kind = families.FOLDER_KINDS.get(folder) if folder else None

    if found is not None and found.known:
        for other in (by_meta, by_name):
            found = _refine(found, other)
        disagree = [o for o in (by_meta, by_name)
                    if o and o.known and not families.related(found.family, o.family)]
        if disagree:
            found = replace(found, evidence="{}; {} says {} (header wins)".format(
                found.evidence, disagree[0].how, disagree[0].family))
    else:
        best = by_meta or by_name
        if best is not None and by_meta is not None and by_name is not None and \
                by_meta.family == by_name.family and not by_meta.variant and by_name.variant:
            best = replace(by_meta, variant=by_name.variant, evidence="{}; {}".format(by_meta.evidence,
                                                                                     by_name.evidence))
        if best is None:
            best = found or families.Identity("unknown", folder_kind or "unknown", "none", 0.0,
                                              "no header, metadata or name rule matched")
        elif found is not None and found.kind != "unknown" and best.kind == "unknown":
            best = replace(best, kind=found.kind)
        found = best
    if found.kind == "unknown" and folder_kind:
        found = replace(found, kind=folder_kind)
    if problem and not found.problem:
        found = replace(found, problem=problem)
    return found


def identify_file(name, folder, path=None, metadata=None):
    """Installed record for one file from what is available (see the module docstring)."""
    found = _by_layout(name, folder, path) if path and metadata is None else None
    if found is None:
        found = identity(name, folder, path=path, metadata=metadata)
        if found.how == "header" and found.family == "te:llama3_8b" and path:
            found = _llm_encoder(found, path)
    if not found.known or found.family.endswith(":unknown") or found.how == "name":
        extra = _extra_name(name, folder)
        if extra is not None and (not found.known or found.family.endswith(":unknown")
                                  or found.confidence <= extra[3]):
            fam, var, kind, conf, ev = extra
            found = families.Identity(fam, found.kind if found.kind != "unknown" else kind, "name", conf, ev, var,
                                      found.parts, found.problem)
    return Installed(name=name, folder=folder, family=found.family, kind=found.kind, how=found.how,
                     confidence=found.confidence, evidence=found.evidence, variant=found.variant,
                     parts=tuple(found.parts), problem=found.problem)


# Files with the same tensor table (names, dtypes, shapes, offsets: the header less its
# __metadata__) are the same architecture: a thousand SD1.5 fine-tunes saved by the same tool share
# one. identity() is a function of that table, whether the file is whole, what its metadata
# and its name say, and its folder, so its answer for one file is the answer for every file that
# agrees on all five; parsing a checkpoint's 1,000-2,500 tensor entries again is what it saves.
_LAYOUTS = {}
_LAYOUTS_MOST = 4096
_DATA_END = re.compile(rb'"data_offsets"\s*:\s*\[\s*\d+\s*,\s*(\d+)\s*\]')
_METADATA = re.compile(rb'"__metadata__"\s*:\s*\{(?:[^{}"]|"(?:\\.|[^"\\])*")*\}\s*,?')


def _by_layout(name, folder, path):
    """identity()'s answer for `path` from a file with the same layout, else None (and the
    answer is worked out and kept). Only .safetensors files: GGUF headers are small."""
    if not name.lower().endswith((".safetensors", ".sft")):
        return None
    try:
        with open(path, "rb") as f:
            prefix = f.read(8)
            if len(prefix) < 8:
                return None
            (length,) = struct.unpack("<Q", prefix)
            size = os.fstat(f.fileno()).st_size
            if length < 2 or length > signatures.DEFAULT_MAX_HEADER or 8 + length > size:
                return None
            raw = f.read(length)
    except OSError:
        return None
    meta_match = _METADATA.search(raw)
    table = raw[:meta_match.start()] + raw[meta_match.end():] if meta_match else raw
    try:
        metadata = json.loads(b"{" + meta_match.group(0).rstrip(b", \t\r\n") + b"}")["__metadata__"] \
            if meta_match else None
    except (ValueError, KeyError):
        return None
    digest = hashlib.sha1(table).digest()
    known = _LAYOUTS.get(digest)
    by_meta = signatures.identify_metadata(metadata, name) if isinstance(metadata, dict) and metadata else None
    by_name = families.identify_name(name, folder)
    if known is not None:
        data_end, answers = known
        key = (8 + length + data_end <= size, by_meta, by_name, folder)
        if key in answers:
            return answers[key]
    found = identity(name, folder, path=path)
    if found.how == "header" and found.family == "te:llama3_8b":
        found = _llm_encoder(found, path)
    if known is None:
        ends = [int(e) for e in _DATA_END.findall(table)]
        known = _LAYOUTS[digest] = (max(ends, default=0), {})
        if len(_LAYOUTS) > _LAYOUTS_MOST:
            _LAYOUTS.pop(next(iter(_LAYOUTS)))
    known[1][(8 + length + known[0] <= size, by_meta, by_name, folder)] = found
    return found


def _extra_name(name, folder):
    stem = os.path.basename(str(name).replace("\\", "/")).lower()
    norm = re.sub(r"[-\s.]+", "_", stem)
    folder_kind = families.FOLDER_KINDS.get(folder)
    for pattern, fam, var, kind in EXTRA_NAME_RULES:
        m = pattern.search(norm)
        if m and not (kind and folder_kind and kind != folder_kind):
            return fam, var, folder_kind or kind or "unknown", families.CONFIDENCE_NAME, \
                f"file name matches {m.group(0)!r}"
    return None


def _llm_encoder(found, path):
    """signatures.py calls every decoder-only LLM without q/k bias Llama; Qwen3 (Z-Image, Flux.2
    Klein) has q_norm, Mistral Small 3 (Flux.2) a 5120 width (comfy/text_encoders/llama.py
    Qwen3_4BConfig hidden_size 2560, Mistral3Small24BConfig 5120, at ComfyUI 0.33.0)."""
    try:
        header = signatures.read_header(path)
    except signatures.NotAModelFile:
        return found
    shapes = {k: s for k, (_, s) in header.tensors.items()}
    width = (shapes.get("model.embed_tokens.weight") or (0, 0))[-1]
    if "model.layers.0.self_attn.q_norm.weight" in shapes:
        fam = {2560: "te:qwen3_4b", 4096: "te:qwen3_8b"}.get(width, "te:qwen3")
        return families.Identity(fam, found.kind, "header", found.confidence,
                                 f"Qwen3 layers (q_norm), width {width}", None, found.parts, found.problem)
    if width == 5120:
        return families.Identity("te:mistral3_24b", found.kind, "header", found.confidence,
                                 "Llama-style layers, width 5120 (Mistral Small 3)", None, found.parts,
                                 found.problem)
    return found


# -- a whole server ------------------------------------------------------------------------------

def folder_roots(client):
    """{folder: [absolute paths]} the server reads its models from, or {} when it does not say."""
    try:
        listed = client.model_folder_paths()
        return {e["name"]: list(e.get("folders") or []) for e in listed if isinstance(e, dict) and e.get("name")}
    except (ServerError, KeyError, TypeError):
        pass
    try:  # older servers: {folder: [[paths], [extensions]]}
        raw = client.internal_folder_paths()
        return {k: list(v[0]) for k, v in raw.items() if isinstance(v, list) and v and isinstance(v[0], list)}
    except (ServerError, AttributeError, TypeError):
        return {}


def local_path(roots, name, path_index=None):
    """The file on this machine, or None where it is not readable from here."""
    options = list(roots or [])
    if path_index is not None and 0 <= path_index < len(options):
        options = [options[path_index]] + options[:path_index] + options[path_index + 1:]
    for root in options:
        path = os.path.join(root, *str(name).replace("\\", "/").split("/"))
        if os.access(path, os.R_OK) and not os.path.isdir(path):
            return path
    return None


def identify_listing(listing, model_files=None, roots=None, previous=None, metadata_of=None):
    """{folder: {name: Installed}} for `listing` ({folder: [names]}).

    model_files: {folder: [{name, size, modified, pathIndex}]} (GET /experiment/models/{folder});
    roots: {folder: [paths]}; previous: {folder: {name: dict}} from the last snapshot, whose entries
    are kept for files whose size and time did not change; metadata_of(folder, name): the
    server's /view_metadata answer (or None), asked only for files this machine cannot read.
    """
    out = {}
    for folder, names in (listing or {}).items():
        if folder not in FOLDERS:
            continue
        stat = {e.get("name"): e for e in (model_files or {}).get(folder) or [] if isinstance(e, dict)}
        before = (previous or {}).get(folder) or {}
        found = {}
        for name in names or []:
            info = stat.get(name) or {}
            size, modified = info.get("size"), info.get("modified")
            old = before.get(name)
            if old and size is not None and old.get("size") == size and old.get("modified") == modified:
                found[name] = Installed.from_dict(name, folder, old)  # the server says it is unchanged
                continue
            path = local_path((roots or {}).get(folder), name, info.get("pathIndex")) if roots else None
            if path and (size is None or modified is None):
                st = os.stat(path)
                size, modified = st.st_size, st.st_mtime
            if old and size is not None and old.get("size") == size and old.get("modified") == modified:
                found[name] = Installed.from_dict(name, folder, old)
                continue
            metadata = None
            if path is None and metadata_of and name.lower().endswith((".safetensors", ".sft")):
                metadata = metadata_of(folder, name)
            record = identify_file(name, folder, path=path, metadata=metadata)
            found[name] = Installed(**{**record.__dict__, "size": size, "modified": modified})
        out[folder] = found
    return out


def view_metadata(client):
    """metadata_of(folder, name) asking the server's /view_metadata (404: the file has none)."""
    def ask(folder, name):
        try:
            body = client.view_metadata(folder, name)
        except ServerError:
            return None
        return body if isinstance(body, dict) else None
    return ask


def identify_server(client, listing, model_files=None, previous=None, metadata_folders=None):
    """identify_listing for a live server: its roots, its /view_metadata (one request per file this
    machine cannot read; only in `metadata_folders` when given)."""
    ask = view_metadata(client)
    if metadata_folders is not None:
        inner, allowed = ask, set(metadata_folders)
        ask = (lambda folder, name: inner(folder, name) if folder in allowed else None)
    return identify_listing(listing, model_files, folder_roots(client), previous, ask)


def to_record(identities):
    """The snapshot's `model_identities` section: {folder: {name: dict}}."""
    return {folder: {name: {k: v for k, v in item.as_dict().items() if k not in ("name", "folder")}
                     for name, item in files.items()} for folder, files in identities.items()}


def from_record(section):
    return {folder: {name: Installed.from_dict(name, folder, d) for name, d in (files or {}).items()}
            for folder, files in (section or {}).items()}


# -- reading the result --------------------------------------------------------------------------

class Identities:
    """Lookups over {folder: {name: Installed}}; a file not in it is identified by its name."""

    def __init__(self, by_folder=None):
        self.by_folder = by_folder or {}

    def of(self, name, folder=None):
        if folder in self.by_folder and name in self.by_folder[folder]:
            return self.by_folder[folder][name]
        for fold in ([_alias(folder)] if folder else list(self.by_folder)):
            if fold in self.by_folder and name in self.by_folder[fold]:
                return self.by_folder[fold][name]
        return identify_file(name, folder)

    def family_of(self, name, folder=None):
        """The recipe family id of a file: a file the pack lists keeps its listed family."""
        item = self.of(name, folder)
        fam = item.recipe_family if item.family != "unknown" else None
        # a name-rule family the pack's data has no entry for is a model class apart (the SDXL
        # refiner is no SDXL base), and stays; otherwise the pack's record of a file it lists wins
        apart = fam and models.family(fam) is None and ":" not in fam and fam != "upscale"
        if (fam is None or item.how == "name") and not apart:
            known = models.known_file(name)
            if known and known.families:
                return known.families[0]
        return fam

    def all(self):
        for files in self.by_folder.values():
            yield from files.values()

    def usable(self, kinds=None):
        return [i for i in self.all() if i.usable and (kinds is None or i.kind in kinds)]


def _alias(folder):
    return {"clip": "text_encoders", "text_encoders": "clip", "unet": "diffusion_models",
            "diffusion_models": "unet"}.get(folder, folder)


# -- files of one graph that do not belong together ------------------------------------------------

def family_clash(graph, identities=None):
    """Lines naming the LoRA, ControlNet or VAE files of an API graph made for another family than
    its main model (checkpoint or diffusion model), or []. For diagnose: a shape error at load."""
    from .recipes import table

    identities = identities or Identities()
    used = []
    for nid, node in (graph or {}).items():
        for inp, value in ((node or {}).get("inputs") or {}).items():
            folder = models.folder_for(node.get("class_type"), inp) if isinstance(value, str) else None
            if folder:
                used.append((nid, node.get("class_type"), identities.of(value, folder)))
    mains = [u for u in used if u[2].kind in ("checkpoint", "diffusion_model") and u[2].family != "unknown"]
    if not mains:
        return []
    base = mains[0][2]
    recipe = table.get(base.recipe_family)
    vaes = set(recipe.vae) if recipe and recipe.vae else {"vae:sd"}
    lines = []
    for nid, ct, item in used:
        odd = (item.kind in ("lora", "controlnet") and item.family not in ("unknown", base.family)) or \
              (item.kind == "vae" and item.family not in vaes and not item.family.endswith(":unknown")
               and item.family != "unknown")
        if odd:
            lines.append(f"node {nid} {ct} loads {item.name}, {item.kind_word} for {item.family} (by its {item.how}), "
                         f"but the model, {base.name}, is {base.family} (by its {base.how})")
    return lines

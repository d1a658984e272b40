"""LoRAs on any graph: `--lora NAME[:STRENGTH[:CLIP_STRENGTH]]`.

A LoRA loader goes between the graph's model loader (checkpoint, diffusion model) and everything
that used it, and between its CLIP source and everything that used that; several LoRAs chain in
the order given. A family with no CLIP path in the graph gets model-only loaders
(LoraLoaderModelOnly). Before inserting, each file is identified (its header when the server's
files are on this machine, else the metadata the server serves) and refused when it is no LoRA,
or a LoRA of another family than the model it would patch. Trigger words in its metadata are
reported, and `trigger=True` adds them to the prompt.
"""

import json
from dataclasses import dataclass

from . import families, models, nextsteps, signatures
from .identify import identity
from .nextsteps import flag
from .errors import InputError, TransportError
from .schema import NodeSpec

MODEL_FOLDERS = ("checkpoints", "diffusion_models", "unet")
EXTENSIONS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".sft")


@dataclass
class Lora:
    name: str                 # as the user gave it; `file` once resolved against the server's list
    strength: float = 1.0
    clip_strength: float = None  # None: the same as strength
    file: str = None

    def as_dict(self):
        out = {"name": self.file or self.name, "strength": self.strength}
        if self.clip_strength is not None:
            out["clip_strength"] = self.clip_strength
        return out


def parse(text):
    """Lora from "NAME[:STRENGTH[:CLIP_STRENGTH]]"; InputError for a strength that is not a number."""
    name, *rest = str(text).split(":")
    try:
        numbers = [float(x) for x in rest]
    except ValueError:
        numbers = None
    if not name.strip() or numbers is None or len(numbers) > 2:
        raise InputError(f"{flag('lora', repr(text))}: give NAME[:STRENGTH[:CLIP_STRENGTH]], "
                         f"e.g. {flag('lora', 'my_style:0.7')}")
    return Lora(name.strip(), *numbers)


def available(object_info):
    """The LoRA files the server's LoraLoader lists."""
    for cls in ("LoraLoader", "LoraLoaderModelOnly"):
        spec = NodeSpec(cls, object_info.get(cls))
        if "lora_name" in spec.inputs:
            return [o for o in spec.inputs["lora_name"].options or [] if isinstance(o, str)]
    return []


def resolve(lora, object_info):
    """The server's file name for `lora.name` (extension and subfolder optional, case ignored)."""
    files = available(object_info)
    want = lora.name.replace("\\", "/").lower()
    for match in (lambda f: f.lower() == want,
                  lambda f: _stem(f).lower() == want,
                  lambda f: _stem(f.rsplit("/", 1)[-1]).lower() == _stem(want.rsplit("/", 1)[-1])):
        found = [f for f in files if match(f.replace("\\", "/"))]
        if found:
            lora.file = found[0]
            return lora
    close = [f for f in files if want[:4] in f.lower()] or files
    raise InputError(f"{flag('lora', lora.name)}: the server has no LoRA file of that name",
                     hint=(f"its LoRAs: {', '.join(close[:12])}" if files else
                           "it has none: put the file in models/loras/ "
                           f"({nextsteps.step('models', 'download', '<url>', folder='loras')})"))


def _stem(name):
    lower = name.lower()
    for ext in EXTENSIONS:
        if lower.endswith(ext):
            return name[:-len(ext)]
    return name


# -- what a file is ------------------------------------------------------------------------------
def identify(client, folder, name):
    """(Identity, metadata) of a model file on the server: its header when the server's folder is
    on this machine, else the metadata the server serves, else its name. The one place a LoRA's
    family is read, so a better identifier can replace it."""
    path, metadata = None, None
    if client is not None:
        try:
            from .placement import local_folders

            for base in local_folders(client, folder):
                if (base / name).is_file():
                    path = base / name
                    break
        except (InputError, TransportError):
            path = None
        if path is None:
            try:
                metadata = client.view_metadata(folder, name)
            except TransportError:
                metadata = None
    found = identity(name, folder, path=str(path) if path else None, metadata=metadata)
    if path is not None and metadata is None:
        try:
            metadata = signatures.read_header(str(path)).metadata
        except InputError:
            metadata = None
    return found, metadata if isinstance(metadata, dict) else {}


def trigger_words(metadata, most=5):
    """The words a LoRA was trained to answer to, from its metadata (modelspec.trigger_phrase, else
    the most frequent kohya training tags)."""
    phrase = metadata.get("modelspec.trigger_phrase") or metadata.get("trigger_phrase")
    if isinstance(phrase, str) and phrase.strip():
        return [w.strip() for w in phrase.split(",") if w.strip()]
    raw = metadata.get("ss_tag_frequency")
    try:
        freq = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    counts = {}
    for tags in (freq or {}).values() if isinstance(freq, dict) else []:
        for tag, n in (tags or {}).items() if isinstance(tags, dict) else []:
            if isinstance(n, (int, float)) and tag.strip():
                counts[tag.strip()] = counts.get(tag.strip(), 0) + n
    return [t for t, _ in sorted(counts.items(), key=lambda kv: -kv[1])[:most]]


def check_family(lora, lora_id, model_ids):
    """InputError when the file is no LoRA, or a LoRA for another family than every model here."""
    if lora_id.problem and lora_id.how in ("none", "name"):
        raise InputError(f"{flag('lora', lora.file)}: not a readable LoRA file ({lora_id.problem})")
    if lora_id.how == "header" and lora_id.kind not in ("lora", "unknown"):
        raise InputError(f"{flag('lora', lora.file)}: not a LoRA: its header holds a {lora_id.family} "
                         f"{lora_id.kind.replace('_', ' ')} ({lora_id.evidence})",
                         hint="give a file from models/loras/ that is a LoRA")
    if lora_id.how == "header" and lora_id.kind == "unknown" and not lora_id.known:
        raise InputError(f"{flag('lora', lora.file)}: not a LoRA: its header names none of the layers a LoRA "
                         "patches", hint="give a file from models/loras/ that is a LoRA")
    known = [m for m in model_ids if m[1].known]
    if not lora_id.known or not known or lora_id.how == "name":
        return
    if any(_same_family(lora_id.family, ident.family) for _, ident in known):
        return
    name, ident = known[0]
    raise InputError(f"{flag('lora', lora.file)}: a LoRA for {lora_id.family} ({lora_id.evidence}), but the model "
                     f"{name} is {ident.family}; a LoRA only works on the family it was trained for",
                     hint=f"use a {ident.family} LoRA, or a {lora_id.family} model with {flag('model')}")


def _same_family(a, b):
    if a == b:
        return True
    base = {f.id: f.based_on for f in models.families()}
    return base.get(a) == b or base.get(b) == a or families.related(a, b)


# -- the graph -----------------------------------------------------------------------------------
def model_loaders(api):
    """[(node id, input, file)] of the nodes that load the diffusion model, in id order."""
    out = []
    for nid, node in api.items():
        for name, value in (node.get("inputs") or {}).items():
            if isinstance(value, str) and models.folder_for(node.get("class_type"), name) in MODEL_FOLDERS:
                out.append((nid, name, value))
                break
    return sorted(out, key=lambda x: [int(p) if p.isdigit() else 0 for p in str(x[0]).split(":")])


def _outputs(object_info, cls):
    spec = object_info.get(cls) or {}
    return [str(t) for t in spec.get("output") or []]


def _consumers(api, source):
    """[(node id, input)] fed by the output `source` = [node id, slot]."""
    return [(nid, name) for nid, node in api.items() for name, value in (node.get("inputs") or {}).items()
            if isinstance(value, list) and len(value) == 2 and [str(value[0]), value[1]] == source]


def _clip_source(api, object_info, loader):
    """The CLIP output the text encoders use: the loader's own, else the one CLIP loader's."""
    cls = api[loader].get("class_type")
    outs = _outputs(object_info, cls)
    if "CLIP" in outs and _consumers(api, [loader, outs.index("CLIP")]):
        return [loader, outs.index("CLIP")]
    used = []
    for nid, node in api.items():
        for i, kind in enumerate(_outputs(object_info, node.get("class_type"))):
            if kind == "CLIP" and _consumers(api, [nid, i]) and [nid, i] not in used:
                used.append([nid, i])
    return used[0] if len(used) == 1 else None


def _new_id(api):
    numbers = [int(k) for k in api if str(k).isdigit()]
    return str(max(numbers, default=0) + 1)


def insert(api, object_info, loras):
    """The workflow with a LoRA loader per entry between the model (and CLIP) loaders and their
    users, in order; returns (workflow, [{node, class_type, ...}])."""
    loaders = model_loaders(api)
    if not loaders:
        raise InputError(f"{flag('lora')}: this workflow loads no diffusion model or checkpoint to put a LoRA on")
    added = []
    for i, (loader, _, _) in enumerate(loaders):
        outs = _outputs(object_info, api[loader].get("class_type"))
        if "MODEL" not in outs:
            continue
        model = [loader, outs.index("MODEL")]
        clip = _clip_source(api, object_info, loader) if i == 0 else None  # one CLIP patch per LoRA
        model_users, clip_users = _consumers(api, model), _consumers(api, clip) if clip else []
        for lora in loras:
            nid = _new_id(api)
            if clip is not None and "LoraLoader" in object_info:
                strength_clip = lora.strength if lora.clip_strength is None else lora.clip_strength
                api[nid] = {"class_type": "LoraLoader", "_meta": {"title": f"LoRA {lora.file}"},
                            "inputs": {"model": model, "clip": clip, "lora_name": lora.file,
                                       "strength_model": lora.strength, "strength_clip": strength_clip}}
                clip = [nid, 1]
            elif "LoraLoaderModelOnly" in object_info:
                api[nid] = {"class_type": "LoraLoaderModelOnly", "_meta": {"title": f"LoRA {lora.file}"},
                            "inputs": {"model": model, "lora_name": lora.file, "strength_model": lora.strength}}
            else:
                raise InputError(f"{flag('lora')}: this server has no LoraLoader node")
            model = [nid, 0]
            added.append(dict(node=nid, class_type=api[nid]["class_type"], loader=loader, **lora.as_dict()))
        for nid, name in model_users:
            api[nid]["inputs"][name] = model
        for nid, name in clip_users:
            api[nid]["inputs"][name] = clip
    return api, added


def edit(specs, trigger=False, reporter=None):
    """A pipeline edit (see pipeline.run's `edits`) adding the LoRAs `specs` ("NAME:S:C" texts)."""
    loras = [parse(s) for s in specs]

    def apply(api, object_info, client):
        for lora in loras:
            resolve(lora, object_info)
        model_ids = [(file, identify(client, _folder_of(api, nid, name), file)[0])
                     for nid, name, file in model_loaders(api)]
        words, per_file = [], {}
        for lora in loras:
            ident, metadata = identify(client, "loras", lora.file)
            check_family(lora, ident, model_ids)
            found = trigger_words(metadata)
            if found and reporter is not None:
                reporter.note(f"LoRA {lora.file} trigger words: {', '.join(found)}"
                              + ("" if trigger else f" (add them to the prompt with {flag('trigger')})"))
            words += found
            per_file[lora.file] = found
        api, added = insert(api, object_info, loras)
        done = {"loras": [dict({k: v for k, v in a.items() if k != "loader"},
                               **({"trigger_words": per_file[a["name"]]} if per_file.get(a["name"]) else {}))
                          for a in added]}
        if trigger and words:
            done["trigger"] = add_to_prompt(api, object_info, words)
        return api, done
    apply.classes = ("LoraLoader", "LoraLoaderModelOnly")
    return apply


def _folder_of(api, nid, name):
    return models.folder_for(api[nid].get("class_type"), name)


def add_to_prompt(api, object_info, words):
    """The positive prompt with the trigger words in front (those not already there)."""
    from . import slots

    slot = slots.find_slots(api, object_info).get("prompt")
    if slot is None or slot.ambiguous or not isinstance(slot.value, str):
        raise InputError(f"{flag('trigger')}: this workflow has no one positive prompt to add the trigger words to")
    missing = [w for w in words if w.lower() not in slot.value.lower()]
    text = ", ".join(missing + [slot.value]) if missing else slot.value
    for t in slot.targets:
        api[t.node]["inputs"][t.input] = text
    return text

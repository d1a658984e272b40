"""Name the cause of a failed ComfyUI run from the evidence a user holds.

Evidence comes in many shapes (a /prompt error body, a /history answer or entry, WebSocket
messages, a run result, a log or traceback); `evidence.gather()` walks any of them and keeps the
pieces that matter. These are the rules: `diagnose()` runs the recognisers over those pieces and returns the cause,
the node, the quoted lines it relied on, and fixes. A failure no recogniser knows is reported as
"unrecognised" with its evidence: a guessed cause would send the user the wrong way.
"""

import ast
import re

from urllib.parse import urlsplit

from . import models, nextsteps, validation
from .evidence import KINDS, Evidence, detect_kind, gather  # noqa: F401 (kept here too: diagnosis.gather(...) is how callers read)
from .errors import InputError
from .config import DEFAULT_URL, normalize_url

# -- findings -----------------------------------------------------------------------------------
def finding(cause, summary, node_id=None, class_type=None, evidence=(), fixes=(), confidence="high"):
    return {"cause": cause, "summary": summary, "node_id": node_id, "class_type": class_type,
            "evidence": [e for e in evidence if e], "fixes": list(fixes), "confidence": confidence}


def fix(text, command=None):
    return {"text": text, "command": command}


class Commands:
    """The pack's own commands, carrying --url when the user gave one."""

    def __init__(self, url=None):
        self.url = url

    def pack(self, script, *args, **options):
        return nextsteps.render(nextsteps.step(script, *args, **options), self.url)

    def server(self):
        return normalize_url(self.url) if self.url else DEFAULT_URL

    def port(self):
        return urlsplit(self.server()).port or 8188


# -- validation errors (the server's /prompt answer) --------------------------------------------
IMAGE_INPUTS = {"image", "video", "audio", "file"}


def validation_findings(ev, cmd):
    out = []
    for nid, entry in sorted(ev.node_errors.items(), key=lambda kv: _node_order(kv[0])):
        ct = entry.get("class_type") or _class_of(ev, nid)
        for reason in entry["errors"]:
            out.append(_reason_finding(ev, nid, ct, reason, cmd))
    if not out and ev.prompt_error:
        out.append(_top_level_finding(ev, ev.prompt_error, cmd))
    if out and ev.accepted and ev.node_errors:
        for f in out:
            f["summary"] += " The server ran the other outputs and dropped the ones depending on this node."
    return out


def _reason_finding(ev, nid, ct, reason, cmd):
    typ = reason.get("type") or "unknown"
    details = str(reason.get("details") or "")
    extra = reason.get("extra_info") or {}
    name = extra.get("input_name") or details.split(":")[0].split(",")[0].strip() or None
    # the pack's own check words its message whole; the server's is message plus details
    quote = reason.get("quote") or f"{ct} {nid}: {reason.get('message')}" + (f": {details}" if details else "")
    folder = models.folder_for(ct, name)
    if typ == "value_not_in_list" and folder:
        return _missing_model(nid, ct, name, folder, details, extra, quote, cmd, reason.get("nearest"))
    if typ == "custom_validation_failed" and ("Invalid image file" in details or name in IMAGE_INPUTS):
        return finding("input_file_missing",
                       f"{ct} node {nid} names an input file the server does not have ({details}).",
                       nid, ct, [quote],
                       [fix("Upload the file to the server's input folder (the node then names it as the "
                            "upload reports), then run again.", cmd.pack("upload", "<image file>")),
                        fix("Or point the node at a file already in the server's input folder.", None)])
    if typ in ("exception_during_validation", "exception_during_inner_validation") and _is_missing_link(ev, details):
        return finding("bad_link", f"{ct} node {nid} links to node {details.strip(chr(39))}, "
                       "which is not in the workflow.", nid, ct, [quote],
                       [fix("Reconnect the input to an existing node (or restore the deleted node); "
                            "validate before queueing.", cmd.pack("validate", "<workflow.json>"))])
    text, fixes = VALIDATION_ADVICE.get(typ, (None, None))
    if text is None:
        return finding("unrecognised", f"The server rejected {ct} node {nid} with an error type this "
                       f"troubleshooter does not know ({typ}).", nid, ct, [quote],
                       [fix("Read the server's message above; validate the workflow for more detail.",
                            cmd.pack("validate", "<workflow.json>"))], "low")
    return finding(typ, text.format(ct=ct, nid=nid, input=name, details=details, extra=extra), nid, ct, [quote],
                   [fix(t.format(input=name, ct=ct), c and cmd.pack(*(x.format(ct=ct, input=name) for x in c)))
                    for t, c in fixes])


VALIDATION_ADVICE = {
    "required_input_missing": (
        "{ct} node {nid} has no value or link for its required input `{input}`.",
        [("Connect `{input}` (or give it a value) in the workflow, then check it.", ("validate", "<workflow.json>"))]),
    "bad_linked_input": (
        "{ct} node {nid}: input `{input}` is not a valid link; a link is [node_id, output_index].",
        [("Write `{input}` as [\"<node id>\", <output index>], then check it.", ("validate", "<workflow.json>"))]),
    "return_type_mismatch": (
        "{ct} node {nid}: input `{input}` is wired to an output of the wrong type ({details}).",
        [("Wire `{input}` to a node giving the type it expects; find one in the inventory.",
          ("inventory", "nodes", "<query>")),
         ("Check the fixed workflow.", ("validate", "<workflow.json>"))]),
    "invalid_input_type": (
        "{ct} node {nid}: the value of `{input}` cannot be converted to the type the node takes ({details}).",
        [("Give `{input}` a value of the right type (a number, not text), then check it.",
          ("validate", "<workflow.json>"))]),
    "value_smaller_than_min": (
        "{ct} node {nid}: `{input}` is below the node's minimum ({details}).",
        [("Raise `{input}` to at least the minimum the message names, then check it.",
          ("validate", "<workflow.json>"))]),
    "value_bigger_than_max": (
        "{ct} node {nid}: `{input}` is above the node's maximum ({details}).",
        [("Lower `{input}` to at most the maximum the message names, then check it.",
          ("validate", "<workflow.json>"))]),
    "value_not_in_list": (
        "{ct} node {nid}: `{input}` is not one of the values the node offers ({details}).",
        [("Pick one of the listed values for `{input}`, then check it.", ("validate", "<workflow.json>"))]),
    "custom_validation_failed": (
        "{ct} node {nid} refused its inputs: {details}.",
        [("Fix the input the message names, then check it.", ("validate", "<workflow.json>"))]),
    # newer servers (execution.py validate_inputs at 04e2a914): a dynamic group's keys or row count
    "invalid_dynamic_input": (
        "{ct} node {nid}: its dynamic input `{input}` is not shaped as the node declares ({details}).",
        [("Name each row's inputs `group.<row>.<field>`, rows from 0 and within the node's limits; "
          "the node's inputs are listed by the command below.", ("inventory", "show", "{ct}")),
         ("Check the fixed workflow.", ("validate", "<workflow.json>"))]),
    # this pack's check of the server's node replacements (validation.apply_replacements)
    "replacement_failed": (
        "{ct} node {nid}: the server replaces this class before checking, and the replacement needs "
        "input `{input}`, which the node does not have.",
        [("Give the node `{input}`, or use the replacement class the message names.", ("validate", "<workflow.json>"))]),
}


def _missing_model(nid, ct, name, folder, details, extra, quote, cmd, near=None):
    """One diagnosis whichever check found it: the pack's (`near` given) or the server's (its list)."""
    wanted = _wanted_value(details, extra)
    if near is None:
        near = validation.nearest(wanted, _listed_values(details)) if wanted else []
    fixes = []
    if near:
        fixes.append(fix(f"The server has a file with a similar name, {near[0]!r}: set `{name}` to it if "
                         "that is the model you meant.", None))
    known = models.known_file(wanted) if wanted else None
    if known and known.url:
        # models.py download puts it at the top of the folder, under its own (current) name
        asked = wanted.replace("\\", "/")
        renamed = "" if asked.lower() == known.name.lower() else \
            f"; then set `{name}` to {known.name!r}" + (
                f" ({asked.rsplit('/', 1)[-1]!r} is its older name)"
                if asked.rsplit("/", 1)[-1].lower() != known.name.lower() else "")
        checked = f", checked against the sha256 {models.REFERENCE} gives" if known.sha256 else ""
        fixes.append(fix(f"Download it ({known.size_label or 'size unknown'}) into the server's {folder} "
                         f"folder{checked}{renamed}.",
                         cmd.pack("models", "download", known.name)))
        fixes.append(fix("Or fetch every file the workflow lacks (its own links, then the pack's) and check it "
                         "again; a subfolder the workflow names is kept.",
                         cmd.pack("models", "need", "<workflow.json>", download=True)))
    else:
        fixes.append(fix(f"Fetch it from the link the workflow carries (editor workflows from the official "
                         f"templates do), else put {wanted or 'the file'} into ComfyUI's models/{folder} folder; "
                         f"{models.REFERENCE} lists where the common models come from.",
                         cmd.pack("models", "need", "<workflow.json>", download=True)))
    fixes.append(fix(f"List what the server has in {folder}.", cmd.pack("inventory", models=folder)))
    fixes.append(fix("Refresh the pack's inventory after adding a file by hand (the pack's downloads do it themselves).",
                     cmd.pack("inventory")))
    found = finding("model_missing", f"{ct} node {nid} asks for {wanted or 'a model'} in models/{folder}, "
                    "which the server does not have.", nid, ct, [quote], fixes)
    found["model"] = {"wanted": wanted, "folder": folder, "nearest": list(near)}
    return found


def _wanted_value(details, extra):
    if extra.get("received_value") is not None:
        return str(extra["received_value"])
    m = re.search(r":\s*'([^']*)'\s+not in", details)
    return m.group(1) if m else None


def _listed_values(details):
    m = re.search(r"not in \[(.*)\]\s*$", details)
    return re.findall(r"'([^']*)'", m.group(1)) if m else []


def _is_missing_link(ev, details):
    target = details.strip().strip("'\"")
    return bool(target) and (not ev.graph or target not in ev.graph)


def _top_level_finding(ev, err, cmd):
    typ = err.get("type")
    message = err.get("message") or ""
    details = err.get("details") or ""
    quote = f"{message}" + (f" {details}" if details else "")
    m = re.search(r"Cannot execute because node (.+?) does not exist", message)
    nid = _node_id_from_details(details)
    if m:
        return node_missing(nid, m.group(1), quote, cmd)
    if typ == "missing_node_type":  # newer servers' name for it (execution.py validate_prompt at 04e2a914)
        extra = err.get("extra_info") if isinstance(err.get("extra_info"), dict) else {}
        if isinstance(extra.get("class_type"), str):
            return node_missing(str(extra.get("node_id") or nid), extra["class_type"], quote, cmd)
        typ = "invalid_prompt"  # a node without class_type
    if typ == "invalid_prompt":
        return finding("invalid_prompt", f"The server could not read the workflow: {message} ({details}).",
                       nid, _class_of(ev, nid), [quote],
                       [fix("Export the workflow in API format (every node needs class_type and inputs), "
                            "then check it.", cmd.pack("validate", "<workflow.json>")),
                        fix("An editor (UI) workflow converts to API format with the command below.",
                            cmd.pack("convert", "<workflow.json>"))])
    if typ == "prompt_no_outputs":
        return finding("prompt_no_outputs", "The workflow has no output node (SaveImage, PreviewImage, "
                       "SaveVideo...), so there is nothing to run.", None, None, [quote],
                       [fix("Add an output node at the end of the graph; find one in the inventory.",
                            cmd.pack("inventory", nodes="save")),
                        fix("Check the workflow again.", cmd.pack("validate", "<workflow.json>"))])
    if typ == "prompt_outputs_failed_validation":
        return finding("prompt_outputs_failed_validation", "Every output of the workflow failed validation; "
                       "the node errors were not part of the evidence.", None, None, [quote],
                       [fix("Validate the workflow to see which nodes fail.", cmd.pack("validate", "<workflow.json>"))],
                       "medium")
    return finding("unrecognised", f"The server rejected the workflow: {message}", nid, None, [quote],
                   [fix("Validate the workflow for details.", cmd.pack("validate", "<workflow.json>"))], "low")


def _node_id_from_details(details):
    m = re.search(r"Node ID '#([^']+)'", details or "")
    return m.group(1) if m else None


# -- missing custom nodes -----------------------------------------------------------------------
# Class-name patterns of popular node packs and their Comfy Registry ids (what `comfy node install`
# and ComfyUI-Manager take): each id is the `[project] name` in the pack's own pyproject.toml, which
# the registry publishes it under. Anything else: the Manager's node map (nodes.py need).
KNOWN_PACKS = [
    (r"^VHS_", "comfyui-videohelpersuite", "https://github.com/Kosinkadink/ComfyUI-VideoHelperSuite"),
    (r"IPAdapter", "comfyui_ipadapter_plus", "https://github.com/cubiq/ComfyUI_IPAdapter_plus"),
    (r"^ADE_", "comfyui-animatediff-evolved", "https://github.com/Kosinkadink/ComfyUI-AnimateDiff-Evolved"),
    (r"^ACN_", "comfyui-advanced-controlnet", "https://github.com/Kosinkadink/ComfyUI-Advanced-ControlNet"),
    (r"\(rgthree\)$", "rgthree-comfy", "https://github.com/rgthree/rgthree-comfy"),
    (r"\|pysssss$", "comfyui-custom-scripts", "https://github.com/pythongosssss/ComfyUI-Custom-Scripts"),
    (r"GGUF", "ComfyUI-GGUF", "https://github.com/city96/ComfyUI-GGUF"),
    (r"^WanVideo", "ComfyUI-WanVideoWrapper", "https://github.com/kijai/ComfyUI-WanVideoWrapper"),
    (r"^(FaceDetailer|SAMLoader|UltralyticsDetectorProvider|DetailerForEach)", "comfyui-impact-pack",
     "https://github.com/ltdrdata/ComfyUI-Impact-Pack"),
    (r"Preprocessor$", "comfyui_controlnet_aux", "https://github.com/Fannovel16/comfyui_controlnet_aux"),
]


def pack_for(class_type):
    for pattern, pack, repo in KNOWN_PACKS:
        if re.search(pattern, class_type or ""):
            return pack, repo
    return None, None


def node_missing(nid, class_type, quote, cmd):
    pack, repo = pack_for(class_type)
    fixes = [fix("Name the packs the workflow lacks (from ComfyUI-Manager's node map when the server has the "
                 "Manager, else the packs the pack knows).", cmd.pack("nodes", "need", "<workflow.json>"))]
    if pack:
        fixes.append(fix(f"Install {pack} ({repo}) through the server's ComfyUI-Manager, then restart ComfyUI; "
                         "without the Manager it prints the comfy-cli and git lines to run where the server lives.",
                         cmd.pack("nodes", "install", pack)))
        fixes.append(fix("Or with comfy-cli, where the server lives (then restart ComfyUI).",
                         f"comfy node install {pack}"))
    else:
        fixes.append(fix("Install the pack it names through the server's ComfyUI-Manager, then restart ComfyUI.",
                         cmd.pack("nodes", "install", "<pack>")))
        fixes.append(fix("Or let comfy-cli find it in ComfyUI-Manager's database, where the server lives (or in "
                         "the editor: Manager > Install Missing Custom Nodes).",
                         "comfy node install-deps --workflow=<workflow.json>"))
    fixes.append(fix("Check the server now has the class.", cmd.pack("inventory", nodes=class_type)))
    where = f" from {pack}" if pack else ""
    return finding("node_missing", f"The server has no node class {class_type}{where}: the custom node pack "
                   "is not installed (or failed to import at start-up).", nid, class_type, [quote], fixes)


# -- execution errors (exceptions raised while a node ran) --------------------------------------
OOM = re.compile(r"out of memory|OutOfMemoryError|can't allocate memory|Cannot allocate memory|"
                 r"DefaultCPUAllocator|not enough memory|MemoryError|Allocation on device", re.I)
GPU_OOM = re.compile(r"CUDA out of memory|torch\.cuda\.OutOfMemoryError|HIP out of memory|MPS backend out of "
                     r"memory|XPU out of memory|Allocation on device", re.I)
CORRUPT = re.compile(r"SafetensorError|deserializing header|header too (small|large)|incomplete metadata|"
                     r"MetadataIncompleteBuffer|HeaderTooLarge|HeaderTooSmall|PytorchStreamReader failed|"
                     r"failed finding central directory|invalid load key|UnpicklingError|Ran out of input|"
                     r"not a zip file|unexpected EOF|file not fully covered", re.I)
WRONG_TYPE = re.compile(r"Could not detect model type|ERROR: Could not detect model|"
                        r"unet missing|no CLIP/text encoder weights in checkpoint|clip missing", re.I)
FAMILY = re.compile(r"size mismatch for|Error\(s\) in loading state_dict|mat1 and mat2 shapes cannot be multiplied|"
                    r"weight of size .* expected input.* to have \d+ channels|lora key not loaded", re.I)
SHAPE = re.compile(r"The size of tensor a \(\d+\) must match the size of tensor b|Sizes of tensors must match|"
                   r"is invalid for input of size|shape '\[.*\]' is invalid|cannot reshape|"
                   r"expected input\[.*\] to have \d+ channels", re.I)
DEVICE = re.compile(r"Expected all tensors to be on the same device|Torch not compiled with CUDA|"
                    r"Input type \(torch\.cuda\.\w+\) and weight type \(torch\.\w+\)|"
                    r"Input type \(torch\.\w+\) and weight type \(torch\.cuda\.\w+\)|"
                    r"No CUDA GPUs are available|CUDA error: invalid device ordinal|"
                    r"found at least two devices|is not on the expected device", re.I)
DTYPE = re.compile(r"expected scalar type \w+ but found \w+|expected m?a?t?1? ?and m?a?t?2? to have the same dtype|"
                   r"not implemented for '(Half|BFloat16|Float8\w*)'|"
                   r"Input type \((c10::)?\w+\) and (weight|bias) type \((c10::)?\w+\) should be the same|"
                   r"Promotion for Float8 Types is not supported|value cannot be converted to type", re.I)
FILE_MISSING = re.compile(r"FileNotFoundError|No such file or directory", re.I)
MODEL_NODE = re.compile(r"Loader|Sampler|CLIP|VAE|ControlNet|Lora|LoRA|Model|Unet|UNET|Conditioning|"
                        r"Guider|IPAdapter|Encode|Decode", re.I)


def exec_findings(ev, cmd):
    e = ev.exec_error
    if not e:
        return []
    text = f"{e['exception_type']}: {e['message']}".strip(": ")
    quotes = [_first_lines(text, 4)] + _frame_lines(e["traceback"])
    return [classify_exception(text, e["node_id"], e["class_type"] or _class_of(ev, e["node_id"]),
                               quotes, cmd, inputs=e["inputs"], graph=ev.graph)]


def classify_exception(text, nid, ct, quotes, cmd, inputs=None, graph=None, confidence="high"):
    where = f"{ct} node {nid}" if nid else (ct or "a node")
    model_file = _model_file(ct, inputs)
    if OOM.search(text):
        return _oom(text, nid, ct, where, quotes, cmd, confidence)
    if WRONG_TYPE.search(text):
        return finding("model_wrong_type", f"{where} loaded {model_file or 'a file'} but ComfyUI could not tell "
                       "what model it is: it is not a full checkpoint (a LoRA, a diffusion-model-only file, a "
                       "text encoder...) or a model this ComfyUI version does not support.", nid, ct, quotes,
                       [fix("Use the loader that matches the file: UNETLoader (models/diffusion_models) for "
                            "diffusion-only files, LoraLoader for LoRAs, CLIPLoader for text encoders; "
                            "references/models.md says which file goes where.", None),
                        fix("See which files the server has in each folder.", cmd.pack("inventory", models=True)),
                        fix("Update ComfyUI if the model is newer than the server.", "comfy update comfy")],
                       confidence)
    if CORRUPT.search(text):
        return finding("model_corrupt", f"{where} could not read {model_file or 'its model file'}: the file is "
                       "empty, cut short or not a model at all (an HTML error page saved by a failed download).",
                       nid, ct, quotes,
                       [fix(f"Check the file's size against references/models.md; delete {model_file or 'it'} "
                            "from the models folder and download it again.", cmd.pack("inventory", models=True)),
                        fix("For gated Hugging Face repos, download with a token (a login page saved as "
                            ".safetensors gives 'header too large').", "hf auth login")], confidence)
    if DEVICE.search(text):
        return finding("device_mismatch", f"{where} mixed tensors on different devices (CPU and GPU), or asked "
                       "for a GPU this PyTorch cannot use.", nid, ct, quotes,
                       [fix("See which devices the server has and which PyTorch build it runs.", cmd.pack("status")),
                        fix("If a custom node moves tensors itself, update that pack; otherwise start ComfyUI "
                            "with --cpu when there is no usable GPU.", "python main.py --cpu"),
                        fix("Unload models so they are placed again on the next run.", cmd.pack("queue", "free"))],
                       confidence)
    if DTYPE.search(text):
        return finding("dtype_mismatch", f"{where} got tensors of mismatched precision (fp16/bf16/fp8 vs fp32), "
                       "usually a model file in a precision this device or node does not handle.", nid, ct, quotes,
                       [fix("Pick a loader weight_dtype of 'default' (or an fp16/fp32 model file instead of fp8).",
                            None),
                        fix("Or start ComfyUI forcing full precision where the device lacks half support.",
                            "python main.py --force-fp32"),
                        fix("Unload models before retrying.", cmd.pack("queue", "free"))], confidence)
    if FAMILY.search(text) or (SHAPE.search(text) and MODEL_NODE.search(ct or "")):
        clash = _family_clash(graph)
        return finding("model_family_mismatch", f"{where} got a model whose tensor shapes do not fit: "
                       "a LoRA, VAE, ControlNet or text encoder made for another base model (e.g. SD 1.5 vs "
                       "SDXL vs Flux), or the wrong text-encoder type." + (" " + "; ".join(clash) + "." if clash
                                                                          else ""), nid, ct, quotes,
                       [fix("Use files from the same model family throughout (checkpoint, LoRA, VAE, text "
                            "encoders, ControlNet); references/models.md lists which belong together.", None),
                        fix("Check the loader's type setting (e.g. CLIPLoader type) matches the model.", None),
                        fix("List the files the server has to pick matching ones.", cmd.pack("inventory", models=True))],
                       "high" if FAMILY.search(text) else "medium")
    if SHAPE.search(text):
        return finding("shape_mismatch", f"{where} got inputs whose sizes do not fit together (images, masks or "
                       "latents of different width, height or batch).", nid, ct, quotes,
                       [fix("Make the inputs the same size (ImageScale / resize the mask) or batch size "
                            "before this node, then run again.", None),
                        fix("Check the workflow.", cmd.pack("validate", "<workflow.json>"))], "medium")
    if FILE_MISSING.search(text):
        return finding("file_missing", f"{where} could not find a file it needed (a model or input removed "
                       "after the server listed it, or a path a custom node expects).", nid, ct, quotes,
                       [fix("Refresh the inventory and check the file is where the node looks.", cmd.pack("inventory")),
                        fix("Upload a missing input image.", cmd.pack("upload", "<image file>"))], "medium")
    return finding("unrecognised", f"{where} failed with an error this troubleshooter does not recognise.",
                   nid, ct, quotes,
                   [fix("Read the server log around the traceback.", f"curl -s {cmd.server()}/internal/logs"),
                    fix("If the node belongs to a custom pack, update it; otherwise update ComfyUI.",
                        "comfy node update all")], "low")


def _family_clash(graph):
    """Which file of the graph is of another family than its model, from what the snapshot knows of
    each installed file (identify.py: its header where it was read), else from the names."""
    from . import identify, inventory

    try:
        identities = inventory.load().identities
    except InputError:
        identities = None
    return identify.family_clash(graph, identities)


def _oom(text, nid, ct, where, quotes, cmd, confidence):
    gpu = bool(GPU_OOM.search(text))
    m = re.search(r"tried to allocate ([\d.]+ ?[KMGT]?i?B|\d+ bytes)", text)
    size = f" (it tried to allocate {_bytes_text(m.group(1))})" if m else ""
    mem = "GPU memory (VRAM)" if gpu else "memory (RAM)"
    fixes = [fix("Lower the resolution, the batch size or the number of frames, then run again.", None),
             fix("Unload cached models and free memory on the server.", cmd.pack("queue", "free"))]
    if gpu:
        fixes += [fix("Decode with VAEDecodeTiled instead of VAEDecode (big images and video).", None),
                  fix("Restart ComfyUI in low-VRAM mode (or --novram / --cpu as a last resort).",
                      "python main.py --lowvram")]
    else:
        fixes.append(fix("Decode with VAEDecodeTiled instead of VAEDecode; close other programs.", None))
    return finding("out_of_memory", f"{where} ran out of {mem}{size}.", nid, ct, quotes, fixes, confidence)


def _bytes_text(raw):
    m = re.fullmatch(r"(\d+) bytes", raw)
    if not m:
        return raw
    n = float(m.group(1))
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024:
            return f"{n:.1f} {unit}" if unit != "bytes" else f"{n:.0f} bytes"
        n /= 1024
    return f"{n:.1f} EiB"


def _model_file(ct, inputs):
    for key, value in (inputs or {}).items():
        if models.folder_for(ct, key) or key.endswith("_name"):
            return value[0] if isinstance(value, list) and value else value
    return None


def _first_lines(text, n):
    return "\n".join(text.splitlines()[:n])


def _frame_lines(traceback):
    """The last frame of a traceback: where it failed, one line."""
    frames = [f for f in traceback if isinstance(f, str) and "File " in f]
    return [frames[-1].strip().splitlines()[0]] if frames else []


# -- run states that are not exceptions ---------------------------------------------------------
def state_findings(ev, cmd):
    if ev.interrupted:
        nid, ct = ev.interrupted["node_id"], ev.interrupted["class_type"] or _class_of(ev, ev.interrupted["node_id"])
        pid = ev.prompt_id or "<prompt id>"
        return [finding("interrupted", f"The run was interrupted (stopped by a user, a script or a client "
                        f"timeout) before {ct} node {nid} finished; nothing is wrong with the workflow.",
                        nid, ct, [f"execution_interrupted at {ct} node {nid}"] + _log_matches(ev, r"Interrupting"),
                        [fix("Run it again; nodes that finished before the interrupt come from the cache.",
                             cmd.pack("run", "<workflow.json>")),
                         fix("See what is queued, so a script does not interrupt it again.", cmd.pack("queue", "list")),
                         fix("History of this prompt.", cmd.pack("queue", "history", pid))])]
    if ev.queue and ev.prompt_id:
        found = _queue_position(ev.queue, ev.prompt_id)
        if found:
            return [_still_running(ev, found, cmd)]
    if ev.run_status is None and ev.executed and not _finished(ev):
        node = sorted(ev.executed, key=_node_order)[-1]
        ct = _class_of(ev, node)
        return [finding("wait_timeout", f"The messages stop while {ct or 'node'} node {node} was executing: the run "
                        "had not finished when the client stopped listening. It may still be running.",
                        node, ct, [f"last message: executing node {node}; no execution_success, "
                                   "execution_error or execution_interrupted"],
                        [fix("Ask the server about it (history, queue, log).",
                             cmd.pack("diagnose", ev.prompt_id or "<prompt id>")),
                         fix("Keep waiting for it.", cmd.pack("queue", "wait", ev.prompt_id or "<prompt id>"))],
                        "medium")]
    if ev.run_status in ("queued", "running", "timeout", "timed_out"):
        return [finding("wait_timeout", f"The client stopped waiting while the run was {ev.run_status}; the "
                        "server may still be working on it (long video jobs take many minutes on a busy "
                        "server).", None, None, [f"run status: {ev.run_status}"],
                        [fix(f"Keep waiting for it (no time limit unless {nextsteps.flag('max_wait')}).",
                             cmd.pack("queue", "wait", ev.prompt_id or "<prompt id>")),
                         fix("Or stop it.", cmd.pack("queue", "interrupt", ev.prompt_id or "<prompt id>"))],
                        "medium")]
    return []


def _finished(ev):
    return bool(ev.saw_success or ev.status_str or ev.exec_error or ev.interrupted or ev.connection_errors
                or ev.saw_end)


def _still_running(ev, found, cmd):
    where, position = found
    pid = ev.prompt_id
    node = sorted(ev.executed, key=_node_order)[-1] if ev.executed else None
    ct = _class_of(ev, node)
    doing = f", now at {ct} node {node}" if node else ""
    summary = (f"The run has not failed: it is still executing on the server{doing}. The client stopped "
               "waiting (a timeout), not the server." if where == "running" else
               f"The run has not failed: it is waiting in the queue ({position} ahead of it).")
    return finding("still_running", summary, node if where == "running" else None, ct if where == "running" else None,
                   [f"/queue lists {pid} as {where}"],
                   [fix(f"Wait for it to finish (no time limit unless {nextsteps.flag('max_wait')}); long video jobs can take "
                        "many minutes.", cmd.pack("queue", "wait", pid)),
                    fix("Or stop it.", cmd.pack("queue", "interrupt", pid)),
                    fix("Then fetch its outputs.", cmd.pack("queue", "outputs", pid))])


def _queue_position(queue, pid):
    for item in queue.get("queue_running") or []:
        if len(item) > 1 and item[1] == pid:
            return "running", 0
    pending = sorted(queue.get("queue_pending") or [], key=lambda item: item[0] if item else 0)
    for i, item in enumerate(pending):
        if len(item) > 1 and item[1] == pid:
            return "pending", i + len(queue.get("queue_running") or [])
    return None


def success_findings(ev, cmd):
    if not (ev.status_str == "success" or ev.saw_success or ev.run_status == "success"):
        return []
    nodes = set(ev.graph) or ev.cached | ev.executed
    if ev.cached and nodes and nodes <= ev.cached:
        return [finding("cached_run", "The run succeeded without computing anything: every node's result came "
                        "from the cache of an identical earlier run, so no new files were written.", None, None,
                        [f"execution_cached: nodes {sorted(ev.cached, key=_node_order)} (all "
                         f"{len(nodes)} nodes)"],
                        [_new_seed_fix(ev, cmd),
                         fix("Fetch the outputs of this (cached) run.",
                             cmd.pack("queue", "outputs", ev.prompt_id or "<prompt id>"))])]
    return [finding("no_failure", "The run succeeded" + (f"; {len(ev.cached)} node(s) came from the cache"
                    if ev.cached else "") + ".", None, None, [f"status: {ev.status_str or ev.run_status or 'success'}"],
                    [fix("Fetch its outputs.", cmd.pack("queue", "outputs", ev.prompt_id or "<prompt id>"))])]


def _new_seed_fix(ev, cmd):
    text = ("Change something to get a new result (a new seed, a different prompt text); the outputs of "
            "the earlier identical run are already on disk.")
    for nid in sorted(ev.graph, key=_node_order):
        inputs = (ev.graph[nid] or {}).get("inputs") or {}
        for name in ("seed", "noise_seed"):
            if isinstance(inputs.get(name), (int, float)):
                return fix(text, cmd.pack("run", "<workflow.json>", set=f"{nid}.{name}=<new seed>"))
    return fix(text, cmd.pack("run", "<workflow.json>", set="<node>.<input>=<new value>"))


# -- the server itself ---------------------------------------------------------------------------
def server_findings(ev, cmd):
    out = []
    if ev.connection_errors:
        out.append(finding("server_unreachable", "The ComfyUI server stopped answering: it is not running, "
                           "crashed or was restarted (if it died mid-run, the run and its history are lost).",
                           None, None, ev.connection_errors[:3] + _log_matches(ev, r"Killed|Segmentation fault"),
                           [fix("Check whether the server answers.", cmd.pack("status")),
                            fix("Start it again (from the ComfyUI folder), then re-run the workflow.",
                                f"python main.py --listen 127.0.0.1 --port {cmd.port()}"),
                            fix("If it died during a large job, it may have been out of memory: lower "
                                "resolution/batch or start with --lowvram.", "python main.py --lowvram")]))
    if ev.http_status and ev.http_status >= 500:
        cause_line = next((l for l in reversed(ev.log_lines) if re.match(r"^\w[\w.]*(Error|Exception):", l)), None)
        json_body = cause_line and "JSONDecodeError" in cause_line
        out.append(finding("server_error", "The server failed while handling the request (HTTP "
                           f"{ev.http_status})" + (": the request body was not valid JSON." if json_body else "."),
                           None, None, [_first_lines(ev.server_error_text or "", 1), cause_line],
                           [fix("Read the server log for the traceback.", f"curl -s {cmd.server()}/internal/logs"),
                            fix("Send a well-formed API workflow (check it first).", cmd.pack("validate", "<workflow.json>"))
                            if json_body else
                            fix("If it keeps failing, restart ComfyUI; update it or the custom node in the "
                                "traceback.", "comfy update all")]))
    return out


def lost_finding(ev, cmd):
    started = _log_matches(ev, r"Starting server|To see the GUI go to")
    return finding("prompt_lost", f"The server has no record of prompt {ev.prompt_id}: not in its history nor "
                   "its queue. History lives in memory, so the server was most likely restarted (or crashed) "
                   "since, or the id belongs to another server.", None, None,
                   [f"/history/{ev.prompt_id} is empty; /queue does not list it"] + started[:1],
                   [fix("Check the server (its uptime and queue).", cmd.pack("status")),
                    fix("Run the workflow again.", cmd.pack("run", "<workflow.json>")),
                    fix("List the prompts this server knows.", cmd.pack("queue", "history"))], "medium")


# -- plain log text -----------------------------------------------------------------------------
def log_findings(ev, cmd):
    lines = ev.log_lines
    if not lines:
        return []
    out = []
    for line in lines:
        m = re.search(r"Cannot execute because node (.+?) does not exist", line)
        if m:
            nid = _node_id_from_details(line)
            return [_lower(node_missing(nid, m.group(1), line.strip(), cmd))]
    out += _log_validation(lines, cmd) or _log_invalid_prompt(lines, cmd)
    if out:
        return out
    exc = _last_exception(lines)
    if exc and any(l.startswith("Error handling request") for l in lines):
        ev.http_status, ev.server_error_text = 500, "Error handling request (HTTP 500)"
        return [_lower(f) for f in server_findings(ev, cmd)]
    if exc:
        nid, ct = _log_node(lines)
        quotes = [exc] + _log_frame(lines)
        out.append(_lower(classify_exception(exc, nid, ct, quotes, cmd)))
    elif any("Processing interrupted" in l for l in lines):
        out.append(finding("interrupted", "The run was interrupted (stopped by a user, a script or a client "
                           "timeout).", None, None, _log_matches(ev, r"Interrupting|Processing interrupted"),
                           [fix("Run it again.", cmd.pack("run", "<workflow.json>"))], "medium"))
    else:
        hits = [l for l in lines if FAMILY.search(l) or OOM.search(l) or DEVICE.search(l) or DTYPE.search(l)]
        if hits:
            out.append(_lower(classify_exception(hits[0], None, None, hits[:3], cmd)))
    return out


LOG_VALIDATION = re.compile(r"^\s*\*\s+(?P<ct>\S+)\s+(?P<nid>[^:\s]+):\s*$")
LOG_REASON = re.compile(r"^\s*-\s+(?P<msg>[^:]+):\s*(?P<details>.*)$")
LOG_TYPES = {"Required input is missing": "required_input_missing", "Value not in list": "value_not_in_list",
             "Return type mismatch between linked nodes": "return_type_mismatch",
             "Custom validation failed for node": "custom_validation_failed",
             "Exception when validating node": "exception_during_validation",
             "Exception when validating inner node": "exception_during_inner_validation"}


def _log_validation(lines, cmd):
    """The server logs each rejected node as `* Class id:` followed by `  - message: details`."""
    ev = Evidence()
    current = None
    for line in lines:
        m = LOG_VALIDATION.match(line)
        if m and m.group("ct") != "(prompt)":
            current = (m.group("nid"), m.group("ct"))
            continue
        r = LOG_REASON.match(line)
        if r and current:
            msg, details = r.group("msg"), r.group("details")
            typ = LOG_TYPES.get(msg) or _typed_message(msg)
            if typ:
                if typ.startswith("value_") and typ != "value_not_in_list":
                    details = details.strip()
                ev.node_errors.setdefault(current[0], {"class_type": current[1], "errors": []})["errors"].append(
                    {"type": typ, "message": msg, "details": details, "extra_info": {}})
        elif not line.startswith(" "):
            current = None
    return [_lower(f) for f in validation_findings(ev, cmd)] if ev.node_errors else []


def _log_invalid_prompt(lines, cmd):
    """`invalid prompt: {...}`: the server's top-level error, logged as a Python dict."""
    for line in lines:
        if line.startswith("invalid prompt: {"):
            try:
                err = ast.literal_eval(line[len("invalid prompt: "):].strip())
            except (ValueError, SyntaxError):
                continue
            if isinstance(err, dict) and err.get("type") != "prompt_outputs_failed_validation":
                return [_lower(_top_level_finding(Evidence(), err, cmd))]
    return []


def _typed_message(msg):
    if re.match(r"Value .* smaller than min", msg):
        return "value_smaller_than_min"
    if re.match(r"Value .* bigger than max", msg):
        return "value_bigger_than_max"
    if msg.startswith("Failed to convert an input value"):
        return "invalid_input_type"
    if msg.startswith("Bad linked input"):
        return "bad_linked_input"
    return None


def _last_exception(lines):
    for line in reversed(lines):
        s = line.strip()
        if re.match(r"^([\w.]+(Error|Exception|Interrupt)|RuntimeError|SafetensorError)\b.*:", s) \
                or re.match(r"^torch\.\w+\.\w*Error", s):
            return s
        if re.match(r"^!!! Exception during processing !!!", s):
            idx = lines.index(line)
            return lines[idx + 1].strip() if idx + 1 < len(lines) else s
    return None


def _log_node(lines):
    """ComfyUI logs the node that raised in the traceback's execute frame only; the class comes from it."""
    for line in reversed(lines):
        m = re.search(r"Exception in node (\S+) \((\w+)\)", line)
        if m:
            return m.group(1), m.group(2)
    return None, None


def _log_frame(lines):
    frames = [l.strip() for l in lines if l.strip().startswith("File ")]
    return frames[-1:]


def _log_matches(ev, pattern):
    return [l.strip() for l in ev.log_lines + ev.context_lines if re.search(pattern, l)][:3]


def _lower(f):
    """Text alone is weaker evidence than the server's structured answer."""
    f["confidence"] = {"high": "medium", "medium": "low", "low": "low"}[f["confidence"]]
    return f


# -- putting it together ------------------------------------------------------------------------
def diagnose(ev, url=None, live_lost=False):
    """The diagnosis dict (see docs: cause, summary, node_id, class_type, evidence, fixes, confidence, problems)."""
    cmd = Commands(url)
    found = (validation_findings(ev, cmd) or exec_findings(ev, cmd) or state_findings(ev, cmd))
    found += server_findings(ev, cmd) if not found or ev.connection_errors else []
    if not found and (live_lost or ev.run_status == "lost" or _unknown_to_server(ev)):
        found = [lost_finding(ev, cmd)]
    if not found:
        found = success_findings(ev, cmd)
    if not found and not ev.exec_error:
        found = log_findings(ev, cmd)
    if not found:
        found = [finding("unrecognised", "Nothing in this input matches a failure this troubleshooter knows.",
                         None, None, _tail(ev.log_lines),
                         [fix("Give the prompt id instead, so the server's history, queue and log are read.",
                              cmd.pack("diagnose", "<prompt id>"))], "low")]
    primary, rest = _primary(found)
    primary["problems"] = rest
    return primary


def diagnose_prompt(client, prompt_id, url=None, log_tail=400):
    """Ask the server about a prompt (its history entry, the queue, the tail of its log) and
    diagnose it. Returns (diagnosis, reachable): a server that does not answer is itself the
    diagnosis (server_unreachable), with reachable False."""
    from .errors import ServerUnreachable

    ev = Evidence()
    ev.prompt_id = prompt_id
    try:
        history = client.history_answer(prompt_id)
        queue = client.queue()
    except ServerUnreachable as exc:
        ev.connection_errors.append(exc.message)
        return diagnose(ev, url=url), False
    gather(history, ev)
    ev.queue = queue.raw
    ev.prompt_id = prompt_id
    ev.context_lines = client.log_lines()[-log_tail:]
    lost = not (history or {}).get(prompt_id) and prompt_id not in queue.places()
    return diagnose(ev, url=url, live_lost=lost), True


def _unknown_to_server(ev):
    """A recorded /history answer that is empty while /queue does not list the prompt either."""
    return (ev.queue is not None and bool(ev.prompt_id) and ev.status_str is None and not ev.saw_success
            and not ev.exec_error and not _queue_position(ev.queue, ev.prompt_id))


def _primary(found):
    """Server-down outranks all (nothing else can be checked); then the first in the server's order."""
    order = sorted(range(len(found)), key=lambda i: (found[i]["cause"] != "server_unreachable", i))
    return found[order[0]], [found[i] for i in order[1:]]


def _tail(lines):
    return [l.strip() for l in lines[-5:]]


def _class_of(ev, nid):
    node = ev.graph.get(str(nid)) if nid is not None else None
    return node.get("class_type") if isinstance(node, dict) else None


def _node_order(nid):
    return (0, int(nid), "") if str(nid).isdigit() else (1, 0, str(nid))

"""The pack's engine as MCP tools, for agent hosts that speak the Model Context Protocol.

Each tool maps its arguments onto the library call a script makes (run.py -> pipeline.run,
queue.py wait -> pipeline.wait, ...) and its result back: the same JSON the script prints with
--json, next steps rendered as commands, images of a run inline. A ComfyError becomes a tool error
(isError) holding the line the script would print; nothing else leaves as a traceback.

The library blocks, so every call runs in a worker thread. Its `progress.Reporter` events go out
as MCP progress notifications, and a host's cancellation sets the run's cancel Event, which stops
it the way Ctrl-C stops run.py: our prompt is removed from the queue or interrupted, no other.

Built on the official `mcp` SDK (the optional extra `mcp`): `serve_stdio()` for hosts that start
the server themselves, `serve_http()` for streamable HTTP (loopback, or any address with a bearer token).
"""

import base64
import io
import json
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import anyio
import mcp.types as types
from mcp.server.lowlevel import Server

from . import (__version__, conversion, downloads, engine, files, generate, inventory,
               nextsteps, pipeline, runs, uploads)
from . import edits as edits_mod
from . import gallery, references
from .masks import REGIONS
from . import workflow as wfmod
from .config import Settings
from .errors import ComfyError, InputError
from .progress import Reporter

DEFAULT_MAX_WAIT = 120.0  # a run longer than this returns its prompt id; `queue` action wait picks it up
INLINE_IMAGE_CAP = 1024 * 1024  # bytes of one image sent inline; larger ones are downscaled or left as paths
INLINE_IMAGE_SIDE = 1024  # longest side of a downscaled image
MOST_INLINE_IMAGES = 8  # a batch of 64 images inline would swamp the host's context
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
               ".gif": "image/gif"}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
DEFAULT_HTTP_PORT = 8765
CANCEL_GRACE = 30.0  # seconds a cancelled run gets to take its prompt off the server
STILL_GOING = ("queued", "running")
INSTRUCTIONS = ("Drive a ComfyUI server: check it (status), find nodes and models (search_nodes, list_models), "
                "pick an official template (list_templates, show_template), check a workflow offline "
                "(validate), run it and get its images (run), follow queued prompts (queue), upload input "
                "images (upload), convert editor <-> API format (convert), explain a failure (diagnose), get what "
                "a workflow lacks (needs, download_model, install_nodes).")


@dataclass
class Reply:
    """A tool's answer before it becomes a CallToolResult."""

    data: dict
    images: tuple = ()  # (bytes, mime type)
    is_error: bool = False
    text: str = None  # instead of the JSON of `data` (an error's one line)


class MCPProgress(Reporter):
    """Forwards what a run reports (queue place, node, sampler step, notes) as progress
    notifications. Called from the worker thread; `send(progress, message)` hops to the loop."""

    def __init__(self, send):
        self.send = send
        self.count = 0  # progress must grow with every notification, whatever the event

    def _out(self, message):
        self.count += 1
        self.send(self.count, message)

    def queued(self, position):
        self._out("running" if position == 0 else f"queued at position {position}")

    def node(self, k, total, node_id, class_type, title):
        name = class_type or "?"
        if title and title != class_type:
            name += f" '{title}'"
        self._out(f"node {k}/{total}: #{node_id} {name}" if total else f"node #{node_id} {name}")

    def step(self, value, maximum):
        if maximum:
            self._out(f"step {int(value)}/{int(maximum)}")

    def note(self, text):
        self._out(text)

    def message(self, text):
        self._out(text)

    def transfer(self, name, done, total, rate):
        """A download: at most one notification a second (and the last), bytes and rate in words."""
        import time

        from .units import human_bytes

        now = time.monotonic()
        last = getattr(self, "_last_transfer", 0.0)
        if now - last < 1.0 and not (total and done >= total):
            return
        self._last_transfer = now
        text = f"{name}: {human_bytes(done)}" + (f" of {human_bytes(total)} ({100 * done / total:.0f}%)"
                                                 if total else "") + f" at {human_bytes(rate)}/s"
        self._out(text)


@dataclass
class Call:
    """What a tool handler gets besides its arguments."""

    settings: Settings
    reporter: Reporter
    cancel: threading.Event


# -- arguments shared by several tools --------------------------------------------------------------
URL_ARG = {"type": "string", "description": "ComfyUI address; default: the one this server was started with"}
PROJECT_ARG = {"type": "string", "description": "project name under projects/ (its outputs folder, its server)"}
WORKFLOW_ARGS = {
    "workflow_path": {"type": "string", "description": "path of a workflow JSON file (API or editor format)"},
    "workflow": {"type": "object", "description": "the workflow itself, inline (API or editor format)"},
}
PROMPT_IDS_ARG = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1,
                  "description": "prompt ids, as run or queue list gave them"}
MAX_WAIT_ARG = {"type": "number", "exclusiveMinimum": 0,
                "description": f"seconds to wait before returning the prompt id instead (default {DEFAULT_MAX_WAIT:g}); "
                               "the prompt keeps running and queue action=wait picks it up"}


def schema(properties, required=()):
    out = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = list(required)
    return out


def settings_for(call, args):
    """The server's settings, with this call's url and project (the key kept for its own server only)."""
    return call.settings.override(url=args.get("url"), project=args.get("project"))


def client(call, args, connect_timeout=None, probe=False):
    return settings_for(call, args).client(connect_timeout=connect_timeout, probe=probe)


def workflow_arg(args):
    """(format, workflow, name, folder its local files are looked up in) from workflow_path or workflow."""
    path, inline = args.get("workflow_path"), args.get("workflow")
    if (path is None) == (inline is None):
        raise InputError("give either workflow_path or workflow (inline JSON), not " +
                         ("both" if path is not None else "neither"))
    return engine.load(path, inline)


# -- tools ----------------------------------------------------------------------------------------
def tool_status(call, args):
    return Reply(engine.status(settings_for(call, args)))


def tool_search_nodes(call, args):
    """inventory.py --nodes / --show: the same engine calls."""
    inv = inventory.load()
    if args.get("class_type"):
        return Reply(engine.show_node(inv, args["class_type"]))
    return Reply(engine.search_nodes(inv, args.get("query", ""), args.get("input_type"), args.get("output_type"),
                                     limit=args.get("limit", 10)))


def tool_list_models(call, args):
    """inventory.py --models [FOLDER]: the same engine call (a snapshot taken first when there is none)."""
    return Reply(engine.list_models(settings_for(call, args), inventory.load(), args.get("folder"),
                                    reporter=call.reporter))


def tool_model_guide(call, args):
    from .recipes import guide

    try:
        ids = inventory.load().identities
    except InputError:
        ids = None
    return Reply(guide.guide(args["what"], ids))


def tool_list_templates(call, args):
    """templates.py list: the same engine call."""
    catalog = engine.template_catalog(settings_for(call, args))
    return Reply(engine.list_templates(catalog, task=args.get("task"), media=args.get("media"), text=args.get("text"),
                                       partner=args.get("partner", False), runnable=args.get("runnable", False),
                                       limit=args.get("limit", 30)))


def tool_show_template(call, args):
    """templates.py show: the same engine call; include_workflow adds the editor workflow."""
    info = engine.show_template(engine.template_catalog(settings_for(call, args)), args["name"],
                                include_workflow=args.get("include_workflow", False))
    return Reply(info, is_error=not info["runnable"])


def tool_validate(call, args):
    """validate.py: the same engine call."""
    return Reply(engine.validate(inventory.load(), workflow_path=args.get("workflow_path"),
                                 workflow=args.get("workflow")))


SLOT_ARGS = ("prompt", "negative", "seed", "width", "height", "size", "length", "batch", "steps", "cfg", "denoise",
             "images", "prefix")


# the chat loop's options (edits.py), the same on run and generate
CHAT_ARGS = {
    "lora": {"type": "array", "items": {"type": "string"},
             "description": "LoRA files to apply, in order: 'NAME[:STRENGTH[:CLIP_STRENGTH]]' (extension optional)"},
    "trigger": {"type": "boolean", "default": False, "description": "add the LoRAs' trigger words to the prompt"},
    "mask": {"type": "string", "description": "mask image of the input's size: WHITE is repainted, BLACK kept "
                                              "(a path, last, last:N or PROMPT_ID:N)"},
    "region": {"type": "string", "enum": list(REGIONS), "description": "repaint only this part"},
    "box": {"type": "string", "description": "repaint only this box: X,Y,W,H in pixels or percent"},
    "denoise": {"type": "number", "minimum": 0, "maximum": 1, "description": "how much of the input to change"},
}


def chat_edits(call, args, image):
    return edits_mod.from_options(image, call.reporter, args.get("project") or call.settings.project,
                                  lora=args.get("lora"), trigger=args.get("trigger", False), mask=args.get("mask"),
                                  region=args.get("region"), box=args.get("box"))


def input_ref(call, args):
    """The image argument, a path or a reference to an earlier output (last, last:N, PROMPT_ID:N)."""
    if not args.get("image"):
        return None
    return references.resolve(args["image"], "image", args.get("project") or call.settings.project)


def tool_run(call, args):
    """run.py: the same engine call, argument for flag (image: a path or an earlier output)."""
    if args.get("again") is None and args.get("workflow_path") is None and args.get("workflow") is None:
        raise InputError("give workflow_path, workflow (inline JSON) or again (an earlier run's prompt id); "
                         "neither was given")
    ref = input_ref(call, args)
    slot_args = {k: args.get(k) for k in SLOT_ARGS}
    if ref:
        slot_args["images"] = [ref.path] + list(slot_args.get("images") or [])
    result = engine.run(
        settings_for(call, args), workflow_path=args.get("workflow_path"), workflow=args.get("workflow"),
        again=args.get("again"), sets=args.get("set", []), sweeps=args.get("sweep", []), seeds=args.get("seeds"),
        slots=slot_args, out=args.get("out"), previews=args.get("previews", False),
        check=args.get("validate", True), wait=args.get("wait", True), max_wait=args.get("max_wait"),
        online_only=args.get("online_only", False), allow_api=args.get("allow_api", False),
        use_installed=args.get("use_installed", False), edits=chat_edits(call, args, ref and ref.path),
        reporter=call.reporter, cancel=call.cancel)
    return run_reply(result)


def tool_generate(call, args):
    """generate.py: the same engine call, argument for flag (image: a path or an earlier output)."""
    ref = input_ref(call, args)
    task, size, seed = edits_mod.edit_values(ref, args.get("task"), args.get("size"), args.get("seed"),
                                             bool(args.get("mask") or args.get("region") or args.get("box")),
                                             args["request"])
    generated = engine.generate(
        settings_for(call, args), args["request"], image=ref.path if ref else None, task=task,
        negative=args.get("negative"), seed=seed, size=size, steps=args.get("steps"),
        count=args.get("count", 1), model=args.get("model"), template=args.get("template"),
        allow_api=args.get("allow_api", False), dry_run=args.get("dry_run", False), out=args.get("out"),
        wait=args.get("wait", True), max_wait=args.get("max_wait"), denoise=args.get("denoise"),
        edits=chat_edits(call, args, str(ref.path) if ref else None), reporter=call.reporter, cancel=call.cancel)
    if generated.result is None:
        return Reply(generated.as_dict())
    return run_reply(generated.result, generated.as_dict())


def tool_needs(call, args):
    """models.py need, and with download: true, models.py need --download: the same engine call."""
    def reporter_for(need, k, n):  # one progress stream: say which file the next notifications are about
        call.reporter.note(f"[{k}/{n}] {need.folder}/{need.name}" + (f" ({need.size})" if need.size else ""))
        return call.reporter

    got = engine.needs(settings_for(call, args), workflow_path=args.get("workflow_path"),
                       workflow=args.get("workflow"), template=args.get("template"),
                       download=args.get("download", False), paths=args.get("paths") or (),
                       reporter_for=reporter_for, cancel=call.cancel, reporter=call.reporter)
    return Reply(masked(got.as_dict()), is_error=not got.runnable)


SECRET_QUERY = re.compile(r"([?&](?:token|access_token|api_key|apikey|key|sig|signature|x-amz-signature)=)"
                          r"[^&\s'\"]+", re.I)


def masked(obj):
    """`obj` with the values of secret-looking URL query parameters (civitai's ?token=) hidden."""
    return json.loads(SECRET_QUERY.sub(r"\1***", json.dumps(obj, ensure_ascii=False, default=str)))


def tool_download_model(call, args):
    """models.py download URL|NAME: into the server's folder here, else its Manager, else commands."""
    from . import placement

    src = placement.source(args["source"], args.get("folder"), args.get("name"), args.get("sha256"))
    if src.name is not None:
        downloads.safe_name(src.name, "name")  # refused before anything is fetched
    c = client(call, args)
    placed = placement.place(c, src.url, src.folder, name=src.name, sha256=src.sha256, path=args.get("path"),
                             reporter=call.reporter, cancel=call.cancel)
    data = placed.as_dict()
    if placed.how != "commands":
        data["inventory"] = {"saved": str(inventory.save_snapshot(inventory.take_snapshot(c))["path"])}
    return Reply(masked(data), is_error=placed.how == "commands")


def tool_install_nodes(call, args):
    """nodes.py install PACK: the same engine call."""
    done = engine.install_nodes(settings_for(call, args), args["pack"], reporter=call.reporter)
    return Reply(done, is_error=not done.get("installed", True))


def tool_gallery(call, args):
    return Reply(gallery.as_json(args.get("project") or call.settings.project or "default", args.get("since")))


def tool_queue(call, args):
    action, ids = args["action"], args.get("prompt_ids")
    if action != "list" and not ids:
        raise InputError(f"queue action {action} needs prompt_ids")
    if action == "list":
        return Reply(engine.queue_list(settings_for(call, args)))
    if action == "cancel":
        done = runs.cancel(client(call, args), ids)
        return Reply(done, is_error=bool(done["not_found"]))
    settings = settings_for(call, args)
    if action == "wait":
        return run_reply(engine.wait(settings, ids, out=args.get("out"), previews=args.get("previews", False),
                                     max_wait=args.get("max_wait"), reporter=call.reporter, cancel=call.cancel))
    return run_reply(engine.collect(settings, ids, out=args.get("out"), previews=args.get("previews", False)))


def tool_upload(call, args):
    uploads.read_image(args["path"])  # refuse a bad file before touching the network
    return Reply(uploads.upload(client(call, args), args["path"], subfolder=args.get("subfolder", ""),
                                overwrite=args.get("overwrite", False), original=args.get("mask_of")))


def tool_convert(call, args):
    fmt, wf, name, _ = workflow_arg(args)
    target = args.get("to") or (wfmod.API if fmt == wfmod.UI else wfmod.UI)
    inv = inventory.load()
    schema_ = conversion.as_schema(inv.object_info)
    keep = args.get("keep_unknown", False)
    try:
        out = wf if fmt == target else (conversion.ui_to_api(wf, schema_, keep, frontend_version=pipeline.pinned_frontend(inv))
                                        if target == wfmod.API
                                        else conversion.api_to_ui(wf, schema_, keep))
    except InputError as exc:
        exc.message = f"{name}: {exc.message}"
        raise
    reply = {"file": name, "from": fmt, "to": target}
    if args.get("out_path"):
        try:
            files.atomic_write(args["out_path"], json.dumps(out, indent=2, ensure_ascii=False) + "\n",
                               overwrite=args.get("overwrite", False))
        except FileExistsError:
            raise InputError(f"{args['out_path']} exists already", hint="pass overwrite: true, or another out_path") from None
        reply["written"] = str(args["out_path"])
    else:
        reply["workflow"] = out
    return Reply(reply)


def tool_diagnose(call, args):
    """diagnose.py: the same engine call (a prompt id, last, or the evidence itself)."""
    given = [k for k in ("prompt_id", "path", "report", "text", "last") if args.get(k) not in (None, False)]
    if len(given) != 1:
        raise InputError("give one of prompt_id, path, report, text or last" +
                         (f", not {' and '.join(given)}" if given else ""))
    settings = settings_for(call, args)
    if "prompt_id" in given or "last" in given:
        out, _ = engine.diagnose(settings, prompt_id=args.get("prompt_id"), last=args.get("last", False))
    else:
        evidence = read_evidence(args["path"]) if "path" in given else args.get("report", args.get("text"))
        out, _ = engine.diagnose(settings, evidence=evidence)
    return Reply(out)


def read_evidence(path):
    """A saved server answer (JSON) or a log (text)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass
class Tool:
    name: str
    description: str
    input_schema: dict
    handler: object
    long: bool = False  # waits on the server: gets progress and cancellation
    _validator = None  # not a field: built on the first call

    def definition(self):
        return types.Tool(name=self.name, description=self.description, inputSchema=self.input_schema)

    def refuse_bad(self, arguments):
        """InputError naming the argument when `arguments` break the input schema. The SDK's own
        check (off, see build_server) checks the schema itself anew on every call, ~25 ms each."""
        import jsonschema  # lazily, as inventory does: ~65 ms of start-up

        if self._validator is None:
            self._validator = jsonschema.Draft202012Validator(self.input_schema)  # tests check the schema
        error = jsonschema.exceptions.best_match(self._validator.iter_errors(arguments))
        if error is not None:
            where = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in error.path).lstrip(".")
            raise InputError(f"tool {self.name}: " + (f"argument {where}: " if where else "") + error.message)


TOOLS = [
    Tool("status", "Is the ComfyUI server up? Versions, devices and free VRAM, queue length. "
                   "\"online\": false (with why) when it does not answer.",
         schema({"url": URL_ARG, "project": PROJECT_ARG}), tool_status),
    Tool("search_nodes", "Find node classes in the inventory snapshot (else the bundled core nodes): words in "
                         "name/category/types, and 'A->B' for nodes taking an A input and giving a B output. "
                         "class_type instead returns that one node's inputs, options, ranges and outputs.",
         schema({"query": {"type": "string", "description": "words, or 'LATENT->IMAGE', '->MODEL'"},
                 "input_type": {"type": "string", "description": "takes a linkable input of this type"},
                 "output_type": {"type": "string", "description": "gives an output of this type"},
                 "class_type": {"type": "string", "description": "one node class, in full"},
                 "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 10}}),
         tool_search_nodes),
    Tool("list_models", "Model files the server has, per folder (checkpoints, loras, vae, ...), from the "
                        "inventory snapshot (taken first when there is none); each file with its family, kind and how "
                        "that was known (its header, metadata or name), and a problem (truncated) where it cannot be used.",
         schema({"folder": {"type": "string", "description": "one folder's files (with sizes)"},
                 "url": URL_ARG}), tool_list_models),
    Tool("model_guide", "How to prompt a model family (or the family of an installed file): prompt style, "
                        "size, sampler, steps, cfg or guidance, negative prompt, with the official source.",
         schema({"what": {"type": "string", "minLength": 1,
                          "description": "a family id (sdxl, pony, flux1, qwen-image...) or a model file name"}},
                ["what"]), tool_model_guide),
    Tool("list_templates", "The official workflow templates the server offers (else the saved snapshot), "
                           "filtered by task, output media or words; runnable: only those it can run now.",
         schema({"task": {"type": "string", "enum": list(generate.TASKS)},
                 "media": {"type": "string", "description": "image, video, audio, 3d or llm"},
                 "text": {"type": "string", "description": "words all found in name, title, description, tags"},
                 "partner": {"type": ["boolean", "null"], "default": False,
                             "description": "false: no paid partner-API templates; null: with them; true: only them"},
                 "runnable": {"type": "boolean", "default": False},
                 "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 30},
                 "url": URL_ARG}), tool_list_templates),
    Tool("show_template", "One template: what it is, the nodes and model files it needs and which of them this "
                          "server lacks; include_workflow returns its workflow to pass to run.",
         schema({"name": {"type": "string", "minLength": 1}, "include_workflow": {"type": "boolean", "default": False},
                 "url": URL_ARG}, ["name"]), tool_show_template),
    Tool("validate", "Would ComfyUI accept this workflow? Checked offline against the inventory, the way the "
                     "server checks: verdict ok/partial/rejected, each error with its node, input and a fix.",
         schema(dict(WORKFLOW_ARGS)), tool_validate),
    Tool("run", "Run a workflow on ComfyUI and return its images inline plus the saved file paths. Change inputs "
                "with set ['NODE.INPUT=VALUE'] (NODE: id or title) or the slots (prompt, seed, size, ...) found in "
                "the graph. Past max_wait the prompt id comes back and queue action=wait collects it.",
         schema({**WORKFLOW_ARGS,
                 "again": {"type": "string", "minLength": 1,
                           "description": "instead of a workflow: an earlier run's prompt id, its workflow as queued"},
                 "set": {"type": "array", "items": {"type": "string", "pattern": "^[^=]+\\.[^=]+=.*$"},
                         "description": "inputs to change: 'NODE.INPUT=VALUE'"},
                 "sweep": {"type": "array", "items": {"type": "string", "pattern": "^[^=]+\\.[^=]+=.*$"},
                           "description": "'NODE.INPUT=a,b,c': one prompt per value; several combine"},
                 "seeds": {"type": "integer", "minimum": 1, "description": "queue this many prompts, random seeds"},
                 "prompt": {"type": "string", "description": "the positive prompt text"},
                 "negative": {"type": "string", "description": "the negative prompt text"},
                 "seed": {"type": "integer", "minimum": 0},
                 "size": {"type": "string", "pattern": "^[0-9]+[xX][0-9]+$", "description": "WIDTHxHEIGHT"},
                 "width": {"type": "integer", "minimum": 1}, "height": {"type": "integer", "minimum": 1},
                 "length": {"type": "integer", "minimum": 1, "description": "frames, for video"},
                 "batch": {"type": "integer", "minimum": 1, "description": "images in one prompt"},
                 "steps": {"type": "integer", "minimum": 1}, "cfg": {"type": "number"},
                 "denoise": {"type": "number", "minimum": 0, "maximum": 1},
                 "images": {"type": "array", "items": {"type": "string"},
                            "description": "input image/video/audio paths, in node order"},
                 "prefix": {"type": "string", "description": "output file name prefix"},
                 "image": {"type": "string", "description": "an input image: a path, last, last:N or PROMPT_ID:N"},
                 **CHAT_ARGS,
                 "max_wait": MAX_WAIT_ARG,
                 "wait": {"type": "boolean", "default": True, "description": "false: return the prompt ids once queued"},
                 "validate": {"type": "boolean", "default": True, "description": "false: send without checking"},
                 "previews": {"type": "boolean", "default": False, "description": "also download temp previews"},
                 "online_only": {"type": "boolean", "default": False,
                                 "description": "an error instead of an offline export when no server answers"},
                 "allow_api": {"type": "boolean", "default": False,
                               "description": "let partner (paid API) nodes run, only when the user asked"},
                 "use_installed": {"type": "boolean", "default": False,
                                   "description": "swap each missing model for an installed file of the same family "
                                                  "and kind; a missing LoRA is left out"},
                 "out": {"type": "string", "description": "download folder (default projects/<project>/outputs)"},
                 "url": URL_ARG, "project": PROJECT_ARG}), tool_run, long=True),
    Tool("queue", "The server's queue: list running and pending prompts; cancel prompts (pending ones removed, a "
                  "running one interrupted; never another prompt); wait for prompts and download their outputs "
                  "(images inline); outputs: download what finished prompts made.",
         schema({"action": {"type": "string", "enum": ["list", "cancel", "wait", "outputs"]},
                 "prompt_ids": PROMPT_IDS_ARG, "max_wait": MAX_WAIT_ARG,
                 "out": {"type": "string", "description": "download folder (default: the one the run used)"},
                 "previews": {"type": "boolean", "default": False, "description": "also download temp previews"},
                 "url": URL_ARG, "project": PROJECT_ARG}, ["action"]), tool_queue, long=True),
    Tool("upload", "Upload a local image into ComfyUI's input folder; returns the name LoadImage takes. "
                   "mask_of: upload it as the mask (alpha) of an image already on the server.",
         schema({"path": {"type": "string", "minLength": 1}, "subfolder": {"type": "string"},
                 "overwrite": {"type": "boolean", "default": False},
                 "mask_of": {"type": "string", "description": "the original image's server name"},
                 "url": URL_ARG}, ["path"]), tool_upload),
    Tool("convert", "Convert a workflow between editor (UI) format and the API format ComfyUI runs, exactly as "
                    "the official frontend exports it. Returns the result, or writes it to out_path.",
         schema({**WORKFLOW_ARGS, "to": {"type": "string", "enum": ["api", "ui"], "description": "default: the other"},
                 "keep_unknown": {"type": "boolean", "default": False,
                                  "description": "copy nodes the schema lacks through as they are"},
                 "out_path": {"type": "string"}, "overwrite": {"type": "boolean", "default": False}}), tool_convert),
    Tool("diagnose", "Explain a failed run: the cause, the node, the evidence and the fixes. Give a prompt id "
                     "(reads the server's history, queue and log), a saved answer or log file, a run result "
                     "object, or log text.",
         schema({"prompt_id": {"type": "string", "minLength": 1}, "path": {"type": "string", "minLength": 1},
                 "report": {"type": "object", "description": "a run result or a saved server answer"},
                 "text": {"type": "string", "minLength": 1, "description": "log or traceback text"},
                 "last": {"type": "boolean", "default": False,
                          "description": "the newest run recorded here (also one refused before it was queued)"},
                 "url": URL_ARG}), tool_diagnose),
    Tool("generate", "Make an image, video or sound from a sentence with the models this server has: picks an "
                     "official template it can run (swapping in installed files of the same family), fills the "
                     "prompt, seed and size, runs it and returns the images inline, with which template and model "
                     "it chose and why. dry_run: the choice and workflow only. Partner (paid) templates only with "
                     "allow_api, when the user asked.",
         schema({"request": {"type": "string", "minLength": 1, "description": "what to make, in words"},
                 "image": {"type": "string", "description": "input image (edit, img2img, upscale, i2v): a path, "
                                                           "last, last:N (the Nth of the newest call) or PROMPT_ID:N"},
                 **CHAT_ARGS,
                 "task": {"type": "string", "enum": list(generate.TASKS)},
                 "negative": {"type": "string"}, "seed": {"type": "integer", "minimum": 0},
                 "size": {"type": "string", "pattern": "^[0-9]+[xX][0-9]+$", "description": "WIDTHxHEIGHT"},
                 "steps": {"type": "integer", "minimum": 1}, "count": {"type": "integer", "minimum": 1},
                 "model": {"type": "string", "description": "an installed model file to use"},
                 "template": {"type": "string", "description": "an official template's name"},
                 "allow_api": {"type": "boolean", "default": False}, "dry_run": {"type": "boolean", "default": False},
                 "max_wait": MAX_WAIT_ARG, "wait": {"type": "boolean", "default": True},
                 "out": {"type": "string"}, "url": URL_ARG, "project": PROJECT_ARG},
                ["request"]), tool_generate, long=True),
    Tool("gallery", "What was made in this project: every output file with its prompt, negative, seed, model, "
                    "LoRAs, steps, cfg, sampler, size, denoise, input image and mask, prompt id, server and time, "
                    "newest first. since: 'today' or a date.",
         schema({"since": {"type": "string"}, "project": PROJECT_ARG}), tool_gallery),
    Tool("needs", "What a workflow or template needs that the server lacks: model files (folder, size, link, "
                  "sha256, the download command) and node packs (the install command); a file listed under another "
                  "subfolder comes with the value to use. download: fetch the files with known links, then "
                  "say if it runs.",
         schema({**WORKFLOW_ARGS, "template": {"type": "string"},
                 "download": {"type": "boolean", "default": False,
                              "description": "fetch every missing file whose link is known, re-check the workflow"},
                 "paths": {"type": "array", "items": {"type": "string"},
                           "description": "where the server reads a folder from several here: the ones to use"},
                 "url": URL_ARG}), tool_needs, long=True),
    Tool("download_model", "Fetch one model file into the server's model folder: a URL with folder, or a file "
                           "name the pack knows (its link, folder, sha256). Resumable, hash-checked; never "
                           "overwrites; no path in name. Folder not here: ComfyUI-Manager, else commands.",
         schema({"source": {"type": "string", "minLength": 1, "description": "download URL, or a known file name"},
                 "folder": {"type": "string", "description": "model folder: checkpoints, loras, vae, ..."},
                 "name": {"type": "string", "minLength": 1, "description": "file name to save as (no path)"},
                 "sha256": {"type": "string", "pattern": "^(sha256:)?[0-9a-fA-F]{64}$"},
                 "path": {"type": "string", "description": "which of the server's folders here, when several"},
                 "url": URL_ARG}, ["source"]), tool_download_model, long=True),
    Tool("install_nodes", "Install a custom node pack through the server's ComfyUI-Manager (its id, title or "
                          "repository URL): queued, started, followed; ComfyUI must restart to load it. Without "
                          "the Manager: the comfy-cli / git lines to run where the server lives.",
         schema({"pack": {"type": "string", "minLength": 1}, "url": URL_ARG}, ["pack"]), tool_install_nodes,
         long=True),
]
TOOLS_BY_NAME = {t.name: t for t in TOOLS}


# -- results --------------------------------------------------------------------------------------
def run_reply(result, data=None):
    """A RunResult as run.py --json prints it (`data`, else the result's own), its images inline; a
    prompt still going is no error."""
    data = data if data is not None else result.as_dict()
    still = [r["prompt_id"] for r in result.runs if r["status"] in STILL_GOING]
    images, skipped = inline_images(([result.contact_sheet] if result.contact_sheet else []) + result.files)
    if skipped:
        data = dict(data, not_inline=skipped)
    return Reply(data, images, is_error=result.exit_code != 0 and not still)


def inline_images(paths):
    """(images to send, [{path, why}] for those left as paths only)."""
    images, skipped = [], []
    for path in paths:
        mime = IMAGE_TYPES.get(Path(path).suffix.lower())
        if mime is None:
            continue
        if len(images) >= MOST_INLINE_IMAGES:
            skipped.append({"path": path, "why": f"only the first {MOST_INLINE_IMAGES} images are sent inline"})
            continue
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            skipped.append({"path": path, "why": f"cannot read it: {exc.strerror or exc}"})
            continue
        if len(data) > INLINE_IMAGE_CAP:
            data, mime = downscaled(data) or (None, mime)
            if data is None:
                skipped.append({"path": path, "why": f"larger than {INLINE_IMAGE_CAP // 1024} KiB and Pillow "
                                                     "is not installed to shrink it"})
                continue
        images.append((data, mime))
    return images, skipped


def downscaled(data):
    """(PNG or JPEG bytes at most INLINE_IMAGE_SIDE px a side, mime), or None without Pillow."""
    try:
        from PIL import Image
    except ImportError:
        return None
    with Image.open(io.BytesIO(data)) as im:
        im.thumbnail((INLINE_IMAGE_SIDE, INLINE_IMAGE_SIDE))
        buf = io.BytesIO()
        if im.mode in ("RGBA", "LA", "P"):
            im.save(buf, "PNG", optimize=True)
            return buf.getvalue(), "image/png"
        im.convert("RGB").save(buf, "JPEG", quality=88)
        return buf.getvalue(), "image/jpeg"


def error_reply(exc, url=None):
    with nextsteps.in_face(nextsteps.MCP):
        line = f"error: {exc.message}" + (f" ({nextsteps.render(exc.hint, url)})" if exc.hint else "")
    return Reply(exc.as_dict(), is_error=True, text=line)


def call_tool(settings, name, arguments, reporter=None, cancel=None):
    """One tool call, synchronously: a Reply whatever happens (a bug of ours included)."""
    tool = TOOLS_BY_NAME.get(name)
    if tool is None:
        return Reply({"error": "UnknownTool", "message": f"no tool {name!r}"}, is_error=True,
                     text=f"error: no tool {name!r} (tools: {', '.join(TOOLS_BY_NAME)})")
    call = Call(settings, reporter or Reporter(), cancel or threading.Event())
    try:
        tool.refuse_bad(arguments or {})
        with nextsteps.in_face(nextsteps.MCP):  # next steps and flags in messages: tool calls, arguments
            return tool.handler(call, arguments or {})
    except ComfyError as exc:
        return error_reply(exc, (arguments or {}).get("url") or settings.url)
    except Exception as exc:  # a bug of ours: one line, never the traceback
        return Reply({"error": "InternalError", "message": f"{type(exc).__name__}: {exc}"}, is_error=True,
                     text=f"error: internal error in tool {name}: {type(exc).__name__}: {exc}")


def as_result(reply, settings, url=None):
    """The CallToolResult: next steps rendered as tool calls, secrets scrubbed from every text."""
    with nextsteps.in_face(nextsteps.MCP):
        data = nextsteps.rendered(reply.data, url)
    text = reply.text if reply.text is not None else json.dumps(data, indent=1, ensure_ascii=False, default=str)
    data = json.loads(scrub(json.dumps(data, ensure_ascii=False, default=str), settings))
    content = [types.TextContent(type="text", text=scrub(text, settings))]
    content += [types.ImageContent(type="image", data=base64.b64encode(b).decode("ascii"), mimeType=m)
                for b, m in reply.images]
    return types.CallToolResult(content=content, structuredContent=data, isError=reply.is_error)


def scrub(text, settings):
    for secret in settings.secrets():
        text = text.replace(secret, "***")
    return text


# -- the MCP server -------------------------------------------------------------------------------
def build_server(settings):
    server = Server("comfyui-skills", version=__version__, instructions=INSTRUCTIONS)

    @server.list_tools()
    async def list_tools():
        return [t.definition() for t in TOOLS]

    @server.call_tool(validate_input=False)  # call_tool checks against a validator built once per tool
    async def handle_call(name, arguments):
        ctx = server.request_context
        token = getattr(ctx.meta, "progressToken", None) if ctx.meta else None
        reporter = Reporter()
        if token is not None and name in TOOLS_BY_NAME and TOOLS_BY_NAME[name].long:
            reporter = MCPProgress(progress_sender(ctx, token, settings))
        cancel = threading.Event()
        reply = await in_thread(lambda: call_tool(settings, name, arguments, reporter, cancel), cancel)
        return as_result(reply, settings, url=(arguments or {}).get("url") or settings.url)

    return server


def progress_sender(ctx, token, settings):
    def send(progress, message):
        try:
            anyio.from_thread.run(ctx.session.send_progress_notification, token, float(progress), None,
                                  scrub(message, settings), str(ctx.request_id))
        except Exception:  # noqa: BLE001 (a lost notification must not fail the run it reports on)
            pass
    return send


async def in_thread(fn, cancel):
    """fn() in a worker thread. When the host cancels the call, set `cancel` and give the run
    CANCEL_GRACE seconds to take its prompt off the server before the call is dropped."""
    finished = threading.Event()
    box = {}

    def work():
        try:
            box["value"] = fn()
        finally:
            finished.set()

    try:
        await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        cancel.set()
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(finished.wait, CANCEL_GRACE)
        raise
    return box["value"]


def serve_stdio(settings):
    """Serve on stdin/stdout until the host closes them."""
    from mcp.server.stdio import stdio_server

    server = build_server(settings)

    async def main():
        async with stdio_server() as (read, write):
            sys.stdout = sys.stderr  # stdout is the protocol now: a stray print must not corrupt it
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)


def check_exposure(host, token):
    """Loopback needs nothing; any other address needs a token, since whoever reaches the server can
    run workflows and read what this user can read."""
    if host not in LOOPBACK_HOSTS and not token:
        raise InputError(f"{nextsteps.flag('host', host)}: a non-loopback address needs a token, and none was given",
                         hint=f"set COMFYUI_MCP_TOKEN (or {nextsteps.flag('token')}); put TLS in front, as the "
                              "token travels in clear over plain HTTP")


def serve_http(settings, host="127.0.0.1", port=DEFAULT_HTTP_PORT, ready=None, token=None):
    """Streamable HTTP at http://HOST:PORT/mcp; `ready(url)` once listening. Off loopback only with
    `token`, which every request must then carry as `Authorization: Bearer TOKEN`."""
    check_exposure(host, token)
    import contextlib

    import uvicorn
    from mcp.server.fastmcp.server import StreamableHTTPASGIApp
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.applications import Starlette
    from starlette.routing import Route

    from .mcp_auth import BearerGate

    shown = f"[{host}]" if ":" in host else host
    if host in LOOPBACK_HOSTS:
        names = [f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"]
        # A web page the user visits must not reach the server through DNS rebinding: Host and Origin checked.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=names,
                                             allowed_origins=[f"http://{n}" for n in names])
    else:
        # Reached under names we cannot know (a LAN address, a proxy's host); a page in a browser
        # cannot add the bearer token, which is what rebinding protection guards against here.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    manager = StreamableHTTPSessionManager(app=build_server(settings), security_settings=security)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        async with manager.run():
            if ready:
                ready(f"http://{shown}:{port}/mcp")
            yield

    app = Starlette(routes=[Route("/mcp", endpoint=StreamableHTTPASGIApp(manager))], lifespan=lifespan)
    if token:
        app = BearerGate(app, token)
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning")).run()

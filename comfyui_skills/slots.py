"""The places in an API workflow a one-sentence request changes: prompt, negative, seed, size...

Found from the graph and the node schemas, never from titles, so custom nodes work when they
declare their inputs the usual way:
- a *sampler* is a node with a LATENT output that takes CONDITIONING or a GUIDER and gives
  neither back (KSampler, SamplerCustomAdvanced...); a guider's conditioning counts as the
  sampler's own.
- the prompt is the text of the *encoder* (a node with multiline STRING inputs and no
  CONDITIONING input) whose conditioning reaches a sampler's positive input, walking upstream
  through any node that takes CONDITIONING: one that takes both `positive` and `negative` passes
  each to the output of that name (ControlNetApplyAdvanced, WanImageToVideo...), any other passes
  all its CONDITIONING inputs on (ConditioningCombine, FluxGuidance...). An input named
  negative... is the negative; every other conditioning input of a sampler or guider is positive.
- width/height/length/batch are on the first node up the sampler's LATENT input that has them;
  for width/height, a latent encoded from pixels (VAEEncode) is followed up its IMAGE input to
  the rescale that decides its size (ImageScale; a rescale by megapixels or factor is turned into
  an ImageScale when a size is asked), and rescales between a sampler and the saved file
  (upscale targets) follow the size too.
- a value that arrives through a link is followed to the node where it is typed in.

When the structure does not settle which node is meant, the slot is ambiguous and names the
candidates; `apply_slots` then refuses to pick one (the user chooses with `--set`).
"""

import copy
import re
from collections import namedtuple

from .nextsteps import flag
from .errors import InputError
from .schema import Schema
from . import nextsteps

Change = namedtuple("Change", "node input old new slot")

SIZE_INPUTS = {"width": ("width",), "height": ("height",),
               "length": ("length", "video_frames", "num_frames"), "batch": ("batch_size",)}
SETTING_SLOTS = ("steps", "cfg", "denoise", "sampler_name", "scheduler")
# Where a sampler's settings may sit instead of on the sampler itself.
SETTING_LINK_TYPES = ("SIGMAS", "SAMPLER", "GUIDER")
SLOT_ORDER = ("prompt", "negative", "seed") + tuple(SIZE_INPUTS) + SETTING_SLOTS + ("inputs", "prefix", "loaders")
# model folders whose loaders --show-slots lists (set them with --set NODE.INPUT=FILE; LoRAs with --lora)
LOADER_FOLDERS = ("checkpoints", "diffusion_models", "unet", "loras", "vae")
# the option that fills each slot, where its name is not the slot's (nextsteps spells it per face)
OPTIONS = {"inputs": "image", "sampler_name": "sampler", "loaders": "set"}
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v")
AUDIO_EXTENSIONS = (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".opus", ".aac")


def parse_size(text):
    """(width, height) from "WxH"; an InputError naming the flag for anything else."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", str(text))
    if not m:
        raise InputError(f"{flag('size')} {text!r}: give WIDTHxHEIGHT, e.g. 1024x1024")
    return int(m.group(1)), int(m.group(2))


class Target:
    """One input a slot writes: node id, input name, the value there now, and how it was found."""

    __slots__ = ("node", "input", "value", "how", "label", "kind")

    def __init__(self, node, input_name, value, how, label, kind=None):
        self.node, self.input, self.value, self.how, self.label, self.kind = (
            node, input_name, value, how, label, kind)

    @property
    def key(self):
        return (self.node, self.input)

    def __repr__(self):
        return f"<Target {self.node}.{self.input}={self.value!r}>"


class Slot:
    """A named place: the targets one value is written to, or the candidates to choose from."""

    def __init__(self, name, targets, ambiguous=None, note=None):
        self.name = name
        self.targets = targets
        self.ambiguous = ambiguous  # why the user has to choose among the targets, or None
        self.note = note  # why several targets are written together, when they are
        self.encoders = []  # for a prompt: the encoder nodes its text reaches the samplers through

    @property
    def nodes(self):
        return _unique(t.node for t in self.targets)

    @property
    def value(self):
        """The one current value, or the list of them when the targets differ."""
        values = _unique_values(t.value for t in self.targets)
        return values[0] if len(values) == 1 else values

    def __repr__(self):
        state = " ambiguous" if self.ambiguous else ""
        return f"<Slot {self.name}{state}: {self.targets}>"


class Slots:
    """Every slot found, and for each one not found, why."""

    def __init__(self, found, absent, makers):
        self.found = found
        self.absent = absent
        self.makers = makers  # the samplers, or without any the API nodes that take a prompt

    def __contains__(self, name):
        return name in self.found

    def __getitem__(self, name):
        return self.found[name]

    def get(self, name):
        return self.found.get(name)

    def ambiguous(self):
        return [s for s in self.found.values() if s.ambiguous]

    def as_dict(self):
        """{"found": {slot: {value, ambiguous, targets: [{node, input, value, how}]}}, "absent": {slot: why}}."""
        found = {name: {"flag": _flag(name), "value": slot.value, "ambiguous": slot.ambiguous,
                        "targets": [{"node": t.node, "input": t.input, "value": t.value, "how": t.how}
                                    for t in slot.targets]}
                 for name, slot in self.found.items()}
        return {"found": found, "absent": dict(self.absent)}


def _unique(items):
    out = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _unique_values(values):
    out = []
    for v in values:
        if not any(v == o and type(v) is type(o) for o in out):
            out.append(v)
    return out


def _id_key(nid):
    """Node ids in numeric order; subgraph ids like '57:3' part by part."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in str(nid).split(":")]


def _is_link(value):
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int) and not isinstance(value[1], bool)


class _Graph:
    def __init__(self, workflow, object_info):
        if not isinstance(workflow, dict):
            raise InputError("the workflow is not an API-format JSON object")
        self.wf = {str(k): v for k, v in workflow.items() if isinstance(v, dict)}
        self.schema = Schema(object_info)
        self.reachable = self._reachable()

    def spec(self, nid):
        return self.schema.node(self.wf[nid].get("class_type"))

    def label(self, nid):
        return f"{self.wf[nid].get('class_type')}#{nid}"

    def inputs(self, nid):
        inputs = self.wf[nid].get("inputs")
        return inputs if isinstance(inputs, dict) else {}

    def source(self, value):
        """(node id, output slot) a link names, or None for a value or a dangling link."""
        if _is_link(value) and str(value[0]) in self.wf:
            return str(value[0]), value[1]
        return None

    def output_name(self, nid, slot):
        spec = self.spec(nid)
        names = spec.output_names if spec else []
        return str(names[slot]) if 0 <= slot < len(names) else ""

    def linked_inputs(self, nid, types):
        """(input name, source id, slot) of the node's linked inputs whose declared type is one of `types`."""
        spec = self.spec(nid)
        out = []
        for name, value in self.inputs(nid).items():
            src = self.source(value)
            decl = spec.inputs.get(name) if spec else None
            if src and decl is not None and decl.type in types:
                out.append((name, src[0], src[1]))
        return out

    def _reachable(self):
        """The nodes an output node depends on: the only ones the server runs."""
        todo = [nid for nid in self.wf if (self.spec(nid) and self.spec(nid).output_node)]
        seen = set()
        while todo:
            nid = todo.pop()
            if nid in seen:
                continue
            seen.add(nid)
            for value in self.inputs(nid).values():
                src = self.source(value)
                if src:
                    todo.append(src[0])
        return seen

    def upstream(self, nid):
        seen, todo = set(), [nid]
        while todo:
            for value in self.inputs(todo.pop()).values():
                src = self.source(value)
                if src and src[0] not in seen:
                    seen.add(src[0])
                    todo.append(src[0])
        return seen

    def ordered(self, nodes):
        return sorted(nodes, key=_id_key)


def _is_sampler(spec):
    if spec is None:
        return False
    outputs = set(spec.output_type_names)
    takes = {i.type for i in spec.visible_inputs()}
    return "LATENT" in outputs and bool(takes & {"CONDITIONING", "GUIDER"}) and not outputs & {"CONDITIONING", "GUIDER"}


def _text_inputs(spec):
    return [i.name for i in spec.visible_inputs() if i.type == "STRING" and i.extra.get("multiline")]


def _prompt_inputs(spec, role):
    """An API node's prompt (prompt, prompt_text...) or negative_prompt inputs."""
    names = [i.name for i in spec.visible_inputs() if i.type == "STRING" and "prompt" in i.name.lower()]
    negative = [n for n in names if "negative" in n.lower()]
    if role == "negative":
        return negative
    return [n for n in names if n not in negative and spec.inputs[n].extra.get("multiline")]


class _Finder:
    def __init__(self, graph):
        self.g = graph
        self.samplers = graph.ordered(n for n in graph.reachable if _is_sampler(graph.spec(n)))
        # Without a sampler, the nodes that make the picture are paid-API nodes taking a prompt.
        self.generators = [] if self.samplers else graph.ordered(
            n for n in graph.reachable if graph.spec(n) and graph.spec(n).api_node
            and _prompt_inputs(graph.spec(n), "positive"))
        self.makers = self.samplers or self.generators

    # --- values through links -------------------------------------------------------------

    def leaves(self, nid, name, how, seen=None):
        """(targets, problem): where the value of nid.name is typed in, following links."""
        seen = seen or set()
        value = self.g.inputs(nid).get(name)
        here = f"{self.g.label(nid)}.{name}"
        src = self.g.source(value)
        if src is None:
            if _is_link(value):
                return [], f"{here} is linked to a missing node"
            return [Target(nid, name, value, f"{how} <- {here}" if how else here, self.g.label(nid))], None
        sid, slot = src
        if sid in seen:
            return [], f"{here} is part of a cycle"
        seen.add(sid)
        spec = self.g.spec(sid)
        how = f"{how} <- {here}" if how else here
        if spec is None:
            return [], f"{here} comes from {self.g.label(sid)}, a class this server does not have"
        out_name = self.g.output_name(sid, slot)
        if out_name in self.g.inputs(sid):  # e.g. WanCameraEmbedding passes width on as 'width'
            return self.leaves(sid, out_name, how, seen)
        out_types = spec.output_type_names
        out_type = out_types[slot] if 0 <= slot < len(out_types) else None
        typed = [i.name for i in spec.visible_inputs() if i.type == out_type and i.name in self.g.inputs(sid)]
        if out_type == "STRING" and len(typed) > 1:
            typed = [n for n in typed if spec.inputs[n].extra.get("multiline")] or typed
        if len(typed) == 1 or (out_type == "STRING" and typed):
            targets, problems = [], []
            for n in typed:
                found, problem = self.leaves(sid, n, how, seen)
                targets += found
                problems += [problem] if problem else []
            return targets, "; ".join(problems) or None
        return [], f"{here} is computed by {self.g.label(sid)}"

    # --- prompts ----------------------------------------------------------------------------

    def cond_entries(self, nid, how):
        """(role, source id, slot, path) of a sampler's or guider's conditioning, guiders opened."""
        spec = self.g.spec(nid)
        conds = [i.name for i in spec.visible_inputs() if i.type == "CONDITIONING"]
        plain = [n for n in conds if not n.lower().startswith("negative")]
        # DualCFGGuider's cond2 sits between cond1 and negative: neither the prompt nor the negative.
        positive = "positive" if "positive" in plain else (plain[0] if plain else None)
        out = []
        for name, sid, slot in self.g.linked_inputs(nid, ("CONDITIONING", "GUIDER")):
            path = f"{how} <- {self.g.label(nid)}.{name}" if how else f"{self.g.label(nid)}.{name}"
            if spec.inputs[name].type == "GUIDER":
                if self.g.spec(sid) is not None:
                    out += self.cond_entries(sid, path)
            elif name.lower().startswith("negative"):
                out.append(("negative", sid, slot, path))
            elif name == positive:
                out.append(("positive", sid, slot, path))
        return out

    def encoders(self, nid, slot, how, seen):
        """[(encoder id, path)] and [dead ends] up the conditioning that leaves nid's output `slot`."""
        if nid in seen:
            return [], []
        seen = seen | {nid}
        spec = self.g.spec(nid)
        here = self.g.label(nid)
        if spec is None:
            return [], [f"{how} <- {here}, a class this server does not have"]
        if self.g.wf[nid].get("class_type") == "ConditioningZeroOut":
            return [], [f"{how} <- {here}, which zeroes the conditioning"]
        cond_inputs = [i.name for i in spec.visible_inputs() if i.type == "CONDITIONING"]
        if cond_inputs:
            out_name = self.g.output_name(nid, slot).lower()
            if {"positive", "negative"} <= set(cond_inputs) and out_name in ("positive", "negative"):
                cond_inputs = [out_name]
            found, dead = [], []
            for name, sid, sslot in self.g.linked_inputs(nid, ("CONDITIONING",)):
                if name in cond_inputs:
                    f, d = self.encoders(sid, sslot, f"{how} <- {here}.{name}", seen)
                    found += f
                    dead += d
            if not found and not dead:
                dead.append(f"{how} <- {here}, whose conditioning input is not linked")
            return found, dead
        if _text_inputs(spec):
            return [(nid, how)], []
        return [], [f"{how} <- {here}, which takes no text"]

    def text_slot(self, role, positive_encoders):
        per_sampler, dead, role_seen = {}, [], False
        for s in self.generators:
            # A generator is its own encoder: per_sampler maps it to itself.
            if _prompt_inputs(self.g.spec(s), role):
                role_seen = True
                per_sampler[s] = [(s, "")]
        for s in self.samplers:
            encs = []
            for r, sid, slot, path in self.cond_entries(s, ""):
                if r != role:
                    continue
                role_seen = True
                f, d = self.encoders(sid, slot, path, frozenset())
                encs += f
                dead += d
            per_sampler[s] = encs
        order = []
        for encs in per_sampler.values():
            for nid, how in encs:
                if nid not in [n for n, _ in order]:
                    order.append((nid, how))
        if not order:
            if not self.makers:
                return None, "no sampler, and no API node that takes a prompt"
            if not role_seen:
                return None, (f"no sampler takes a {role} conditioning" if self.samplers
                              else f"no API node takes a {role} prompt")
            return None, "; ".join(_unique(dead))
        if role == "negative" and self.samplers and {n for n, _ in order} <= set(positive_encoders):
            return None, (f"the negative comes from the positive's own encoder "
                          f"{', '.join(self.g.label(n) for n, _ in order)}")
        targets, problems, joined = [], [], []
        for nid, how in order:
            spec = self.g.spec(nid)
            for name in (_prompt_inputs(spec, role) if nid in self.generators else _text_inputs(spec)):
                if name not in self.g.inputs(nid):
                    continue
                found, problem = self.leaves(nid, name, how)
                if len(found) > 1:
                    joined.append(f"{self.g.label(nid)}.{name} is joined from {len(found)} texts")
                targets += found
                problems += [problem] if problem else []
        slot = Slot("prompt" if role == "positive" else "negative", targets)
        slot.encoders = [n for n, _ in order]
        if not targets:
            return None, "; ".join(problems) or (f"{', '.join(self.g.label(n) for n, _ in order)} "
                                                 f"has no {role} text in the workflow")
        combined = [s for s, encs in per_sampler.items() if len({n for n, _ in encs}) > 1]
        if combined:
            slot.ambiguous = (f"{self.g.label(combined[0])} combines the {role} texts of "
                              f"{len({n for n, _ in per_sampler[combined[0]]})} encoders")
        elif joined:
            slot.ambiguous = "; ".join(joined)
        elif len(order) > 1:
            if len(_unique_values(t.value for t in targets)) == 1:
                slot.note = f"{len(order)} encoders hold the same text"
            elif self.one_chain(s for s, encs in per_sampler.items() if encs):
                slot.note = f"{len(order)} encoders feed the stages of one sampling chain"
            else:
                slot.ambiguous = f"independent samplers take different {role} texts"
        return slot, None

    def one_chain(self, samplers):
        """True when one of the samplers works on the latent all the others made (base+refiner)."""
        samplers = list(samplers)
        return any(all(o == s or o in self.g.upstream(s) for o in samplers) for s in samplers)

    # --- seeds and settings -----------------------------------------------------------------

    def seed_slot(self):
        targets, problems, silent = [], [], []
        for s in self.makers:
            inputs = self.g.inputs(s)
            if inputs.get("add_noise") in ("disable", False):
                silent.append(self.g.label(s))
                continue
            holders = [s] + [sid for _, sid, _ in self.g.linked_inputs(s, ("NOISE",))]
            for h in holders:
                spec = self.g.spec(h)
                if spec is None:
                    continue
                for i in spec.visible_inputs():
                    if i.type == "INT" and "seed" in i.name.lower() and i.name in self.g.inputs(h):
                        how = "" if h == s else f"{self.g.label(s)}.noise"
                        found, problem = self.leaves(h, i.name, how)
                        targets += [t for t in found if t.key not in [x.key for x in targets]]
                        problems += [problem] if problem else []
        if not targets:
            reason = "; ".join(problems) or "no sampler or noise node has a seed input"
            if silent:
                reason += f" (adding no noise: {', '.join(silent)})"
            return None, reason
        slot = Slot("seed", targets)
        if len(targets) > 1:
            slot.note = f"every noise source of the run gets the seed ({len(targets)})"
        return slot, None

    def setting_holders(self, sampler):
        """The sampler, then the nodes up its SIGMAS/SAMPLER/GUIDER links, nearest first."""
        out, todo = [], [sampler]
        while todo:
            nid = todo.pop(0)
            if nid in out or self.g.spec(nid) is None:
                continue
            out.append(nid)
            todo += [sid for _, sid, _ in self.g.linked_inputs(nid, SETTING_LINK_TYPES)]
        return out

    def setting_slot(self, name):
        targets, problems = [], []
        for s in self.makers:
            for h in self.setting_holders(s):
                if name in self.g.inputs(h) and name in self.g.spec(h).inputs:
                    how = "" if h == s else self.g.label(s)
                    found, problem = self.leaves(h, name, how)
                    targets += [t for t in found if t.key not in [x.key for x in targets]]
                    problems += [problem] if problem else []
                    break
        if not targets:
            return None, "; ".join(problems) or f"no sampler, scheduler or guider has a {name} input"
        slot = Slot(name, targets)
        if name == "steps":
            split = [self.g.label(s) for s in self.samplers if _splits_steps(self.g.inputs(s))]
            if split:
                slot.ambiguous = f"the steps are split between samplers by start_at_step/end_at_step ({', '.join(split)})"
                return slot, None
        if len(targets) > 1:
            if len(_unique_values(t.value for t in targets)) == 1:
                slot.note = f"{len(targets)} samplers share this {name}"
            else:
                slot.ambiguous = f"the samplers use different {name} values"
        return slot, None

    # --- size --------------------------------------------------------------------------------

    def size_slot(self, slot_name):
        names = SIZE_INPUTS[slot_name]
        targets, problems = [], []
        for s in self.generators:
            for name in names:
                if name in self.g.inputs(s) and name in self.g.spec(s).inputs:
                    found, problem = self.leaves(s, name, "")
                    targets += found
                    problems += [problem] if problem else []
                    break
        for s in self.samplers:
            for start_name, sid, sslot in self.g.linked_inputs(s, ("LATENT",)):
                holder, how, problem = self.latent_source(sid, f"{self.g.label(s)}.{start_name}", names)
                if holder is None:
                    problems += [problem] if problem else []
                    continue
                name = next((n for n in names if n in self.g.inputs(holder)), None)
                if name is None:  # a rescale by megapixels or factor: its size is computed
                    targets.append(Target(holder, names[0], None, how, self.g.label(holder), kind="rescale"))
                    continue
                found, problem = self.leaves(holder, name, how)
                targets += [t for t in found if t.key not in [x.key for x in targets]]
                problems += [problem] if problem else []
        if not targets:
            return None, "; ".join(_unique(problems)) or f"no node up the samplers' latent has a {slot_name} input"
        slot = Slot(slot_name, targets)
        if len(targets) > 1 and len(_unique_values(t.value for t in targets)) > 1:
            slot.ambiguous = f"the samplers' latents come from nodes with different {slot_name} values"
        elif len(targets) > 1:
            slot.note = f"{len(targets)} latent sources share this {slot_name}"
        if slot_name in ("width", "height"):
            slot.targets += self.model_followers(slot_name, targets)
            slot.targets += self.pixel_followers(slot_name, slot.targets)
        return slot, None

    def latent_source(self, nid, how, names, seen=None):
        """(node with one of `names`, path, problem) walking up LATENT links from nid."""
        seen = seen or set()
        if nid in seen:
            return None, how, None
        seen.add(nid)
        spec = self.g.spec(nid)
        how = f"{how} <- {self.g.label(nid)}"
        if spec is None:
            return None, how, f"{how}, a class this server does not have"
        if any(n in spec.inputs and n in self.g.inputs(nid) for n in names):
            return nid, how, None
        ups = self.g.linked_inputs(nid, ("LATENT",))
        pixels = self.g.linked_inputs(nid, ("IMAGE",))
        if not ups and pixels and names[0] in ("width", "height"):
            return self.pixel_source(pixels[0][1], how, names, seen)
        if not ups:
            return None, how, f"{names[0]} is not set here: the latent comes from {self.g.label(nid)}"
        problem = None
        for _, sid, _ in ups:
            holder, path, problem = self.latent_source(sid, how, names, seen)
            if holder is not None:
                return holder, path, None
        return None, how, problem

    def pixel_source(self, nid, how, names, seen):
        """(node deciding the size of the pixels an encoder takes, path, problem), up IMAGE links."""
        while nid not in seen:
            seen.add(nid)
            spec = self.g.spec(nid)
            how = f"{how} <- {self.g.label(nid)}"
            if spec is None:
                return None, how, f"{how}, a class this server does not have"
            if any(n in spec.inputs and n in self.g.inputs(nid) for n in names):
                return nid, how, None
            if _rescale_by(self.g.inputs(nid)):
                return nid, how, None  # a rescale by megapixels or factor: apply_slots makes it an ImageScale
            ups = self.g.linked_inputs(nid, ("IMAGE",))
            if not ups:
                return None, how, (f"{names[0]} follows the input image of {self.g.label(nid)}; "
                                   f"no node rescales it before encoding")
            nid = ups[0][1]
        return None, how, None

    def pixel_followers(self, name, primary):
        """Rescales between the samplers and the saved files (upscale targets): they get the size too."""
        out, keys = [], {t.key for t in primary}
        for nid in self.g.ordered(self.g.reachable):
            spec = self.g.spec(nid)
            if not (spec and spec.output_node):
                continue
            todo, seen = [nid], set()
            while todo:
                cur = todo.pop()
                if cur in seen:
                    continue
                seen.add(cur)
                cur_spec = self.g.spec(cur)
                if cur_spec is None or "LATENT" in [i.type for i in cur_spec.visible_inputs()]:
                    continue  # a decoder: what lies above it is the sampler's side
                if cur != nid and name in self.g.inputs(cur) and name in cur_spec.inputs \
                        and self.g.linked_inputs(cur, ("IMAGE",)):
                    found, _ = self.leaves(cur, name, f"{self.g.label(nid)} (an upscale target follows the size)")
                    out += [t for t in found if t.key not in keys]
                    keys |= {t.key for t in found}
                todo += [sid for _, sid, _ in self.g.linked_inputs(cur, ("IMAGE",))]
        return out

    def model_followers(self, name, primary):
        """Nodes on the samplers' MODEL chain that are told the image size (ModelSamplingFlux)."""
        out, seen = [], set()
        todo = [(h, "") for s in self.samplers for h in self.setting_holders(s)]
        while todo:
            nid, how = todo.pop(0)
            for input_name, sid, _ in self.g.linked_inputs(nid, ("MODEL",)):
                if sid in seen or self.g.spec(sid) is None:
                    continue
                seen.add(sid)
                path = f"{how} <- {self.g.label(nid)}.{input_name}" if how else f"{self.g.label(nid)}.{input_name}"
                if name in self.g.inputs(sid) and name in self.g.spec(sid).inputs:
                    found, _ = self.leaves(sid, name, f"{path} (follows the latent size)")
                    out += [t for t in found if t.key not in [x.key for x in primary + out]]
                todo.append((sid, path))
        return out

    # --- files in and out ----------------------------------------------------------------------

    def inputs_slot(self):
        targets = []
        for nid in self.g.ordered(self.g.reachable):
            spec = self.g.spec(nid)
            if spec is None:
                continue
            for i in spec.visible_inputs():
                if i.takes_upload and i.name in self.g.inputs(nid):
                    found, _ = self.leaves(nid, i.name, "")
                    for t in found:
                        t.kind = _upload_kind(i, spec)
                    targets += found
        return (Slot("inputs", targets), None) if targets else (None, "the workflow loads no image, video or audio file")

    def loaders_slot(self):
        """The model files the run loads (checkpoint, diffusion model, LoRA, VAE): set with --set."""
        from .models import folder_for

        targets = []
        for nid in self.g.ordered(self.g.reachable):
            cls = self.g.wf[nid].get("class_type")
            for name, value in self.g.inputs(nid).items():
                folder = folder_for(cls, name)
                if folder in LOADER_FOLDERS and isinstance(value, str):
                    targets.append(Target(nid, name, value, f"{self.g.label(nid)}.{name}", self.g.label(nid),
                                          kind=folder))
        if not targets:
            return None, "the workflow loads no checkpoint, diffusion model, LoRA or VAE file"
        slot = Slot("loaders", targets)
        slot.note = (f"set one with {flag('set', 'NODE.INPUT=FILE')}; "
                     f"add LoRAs with {flag('lora', 'NAME:STRENGTH')}")
        return slot, None

    def prefix_slot(self):
        targets = []
        for nid in self.g.ordered(self.g.reachable):
            spec = self.g.spec(nid)
            if spec and spec.output_node and "filename_prefix" in self.g.inputs(nid):
                found, _ = self.leaves(nid, "filename_prefix", "")
                targets += found
        if not targets:
            return None, "no output node saves files with a filename_prefix"
        slot = Slot("prefix", targets)
        if len(targets) > 1:
            slot.note = f"every saving node gets the prefix ({len(targets)})"
        return slot, None


def _rescale_by(inputs):
    return "megapixels" in inputs or "scale_by" in inputs


def _as_image_scale(node, object_info):
    """A rescale by megapixels or factor rewritten as an ImageScale to an exact size."""
    if "ImageScale" not in object_info:
        raise InputError(f"{flag('size')}: {node.get('class_type')} decides the size by "
                         f"{'megapixels' if 'megapixels' in node['inputs'] else 'a factor'} and this server "
                         f"has no ImageScale to set an exact one",
                         hint=f"set it with {flag('set', 'NODE.INPUT=VALUE')}")
    ins = node["inputs"]
    node["class_type"] = "ImageScale"
    node["inputs"] = {"image": ins.get("image"), "upscale_method": ins.get("upscale_method", "nearest-exact"),
                      "width": 0, "height": 0, "crop": "center"}  # 0 keeps the aspect
    (node.setdefault("_meta", {}))["title"] = "Upscale Image (the size asked)"


def _splits_steps(inputs):
    steps, start, end = inputs.get("steps"), inputs.get("start_at_step"), inputs.get("end_at_step")
    if not all(isinstance(v, int) for v in (steps, start, end)):
        return False
    return start > 0 or end < steps


def _upload_kind(spec_input, node_spec):
    if spec_input.extra.get("video_upload"):
        return "video"
    if spec_input.extra.get("audio_upload"):
        return "audio"
    if spec_input.extra.get("mesh_upload"):
        return "mesh"
    return "mask" if node_spec.output_type_names == ["MASK"] else "image"


def find_slots(api_workflow, object_info):
    """Every slot of an API workflow (see the module doc for the rules) as a Slots."""
    finder = _Finder(_Graph(api_workflow, object_info))
    found, absent = {}, {}

    def keep(name, result):
        slot, reason = result
        if slot is None:
            absent[name] = reason
        else:
            found[name] = slot

    keep("prompt", finder.text_slot("positive", []))
    keep("negative", finder.text_slot("negative", found["prompt"].encoders if "prompt" in found else []))
    keep("seed", finder.seed_slot())
    for name in SIZE_INPUTS:
        keep(name, finder.size_slot(name))
    for name in SETTING_SLOTS:
        keep(name, finder.setting_slot(name))
    keep("inputs", finder.inputs_slot())
    keep("prefix", finder.prefix_slot())
    keep("loaders", finder.loaders_slot())
    return Slots(found, absent, finder.makers)


def _flag(name):
    return str(flag(OPTIONS.get(name, name)))


def _short(value, width=40):
    text = repr(value)
    return text if len(text) <= width else text[:width - 4] + "...'"


def _check(graph, target, value, slot_name):
    """The value as the target input takes it, or InputError naming the node and the range."""
    spec = graph.spec(target.node)
    decl = spec.inputs.get(target.input) if spec else None
    where = f"{_flag(slot_name)} {value!r}: {target.label}.{target.input}"
    if decl is None:
        return value
    if decl.type == "STRING":
        if not isinstance(value, str):
            raise InputError(f"{where} takes text, not {type(value).__name__}")
        return value
    if decl.type == "COMBO":
        if decl.options and value not in decl.options:
            raise InputError(f"{where} is not one of its choices",
                             hint=f"choices: {', '.join(map(str, decl.options[:20]))}")
        return value
    if decl.type not in ("INT", "FLOAT"):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where} takes a number")
    if decl.type == "INT":
        if isinstance(value, float) and not value.is_integer():
            raise InputError(f"{where} takes a whole number")
        value = int(value)
    low, high, step = decl.min, decl.max, decl.step
    if low is not None and value < low or high is not None and value > high:
        raise InputError(f"{where} is out of range: it takes {low} to {high}")
    # The editor keeps INT widgets on min + k*step (Wan's length 81 = 1 + 20*4); the server does
    # not check it, but a latent size off the grid is silently cut down by the node.
    if decl.type == "INT" and isinstance(step, int) and step > 1:
        base = low if isinstance(low, int) else 0
        if (value - base) % step:
            below = value - (value - base) % step
            raise InputError(f"{where} must be {base} plus a multiple of {step}" if base else
                             f"{where} must be a multiple of {step}",
                             hint=f"e.g. {below} or {below + step}")
    return value


def _ambiguity_error(slot, graph):
    choices = ", ".join(f"{t.node}.{t.input} ({t.label}, now {_short(t.value, 30)})" for t in slot.targets)
    example = slot.targets[0]
    return InputError(f"{_flag(slot.name)} is ambiguous in this workflow: {slot.ambiguous}; "
                      f"candidates: {choices}",
                      hint=f"choose one with {flag('set', 'NODE.INPUT=VALUE')}, e.g. "
                           f"{flag('set', f'{example.node}.{example.input}=...')}")


def _file_kind(name):
    lower = str(name).lower()
    if lower.endswith(VIDEO_EXTENSIONS):
        return "video"
    if lower.endswith(AUDIO_EXTENSIONS):
        return "audio"
    return "image"


def _image_writes(slot, images):
    """[(target, file name)] for --image values: a list fills the loaders of each file's kind in
    order; a dict {node id: file} names the loader."""
    if slot is None:
        raise InputError(f"{_flag('inputs')}: this workflow loads no image, video or audio file")
    if isinstance(images, dict):
        by_node = {t.node: t for t in slot.targets}
        writes = []
        for nid, name in images.items():
            if str(nid) not in by_node:
                raise InputError(f"{_flag('inputs')} {nid}={name}: node {nid} loads no file",
                                 hint=f"loaders: {', '.join(f'{t.node} ({t.label})' for t in slot.targets)}")
            writes.append((by_node[str(nid)], name))
        return writes
    if isinstance(images, str):
        images = [images]
    writes, free = [], list(slot.targets)
    for name in images:
        kind = _file_kind(name)
        fits = [t for t in free if t.kind == kind]
        if not fits:
            loaders = ", ".join(f"{t.node} ({t.label}, {t.kind})" for t in slot.targets)
            raise InputError(f"{_flag('inputs')} {name}: no {kind} loader left for it in this workflow",
                             hint=f"loaders: {loaders}")
        writes.append((fits[0], name))
        free.remove(fits[0])
    return writes


def apply_slots(api_workflow, object_info, prompt=None, negative=None, seed=None, width=None, height=None,
                length=None, batch=None, steps=None, cfg=None, denoise=None, images=None, prefix=None):
    """A copy of the workflow with each given value written where its slot is; returns
    (new workflow, [Change(node, input, old, new, slot)]). Ambiguous or absent slots raise InputError."""
    graph = _Graph(api_workflow, object_info)
    slots = find_slots(api_workflow, object_info)
    asked = {"prompt": prompt, "negative": negative, "seed": seed, "width": width, "height": height,
             "length": length, "batch": batch, "steps": steps, "cfg": cfg, "denoise": denoise, "prefix": prefix}
    writes = []
    for name, value in asked.items():
        if value is None:
            continue
        slot = slots.get(name)
        if slot is None:
            raise InputError(f"{_flag(name)}: this workflow has no {name} slot ({slots.absent.get(name)})",
                             hint=f"set the input directly with {flag('set', 'NODE.INPUT=VALUE')}")
        if slot.ambiguous:
            raise _ambiguity_error(slot, graph)
        writes += [(t, _check(graph, t, value, name), name) for t in slot.targets]
    if images is not None:
        writes += [(t, name, "inputs") for t, name in _image_writes(slots.get("inputs"), images)]
    wf = copy.deepcopy(api_workflow)
    changes = []
    for target, _, _ in writes:
        if target.kind == "rescale" and _rescale_by(wf[target.node]["inputs"]):
            _as_image_scale(wf[target.node], object_info)
    for target, value, name in writes:
        wf[target.node]["inputs"][target.input] = value
        changes.append(Change(target.node, target.input, target.value, value, name))
    return wf, changes


def describe(slots):
    """Lines for a person: each slot, where it writes, and why the others are missing or ambiguous."""
    lines = []
    for name in SLOT_ORDER:
        slot = slots.get(name)
        if slot is None:
            if name in slots.absent:
                lines.append(f"{name}: none ({slots.absent[name]})")
            continue
        head = f"{name}: ambiguous, {slot.ambiguous}; choose with {nextsteps.flag('set', 'NODE.INPUT=VALUE')} among" if slot.ambiguous \
            else f"{name}:" + (f" ({slot.note})" if slot.note else "")
        lines.append(head)
        for t in slot.targets:
            kind = f" [{t.kind}]" if t.kind else ""
            lines.append(f"  {t.node}.{t.input} = {_short(t.value)}{kind}  via {t.how}")
    return lines

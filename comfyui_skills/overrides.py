"""`--set NODE.INPUT=VALUE`, `--sweep NODE.INPUT=a,b,c` and `--seeds N` applied to an API workflow.

NODE is a node id or its title (`_meta.title`); the value is typed by the node's schema (INT,
FLOAT, BOOLEAN, STRING, combo), or by the value already there when the schema is unknown.
"""

import copy
import itertools
import json
import random

from .schema import NodeSpec
from .errors import InputError
from .nextsteps import Flag

SEED_INPUTS = ("seed", "noise_seed")
SEED_MAX = 2**32 - 1


def parse_assignment(text, flag=Flag("set")):
    """'NODE.INPUT=VALUE' -> (node, input, raw value text)."""
    key, eq, value = text.partition("=")
    node, dot, name = key.strip().rpartition(".")
    if not eq or not dot or not node or not name:
        raise InputError(f"{flag} {text!r}: expected NODE.INPUT=VALUE (NODE is a node id or title)",
                         hint=f"e.g. {Flag(flag.name, '3.steps=20')} or {Flag(flag.name, 'KSampler.seed=42')}")
    return node, name, value


def find_node(workflow, ref, flag=Flag("set")):
    """The id of the node `ref` names: an id, else a unique title (exact, then any case)."""
    if ref in workflow:
        return ref
    for same in (lambda t: t == ref, lambda t: t.lower() == ref.lower()):
        hits = [nid for nid, n in workflow.items() if same(str((n.get("_meta") or {}).get("title") or ""))]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise InputError(f"{flag}: the title {ref!r} names nodes {', '.join(sorted(hits))}",
                             hint="use the node id instead")
    known = ", ".join(f"{nid} ({(n.get('_meta') or {}).get('title') or n.get('class_type')})"
                      for nid, n in list(workflow.items())[:30])
    raise InputError(f"{flag}: no node with id or title {ref!r}", hint=f"nodes: {known}")


def input_spec(object_info, class_type, name):
    """The InputSpec; None when the class is unknown, False when the class has no such input."""
    node = (object_info or {}).get(class_type)
    if not node:
        return None
    return NodeSpec(class_type, node).inputs.get(name, False)


def convert(text, spec, current, where):
    """The raw text typed as the input expects."""
    kind = spec.type if spec else None
    try:
        if kind == "INT":
            number = float(text) if any(c in text for c in ".eE") else int(text)
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            return int(number)
        if kind == "FLOAT":
            return float(text)
        if kind == "BOOLEAN":
            return _boolean(text)
        if kind in ("STRING", "COMBO"):
            return text
    except ValueError:
        raise InputError(f"{where}: {text!r} is not a valid {kind}") from None
    if kind and kind != "*":
        raise InputError(f"{where} takes a link of type {kind}, not a value",
                         hint=f"{Flag('set')} changes widget values (numbers, text, choices) only")
    return _like(text, current)


def _boolean(text):
    low = text.strip().lower()
    if low in ("true", "1", "yes", "on"):
        return True
    if low in ("false", "0", "no", "off"):
        return False
    raise ValueError(text)


def _like(text, current):
    """Without a schema: follow the type of the value already there, else read it as JSON."""
    if isinstance(current, bool):
        return _boolean(text)
    for typ in (int, float):
        if isinstance(current, typ):
            try:
                return typ(text)
            except ValueError:
                break
    if isinstance(current, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def resolve(workflow, object_info, node_ref, name, flag=Flag("set")):
    """(node id, where-label, spec, current value) for NODE.INPUT, checked against the schema."""
    nid = find_node(workflow, node_ref, flag)
    node = workflow[nid]
    cls = node.get("class_type")
    where = f"{flag} {node_ref}.{name}: node {nid} ({cls}) input '{name}'"
    spec = input_spec(object_info, cls, name)
    inputs = node.get("inputs") or {}
    if spec is False and name not in inputs:
        names = list(NodeSpec(cls, object_info[cls]).inputs)
        raise InputError(f"{flag} {node_ref}.{name}: node {nid} ({cls}) has no input '{name}'",
                         hint=f"its inputs: {', '.join(names)}")
    if spec is None and name not in inputs:
        raise InputError(f"{flag} {node_ref}.{name}: node {nid} ({cls}) has no input '{name}' "
                         f"and its schema is unknown", hint=f"its inputs: {', '.join(inputs)}")
    return nid, where, spec or None, inputs.get(name)


def apply_sets(workflow, object_info, assignments):
    """A copy of `workflow` with every --set applied; returns (workflow, {"NODE.INPUT": value})."""
    wf = copy.deepcopy(workflow)
    applied = {}
    for text in assignments or []:
        ref, name, raw = parse_assignment(text)
        nid, where, spec, current = resolve(wf, object_info, ref, name)
        value = convert(raw, spec, current, where)
        wf[nid].setdefault("inputs", {})[name] = value
        applied[f"{nid}.{name}"] = value
    return wf, applied


def sweep_axes(workflow, object_info, sweeps, seeds=None, rng=None):
    """[(key, node id, input, [values])...] for every --sweep, plus one axis for --seeds N."""
    axes = []
    for text in sweeps or []:
        ref, name, raw = parse_assignment(text, Flag("sweep"))
        nid, where, spec, current = resolve(workflow, object_info, ref, name, Flag("sweep"))
        values = [convert(v, spec, current, where) for v in _split_values(raw, where)]
        axes.append((f"{nid}.{name}", [(nid, name)], values))
    if seeds:
        targets = seed_inputs(workflow)
        if not targets:
            raise InputError(f"{Flag('seeds')}: this workflow has no seed or noise_seed input to vary",
                             hint=f"vary another input with {Flag('sweep', 'NODE.INPUT=a,b,c')}")
        rng = rng or random.SystemRandom()
        values = [rng.randint(0, SEED_MAX) for _ in range(seeds)]
        axes.append(("seed", targets, values))
    return axes


def _split_values(raw, where):
    text = raw.strip()
    if text.startswith("["):
        try:
            values = json.loads(text)
        except ValueError:
            raise InputError(f"{where}: {raw!r} is not a JSON list") from None
        return [v if isinstance(v, str) else json.dumps(v) for v in values]
    values = [v.strip() for v in text.split(",")]
    if not any(values):
        raise InputError(f"{where}: no values given", hint=f"e.g. {Flag('sweep', '3.steps=10,20,30')}")
    return values


def seed_inputs(workflow):
    """(node id, input) of every literal seed in the workflow (links are left alone)."""
    return [(nid, name) for nid, node in workflow.items() for name in SEED_INPUTS
            if isinstance((node.get("inputs") or {}).get(name), int)
            and not isinstance(node["inputs"][name], bool)]


def variants(workflow, axes):
    """Every combination of the axes: [(values dict, workflow)], cartesian; one entry when no axes."""
    if not axes:
        return [({}, workflow)]
    out = []
    for combo in itertools.product(*(values for _, _, values in axes)):
        wf = copy.deepcopy(workflow)
        chosen = {}
        for (key, targets, _), value in zip(axes, combo):
            for nid, name in targets:
                wf[nid].setdefault("inputs", {})[name] = value
            chosen[key] = value
        out.append((chosen, wf))
    return out

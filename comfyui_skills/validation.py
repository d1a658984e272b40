"""Would ComfyUI accept this API-format workflow? The same answer as `POST /prompt`, explained.

The server's rules, as observed on 0.3.64 (and read in newer releases where they changed, see
versions.py for which release changed what):
- every node must name a class the server has; it stops at the first that does not
  (`invalid_prompt`, `missing_node_type` from 0.12.0);
- only output nodes and what they depend on (through declared inputs) are checked;
- an output whose graph has a problem is dropped, the others still run (`partial`);
  with no output left the prompt is refused;
- a value is coerced to INT/FLOAT/STRING/BOOLEAN first (so "12" is a fine INT, 7.9 becomes 7),
  then held to min/max, and a dropdown to its list: a classic one always, a V3 "COMBO" from 0.8.0
  (before, a value outside one is a warning: the node decides at run time);
- a link must be [node_id, slot] to an existing node and slot whose type overlaps the input's
  (comma unions, "*" matches anything);
- a dependency cycle drops the outputs behind it; from 0.20.0 each node on it is named;
- a handful of core nodes check their own inputs instead (input files exist, aspect ratios...).

Newer servers (read in Comfy-Org/ComfyUI at 04e2a914, a 0.38.1 tree: execution.py validate_inputs,
comfy_execution/validation.py, comfy_api/latest/_io.py) also have inputs whose shape follows the
prompt (schema.expand_inputs): a dynamic combo's chosen option brings `combo.sub` inputs, checked
like any other; autogrow slots `group.nameN` up to their max, the first `min` required; a dynamic
combo that is missing or not one of its keys is not checked at all (a warning: the node decides at
run time); match-type links are not checked by the server (left to the editor), so a link the
editor would refuse is a warning. These rules are the same from 0.10.0 on (versions.DYNAMIC_CHECKED);
where the server is older or its version unknown, what they refuse is a warning. With the server's
node replacements (GET /node_replacements), a node of a class the server lacks is first replaced as
the server does before it validates (app/node_replace_manager.py at b5d74ccb).
"""

import difflib
import json
import math
import posixpath
import sys
import threading

from . import nextsteps, versions
from .schema import DYNAMIC_COMBO, DYNAMIC_SLOT, MATCH_TYPE, DynamicInputError, Schema, expand_inputs

OK, PARTIAL, REJECTED = "ok", "partial", "rejected"

# The server validates recursively and runs out of stack on very deep graphs: measured on 0.3.64,
# a node 986 links above an output cannot be reached, and the error lands on the one at depth 981.
DEEPEST_REACHABLE = 985
DEPTH_BLAMED = 981

MODEL_EXTENSIONS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft", ".pt2", ".onnx")

def validate(workflow, object_info, *, models=None, input_files=None, local_files_known=True,
             server_version=None, replacements=None):
    """{"verdict": "ok"|"partial"|"rejected", "errors": [...], "warnings": [...]}.

    `server_version` (ComfyUI's, as /system_stats gives it) decides the checks whose rules changed
    between server versions; None: unknown, then the oldest release `object_info` can come from
    (versions.learn), else 0.3.64.
    `object_info` is a raw `/object_info` dict (or a schema.Schema); `models` ({folder: [files]})
    and `input_files` (names under ComfyUI's input folder) sharpen hints and file checks.
    With local_files_known=False (a bundled inventory, whose model and file lists are empty)
    a missing model or input file is a warning: we cannot tell.
    `replacements` is the server's GET /node_replacements answer ({old class: [replacement]}): the
    server applies them before it validates, and so does this check (a warning names each one).
    """
    schema = object_info if isinstance(object_info, Schema) else Schema(object_info)
    notes = []
    if replacements:
        workflow, notes = apply_replacements(workflow, schema, replacements)
    _stack_room()
    check = _Check(workflow, schema, models, input_files, local_files_known, server_version)
    check.warnings += [n for n in notes if n["type"] == "node_replaced"]
    failed = [n for n in notes if n["type"] != "node_replaced"]
    return check.result(REJECTED, failed) if failed else check.run()


def validate_against(workflow, inv):
    """validate() with what an inventory.Inventory knows of the install's files.

    The bundled core inventory lists no models and no input files, so there a model or input
    file the workflow names but the lists lack is a warning, not an error.
    """
    return validate(workflow, inv.schema, models=inv.models, input_files=inv.input_files,
                    local_files_known=not inv.bundled, server_version=inv.comfyui_version,
                    replacements=inv.record.get("node_replacements"))


def apply_replacements(workflow, schema, replacements):
    """(the workflow as the server validates it, [notes]) after its node replacements.

    As NodeReplaceManager.apply_replacements (app/node_replace_manager.py at b5d74ccb): a node
    whose class the server lacks but has a replacement for becomes the first replacement's class,
    if the server has that one; its inputs are only what `input_mapping` maps or sets (none
    without a mapping), and links from it move to the outputs `output_mapping` names. An input
    the mapping reads that the node lacks makes the server fail (a KeyError, HTTP 500).
    """
    if not isinstance(workflow, dict):
        return workflow, []
    import copy
    prompt = copy.deepcopy(workflow)
    connections = {}
    todo = []
    for nid, node in prompt.items():
        if not isinstance(node, dict) or "class_type" not in node or not isinstance(node.get("inputs"), dict):
            continue
        ct = node["class_type"]
        if ct not in schema and isinstance(ct, str) and replacements.get(ct):
            todo.append(nid)
        for name, value in node["inputs"].items():
            if isinstance(value, list) and len(value) == 2:
                connections.setdefault(value[0], []).append((nid, name, value[1]))
    notes = []
    for nid in todo:
        node = prompt[nid]
        old = node["class_type"]
        rule = replacements[old][0] if isinstance(replacements[old], list) else None
        new = rule.get("new_node_id") if isinstance(rule, dict) else None
        if new not in schema:  # the server skips a replacement it cannot use
            continue
        inputs = {}
        for entry in rule.get("input_mapping") or []:
            if "set_value" in entry:
                inputs[entry["new_id"]] = entry["set_value"]
            elif "old_id" in entry:
                if entry["old_id"] not in node["inputs"]:
                    notes.append(problem(
                        "replacement_failed", f"node {nid} ({old}): this server replaces {old} with {new} "
                        f"before checking, and the replacement reads input '{entry['old_id']}', which the "
                        "node does not have; ComfyUI fails on that (HTTP 500)", nid, old, entry["old_id"],
                        hint=f"set '{entry['old_id']}', or use {new} in the workflow yourself"))
                    continue
                inputs[entry["new_id"]] = node["inputs"][entry["old_id"]]
        prompt[nid] = dict(node, class_type=new, inputs=inputs, _meta=dict(node.get("_meta") or {}))
        for target, name, old_slot in connections.get(nid, []) if rule.get("output_mapping") else []:
            link = prompt[target]["inputs"].get(name)
            for entry in rule["output_mapping"]:
                if entry.get("old_idx") == old_slot and isinstance(link, list):
                    link[1] = entry.get("new_idx")
        lost = "" if rule.get("input_mapping") else "; the replacement maps no inputs, so the node loses them all"
        notes.append(problem(
            "node_replaced", f"node {nid} ({old}): this server has no {old} and replaces it with {new} "
            f"before checking, so it is checked (and runs) as that{lost}", nid, new,
            hint=f"save the workflow with {new} so it no longer depends on the replacement"))
    return prompt, notes


_ROOM = threading.Lock()
STACK_ROOM = 4 * DEEPEST_REACHABLE + 200  # frames the check takes at the deepest graph the server reaches


def _stack_room():
    """Python's recursion limit high enough for the deepest graph, raised once and never lowered.

    The limit is one for the whole process: lowering it again after a check (as this did) could
    cut short a check running at that moment on another thread (the MCP server runs tool calls on
    worker threads). Raising it only, once, changes nothing per call."""
    if sys.getrecursionlimit() >= STACK_ROOM:
        return
    with _ROOM:
        if sys.getrecursionlimit() < STACK_ROOM:
            sys.setrecursionlimit(STACK_ROOM)


def problem(kind, message, node_id=None, class_type=None, input_name=None, hint=None):
    return {"node_id": node_id, "class_type": class_type, "type": kind,
            "input_name": input_name, "message": message, "hint": hint}


class _Fault(Exception):
    """Where the server raises instead of reporting: the node is dropped with this one error."""

    def __init__(self, err):
        super().__init__(err["message"])
        self.err = err


class _TooDeep(Exception):
    pass


class _Check:
    def __init__(self, workflow, schema, models, input_files, local_files_known, server_version=None):
        self.wf = workflow if isinstance(workflow, dict) else {}
        self.version = versions.learn(server_version, schema.object_info)
        self.checks_combo = self.version.at_least(versions.COMBO_CHECKED)
        self.checks_dynamic = self.version.at_least(versions.DYNAMIC_CHECKED)
        self.names_cycles = self.version.at_least(versions.CYCLES_NAMED)
        self.multiselect_items = self.version.at_least(versions.MULTISELECT_ITEMS)
        self.unbuildable_type = "missing_node_type" if self.version.at_least(versions.MISSING_NODE_TYPE) \
            else "invalid_prompt"
        self.local_files_known = local_files_known
        self.schema = schema
        self.models = models
        self.files = InputFiles(schema, input_files)
        self.done = {}        # node id -> valid?
        self.own = {}         # node id -> its own errors
        self.visiting = []    # the current chain of links, for cycles
        self.cycles = []
        self.warnings = []

    # -- whole prompt --------------------------------------------------------------------

    def run(self):
        unbuildable = self.unbuildable()
        if unbuildable:
            return self.result(REJECTED, unbuildable)
        outputs = [nid for nid, node in self.wf.items() if self.schema.node(node["class_type"]).output_node]
        if not outputs:
            return self.result(REJECTED, [problem(
                "prompt_no_outputs", "the workflow has no output node, so ComfyUI has nothing to run",
                hint="add a SaveImage or PreviewImage (or another output node) fed by the result")])
        good = [o for o in outputs if self.check(o, 1)]
        errors = [e for nid in self.own for e in self.own[nid]]
        cycle_notes = [self.cycle_problem(c) for c in self.cycles]
        self.warn_unreached(outputs)
        if not good:
            return self.result(REJECTED, errors or cycle_notes)
        self.warnings += cycle_notes if len(good) < len(outputs) else []
        return self.result(PARTIAL if errors else OK, errors)

    def result(self, verdict, errors):
        return {"verdict": verdict, "errors": errors, "warnings": self.warnings}

    def unbuildable(self):
        """A node without a class_type, or a class this server does not have: the server's
        invalid_prompt, or missing_node_type (its name for both from 0.12.0)."""
        found = []
        for nid, node in self.wf.items():
            ct = node.get("class_type") if isinstance(node, dict) else None
            if ct is None:
                found.append(problem(self.unbuildable_type, f"node {nid} has no class_type", nid,
                                     hint="every node needs \"class_type\": the node's class name"))
            elif ct not in self.schema:
                found.append(problem(self.unbuildable_type, f"node {nid}: class {ct!r} does not exist on this server",
                                     nid, str(ct), hint=self.missing_class_hint(ct)))
        return found

    def missing_class_hint(self, ct):
        close = difflib.get_close_matches(str(ct), self.schema.class_names(), n=3, cutoff=0.7)
        tip = f"did you mean {_quoted(close)}? " if close else ""
        return (tip + "if it comes from a custom node pack, install the pack (ComfyUI-Manager: "
                "'Install Missing Custom Nodes', or `comfy node install <pack>`), restart ComfyUI, "
                f"then refresh the inventory with `{nextsteps.step('inventory')}`")

    # -- one node ------------------------------------------------------------------------

    def check(self, nid, depth):
        """Is node `nid` (and everything it depends on) valid? Records its own errors."""
        if nid in self.done:
            return self.done[nid]
        if depth > DEEPEST_REACHABLE:
            raise _TooDeep()
        node = self.wf[nid]
        spec = self.schema.node(node["class_type"])
        errors = []
        self.visiting.append(nid)
        try:
            valid = self.check_inputs(nid, node, spec, depth, errors)
        except _Fault as fault:
            errors.append(fault.err)
            valid = False
        finally:
            self.visiting.pop()
        self.done[nid] = valid and not errors and nid not in self.own
        if errors:  # after a cycle error named on this node while its inputs were being checked
            self.own[nid] = self.own.get(nid, []) + errors
        return self.done[nid]

    def check_inputs(self, nid, node, spec, depth, errors):
        ct = spec.name
        inputs = node.get("inputs", None)
        if not isinstance(inputs, dict):
            raise _Fault(problem("malformed_node", f"node {nid} ({ct}): \"inputs\" is "
                                 f"{'missing' if inputs is None else 'not an object'}", nid, ct,
                                 hint="give the node \"inputs\": {name: value or [node_id, slot]}"))
        expected = self.expected_inputs(nid, spec, inputs)
        self.warn_unknown_inputs(nid, spec, inputs, expected)
        custom = CUSTOM_CHECKS.get(ct)
        if custom and custom.since and not self.version.at_least(custom.since):
            custom = None  # older servers check this node's inputs like any other
        valid = True
        values = {}
        for inp in expected:
            # what only the dynamic-input rules (0.10.0 on) refuse is a warning on older servers
            sink = errors if inp.parent is None or self.checks_dynamic else _Unchecked(self, nid, spec)
            name = inp.name
            if name not in inputs:
                if inp.required:
                    sink.append(self.missing_input(nid, spec, inp))
                continue
            value = inputs[name]
            if isinstance(value, list):
                values[name] = None
                ok = self.check_link(nid, spec, inp, value, depth, sink, custom)
                valid = valid and ok
                continue
            if isinstance(value, dict) and "__value__" in value:
                value = value["__value__"]
            err, value = self.check_value(nid, spec, inp, value, custom)
            values[name] = value
            if err:
                sink.append(err)
        self.warn_match_types(nid, spec, inputs, expected)
        if custom:
            err = self.unless_unknowable(custom.run(self, nid, spec, values, inputs), custom.reads_files)
            if err and err["type"].startswith("unchecked_"):
                self.warnings.append(err)
            elif err:
                errors.append(err)
        return valid

    def expected_inputs(self, nid, spec, inputs):
        """The inputs the server checks for this node: its own, with dynamic ones worked out from
        the prompt (schema.expand_inputs). A dynamic combo it leaves out is a warning here."""
        if not spec.has_dynamic_inputs:
            return spec.visible_inputs()
        try:
            expected = expand_inputs(spec, inputs)
        except DynamicInputError as exc:
            err = problem("invalid_dynamic_input", f"node {nid} ({spec.name}) input '{exc.input_name}': {exc}",
                          nid, spec.name, exc.input_name,
                          hint="name each row's inputs `group.<row>.<field>`, rows counted from 0")
            if self.checks_dynamic:
                raise _Fault(err) from None  # the server stops at this one error for the node
            _Unchecked(self, nid, spec).append(err)
            expected = [inp for inp in spec.visible_inputs() if not inp.dynamic]
        for inp in spec.visible_inputs():
            if inp.dynamic == DYNAMIC_COMBO and inp not in expected:
                self.warn_unchosen(nid, spec, inp, inputs)
        return expected

    def warn_unchosen(self, nid, spec, inp, inputs):
        """A dynamic combo without one of its keys: the server checks nothing about it (0.38.1)."""
        ct, name = spec.name, inp.name
        later = ("ComfyUI does not check a dynamic choice before running, so the node gets no "
                 "option inputs and will most likely fail when it runs")
        if name not in inputs:
            if not inp.required:
                return
            message = f"node {nid} ({ct}) is missing its choice '{name}'; {later}"
            kind = "unchecked_required_input_missing"
        elif isinstance(inputs[name], list):
            message = f"node {nid} ({ct}) input '{name}' is linked, but it takes one of its choices as a value; {later}"
            kind = "unchecked_return_type_mismatch"
        else:
            message = f"node {nid} ({ct}) input '{name}': {_json(inputs[name])} is not one of its choices; {later}"
            kind = "unchecked_value_not_in_list"
        near = nearest(inputs[name], inp.choices) if name in inputs and not isinstance(inputs[name], list) else []
        hint = (f"did you mean {_quoted(near)}? " if near else "") + _choices_text(inp.choices)
        self.warnings.append(problem(kind, message, nid, ct, name, hint))

    def missing_input(self, nid, spec, inp):
        hint = f"connect a node that outputs {inp.type}" if not inp.is_widget else \
            f"set it, e.g. \"{inp.name}\": {_json(_example(inp))}"
        return problem("required_input_missing",
                       f"node {nid} ({spec.name}) is missing required input '{inp.name}' ({inp.type})",
                       nid, spec.name, inp.name, hint)

    # -- links ---------------------------------------------------------------------------

    def check_link(self, nid, spec, inp, link, depth, errors, custom):
        ct, name = spec.name, inp.name
        if len(link) != 2:
            errors.append(problem("bad_linked_input", f"node {nid} ({ct}) input '{name}': a link must be "
                                  f"[node_id, output_slot], got {_json(link)}", nid, ct, name,
                                  hint="write a link as [\"4\", 0]; a list value for a widget goes in "
                                       "{\"__value__\": [...]}"))
            return True
        src, slot = link
        source = self.wf.get(src) if isinstance(src, str) else None
        if source is None:
            raise _Fault(self.missing_source(nid, ct, name, src))
        src_spec = self.schema.node(source["class_type"])
        received = _slot_type(src_spec, slot)
        if received is _NO_SLOT:
            n = len(src_spec.output_types)
            what = f"has {n} output{'s' * (n != 1)}" if isinstance(slot, int) else "numbers its outputs 0, 1, ..."
            raise _Fault(problem("link_slot_out_of_range",
                                 f"node {nid} ({ct}) input '{name}' takes output {_json(slot)} of node {src} "
                                 f"({src_spec.name}), which {what}", nid, ct, name, hint=_outputs_hint(src_spec)))
        if inp.type == DYNAMIC_SLOT:
            self.warn_dynamic_slot(nid, spec, inp, src, src_spec, slot, received)
        elif not (custom and custom.takes_types) and not server_types_match(received, inp.raw_type,
                                                                            self.checks_combo):
            errors.append(self.mismatch(nid, spec, inp, src, src_spec, slot, received))
            return True
        elif received == MATCH_TYPE and inp.type != MATCH_TYPE:
            self.warn_resolved_link(nid, spec, inp, src, slot)
        if src in self.visiting and src not in self.done:  # in done: a cycle already named it
            cycle = self.visiting[self.visiting.index(src):] + [src]
            if self.names_cycles:
                self.name_cycle(cycle)
            elif not any(set(c) == set(cycle) for c in self.cycles):
                self.cycles.append(cycle)
            return False
        try:
            return self.check(src, depth + 1)
        except _TooDeep:
            if depth + 1 != DEPTH_BLAMED:
                raise
            self.own[src] = [problem("graph_too_deep", f"node {src} ({src_spec.name}) sits {DEPTH_BLAMED} "
                                     "links above an output; ComfyUI runs out of stack validating deeper "
                                     "chains and refuses them", src, src_spec.name,
                                     hint="shorten the chain of nodes (ComfyUI's limit is about 980 links)")]
            self.done[src] = False
            return False

    # -- match types and dynamic slots (newer servers) -----------------------------------------

    def resolved_type(self, nid, slot, seen=None):
        """The type output `slot` of node `nid` carries; a match-type output takes the type of
        what is linked into its template's inputs, as the editor narrows it. None: not known."""
        seen = set() if seen is None else seen
        node = self.wf.get(nid) if isinstance(nid, str) else None
        if not isinstance(node, dict) or (nid, slot) in seen or not isinstance(node.get("inputs"), dict):
            return None
        seen.add((nid, slot))
        spec = self.schema.node(node.get("class_type"))
        if spec is None:
            return None
        out = _slot_type(spec, slot)
        if out is _NO_SLOT:
            return None
        if out != MATCH_TYPE:
            return out
        template = spec.output_template(slot)
        found = [t for t in self.template_links(node, spec, template, seen).values() if t is not None]
        # inputs that disagree leave no type the editor would give the output (warned at that node)
        return found[0] if found and all(server_types_match(t, found[0]) for t in found) else None

    def template_links(self, node, spec, template, seen):
        """{input name: resolved type} of the node's linked inputs of match-type `template`."""
        try:
            expected = expand_inputs(spec, node["inputs"])
        except DynamicInputError:
            expected = spec.visible_inputs()
        found = {}
        for inp in expected:
            link = node["inputs"].get(inp.name)
            if inp.match_template and inp.match_template[0] == template and isinstance(link, list) and len(link) == 2:
                found[inp.name] = self.resolved_type(link[0], link[1], seen)
        return found

    def warn_resolved_link(self, nid, spec, inp, src, slot):
        got = self.resolved_type(src, slot)
        if got is not None and not server_types_match(got, inp.raw_type):
            self.warnings.append(problem(
                "unchecked_return_type_mismatch",
                f"node {nid} ({spec.name}) input '{inp.name}' expects {inp.type} but is linked to output {slot} "
                f"of node {src}, which passes on {got} (a match type); ComfyUI does not check match-type "
                "links (it leaves them to the editor), so the node may fail when it runs", nid, spec.name,
                inp.name, hint=f"connect an output of type {inp.type}"))

    def warn_match_types(self, nid, spec, inputs, expected):
        """Match-type inputs: the server accepts any link (comfy_execution/validation.py at 04e2a914),
        the editor only its allowed types, the same for every input of one template."""
        groups = {}
        for inp in expected:
            link = inputs.get(inp.name)
            if inp.match_template is None or not isinstance(link, list) or len(link) != 2:
                continue
            template, allowed = inp.match_template
            got = self.resolved_type(link[0], link[1])
            if got is None:
                continue
            groups.setdefault(template, []).append((inp, got))
            if allowed != "*" and not server_types_match(got, allowed):
                takes = " or ".join(allowed.split(","))
                self.warnings.append(problem(
                    "unchecked_return_type_mismatch",
                    f"node {nid} ({spec.name}) input '{inp.name}' takes {takes} but is linked to {got}; ComfyUI "
                    "does not check match-type links (the editor would refuse this one), so the node may fail "
                    "when it runs", nid, spec.name, inp.name, hint=f"connect an output of type {takes}"))
        for members in groups.values():
            first_inp, first = members[0]
            for inp, got in members[1:]:
                if not server_types_match(got, first):
                    self.warnings.append(problem(
                        "unchecked_return_type_mismatch",
                        f"node {nid} ({spec.name}) inputs '{first_inp.name}' ({first}) and '{inp.name}' ({got}) "
                        "share one match type but get different types; ComfyUI does not check this, so the "
                        "node may fail when it runs", nid, spec.name, inp.name,
                        hint=f"link '{inp.name}' to an output of type {first}"))

    def warn_dynamic_slot(self, nid, spec, inp, src, src_spec, slot, received):
        self.warnings.append(problem(
            "unchecked_return_type_mismatch",
            f"node {nid} ({spec.name}) input '{inp.name}' is a dynamic slot for {inp.link_type}, linked to output "
            f"{slot} of node {src} ({src_spec.name}), which is {received}; ComfyUI 0.38.1 compares such a link "
            f"with the slot's own type ({DYNAMIC_SLOT}) and may refuse it", nid, spec.name, inp.name,
            hint="if the server refuses it, the node's pack and this server's version do not fit together"))

    def missing_source(self, nid, ct, name, src):
        hint = "the link points at a node id that is not in the workflow"
        if isinstance(src, (int, float)) and str(src) in self.wf:
            hint = f"node ids are strings: write [\"{src}\", ...] instead of [{src}, ...]"
        elif isinstance(src, str):
            close = difflib.get_close_matches(src, list(self.wf), n=1)
            hint += f"; did you mean node {close[0]}?" if close else ""
        return problem("link_to_missing_node", f"node {nid} ({ct}) input '{name}' is linked to node "
                       f"{_json(src)}, which does not exist", nid, ct, name, hint)

    def mismatch(self, nid, spec, inp, src, src_spec, slot, received):
        want = "a dropdown value" if inp.strict_options else inp.type
        producers = self.schema.producers(inp.type) if not inp.strict_options else []
        hint = f"connect an output of type {want}"
        if producers:
            more = f" and {len(producers) - 8} more" if len(producers) > 8 else ""
            hint += f" (made by {', '.join(producers[:8])}{more})"
        elif inp.strict_options:
            hint = "type the value in instead of linking it: " + _choices_text(inp.options)
        return problem("return_type_mismatch", f"node {nid} ({spec.name}) input '{inp.name}' expects {want} "
                       f"but is linked to output {slot} of node {src} ({src_spec.name}), which is {received}",
                       nid, spec.name, inp.name, hint)

    # -- values --------------------------------------------------------------------------

    def check_value(self, nid, spec, inp, value, custom):
        """(error or None, value as the server sees it after coercion)."""
        ct, name, t = spec.name, inp.name, inp.raw_type
        try:
            coerced = COERCE[t](value) if isinstance(t, str) and t in COERCE else value
        except (TypeError, ValueError, OverflowError):
            return problem("invalid_input_type", f"node {nid} ({ct}) input '{name}': {_json(value)} is not "
                           f"a valid {t}", nid, ct, name, hint=_range_hint(inp) or f"give a {t} value"), value
        if t == "INT" and isinstance(value, float) and value != coerced:
            self.warnings.append(problem("float_truncated", f"node {nid} ({ct}) input '{name}': {value} "
                                         f"will be truncated to {coerced}", nid, ct, name,
                                         hint=f"write {coerced} (or {coerced + 1}) to say what you mean"))
        if t == "BOOLEAN" and isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
            self.warnings.append(problem("string_as_boolean", f"node {nid} ({ct}) input '{name}': the text "
                                         f"{_json(value)} counts as true (only an empty text is false)",
                                         nid, ct, name, hint="write false, without quotes"))
        if custom and custom.owns(name):
            return None, coerced
        try:
            return self.check_bounds(nid, spec, inp, coerced), coerced
        except TypeError:
            raise _Fault(problem("invalid_input_type", f"node {nid} ({ct}) input '{name}': {_json(value)} "
                                 f"cannot be compared with the allowed range", nid, ct, name,
                                 hint=_range_hint(inp))) from None

    def check_bounds(self, nid, spec, inp, value):
        ct, name = spec.name, inp.name
        lo, hi = inp.min, inp.max
        # the key's presence is what counts: an explicit null bound breaks the comparison, as on the server
        if "min" in inp.extra and value < lo:
            return problem("value_smaller_than_min", f"node {nid} ({ct}) input '{name}': {value} is below "
                           f"the minimum {lo}", nid, ct, name, _range_hint(inp))
        if "max" in inp.extra and value > hi:
            return problem("value_bigger_than_max", f"node {nid} ({ct}) input '{name}': {value} is above "
                           f"the maximum {hi}", nid, ct, name, _range_hint(inp))
        if inp.strict_options and value not in inp.options:
            # a loader's list may keep fixed entries (VAELoader's "pixel_space") next to its files
            unknowable = not inp.options or _looks_like_model(value)
            return self.unless_unknowable(self.not_in_list(nid, spec, inp, value), unknowable)
        if inp.raw_type == "COMBO" and not inp.extra.get("remote_combo"):
            return self.check_v3_combo(nid, spec, inp, value)
        return None

    def check_v3_combo(self, nid, spec, inp, value):
        # a server that checks them takes a COMBO declared without options as one with none
        options = inp.extra.get("options", [] if self.checks_combo else None)
        if not isinstance(options, list):
            return None
        itemwise = inp.extra.get("multiselect") and isinstance(value, list) and self.multiselect_items
        picked = value if itemwise else [value]
        outside = [v for v in picked if v not in options]
        if not outside:
            return None
        err = self.not_in_list(nid, spec, inp, outside[0])
        if self.checks_combo:  # as for a classic list: a model file we cannot see is only a warning
            return self.unless_unknowable(err, not options or _looks_like_model(outside[0]))
        self.warnings.append(dict(err, type="unchecked_value_not_in_list", message=(
            f"{err['message']}; {self.version} does not check this kind of list (a V3 COMBO) before running "
            "(0.8.0 and later do), so the node itself decides at run time: it may fail there, or fall back "
            "to another choice")))
        return None

    def unless_unknowable(self, err, unknowable):
        """A local file we cannot see (bundled inventory) is only worth a warning."""
        if err and unknowable and not self.local_files_known:
            # the bundled inventory lists no files, so "is not in" would claim what we cannot know
            message = err["message"].replace(" is not in ", " may not be in ", 1) + " (not checked: no snapshot)"
            self.warnings.append(dict(err, type="unchecked_" + err["type"], message=message,
                                      hint=f"take an inventory snapshot to check it: {nextsteps.step('inventory')}"))
            return None
        return err

    def not_in_list(self, nid, spec, inp, value):
        ct, name = spec.name, inp.name
        folder = self.model_folder(ct, inp, value)
        if folder:
            message = f"node {nid} ({ct}) input '{name}': model file {_json(value)} is not in models/{folder}/"
            near = nearest(value, inp.options)
            hint = (f"did you mean {_quoted(near)}? " if near else "") + \
                f"download it into ComfyUI/models/{folder}/{_download_pointer(value)}, then refresh the inventory"
            if not inp.options:
                hint += f"; models/{folder}/ is empty on this server"
            # what the diagnosis needs to say the same as it says for the server's own rejection
            return dict(problem("value_not_in_list", message, nid, ct, name, hint),
                        received_value=value, folder=folder, nearest=near)
        else:
            message = f"node {nid} ({ct}) input '{name}': {_json(value)} is not one of the choices"
            near = nearest(value, inp.options)
            hint = (f"did you mean {_quoted(near)}? " if near else "") + _choices_text(inp.options)
        return problem("value_not_in_list", message, nid, ct, name, hint)

    def model_folder(self, class_type, inp, value):
        if isinstance(self.models, dict) and inp.options:
            wanted = set(inp.options)
            for folder, files in self.models.items():
                if files and wanted <= set(files):
                    return folder
        if not _looks_like_model(value):
            return None
        from . import models  # on first use only: a valid workflow never needs model knowledge
        # the inventory could not tell (no listing, or one lacking a folder): say what ComfyUI's loader reads
        return models.folder_for(class_type, inp.name)

    # -- warnings ------------------------------------------------------------------------

    def warn_unknown_inputs(self, nid, spec, inputs, expected=()):
        known = set(spec.inputs) | {inp.name for inp in expected}
        for inp in spec.visible_inputs():
            if inp.growth is not None and inp.name in inputs:  # the group itself is no input the server takes
                self.warnings.append(problem(
                    "unknown_input", f"node {nid} ({spec.name}) input '{inp.name}' is a group of inputs, not one; "
                    "ComfyUI ignores it when it checks the node", nid, spec.name, inp.name,
                    _dotted_hint(spec, f"{inp.name}.", inputs)))
        for name in inputs:
            if name not in known:
                hint = _dotted_hint(spec, name, inputs)
                close = difflib.get_close_matches(name, list(spec.inputs), n=1)
                self.warnings.append(problem(
                    "unknown_input", f"node {nid} ({spec.name}) has no input '{name}'; it will be ignored",
                    nid, spec.name, name, hint or (f"did you mean '{close[0]}'?" if close else
                                                   f"inputs of {spec.name}: {', '.join(spec.inputs) or 'none'}")))

    def warn_unreached(self, outputs):
        reached, todo = set(), list(outputs)
        while todo:
            nid = todo.pop()
            if nid in reached or nid not in self.wf:
                continue
            reached.add(nid)
            inputs = self.wf[nid].get("inputs")
            for v in (inputs.values() if isinstance(inputs, dict) else ()):
                if isinstance(v, list) and len(v) == 2 and isinstance(v[0], str):
                    todo.append(v[0])
        for nid, node in self.wf.items():
            if nid not in reached:
                self.warnings.append(problem(
                    "unreachable_node", f"node {nid} ({node['class_type']}) feeds no output node; "
                    "ComfyUI will neither check nor run it", nid, node["class_type"],
                    hint="connect it to an output (e.g. PreviewImage) or delete it"))

    def name_cycle(self, cycle):
        """From 0.20.0 the server gives each node on a cycle a dependency_cycle error and takes it
        as checked (a later link to it stops there): execution.py validate_inputs at 2327fa1c."""
        path = " -> ".join(cycle)
        for nid in dict.fromkeys(cycle):
            ct = self.wf[nid].get("class_type")
            self.own[nid] = [problem("dependency_cycle", f"node {nid} ({ct}) is on the dependency cycle "
                                     f"{path}: each waits for the other", nid, ct,
                                     hint="break the loop: a node cannot depend on its own output")]
            self.done[nid] = False

    def cycle_problem(self, cycle):
        path = " -> ".join(cycle)
        return problem("dependency_cycle", f"nodes {path} form a cycle: each waits for the other",
                       hint="break the loop: a node cannot depend on its own output")


class _Unchecked:
    """Where errors of one node go that only servers from 0.10.0 raise (dynamic inputs): as warnings."""

    def __init__(self, check, nid, spec):
        self.check, self.nid, self.spec = check, nid, spec

    def append(self, err):
        message = (f"{err['message']}; {self.check.version} is not known to check dynamic inputs like this before "
                   "running (0.10.0 and later do), so the node decides at run time: it may fail there")
        self.check.warnings.append(dict(err, type="unchecked_" + err["type"], message=message))


def _dotted_hint(spec, name, inputs):
    """What an unknown `combo.sub` or `group.slot` key belongs to, in words, or None."""
    head = name.split(".", 1)[0]
    inp = spec.inputs.get(head)
    if inp is None or "." not in name:
        return None
    if inp.dynamic == DYNAMIC_COMBO:
        holder = inp.option_holding(name)
        if holder is not None:
            return (f"'{name}' belongs to {head} {holder!r}, and {head} is {_json(inputs.get(head))}: "
                    f"set {head} to {holder!r} or drop '{name}'")
        brought = sorted({s.name for key in inp.choices for s in inp.option_inputs(key)})
        return f"{head} is a dynamic choice; its options bring: " + (", ".join(brought[:12]) or "nothing")
    growth = inp.growth
    if growth is not None and growth.names:
        return f"{head} grows as {head}.{growth.names[0]} ... {head}.{growth.names[-1]} ({len(growth.names)} at most)"
    return None


def _looks_like_model(value):
    return isinstance(value, str) and value.lower().endswith(MODEL_EXTENSIONS)


# -- type rules ----------------------------------------------------------------------------

COERCE = {"INT": int, "FLOAT": float, "STRING": str, "BOOLEAN": bool}
_NO_SLOT = object()


def _slot_type(spec, slot):
    """The type at an output slot, Python-indexing style (the server indexes a tuple)."""
    outputs = spec.output_types
    if not isinstance(slot, int) or not -len(outputs) <= slot < len(outputs):
        return _NO_SLOT
    return outputs[slot]


def server_types_match(received, wanted, newer=False):
    """Link compatibility: equal, "*" on either side, or comma unions that share a type.

    A match type on either side always passes: the server leaves those to the editor
    (comfy_execution/validation.py at 04e2a914; only servers that have match-type nodes meet one).
    `newer` (the rule from 0.8.0, versions.COMBO_CHECKED) also lets a list-typed output (a custom node's dropdown
    values) into a V3 "COMBO" input."""
    if received == wanted:
        return True
    if received == "*" or wanted == "*" or MATCH_TYPE in (received, wanted):
        return True
    if newer and isinstance(received, list) and wanted == "COMBO":
        return True
    if not isinstance(received, str) or not isinstance(wanted, str):
        return False
    return bool({t.strip() for t in received.split(",")} & {t.strip() for t in wanted.split(",")})


# -- core nodes that check their own inputs ------------------------------------------------

class CustomCheck:
    """A node class whose own validator replaces the generic min/max/list checks for `args`
    (for every input with `takes_all`: a validator taking **kwargs), from release `since` on."""

    def __init__(self, args, test, takes_types=False, reads_files=False, takes_all=False, since=None):
        self.args = args
        self.test = test
        self.takes_types = takes_types
        self.reads_files = reads_files
        self.takes_all = takes_all
        self.since = since

    def owns(self, name):
        return self.takes_all or name in self.args

    def run(self, check, nid, spec, values, inputs):
        missing = [a for a in self.args if a not in values]
        if any(a in spec.inputs and spec.inputs[a].required for a in missing):
            return None  # already reported as required_input_missing
        if missing:
            return problem("custom_validation_failed", f"node {nid} ({spec.name}) needs input "
                           f"'{missing[0]}' for its own checks", nid, spec.name, missing[0],
                           hint=f"set '{missing[0]}'")
        message = self.test(check, values, spec, inputs)
        if not message:
            return None
        kind, text, hint, arg = message
        return problem(kind, f"node {nid} ({spec.name}) input '{arg}': {text}", nid, spec.name, arg, hint)


def _file_check(arg, what):
    def test(check, values, spec, inputs):
        return check.files.problem(values.get(arg), what, arg)
    return CustomCheck((arg,), test, reads_files=True)


def _model_3d(check, values, spec, inputs):
    value = values.get("model_file")
    if not value or value == "none":  # the node loads no model then
        return None
    return check.files.problem(value, "3D model", "model_file")


def _accepts_anything(check, values, spec, inputs):
    return None


def _aspect_ratio(check, values, spec, inputs):
    value = values.get("aspect_ratio")
    try:
        w, h = (int(p) for p in value.split(":"))  # int() like the node: " 16" and "+16" pass
        ok = 0.25 <= w / h <= 4
    except (AttributeError, ValueError, ZeroDivisionError):
        ok = False
    if ok:
        return None
    return ("custom_validation_failed", f"aspect ratio {_json(value)} must be W:H between 1:4 and 4:1",
            "e.g. \"16:9\"", "aspect_ratio")


_CAMERA = ("horizontal_movement", "vertical_movement", "pan", "tilt", "roll", "zoom")


def _camera(check, values, spec, inputs):
    moves = [values.get(a) for a in _CAMERA]
    if all(isinstance(v, (int, float)) for v in moves) and any(not math.isclose(v, 0.0) for v in moves):
        return None
    return ("custom_validation_failed", "at least one camera movement must be a non-zero number",
            "set e.g. zoom to 1.0", _CAMERA[0])


def _tripo_source(check, values, spec, inputs):
    link = inputs.get("original_model_task_id")
    ok_types = ("MODEL_TASK_ID", "RIG_TASK_ID", "RETARGET_TASK_ID")
    if isinstance(link, list) and len(link) == 2:
        src = check.wf.get(link[0]) if isinstance(link[0], str) else None
        if src is not None and _slot_type(check.schema.node(src["class_type"]), link[1]) in ok_types:
            return None
    return ("custom_validation_failed", "must be linked to a Tripo task id output",
            f"connect an output of type {' or '.join(ok_types)}", "original_model_task_id")


CUSTOM_CHECKS = {
    "LoadImage": _file_check("image", "image"),
    "LoadImageMask": _file_check("image", "image"),
    "LoadImageOutput": _file_check("image", "image"),
    "WebcamCapture": _file_check("image", "image"),
    "LoadLatent": _file_check("latent", "latent"),
    "LoadVideo": _file_check("file", "video"),
    "LoadAudio": _file_check("audio", "audio"),
    "FluxProUltraImageNode": CustomCheck(("aspect_ratio",), _aspect_ratio),
    "KlingCameraControls": CustomCheck(_CAMERA, _camera),
    "TripoConversionNode": CustomCheck((), _tripo_source, takes_types=True),
    # Newer nodes, read in Comfy-Org/ComfyUI (commit, then the first release holding it):
    # comfy_extras/nodes_logic.py CustomCombo.validate_inputs(choice, index, **kwargs) returns True, so
    # nothing about the node is checked: its choices live in the editor (0be8a76c, v0.8.0).
    "CustomCombo": CustomCheck(("choice",), _accepts_anything, takes_all=True),
    # comfy_extras/nodes_load_3d.py validate_inputs(model_file, **kwargs): the file must exist in the
    # input folder unless it is "none"; nothing else is checked (a65a5464 v0.25.0; Load3DAdvanced
    # came with it, 2ab3816d v0.26.0). Before, the generic checks applied.
    "Load3D": CustomCheck(("model_file",), _model_3d, reads_files=True, takes_all=True, since=(0, 25, 0)),
    "Load3DAdvanced": CustomCheck(("model_file",), _model_3d, reads_files=True, takes_all=True),
    # comfy_extras/nodes_multigpu.py validate_inputs(device) returns True: a gpu:N this machine lacks
    # falls back at run time (0a2dd86e, v0.23.0)
    "SelectModelDevice": CustomCheck(("device",), _accepts_anything),
    "SelectCLIPDevice": CustomCheck(("device",), _accepts_anything),
    "SelectVAEDevice": CustomCheck(("device",), _accepts_anything),
    # comfy_extras/nodes_model_advanced.py VALIDATE_INPUTS(attention) returns True (bf4c9a08, v0.32.0)
    "ModelAttentionBackend": CustomCheck(("attention",), _accepts_anything),
}


class InputFiles:
    """What is in ComfyUI's input folder, as far as we can know it.

    Without a listing from the inventory, the upload dropdowns of /object_info tell the top-level
    files, and folder dropdowns the subfolders (whose content we then cannot see).
    """

    def __init__(self, schema, listing):
        self.schema = schema
        self.listing = listing
        self._known = None

    def known(self):
        """(files, folders): a listing from the inventory adds to what the schema shows."""
        if self._known is None:
            files, folders = self._from_schema()
            for f in self.listing or ():
                f = str(f).replace("\\", "/")
                files.add(f)
                if "/" in f:
                    folders.add(f.split("/", 1)[0])
            self._known = (files, folders)
        return self._known

    def _from_schema(self):
        files, folders = set(), set()
        for name in self.schema.class_names():
            spec = self.schema.node(name)
            for inp in spec.visible_inputs():
                if not inp.options:
                    continue
                if any(k.endswith("_upload") for k in inp.extra) and inp.extra.get("image_folder") in (None, "input"):
                    files.update(o for o in inp.options if isinstance(o, str))
                elif inp.name == "folder" and "LoadImage" in name:
                    folders.update(o for o in inp.options if isinstance(o, str))
        return files, folders

    def problem(self, value, what, arg):
        """None when the server would find the file, else (type, text, hint, arg)."""
        if not isinstance(value, str):
            return ("custom_validation_failed", f"{_json(value)} is not a file name",
                    "give the name of a file in ComfyUI's input folder", arg)
        name, where = _annotated(value)
        found = self.exists(name) if where == "input" else False
        if found:
            return None
        if found is None:
            return ("unchecked_file", f"{what} file {value!r} is outside ComfyUI's input folder, where this "
                    "check cannot look; ComfyUI accepts it if it exists", "keep inputs in the input folder "
                    f"({nextsteps.step('upload', 'FILE')}) so workflows move between machines", arg)
        if where != "input":
            return ("custom_validation_failed", f"{what} file {value!r} is not known to be in ComfyUI's "
                    f"{where} folder", f"this check cannot see the {where} folder; copy the file into "
                    f"the input folder ({nextsteps.step('upload', 'FILE')}) and name it without the suffix", arg)
        files, _ = self.known()
        near = nearest(name, sorted(files))
        hint = (f"did you mean {_quoted(near)}? " if near else "") + \
            f"upload it first: {nextsteps.step('upload', 'PATH')} (or copy it into ComfyUI/input/)"
        return ("custom_validation_failed", f"{what} file {name!r} is not in ComfyUI's input folder", hint, arg)

    def exists(self, name):
        """True/False as the server's os.path.exists would answer, None when it looks outside input/.

        Walked part by part like the OS does: 'sub/../a.png' needs a folder 'sub'.
        """
        files, folders = self.known()
        if name.startswith("/"):
            return None
        if name in files:  # a dropdown may list files in subfolders ("3d/cube.glb" of Load3D)
            return True
        here = []
        parts = name.split("/")
        for i, part in enumerate(parts):
            if part in ("", "."):
                continue
            if part == "..":
                if not here:
                    return None
                here.pop()
                continue
            here.append(part)
            if i < len(parts) - 1 and not self._is_dir(here, folders):
                return False
        path = "/".join(here)
        return not here or path in files or self._is_dir(here, folders)

    @staticmethod
    def _is_dir(parts, folders):
        # inside a subfolder we know of we cannot look: assume what is named there exists
        return not parts or parts[0] in folders


def _annotated(value):
    """Split the ' [input]' / ' [output]' / ' [temp]' suffix as the server does (it cuts by length)."""
    for where, cut in (("output", 9), ("input", 8), ("temp", 7)):
        if value.endswith(f"[{where}]"):
            return value[:-cut], where
    return value, "input"


# -- hint helpers --------------------------------------------------------------------------

def _json(value):
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _quoted(names):
    return " or ".join(repr(n) for n in names)


def nearest(value, options, n=3):
    """The options most like `value`, best first: same name in another case or folder, then similar."""
    if not isinstance(value, str):
        value = str(value)
    strs = [o for o in options if isinstance(o, str)]
    by_lower = {o.lower(): o for o in strs}
    exact_case = [by_lower[value.lower()]] if value.lower() in by_lower else []
    base = posixpath.basename(value).lower()
    same_base = [o for o in strs if posixpath.basename(o).lower() == base and o not in exact_case]
    close = difflib.get_close_matches(value, strs, n=n, cutoff=0.5)
    found = []
    for o in exact_case + same_base + close:
        if o not in found:
            found.append(o)
    return found[:n]


def _outputs_hint(spec):
    if not spec.output_types:
        return f"{spec.name} has no outputs to link from"
    slots = ", ".join(f"{i}={n} ({t})" for i, (t, n) in enumerate(zip(spec.output_types, spec.output_names)))
    return f"outputs of {spec.name}: {slots}"


def _download_pointer(filename):
    """Where the pack's model notes say to get the file, or where to look for it."""
    from . import models

    known = models.known_file(filename)
    if known and known.url:
        from . import nextsteps
        return f" (get it with: {nextsteps.render(nextsteps.step('models', 'download', known.name))})"
    return f" ({models.REFERENCE} says where to get it)" if known else f" (see {models.REFERENCE})"


def _choices_text(options):
    if not options:
        return "there are no choices on this server"
    shown = ", ".join(_json(o) for o in options[:12])
    more = f" ... ({len(options)} in all)" if len(options) > 12 else ""
    return f"choices: {shown}{more}"


def _range_hint(inp):
    lo, hi, step = inp.min, inp.max, inp.step
    if lo is None and hi is None:
        return None
    text = f"valid range {lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}"
    return text + (f" in steps of {step}" if step else "")


def _example(inp):
    if inp.default is not None:
        return inp.default
    if inp.options:
        return inp.options[0]
    return {"INT": 0, "FLOAT": 0.0, "STRING": "", "BOOLEAN": False}.get(inp.type, None)

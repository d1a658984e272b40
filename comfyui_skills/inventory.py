"""What a ComfyUI install has: its node schema (/object_info), models, input files.

`load()` finds the best inventory there is, in this order: an explicit `/object_info` dump, an
explicit inventory file, the last snapshot (`state/inventory.json`), then the core-node inventory
bundled with the pack. `.object_info` is always exactly what the server returned (classic and V3
input forms untouched), so code that reads it works on raw dumps too.
"""

import gc
import gzip
import json
import marshal
import sys
import zlib
from contextlib import contextmanager
from functools import cached_property, lru_cache
from pathlib import Path

from . import config, nextsteps, schema
from .errors import InputError
from .schema import NodeSpec, type_parts

SCHEMA_VERSION = 1
STATE_NAME = "inventory.json"
PREV_NAME = "inventory.prev.json"
CACHE_NAME = "inventory.cache"  # state/inventory.json parsed and checked, in a form that loads fast
DATA_DIR = Path(__file__).resolve().parent / "data"
BUNDLED_PATH = DATA_DIR / "core-inventory.json.gz"
SCHEMA_PATH = DATA_DIR / "inventory.schema.json"
REFRESH_HINT = f"take a new snapshot with `{nextsteps.step('inventory')}` (needs the server), " \
               "or delete the file to fall back to the bundled core inventory"


class Inventory:
    """One install's node schema plus what is known of its files (None = unknown)."""

    def __init__(self, object_info, *, kind, source, models=None, input_files=None,
                 comfyui_version=None, taken_at=None, url=None, path=None, record=None):
        self.object_info = object_info
        self.kind = kind  # "snapshot" | "dump" | "bundled"
        self.source = source
        self.models = models
        self.input_files = input_files
        self.comfyui_version = comfyui_version
        self.taken_at = taken_at
        self.url = url
        self.path = path
        self.record = record or {}  # the whole file, for the extra sections (embeddings, stats...)

    @property
    def bundled(self):
        return self.kind == "bundled"

    @cached_property
    def hash(self):
        """sha256 of the node schema, stable across key order and whitespace."""
        stored = self.record.get("hash")
        return stored if stored else schema_hash(self.object_info)

    @cached_property
    def schema(self):
        """The node schema parsed once for this inventory (validating many files reuses it)."""
        from .schema import Schema

        return Schema(self.object_info)

    @cached_property
    def identities(self):
        """What each listed model file is (identify.Identities); empty for an older snapshot."""
        from . import identify
        return identify.Identities(identify.from_record(self.record.get("model_identities")))

    def node(self, class_type):
        return self.object_info.get(class_type)

    def __contains__(self, class_type):
        return class_type in self.object_info

    def __len__(self):
        return len(self.object_info)

    def __repr__(self):
        return f"<Inventory {len(self)} nodes from {self.source}>"


def schema_hash(object_info):
    import hashlib  # here: a snapshot stores its hash; only writing one, or a dump's receipt or diff, computes it

    text = json.dumps(object_info, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- loading ---------------------------------------------------------------------------------

def state_path():
    return config.state_dir() / STATE_NAME


def prev_path():
    return config.state_dir() / PREV_NAME


def load(path=None, object_info_path=None):
    """The inventory to work from: object_info_path > path > state/inventory.json > bundled."""
    if object_info_path:
        return load_file(object_info_path, expect="dump")
    if path:
        return load_file(path)
    state = state_path()
    if state.is_file():
        return load_snapshot(state)
    return load_bundled()


def load_bundled():
    return from_record(read_file(BUNDLED_PATH), BUNDLED_PATH, "bundled core inventory")


def load_file(path, expect=None, shown=None):
    """An inventory file or a raw /object_info dump (plain or .gz), told apart by content."""
    return load_parsed(read_file(path), path, shown or str(path), expect)


def load_parsed(data, path, shown, expect=None):
    if is_record(data):
        return from_record(data, path, shown)
    if is_object_info(data):
        return from_object_info(data, path, shown)
    if expect == "dump":
        raise InputError(f"{shown}: not an /object_info dump (expected {{class_type: {{input, output, ...}}}})",
                         hint="save one with: curl http://127.0.0.1:8188/object_info > object_info.json")
    raise InputError(f"{shown}: neither an inventory snapshot nor an /object_info dump", hint=REFRESH_HINT)


def read_file(path):
    """JSON from a file (gzip when it ends in .gz); every failure is an InputError naming it."""
    return parse(read_bytes(path), path)


def read_bytes(path):
    path = Path(path)
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not an inventory file") from None
    except (OSError, EOFError) as exc:  # gzip raises these for a truncated or non-gzip file
        raise InputError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}", hint=REFRESH_HINT) from None
    return raw


@contextmanager
def _collector_paused():
    """Parsing builds tens of thousands of dicts and lists, none in a cycle: the cyclic collector
    would only walk them again and again as they are made (~15% of a 2,068-node parse)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def parse(raw, path):
    path = Path(path)
    if not raw.strip():
        raise InputError(f"{path}: the file is empty", hint=REFRESH_HINT)
    try:
        with _collector_paused():
            return json.loads(raw)
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file, so not an inventory", hint=REFRESH_HINT) from None
    except json.JSONDecodeError as exc:
        ran_out = exc.pos >= len(raw.rstrip()) - 1 or exc.msg.startswith("Unterminated string")
        cut = " (the file looks truncated)" if ran_out else ""
        raise InputError(f"{path}: corrupt JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{cut}",
                         hint=REFRESH_HINT) from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply to be an inventory", hint=REFRESH_HINT) from None


def is_record(data):
    return isinstance(data, dict) and "schema_version" in data and "object_info" in data


def is_object_info(data):
    if not isinstance(data, dict) or not data:
        return False
    return all(isinstance(v, dict) and ("input" in v or "output" in v) for v in data.values())


def from_record(data, path, shown, checked=False):
    """checked: `data` comes from the snapshot cache, made from a record that passed check_record."""
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        older = isinstance(version, int) and version < SCHEMA_VERSION
        raise InputError(f"{shown}: written in inventory schema version {version!r}, "
                         f"this pack reads version {SCHEMA_VERSION}"
                         + (" (an older snapshot)" if older else ""), hint=REFRESH_HINT)
    if not checked:
        check_record(data, shown)
    kind = data["kind"]
    if kind == "bundled":
        source = f"bundled core inventory (ComfyUI {data.get('comfyui_version') or '?'})"
    else:
        source = f"snapshot {shown} taken {data.get('taken_at') or '?'} from {data.get('url') or '?'}"
    return Inventory(data["object_info"], kind=kind, source=source, models=data.get("models"),
                     input_files=data.get("input_files"), comfyui_version=data.get("comfyui_version"),
                     taken_at=data.get("taken_at"), url=data.get("url"), path=Path(path), record=data)


def from_object_info(data, path, shown):
    check_nodes(data, shown)
    return Inventory(data, kind="dump", source=f"object_info dump {shown}",
                     input_files=schema.input_files(data), path=Path(path))


# -- the snapshot, fast --------------------------------------------------------------------------
# Every offline command reads state/inventory.json, and a 2,068-node install's is ~4 MB of JSON
# (~50 ms to parse, and a check of every node). The first load after a snapshot keeps what it
# parsed and checked in state/inventory.cache (marshal: ~half the time of json.loads); later loads
# take it from there when it was made from these very bytes (size and CRC-32 of the JSON, ~2 ms
# to read and sum) by this Python (marshal's format is the interpreter's own). The JSON stays
# the snapshot, written and checked as before; the cache can go at any time.

def load_snapshot(path):
    """The inventory in state/inventory.json, from its cache when that is current."""
    shown = _shown(path)
    raw = read_bytes(path)
    head = _cache_head(raw)
    cached = _read_cache(head)
    if cached is not None:
        return from_record(cached, path, shown, checked=True)
    data = parse(raw, path)
    if is_record(data):
        inv = from_record(data, path, shown)
        _write_cache(head, data)
        return inv
    return load_parsed(data, path, shown)


def cache_path():
    return config.state_dir() / CACHE_NAME


def _cache_head(raw):
    return (f"comfyui-skills inventory cache; schema {SCHEMA_VERSION}; {sys.implementation.cache_tag} "
            f"marshal {marshal.version}; json {len(raw)} bytes, crc32 {zlib.crc32(raw):08x}\n").encode()


def _read_cache(head):
    """The record in the cache if it was made from the JSON `head` names, and is whole."""
    try:
        blob = cache_path().read_bytes()
    except OSError:
        return None
    if not blob.startswith(head):
        return None
    body = memoryview(blob)[len(head):]
    payload = body[9:]
    if bytes(body[:9]) != b"%08x\n" % zlib.crc32(payload):  # cut short or damaged: read the JSON instead
        return None
    try:
        with _collector_paused():
            data = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None
    return data if is_record(data) else None


def _write_cache(head, data):
    from .files import atomic_write

    try:
        payload = marshal.dumps(data)
        atomic_write(cache_path(), head + b"%08x\n" % zlib.crc32(payload) + payload)
    except (OSError, ValueError):
        pass  # a read-only state folder: every load reads the JSON, as before


def _shown(path):
    """A state file is named relative to the pack root when it lives there, as users see it."""
    try:
        return str(Path(path).resolve().relative_to(config.PACK_ROOT))
    except ValueError:
        return str(path)


# -- checking the file -------------------------------------------------------------------------
# Every command loads an inventory, so a load checks only what the code reading one relies on: its
# kind, the node table, the file lists. The whole JSON Schema is checked with jsonschema where a
# snapshot is written and by `inventory.py --check`: importing jsonschema alone costs ~65 ms, and
# it takes ~70 us a node.

KINDS = ("snapshot", "bundled")
FOLDER_LISTS = ("models", "model_files")  # {folder: [...]} or null
INPUT_SECTIONS = ("required", "optional", "hidden")


def check_record(data, shown):
    """A clear error for a file the loader cannot use; `schema_errors` has the rest."""
    problem = _record_problem(data)
    if problem:
        raise InputError(f"{shown}: not a valid inventory file: {problem}", hint=REFRESH_HINT)
    check_nodes(data["object_info"], shown)


def _record_problem(data):
    if data.get("kind") not in KINDS:
        return f"kind: {data.get('kind')!r} is not one of {list(KINDS)}"
    if not isinstance(data["object_info"], dict):
        return f"object_info: {_kind(data['object_info'])} where an object was expected"
    for key in FOLDER_LISTS:
        folders = data.get(key)
        if folders is not None and not (isinstance(folders, dict)
                                        and all(isinstance(v, list) for v in folders.values())):
            return f"{key}: not an object of folder name to file list"
    if not isinstance(data.get("input_files"), (list, type(None))):
        return f"input_files: {_kind(data['input_files'])} where an array or null was expected"
    return None


def check_nodes(object_info, shown):
    for name, node in object_info.items():
        problem = _node_problem(node)
        if problem:
            raise InputError(f"{shown}: node class {name!r} is malformed: {problem}", hint=REFRESH_HINT)


def _node_problem(node):
    if not isinstance(node, dict):
        return f"{_kind(node)} where an object was expected"
    sections = node.get("input", {})
    if not isinstance(sections, dict):  # the node's inputs would silently read as none
        return f"input: {_kind(sections)} where an object was expected"
    for section in INPUT_SECTIONS:
        if not isinstance(sections.get(section, {}), dict):
            return f"input: {section}: {_kind(sections[section])} where an object was expected"
    return None


def _kind(value):
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null",
            int: "integer", float: "number"}.get(type(value), type(value).__name__)


@lru_cache(maxsize=None)
def record_schema():
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def schema_errors(record):
    """Every way `record` breaks the inventory JSON Schema, by path: [{"path", "message"}]."""
    import jsonschema  # lazily: see above

    validator = jsonschema.Draft202012Validator(record_schema())
    found = sorted(validator.iter_errors(record),  # list indices padded, so 2 sorts before 10
                   key=lambda e: [f"{p:012d}" if isinstance(p, int) else p for p in e.absolute_path])
    return [{"path": "/".join(map(str, e.absolute_path)) or "(top level)", "message": _short(e.message)}
            for e in found]


def _short(text, most=200):
    return text if len(text) <= most else text[:most - 3] + "..."


def check_schema(record, shown):
    """An InputError naming the first violation of the inventory JSON Schema, if there is one."""
    errors = schema_errors(record)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InputError(f"{shown}: does not match the inventory schema: {errors[0]['path']}: "
                         f"{errors[0]['message']}{more}",
                         hint="nothing was written; the server answered something the inventory "
                              "format (comfyui_skills/data/inventory.schema.json) does not allow")


# -- taking a snapshot -------------------------------------------------------------------------

def take_snapshot(client, progress=None):
    """Everything the server tells about its install, as an inventory record (nothing written)."""
    from .errors import ServerError

    say = progress or (lambda _msg: None)
    say(f"reading /object_info from {client.url}")
    object_info = client.object_info()
    if not is_object_info(object_info):
        raise ServerError(f"{client.url}/object_info is not ComfyUI's node list",
                          hint="check that the URL points at a ComfyUI server", url=client.url)
    errors = {}

    def optional(read, *args):
        try:
            return read(*args)
        except ServerError as exc:  # an older or hosted server may lack a route: note it, go on
            errors[exc.route or read.__name__] = exc.message
            return None

    folders = optional(client.model_folders) or []
    say(f"reading the file lists of {len(folders)} model folders")
    models = {f: v for f in folders if (v := optional(client.models, f)) is not None}
    model_files = {}
    for folder in folders:
        listed = optional(client.model_files, folder)
        if isinstance(listed, list):
            model_files[folder] = listed
    record = new_record("snapshot", object_info, url=client.url)
    record.update(models=models if folders else None, model_files=model_files or None,
                  input_files=schema.input_files(object_info))
    if folders:
        say("identifying the model files (header, else /view_metadata, else name)")
        record["model_identities"] = _identities(client, models, model_files)
    for key, read in (("embeddings", client.embeddings), ("extensions", client.extensions),
                      ("system_stats", client.system_stats), ("features", client.features)):
        record[key] = optional(read)
    stats = record.get("system_stats") or {}
    record["comfyui_version"] = (stats.get("system") or {}).get("comfyui_version")
    # newer servers only (None where the route is missing, as on 0.3.64): what the server replaces
    # before validating (validation applies it too) and the subgraph blueprints it serves
    record["node_replacements"] = optional(client.node_replacements)
    blueprints = optional(client.global_subgraphs)
    for sid in list(blueprints) if isinstance(blueprints, dict) else ():
        entry = optional(client.global_subgraph, sid)  # with its `data`, so conversion works offline
        if isinstance(entry, dict):
            blueprints[sid] = entry
    record["global_subgraphs"] = blueprints
    if errors:
        record["errors"] = errors
    return record


def _identities(client, models, model_files):
    """Every listed model file identified; files unchanged since the last snapshot of this server
    (same size and time) keep the answer it holds, so a re-snapshot reads only what changed."""
    from . import identify

    previous = None
    try:
        last = load_file(state_path()) if state_path().is_file() else None
    except InputError:
        last = None
    if last is not None and last.url == client.url:
        previous = last.record.get("model_identities")
    return identify.to_record(identify.identify_server(client, models, model_files, previous))


def save_templates(client, progress=None):
    """Keep the server's template index and files in state/templates/ beside the snapshot, so
    templates.py and generate.py work with the server down. Returns (count, None) or (0, why)."""
    from . import templates
    from .errors import ServerError

    try:
        snap = templates.save_snapshot(client, config.state_dir(), progress=progress)
    except ServerError as exc:  # an older or hosted server without /templates: the rest stands
        return 0, exc.message
    return len(snap.manifest.get("files") or {}), None


def new_record(kind, object_info, url=None):
    import datetime
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return {"schema_version": SCHEMA_VERSION, "kind": kind,
            "taken_at": now.isoformat().replace("+00:00", "Z"), "url": url, "comfyui_version": None,
            "hash": schema_hash(object_info), "node_count": len(object_info), "object_info": object_info}


def save_snapshot(record):
    """Check `record` against the JSON Schema and write state/inventory.json atomically; the snapshot
    it replaces becomes inventory.prev.json.

    A current file that does not load (corrupt, older schema) is not rotated: the last good
    previous snapshot stays the base for --diff.
    """
    from .files import atomic_write

    check_schema(record, "new snapshot")
    current, previous = state_path(), prev_path()
    data = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    rotated = False
    if current.is_file():
        try:
            load_file(current)
            atomic_write(previous, current.read_bytes())
            rotated = True
        except InputError:
            pass
    atomic_write(current, data)
    return {"path": current, "previous": previous if rotated else None}


def bundle(record):
    """A snapshot made fit to ship: local file lists emptied, machine details dropped."""
    local = set(schema.input_files(record["object_info"]) or [])
    for names in (record.get("models") or {}).values():
        local.update(names)
    object_info = json.loads(json.dumps(record["object_info"]))
    for name, node in object_info.items():
        for inp in NodeSpec(name, node).inputs.values():
            if inp.options and (inp.takes_upload or set(map(str, inp.options)) <= local):
                _empty_choices(node["input"][inp.section][inp.name])
    out = new_record("bundled", object_info)
    out.update(taken_at=record["taken_at"], comfyui_version=record.get("comfyui_version"))
    return out


def write_bundled(client, path=BUNDLED_PATH):
    """Re-record the bundled core inventory from a fresh server (core nodes only, empty input/ and
    models/: input subfolders and non-image input files are not recognised as local), e.g.
    python -c "from comfyui_skills import inventory as i, transport as t; i.write_bundled(t.Client('http://127.0.0.1:8188'))"
    """
    from .files import atomic_write
    record = bundle(take_snapshot(client))
    check_schema(record, str(path))
    raw = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    atomic_write(path, gzip.compress(raw, 9, mtime=0))
    return path


def _empty_choices(spec):
    if isinstance(spec[0], list):
        spec[0] = []
    else:
        spec[1]["options"] = []


# -- searching ----------------------------------------------------------------------------------

def parse_query(query):
    """'LATENT->IMAGE', 'LATENT->', '->IMAGE' or words -> (words, input type, output type)."""
    query = (query or "").strip()
    if "->" in query:
        left, _, right = query.partition("->")
        return [], left.strip() or None, right.strip() or None
    return query.lower().split(), None, None


def search(inv, query="", input_type_=None, output_type=None):
    """Node classes matching every word (name, display name, category, module, types) and types."""
    words, q_in, q_out = parse_query(query)
    want_in, want_out = input_type_ or q_in, output_type or q_out
    hits = []
    for name, node in inv.object_info.items():
        spec = NodeSpec(name, node)
        ins, outs = spec.link_types(), set().union(*map(type_parts, spec.output_type_names))
        if want_in and not type_parts(want_in) & ins:
            continue
        if want_out and not type_parts(want_out) & outs:
            continue
        if words:
            text = " ".join(str(x) for x in (name, spec.display_name, spec.category, spec.python_module,
                                              *ins, *outs) if x).lower()
            if not all(w in text for w in words):
                continue
        hits.append(spec)
    return [spec.name for spec in sorted(hits, key=lambda spec: _rank(spec, words))]


def _rank(spec, words):
    lowered = spec.name.lower()
    phrase = " ".join(words)
    exact = phrase in (lowered, spec.display_name.lower())
    return (not exact, not lowered.startswith(phrase), lowered)


DESCRIBED_SETTINGS = ("default", "min", "max", "step", "multiline", "tooltip")


def describe_node(name, node):
    """A node's schema in one plain shape, whatever form (classic, V3) the server used."""
    spec = NodeSpec(name, node)
    inputs = []
    for inp in spec.inputs.values():
        inputs.append(_describe_input(inp))
    is_list = spec.output_is_list
    outputs = [{"name": spec.output_names[i] if i < len(spec.output_names) else t, "type": t,
                "is_list": bool(is_list[i]) if i < len(is_list) else False}
               for i, t in enumerate(spec.output_type_names)]
    for i, out in enumerate(outputs):
        if spec.output_template(i) is not None:
            out["match_type"] = spec.output_template(i)  # takes the type linked into that template
    return {"class_type": name, "display_name": spec.display_name, "category": spec.category or None,
            "python_module": spec.python_module or None, "output_node": spec.output_node,
            "deprecated": spec.deprecated, "experimental": spec.experimental, "api_node": spec.api_node,
            "description": spec.description, "inputs": inputs, "outputs": outputs}


def _describe_input(inp):
    """One input in plain words; newer servers' dynamic inputs with what they bring (schema.py)."""
    item = {"name": inp.name, "section": inp.section, "type": inp.type}
    if inp.link_type != inp.type:
        item["accepts"] = inp.link_type  # what a link into it may carry
    if inp.options is not None:
        item["options"] = inp.options
    if inp.choices:
        item["options"] = inp.choices
        item["option_inputs"] = {key: [_describe_input(sub) for sub in inp.option_inputs(key)] for key in inp.choices}
    growth = inp.growth
    if growth is not None:
        item["grows"] = {"names": [f"{inp.name}.{n}" for n in growth.names],
                         "required": min(growth.min, len(growth.names)) if growth.required else 0}
    if inp.match_template is not None:
        item["match_type"] = {"template": inp.match_template[0], "types": inp.match_template[1]}
    item.update((key, inp.extra[key]) for key in DESCRIBED_SETTINGS if key in inp.extra)
    return item


def model_listing(inv, folder=None):
    """{folder: [{"name", "size"}]} from the snapshot; size None where the server gave none."""
    models = inv.models or {}
    sizes = {}
    for fold, entries in ((inv.record.get("model_files") or {}).items()):
        sizes[fold] = {e.get("name"): e.get("size") for e in entries if isinstance(e, dict)}
    chosen = [folder] if folder else list(models)
    known = inv.record.get("model_identities") or {}
    return {f: [_listed(n, sizes.get(f, {}).get(n), (known.get(f) or {}).get(n)) for n in models.get(f, [])]
            for f in chosen}


def _listed(name, size, identity):
    """One file of the listing, with what it is when the snapshot identified it."""
    out = {"name": name, "size": size}
    if identity:
        out.update({k: identity.get(k) for k in ("family", "variant", "kind", "confidence", "how", "evidence")})
        if identity.get("problem"):
            out["problem"] = identity["problem"]
    return out


# -- comparing two inventories ----------------------------------------------------------------------

RANGE_KEYS = ("min", "max", "step", "default")


def diff(old, new):
    """What changed from inventory `old` to `new`: nodes, inputs, outputs, models, input files, version."""
    old_oi, new_oi = old.object_info, new.object_info
    files = _file_changes(old, new)
    local = set().union(*files["models_added"].values(), *files["models_removed"].values(),
                        files["input_files_added"], files["input_files_removed"])
    inputs, outputs = [], []
    for name in sorted(set(old_oi) & set(new_oi)):
        if old_oi[name] != new_oi[name]:
            was, now = NodeSpec(name, old_oi[name]), NodeSpec(name, new_oi[name])
            inputs += _input_changes(was, now, local)
            if was.output_type_names != now.output_type_names:
                outputs.append({"class_type": name, "from": was.output_type_names, "to": now.output_type_names})
    version = None
    if old.comfyui_version != new.comfyui_version:
        version = {"from": old.comfyui_version, "to": new.comfyui_version}
    out = {"from": _side(old), "to": _side(new), "version": version,
           "nodes_added": sorted(set(new_oi) - set(old_oi)),
           "nodes_removed": sorted(set(old_oi) - set(new_oi)),
           "inputs_changed": inputs, "outputs_changed": outputs, **files}
    out["changed"] = any(out[k] for k in out if k not in ("from", "to", "changed"))
    return out


def broken_workflows(old, new):
    """Saved workflows (projects/*/workflows/*.json) that validated against `old` and do not now."""
    from .validation import validate_against
    from .workflow import API, load as load_workflow

    broken = []
    for path in sorted(config.projects_dir().glob("*/workflows/*.json")):
        try:
            fmt, wf = load_workflow(path)
        except InputError:
            continue
        if fmt != API:
            continue
        before, after = validate_against(wf, old), validate_against(wf, new)
        if before["verdict"] == "ok" and after["verdict"] != "ok":
            broken.append({"file": str(path), "verdict": after["verdict"], "errors": after["errors"]})
    return broken


def _side(inv):
    return {"source": inv.source, "taken_at": inv.taken_at, "url": inv.url,
            "comfyui_version": inv.comfyui_version, "nodes": len(inv), "hash": inv.hash}


def _file_changes(old, new):
    def delta(a, b):
        return sorted(set(b or []) - set(a or []))
    out = {"models_added": {}, "models_removed": {}}
    if old.models is not None and new.models is not None:
        for folder in sorted(set(old.models) | set(new.models)):
            added = delta(old.models.get(folder), new.models.get(folder))
            removed = delta(new.models.get(folder), old.models.get(folder))
            if added:
                out["models_added"][folder] = added
            if removed:
                out["models_removed"][folder] = removed
    out["input_files_added"] = delta(old.input_files, new.input_files)
    out["input_files_removed"] = delta(new.input_files, old.input_files)
    return out


def _input_changes(old_spec, new_spec, local_files):
    cls, before, after = old_spec.name, old_spec.inputs, new_spec.inputs
    changes = []

    def add(name, change, was, now):
        changes.append({"class_type": cls, "input": name, "change": change, "from": was, "to": now})

    for name in after.keys() - before.keys():
        add(name, "added", None, {"section": after[name].section, "type": after[name].type})
    for name in before.keys() - after.keys():
        add(name, "removed", {"section": before[name].section, "type": before[name].type}, None)
    for name in sorted(before.keys() & after.keys()):
        a, b = before[name], after[name]
        if (a.section, a.raw_type, a.extra) == (b.section, b.raw_type, b.extra):
            continue
        if a.section != b.section:
            add(name, "section", a.section, b.section)
        if a.type != b.type:
            add(name, "type", a.type, b.type)
            continue
        if a.options is not None and b.options is not None and a.options != b.options:
            gone = [x for x in a.options if x not in b.options]
            new = [x for x in b.options if x not in a.options]
            if not set(map(str, gone + new)) <= local_files:  # model/input file churn is reported apart
                add(name, "options", {"removed": gone}, {"added": new})
        for key in RANGE_KEYS:
            if a.extra.get(key) != b.extra.get(key):
                add(name, key, a.extra.get(key), b.extra.get(key))
    return sorted(changes, key=lambda c: (c["input"], c["change"]))

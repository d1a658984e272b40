"""inventory.py and comfyui_skills.inventory: snapshots, the bundled core inventory, --diff, search.

Offline tests replay responses recorded from a real ComfyUI 0.3.64 (tests/recordings/inventory/:
`bare` = a fresh instance, `added` = the same after adding models/checkpoints/inventory-probe.safetensors
(4096 bytes) and a custom node InventoryProbe, then restarting it).
"""

import gzip
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from conftest import SHARED, closed_port, script
from comfyui_skills import inventory
from comfyui_skills.errors import InputError
from comfyui_skills.schema import NodeSpec

RECORDINGS = Path(__file__).parent / "recordings" / "inventory"
DUMPS = SHARED / "data" / "object_info"
PROBE_MODEL = "inventory-probe.safetensors"


def recording(name):
    return json.loads(gzip.decompress((RECORDINGS / f"{name}.json.gz").read_bytes()))


class Replay:
    """A loopback HTTP server answering from a recording; swap `.routes` to 'restart' it changed."""

    def __init__(self, name):
        self.routes = recording(name)
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                hit = replay.routes.get(self.path.split("?")[0])
                status, body = (hit["status"], hit["body"]) if hit else (404, "")
                data = json.dumps(body).encode() if hit and body != "" else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def replay():
    servers = []

    def start(name):
        servers.append(Replay(name))
        return servers[-1]
    yield start
    for s in servers:
        s.close()


def snapshot(url, env, *extra):
    r = script("inventory", "--url", url, "--json", *extra, env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def state(env):
    return Path(env["COMFYUI_SKILLS_STATE"])


# -- snapshots ----------------------------------------------------------------------------------------

def test_snapshot_holds_every_node_and_every_model_file(replay, pack_env):
    server = replay("added")
    out = snapshot(server.url, pack_env)
    routes = server.routes
    saved = json.loads((state(pack_env) / "inventory.json").read_text())
    assert set(saved["object_info"]) == set(routes["/object_info"]["body"])
    assert saved["object_info"] == routes["/object_info"]["body"]  # untouched, V3 forms included
    for folder in routes["/models"]["body"]:
        assert saved["models"][folder] == routes[f"/models/{folder}"]["body"]
    assert saved["comfyui_version"] == "0.3.64" and saved["url"] == server.url and saved["taken_at"]
    assert saved["system_stats"] and saved["features"] and saved["extensions"]
    assert out["nodes"] == len(routes["/object_info"]["body"]) and out["models"]["checkpoints"] == 1


def test_snapshot_file_passes_the_json_schema(replay, pack_env):
    jsonschema = pytest.importorskip("jsonschema")
    snapshot(replay("added").url, pack_env)
    schema = json.loads(inventory.SCHEMA_PATH.read_text())
    jsonschema.validate(json.loads((state(pack_env) / "inventory.json").read_text()), schema)
    jsonschema.validate(inventory.read_file(inventory.BUNDLED_PATH), schema)


def test_search_reads_the_snapshot_and_names_it(replay, pack_env):
    snapshot(replay("added").url, pack_env)
    r = script("inventory", "--nodes", "->IMAGE", "--input", "IMAGE", "--limit", "0", env=pack_env)
    assert r.returncode == 0
    assert "InventoryProbe" in r.stdout
    assert "from snapshot state" in r.stderr or "from snapshot /" in r.stderr


def test_models_with_sizes(replay, pack_env):
    snapshot(replay("added").url, pack_env)
    r = script("inventory", "--models", "checkpoints", env=pack_env)
    assert r.returncode == 0
    assert PROBE_MODEL in r.stdout and "4.0 KiB" in r.stdout
    r = script("inventory", "--models", "--json", env=pack_env)
    folders = json.loads(r.stdout)["folders"]
    [probe] = folders["checkpoints"]
    assert (probe["name"], probe["size"]) == (PROBE_MODEL, 4096)
    # a file on another machine, with no metadata and a name no rule knows: only its folder says its kind
    assert (probe["family"], probe["kind"], probe["how"]) == ("unknown", "checkpoint", "none")


def test_unknown_model_folder_lists_the_real_ones(replay, pack_env):
    snapshot(replay("bare").url, pack_env)
    r = script("inventory", "--models", "checkpoint", env=pack_env)
    assert r.returncode == 2
    assert "checkpoints" in r.stderr and "Traceback" not in r.stderr


# -- --diff ---------------------------------------------------------------------------------------------

def test_diff_shows_the_new_model_and_custom_node(replay, pack_env):
    server = replay("bare")
    snapshot(server.url, pack_env)
    server.routes = recording("added")  # the same server after adding a model and a node, restarted
    out = snapshot(server.url, pack_env)
    assert out["changes"]["nodes_added"] == 1 and out["changes"]["models_added"] == 2

    r = script("inventory", "--diff", "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    change = json.loads(r.stdout)
    assert change["nodes_added"] == ["InventoryProbe"] and change["nodes_removed"] == []
    # the server lists custom_nodes/ as a model folder too, so the node's file shows there
    assert change["models_added"] == {"checkpoints": [PROBE_MODEL], "custom_nodes": ["inventory_probe/__init__.py"]}
    # loader option lists grew only by the model: reported as a model, not as changed inputs. (The
    # instance also created input/3d on first start, which LoadImageSetFromFolderNode lists.)
    assert {c["input"] for c in change["inputs_changed"]} == {"folder"}
    assert change["version"] is None

    text = script("inventory", "--diff", env=pack_env).stdout
    assert "+ node InventoryProbe" in text and f"+ model checkpoints/{PROBE_MODEL}" in text


def test_diff_reports_input_range_type_and_option_changes(tmp_path):
    oi = inventory.read_file(RECORDINGS / "added.json.gz")["/object_info"]["body"]
    changed = json.loads(json.dumps(oi))
    changed["KSampler"]["input"]["required"]["steps"][1]["max"] = 500
    changed["KSampler"]["input"]["required"]["sampler_name"][0].remove("euler")
    changed["LatentConcat"]["input"]["required"]["dim"][1]["options"].append("z")  # V3 COMBO form
    changed["VAEDecode"]["input"]["required"]["vae"] = ["MODEL"]
    del changed["InventoryProbe"]
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(oi))
    new.write_text(json.dumps(changed))
    d = inventory.diff(inventory.load(object_info_path=old), inventory.load(object_info_path=new))
    got = {(c["class_type"], c["input"], c["change"]) for c in d["inputs_changed"]}
    assert got == {("KSampler", "steps", "max"), ("KSampler", "sampler_name", "options"),
                   ("LatentConcat", "dim", "options"), ("VAEDecode", "vae", "type")}
    assert d["nodes_removed"] == ["InventoryProbe"]


def test_diff_without_a_previous_snapshot_says_how_to_get_one(pack_env):
    r = script("inventory", "--diff", env=pack_env)
    assert r.returncode == 2
    assert "no previous snapshot" in r.stderr and "scripts/inventory.py" in r.stderr


def test_diff_names_saved_workflows_that_no_longer_validate(replay, pack_env):
    server = replay("added")
    snapshot(server.url, pack_env)
    wf = {"1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}},
          "2": {"class_type": "InventoryProbe", "inputs": {"image": ["1", 0], "strength": 0.5}},
          "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}
    folder = Path(pack_env["COMFYUI_SKILLS_PROJECTS"]) / "demo" / "workflows"
    folder.mkdir(parents=True)
    (folder / "probe.json").write_text(json.dumps(wf))
    server.routes = recording("bare")  # the custom node was uninstalled
    snapshot(server.url, pack_env)
    change = json.loads(script("inventory", "--diff", "--json", env=pack_env).stdout)
    assert [Path(w["file"]).name for w in change["workflows"]] == ["probe.json"]
    assert change["workflows"][0]["errors"][0]["class_type"] == "InventoryProbe"
    text = script("inventory", "--diff", env=pack_env).stdout
    assert "probe.json no longer validates (rejected)" in text


# -- the bundled core inventory, and no server ---------------------------------------------------------

def test_no_snapshot_falls_back_to_the_bundled_core_inventory(pack_env):
    r = script("inventory", "--nodes", "LATENT->IMAGE", env=pack_env)
    assert r.returncode == 0
    assert "bundled core inventory (ComfyUI 0.3.64)" in r.stderr
    assert r.stdout.splitlines()[0].startswith("VAEDecode ")


def test_bundled_inventory_has_core_nodes_and_no_local_files(pack_env):
    inv = inventory.load()
    assert inv.bundled and inv.comfyui_version == "0.3.64" and inv.models is None
    bare = recording("bare")["/object_info"]["body"]
    assert len(inv) == 478 and set(bare) <= set(inv.object_info)  # + SaveImageWebsocket, shipped in custom_nodes/
    assert NodeSpec("LoadImage", inv.node("LoadImage")).inputs["image"].options == []
    for folder_list in ("ckpt_name", "config_name"):
        assert NodeSpec("CheckpointLoader", inv.node("CheckpointLoader")).inputs[folder_list].options == []
    assert inv.node("KSampler") == bare["KSampler"]


def test_show_reads_classic_and_v3_combos(pack_env):
    r = script("inventory", "--show", "LatentConcat", "--json", env=pack_env)
    dim = next(i for i in json.loads(r.stdout)["inputs"] if i["name"] == "dim")
    assert dim["type"] == "COMBO" and dim["options"] == ["x", "-x", "y", "-y", "t", "-t"]
    text = script("inventory", "--show", "KSampler", env=pack_env).stdout
    assert "steps: INT  default=20  min=1  max=10000" in text and "euler_ancestral" in text


def test_show_unknown_class_suggests_near_names(pack_env):
    r = script("inventory", "--show", "KSamp", env=pack_env)
    assert r.returncode == 2 and "KSampler" in r.stderr


def test_models_need_a_snapshot_when_no_server_answers(pack_env):
    r = script("inventory", "--models", "--url", "http://127.0.0.1:9", env=pack_env)
    assert r.returncode == 2 and "python scripts/inventory.py" in r.stderr


def test_models_with_no_snapshot_takes_one_from_the_server(replay, pack_env):
    r = script("inventory", "models", "checkpoints", "--url", replay("added").url, env=pack_env)
    assert r.returncode == 0, r.stderr
    assert PROBE_MODEL in r.stdout and "took one from" in r.stderr
    # the snapshot it took is the one later commands read, with no server
    r = script("inventory", "models", "--json", "--url", "http://127.0.0.1:9", env=pack_env)
    assert [(e["name"], e["size"]) for e in json.loads(r.stdout)["folders"]["checkpoints"]] == [(PROBE_MODEL, 4096)]


# -- broken state files: clear message, refresh hint, nothing overwritten early ---------------------------

def good_record():
    return inventory.read_file(inventory.BUNDLED_PATH) | {"kind": "snapshot", "url": "http://127.0.0.1:8188"}


@pytest.mark.parametrize("content,words", [
    (lambda: json.dumps(good_record())[:5000], "truncated"),
    (lambda: json.dumps(good_record() | {"schema_version": 0}), "older"),
    (lambda: json.dumps(good_record() | {"kind": "other"}), "not a valid inventory"),
    (lambda: "", "empty"),
    (lambda: '{"schema_version": 1, "object_info": {', "corrupt JSON"),
    (lambda: "\x00\xff garbage", "not a text file"),
])
def test_broken_state_file_gives_clear_message_and_refresh_hint(pack_env, content, words):
    path = state(pack_env) / "inventory.json"
    path.parent.mkdir(parents=True)
    path.write_text(content())
    r = script("inventory", "--nodes", "sampler", env=pack_env)
    assert r.returncode == 2
    assert words in r.stderr and "inventory.json" in r.stderr and "python scripts/inventory.py" in r.stderr
    assert "Traceback" not in r.stderr


def test_malformed_node_is_named(tmp_path):
    rec = good_record()
    rec["object_info"]["KSampler"]["input"] = {"required": 5}
    (tmp_path / "inv.json").write_text(json.dumps(rec))
    with pytest.raises(InputError, match="'KSampler' is malformed: input: required"):
        inventory.load(tmp_path / "inv.json")



def test_failed_snapshot_leaves_the_old_one_alone(replay, pack_env):
    server = replay("bare")
    snapshot(server.url, pack_env)
    before = (state(pack_env) / "inventory.json").read_bytes()
    r = script("inventory", "--url", f"127.0.0.1:{closed_port()}", env=pack_env)
    assert r.returncode == 3
    del server.routes["/object_info"]  # answers 404 there
    r = script("inventory", "--url", server.url, env=pack_env)
    assert r.returncode == 4
    assert (state(pack_env) / "inventory.json").read_bytes() == before
    assert not (state(pack_env) / "inventory.prev.json").exists()
    assert [p.name for p in state(pack_env).iterdir()] == ["inventory.json"]  # no temp files left


def test_missing_optional_route_is_noted_not_fatal(replay, pack_env):
    server = replay("bare")
    del server.routes["/features"]
    out = snapshot(server.url, pack_env)
    assert "/features" in out["errors"]
    saved = inventory.load()
    assert saved.record["features"] is None and len(saved) == len(server.routes["/object_info"]["body"])


# -- the JSON Schema: checked where a snapshot is written and by --check -------------------------------

def test_check_passes_a_fresh_snapshot_and_the_bundled_inventory(replay, pack_env):
    snapshot(replay("added").url, pack_env)
    r = script("inventory", "--check", env=pack_env)
    assert r.returncode == 0 and r.stdout.strip().endswith("inventory.json: valid"), r.stdout + r.stderr
    r = script("inventory", "--check", inventory.BUNDLED_PATH, "--json", env=pack_env)
    assert r.returncode == 0 and json.loads(r.stdout)["valid"] is True


@pytest.mark.parametrize("change, where, why", [
    ({"hash": "md5:x"}, "hash", "does not match"),
    ({"node_count": -1}, "node_count", "minimum"),
    ({"taken_at": 5}, "taken_at", "is not of type"),
    ({"url": None, "extensions": [1]}, "extensions/0", "is not of type 'string'"),
    ({"model_files": {"a": [{"size": 3}]}}, "model_files/a/0", "'name' is a required property"),
    ({"object_info": {"X": {"output_node": 1}}}, "object_info/X/output_node", "is not of type 'boolean'"),
])
def test_check_names_the_first_schema_violation_a_load_lets_through(tmp_path, pack_env, change, where, why):
    # A load checks only what it reads, so these files still load; --check is where they show.
    path = tmp_path / "inv.json"
    path.write_text(json.dumps(good_record() | change))
    assert len(inventory.load(path)) == len(json.loads(path.read_text())["object_info"])
    r = script("inventory", "--check", path, env=pack_env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.startswith(f"{path}: not valid: {where}: ") and why in r.stdout


def test_check_lists_every_violation_with_json(tmp_path, pack_env):
    path = tmp_path / "inv.json"
    rec = good_record() | {"hash": "md5:x", "kind": "other"}
    del rec["url"]
    path.write_text(json.dumps(rec))
    r = script("inventory", "--check", path, "--json", env=pack_env)
    out = json.loads(r.stdout)
    assert r.returncode == 1 and out["valid"] is False
    assert [e["path"] for e in out["errors"]] == ["(top level)", "hash", "kind"]
    assert "'url' is a required property" in out["errors"][0]["message"]


def test_check_of_an_unreadable_file_is_a_usage_error(tmp_path, pack_env):
    r = script("inventory", "--check", tmp_path / "absent.json", env=pack_env)
    assert r.returncode == 2 and "absent.json: no such file" in r.stderr and "Traceback" not in r.stderr


def test_a_server_answer_that_breaks_the_schema_is_not_written(replay, pack_env):
    server = replay("bare")
    snapshot(server.url, pack_env)
    before = (state(pack_env) / "inventory.json").read_bytes()
    server.routes["/object_info"]["body"]["KSampler"]["output_node"] = "yes"
    r = script("inventory", "--url", server.url, env=pack_env)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "does not match the inventory schema: object_info/KSampler/output_node:" in r.stderr
    assert "nothing was written" in r.stderr and "Traceback" not in r.stderr
    assert (state(pack_env) / "inventory.json").read_bytes() == before


# -- real dumps (../shared) ------------------------------------------------------------------------------

@pytest.mark.conformance
@pytest.mark.parametrize("name", ["heavy-install-2068-nodes.json", "custom-node-packs-568-nodes.json",
                                  "v3-combo-schema-496-nodes.json"])
def test_real_dumps_load_and_search(name):
    path = DUMPS / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    inv = inventory.load(object_info_path=path)
    assert len(inv) == int(name.split("-")[-2]) and inv.source == f"object_info dump {path}"
    assert inventory.search(inv, "LATENT->IMAGE")
    for n in inv.object_info:
        inventory.describe_node(n, inv.node(n))
    r = script("inventory", "--object-info", path, "--nodes", "sampler", "--limit", "3")
    assert r.returncode == 0 and r.stdout.strip()


# -- live ------------------------------------------------------------------------------------------------

@pytest.mark.live
def test_live_snapshot_holds_every_node_and_model(live_url, pack_env):
    snapshot(live_url, pack_env)
    saved = inventory.load()
    listed = requests.get(f"{live_url}/object_info", timeout=120).json()
    assert set(saved.object_info) == set(listed)
    for folder in requests.get(f"{live_url}/models", timeout=30).json():
        assert set(saved.models[folder]) == set(requests.get(f"{live_url}/models/{folder}", timeout=30).json())


PROBE_NODE = '''\
class InventoryProbe:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",),
                             "strength": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.05})}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"
    CATEGORY = "testing/inventory"

    def run(self, image, strength):
        return (image,)


NODE_CLASS_MAPPINGS = {"InventoryProbe": InventoryProbe}
'''


class OwnComfy:
    """A private ComfyUI from the install at $COMFYUI_HOME, on its own port and base directory."""

    def __init__(self, home, port, base):
        self.home, self.port, self.base = Path(home), port, base
        self.url = f"http://127.0.0.1:{port}"
        self.proc = None
        for sub in ("models/checkpoints", "custom_nodes", "input", "output", "temp", "user"):
            (base / sub).mkdir(parents=True, exist_ok=True)

    def start(self):
        python = self.home / ".venv" / "bin" / "python"
        self.proc = subprocess.Popen(
            [str(python), "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(self.port),
             "--base-directory", str(self.base)], cwd=self.home, stdout=subprocess.DEVNULL,
            stderr=open(self.base / "server.log", "ab"), start_new_session=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + "/system_stats", timeout=2)
                return
            except requests.RequestException:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.5)
        raise RuntimeError(f"own ComfyUI did not start; see {self.base / 'server.log'}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)


@pytest.mark.live
def test_live_diff_sees_a_new_model_and_custom_node(tmp_path, pack_env):
    home = os.environ.get("COMFYUI_HOME")
    if not home or not (Path(home) / "main.py").is_file():
        pytest.skip("set COMFYUI_HOME to a ComfyUI install (with .venv) to run a private instance")
    port = int(os.environ.get("COMFYUI_TEST_PORT", "8192"))
    comfy = OwnComfy(home, port, tmp_path / "comfy")
    try:
        comfy.start()
        snapshot(comfy.url, pack_env)
        comfy.stop()
        (comfy.base / "models" / "checkpoints" / PROBE_MODEL).write_bytes(b"\0" * 4096)
        (comfy.base / "custom_nodes" / "inventory_probe").mkdir()
        (comfy.base / "custom_nodes" / "inventory_probe" / "__init__.py").write_text(PROBE_NODE)
        comfy.start()
        snapshot(comfy.url, pack_env)
    finally:
        comfy.stop()
    change = json.loads(script("inventory", "--diff", "--json", env=pack_env).stdout)
    assert change["nodes_added"] == ["InventoryProbe"]
    assert change["models_added"]["checkpoints"] == [PROBE_MODEL]
    shutil.rmtree(comfy.base, ignore_errors=True)


def test_the_older_flag_spellings_do_what_the_subcommands_do(pack_env):
    # skills and notes written before the subcommand style show --nodes/--show; both must work
    for new, old in ((["nodes", "LATENT->IMAGE", "--json"], ["--nodes", "LATENT->IMAGE", "--json"]),
                     (["show", "KSampler", "--json"], ["--show", "KSampler", "--json"]),
                     (["--limit", "3", "nodes", "->IMAGE", "--json"], ["--limit", "3", "--nodes", "->IMAGE", "--json"])):
        a, b = script("inventory", *new, env=pack_env), script("inventory", *old, env=pack_env)
        assert a.returncode == b.returncode == 0, a.stderr + b.stderr
        assert json.loads(a.stdout) == json.loads(b.stdout) and a.stdout.strip()

"""Hostile input: names from the server, names we upload, API keys, URLs, huge files, shell text.

The server is not trusted to name files on our disk; the user's key goes to the server it was
given for and nowhere else; nothing a user types ever reaches a shell.
"""

import http.server
import json
import re
import threading
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from conftest import ROOT, script

from comfyui_skills import files, outputs, uploads
from comfyui_skills.errors import InputError, ServerError
from comfyui_skills.api import ComfyUI
from comfyui_skills.transport import Client

SOLID = ROOT / "projects" / "examples" / "workflows" / "solid-color.json"
KEY = "sk-TESTKEY-" + uuid.uuid4().hex


def everything_under(folder):
    return [p for p in Path(folder).rglob("*") if p.is_file()]


def inside(path, root):
    path, root = Path(path).resolve(), Path(root).resolve()
    return path == root or root in path.parents


# -- names from the server ----------------------------------------------------------------------
HOSTILE = [("../../escape", "evil.png"), ("/etc/cron.d", "evil.png"), ("", "../../evil.png"),
           ("a/../../..", "x.png"), ("..\\..\\win", "e.png"), ("", "/abs/evil.png"),
           ("sub", "a\\..\\..\\b.png"), ("..", ".."), ("./././..", "...png"), ("", "\x00nul.png")]


def run_in_process(capsys, *argv):
    """run.py in this process (the double too): fast enough to try many hostile names."""
    from comfyui_skills import cli
    from comfyui_skills.commands import run

    code = cli.main(run, [str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("subfolder,filename", HOSTILE)
def test_output_names_from_the_server_cannot_leave_the_output_folder(comfy_double, pack_env, tmp_path, capsys,
                                                                    subfolder, filename):
    comfy_double.hostile_output = (subfolder, filename)
    out_dir = tmp_path / "a" / "b" / "out"
    code, out, err = run_in_process(capsys, SOLID, "--url", comfy_double.url, "--json", "--out", out_dir, "--quiet")
    assert "Traceback" not in err
    written = [p for p in everything_under(tmp_path) if not inside(p, pack_env["COMFYUI_SKILLS_STATE"])]
    assert all(inside(p, out_dir) for p in written), written
    if code == 0:
        [o] = json.loads(out)["outputs"]
        assert inside(o["path"], out_dir) and Path(o["path"]).read_bytes() == comfy_double.rec.sample_bytes["png"]
    else:
        assert code == 4 and written == []


def test_hostile_output_names_through_the_script(comfy_double, pack_env, tmp_path):
    comfy_double.hostile_output = ("../../../escape", "../evil.png")
    r = script("run", SOLID, "--url", comfy_double.url, "--json", "--out", tmp_path / "out", env=pack_env)
    assert r.returncode == 0, r.stderr
    [o] = json.loads(r.stdout)["outputs"]
    assert Path(o["path"]) == (tmp_path / "out" / "escape" / "_evil.png").resolve()
    assert not (tmp_path.parent / "escape").exists()


def test_text_and_typed_outputs_with_hostile_node_ids_and_types_stay_inside(tmp_path):
    entry = {"outputs": {"../../../evil": {"text": ["hello"]},
                         "7": {"images": [{"filename": "x.png", "subfolder": "", "type": "../../.."}]}},
             "prompt": [0, "p", {}, {}, []], "status": {"messages": []}}
    items = outputs.collect(entry)
    root = tmp_path / "out"
    [text] = outputs.download_all(None, [i for i in items if i["kind"] == "text"], root, prompt_id="../../p")
    assert inside(text["path"], root) and Path(text["path"]).read_text() == "hello"
    typed = [i for i in items if i["kind"] != "text"][0]
    assert inside(outputs.local_path(root, typed), root)
    assert everything_under(tmp_path) == [Path(text["path"])]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_safe_join_of_any_text_is_inside_the_root(subfolder, filename):
    root = Path("/tmp/comfy-safe-root")
    target = files.safe_join(root, subfolder, filename)
    assert inside(target, root) and target != root.resolve()
    assert "\x00" not in str(target)


def test_a_prompt_id_that_is_a_path_is_refused(comfy_double, pack_env, tmp_path, monkeypatch):
    from comfyui_skills import runs

    class Answer:
        status_code = 200

        def json(self):
            return {"prompt_id": "../../../../tmp/owned", "number": 1, "node_errors": {}}

    class C(ComfyUI):
        def request(self, *a, **k):
            return Answer()

        def check(self, resp, what):
            return resp

    with pytest.raises(ServerError, match="not a plain id"):
        runs.submit(C(comfy_double.url), json.loads(SOLID.read_text()), "cid")


# -- names we send ------------------------------------------------------------------------------
UPLOAD_NAMES = ["..\\..\\evil.png", "a\nb.png", "x\x01y.png", "<script>.png", "   .png", "con:stream.png",
                "a\"b'c.png"]


def test_upload_names_are_sanitised(comfy_double, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in UPLOAD_NAMES:
        f = src / name
        f.write_bytes(comfy_double.rec.sample_bytes["png"] + name.encode())  # distinct bytes: no reuse
        out = uploads.upload(ComfyUI(comfy_double.url), f, subfolder="../../etc/..\\x")
        key = ("input", out["subfolder"], out["name"])
        assert comfy_double.files[key] == f.read_bytes()
        assert not re.search(r"[\x00-\x1f\\/<>:\"|?*]", out["name"]) and out["subfolder"] == "etc/x"
        assert out["ref"] == f"etc/x/{out['name']}"


def test_upload_script_sanitises_name_and_subfolder(comfy_double, pack_env, tmp_path):
    f = tmp_path / "..\\a\nb.png"
    f.write_bytes(comfy_double.rec.sample_bytes["png"])
    r = script("upload", f, "--url", comfy_double.url, "--subfolder", "../../etc", "--json", env=pack_env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ref"] == "etc/_a_b.png"


def test_run_py_uploads_a_local_input_under_a_clean_name(comfy_double, pack_env, tmp_path):
    name = "my\\photo\x01.png"
    (tmp_path / name).write_bytes(comfy_double.rec.sample_bytes["png"])
    wf = tmp_path / "wf.json"
    wf.write_text(json.dumps({"1": {"class_type": "LoadImage", "inputs": {"image": name}},
                              "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "u"}}}))
    r = script("run", wf, "--url", comfy_double.url, "--json", "--no-validate", "--out", tmp_path / "o",
               env=pack_env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    sent = comfy_double.posted[-1]["prompt"]["1"]["inputs"]["image"]
    assert sent == "my_photo_.png" and ("input", "", sent) in comfy_double.files


def test_upload_name_helpers_never_return_a_path():
    for raw in ["../../a.png", "/etc/passwd", "a/b/c.png", "..", "", "\\\\server\\share\\x.png"]:
        name = uploads.upload_name(raw)
        assert "/" not in name and "\\" not in name and name not in ("", ".", "..")
        assert ".." not in uploads.clean_subfolder(raw).split("/")


# -- API keys -----------------------------------------------------------------------------------
def leaks(key, *texts, folders=()):
    found = [t[:200] for t in texts if key in (t or "")]
    for folder in folders:
        for p in everything_under(folder):
            if key.encode() in p.read_bytes():
                found.append(str(p))
    return found


def test_api_key_local_reaches_the_server_and_nowhere_else(comfy_double, pack_env, tmp_path):
    env = dict(pack_env, COMFYUI_API_KEY=KEY)
    state, projects = Path(pack_env["COMFYUI_SKILLS_STATE"]), Path(pack_env["COMFYUI_SKILLS_PROJECTS"])
    runs = [script("run", SOLID, "--url", comfy_double.url, "--json", env=env),
            script("run", SOLID, "--url", comfy_double.url, "--api-key", KEY, "--no-wait", env=pack_env),
            script("inventory", "--url", comfy_double.url, "--api-key", KEY, "--json", env=pack_env),
            script("status", "--url", comfy_double.url, "--api-key", KEY, "--json", env=pack_env),
            script("queue", "list", "--url", comfy_double.url, "--json", env=env)]
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    pid = runs[1].stdout.strip()
    runs.append(script("queue", "wait", pid, "--json", env=env))
    comfy_double.fail("/prompt", 401)
    runs.append(script("run", SOLID, "--url", comfy_double.url, "--json", env=env))
    assert runs[-1].returncode == 4
    assert (state / "runs" / f"{pid}.json").is_file() and (state / "inventory.json").is_file()
    assert not leaks(KEY, *[r.stdout + r.stderr for r in runs], folders=[state, projects])
    sent = [h.get("Authorization") for _, _, h in comfy_double.requests]
    assert f"Bearer {KEY}" in sent and all(s in (None, f"Bearer {KEY}") for s in sent)


def test_api_key_offline_export_and_receipt_do_not_carry_it(pack_env):
    env = dict(pack_env, COMFYUI_API_KEY=KEY)
    r = script("run", SOLID, "--url", "127.0.0.1:9", "--json", env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "offline"
    assert not leaks(KEY, r.stdout, r.stderr, folders=[pack_env["COMFYUI_SKILLS_PROJECTS"],
                                                       pack_env["COMFYUI_SKILLS_STATE"]])


def test_api_key_cloud_never_follows_the_redirect_to_the_file_host(comfy_double, pack_env, tmp_path):
    comfy_double.go_cloud(KEY)
    env = dict(pack_env, COMFYUI_CLOUD="1", COMFYUI_API_KEY=KEY)
    r = script("run", SOLID, "--url", comfy_double.url, "--json", "--out", tmp_path / "o", env=env)
    assert r.returncode == 0, r.stderr
    assert comfy_double.blob_requests, "the file came from the other host"
    for headers in comfy_double.blob_requests:
        assert "X-API-Key" not in headers and "Authorization" not in headers
        assert KEY not in json.dumps(headers)
    assert not leaks(KEY, r.stdout, r.stderr, folders=[tmp_path])
    r = script("run", SOLID, "--url", comfy_double.url, "--json", "--api-key", "wrong", "--online-only", env=pack_env)
    assert r.returncode == 4 and "wrong" not in r.stdout + r.stderr


class Recorder(http.server.BaseHTTPRequestHandler):
    """One tiny server: '/go' redirects to the Location the test sets, anything else is recorded."""

    location = None
    seen = []

    def do_GET(self):
        type(self).seen.append((self.path, dict(self.headers)))
        if self.path.startswith("/system_stats") and type(self).location:
            self.send_response(302)
            self.send_header("Location", type(self).location)
            self.end_headers()
            return
        body = json.dumps({"system": {"os": "posix", "comfyui_version": "0.3.64", "python_version": "3",
                                      "pytorch_version": "2"}, "devices": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def two_hosts():
    servers = []
    for _ in range(2):
        handler = type("H", (Recorder,), {"location": None, "seen": []})
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True).start()
        servers.append((srv, handler))
    yield servers
    for srv, _ in servers:
        srv.shutdown()


def test_api_key_local_bearer_dropped_on_a_redirect_to_another_host(two_hosts):
    (a, ha), (b, hb) = two_hosts
    ha.location = f"http://127.0.0.1:{b.server_port}/system_stats"
    client = Client(f"http://127.0.0.1:{a.server_port}", api_key=KEY)
    assert client.get_json("/system_stats")["system"]["os"] == "posix"
    assert ha.seen[0][1].get("Authorization") == f"Bearer {KEY}"
    [(path, headers)] = hb.seen
    assert "Authorization" not in headers and KEY not in json.dumps(headers)


def test_api_key_dropped_on_a_redirect_through_the_script(two_hosts, pack_env):
    (a, ha), (b, hb) = two_hosts
    ha.location = f"http://localhost:{b.server_port}/system_stats"  # another host name, same machine
    r = script("status", "--url", f"127.0.0.1:{a.server_port}", "--api-key", KEY, "--json", env=pack_env)
    assert hb.seen and all("Authorization" not in h for _, h in hb.seen)
    assert KEY not in r.stdout + r.stderr


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1:70/"])
def test_a_redirect_to_a_non_http_address_is_refused(two_hosts, target):
    (a, ha), _ = two_hosts
    ha.location = target
    with pytest.raises(ServerError, match="non-HTTP address"):
        Client(f"http://127.0.0.1:{a.server_port}", api_key=KEY).get_json("/system_stats")


# -- URLs ---------------------------------------------------------------------------------------
BAD_URLS = ["file:///etc/passwd", "ftp://127.0.0.1/", "javascript:alert(1)", "gopher://127.0.0.1:70/",
            "gopher:x", "data:text/html,hi", "http://127.0.0.1:8188/?q=1", "http://exa mple:80"]


@pytest.mark.parametrize("url", BAD_URLS)
def test_only_http_and_ws_urls_are_accepted(pack_env, url):
    r = script("status", "--url", url, env=pack_env)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = script("queue", "list", env=dict(pack_env, COMFYUI_URL=url))
    assert r.returncode == 2 and "COMFYUI_URL" in r.stderr


def test_a_bad_url_in_a_project_manifest_is_refused(pack_env):
    proj = Path(pack_env["COMFYUI_SKILLS_PROJECTS"]) / "p"
    proj.mkdir(parents=True)
    (proj / "project.yaml").write_text("url: file:///etc/passwd\n")
    r = script("run", SOLID, "--project", "p", env=pack_env)
    assert r.returncode == 2 and "project.yaml" in r.stderr and "only http(s)://" in r.stderr


@pytest.mark.parametrize("scheme", ["ws", "http"])
def test_ws_and_http_urls_reach_the_same_server(comfy_double, pack_env, scheme):
    r = script("status", "--url", comfy_double.url.replace("http", scheme, 1), "--json", env=pack_env)
    assert r.returncode == 0, r.stderr


# -- oversized and over-nested workflows --------------------------------------------------------
@pytest.fixture(scope="module")
def huge(tmp_path_factory):
    path = tmp_path_factory.mktemp("huge") / "huge.json"
    with open(path, "w") as fh:  # a real JSON workflow of 100 MB: one node with a long text
        fh.write('{"1": {"class_type": "PrimitiveString", "inputs": {"value": "')
        chunk = "x" * (1 << 20)
        for _ in range(100):
            fh.write(chunk)
        fh.write('"}}}')
    return path


@pytest.fixture(scope="module")
def deep(tmp_path_factory):
    path = tmp_path_factory.mktemp("deep") / "deep.json"
    path.write_text('{"1": {"class_type": "PrimitiveInt", "inputs": {"value": ' + "[" * 10_000 + "1"
                    + "]" * 10_000 + "}}}")
    return path


SCRIPTS = [("validate",), ("run", "--url", "127.0.0.1:9"), ("convert",), ("export", "--project", "p"),
           ("diagnose",)]
REFUSED = {"huge": re.compile(r"too large|larger than 64 MiB"), "deep": re.compile(r"nested too deeply")}


@pytest.mark.parametrize("cmd", SCRIPTS, ids=[c[0] for c in SCRIPTS])
@pytest.mark.parametrize("kind", ["huge", "deep"])
def test_huge_and_deep_workflows_are_refused_within_a_second(pack_env, request, cmd, kind):
    path = request.getfixturevalue(kind)
    t0 = time.monotonic()
    r = script(cmd[0], path, *cmd[1:], env=pack_env)
    took = time.monotonic() - t0
    assert "Traceback" not in r.stderr
    assert took < 3.0  # start-up included; the refusal itself is timed in-process below
    assert r.returncode == 2, (r.returncode, r.stderr[-300:])
    assert REFUSED[kind].search(r.stdout + r.stderr)


@pytest.mark.parametrize("kind", ["huge", "deep"])
def test_reading_huge_and_deep_files_fails_fast_in_process(request, kind):
    path = request.getfixturevalue(kind)
    t0 = time.monotonic()
    with pytest.raises(InputError, match="too large|nested too deeply"):
        files.read_json(path, "workflow")
    assert time.monotonic() - t0 < 1.0


def test_huge_workflow_on_stdin_is_refused(pack_env, huge):
    t0 = time.monotonic()
    with open(huge, "rb") as fh:
        import subprocess
        import sys
        r = subprocess.run([sys.executable, str(ROOT / "scripts" / "validate.py"), "-"], stdin=fh,
                           capture_output=True, text=True, env=pack_env, timeout=30)
    assert r.returncode == 2 and "too large" in r.stdout + r.stderr
    assert time.monotonic() - t0 < 3.0


# -- no shell -----------------------------------------------------------------------------------
SHELL_WORDS = re.compile(r"\bsubprocess\b|os\.system|os\.popen|os\.exec|os\.spawn|shell\s*=\s*True|\bpty\b|"
                         r"(?<!literal_)\beval\(|\bexec\(|commands\.getoutput")


def test_the_package_never_starts_a_shell_or_a_process():
    hits = []
    for p in list((ROOT / "comfyui_skills").rglob("*.py")) + list((ROOT / "scripts").glob("*.py")):
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if SHELL_WORDS.search(line.split("#")[0]):
                hits.append(f"{p.relative_to(ROOT)}:{n}: {line.strip()}")
    # One exception: a script started by a Python without the pack's dependencies runs itself
    # again with the pack's own interpreter (same argv, no shell). Nothing else starts a process.
    bootstrap = [h for h in hits if h.startswith("comfyui_skills/bootstrap.py:")]
    assert [h for h in hits if h not in bootstrap] == []
    assert bootstrap and not [h for h in bootstrap if "shell" in h or "system(" in h or "popen" in h.lower()]


def test_shell_text_in_a_set_value_stays_text(comfy_double, pack_env, tmp_path):
    marker = tmp_path / f"pwned-{uuid.uuid4().hex}"
    values = [f"$(touch {marker})", f"`touch {marker}`", f"x; touch {marker}", f"x && touch {marker} #"]
    for value in values:
        r = script("run", SOLID, "--url", comfy_double.url, "--set", f"2.filename_prefix={value}",
                   "--out", tmp_path / "o", "--json", env=pack_env)
        assert r.returncode == 0, r.stderr
        assert comfy_double.posted[-1]["prompt"]["2"]["inputs"]["filename_prefix"] == value
    assert not marker.exists()

"""How the one transport behaves when the server misbehaves, against the double's fault knobs."""

import json
import time

import pytest

from comfyui_skills.errors import ServerError
from comfyui_skills.transport import Client
from conftest import script

SECRET = "sk-test-0123456789abcdef"


def status(url, *args, env):
    return script("status", "--json", "--url", url, *args, env=env)


def one_line(stderr):
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_status_against_the_double(comfy_double, pack_env):
    r = status(comfy_double.url, env=pack_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["comfyui_version"] == "0.3.64"
    assert out["queue"] == {"running": 0, "pending": 0}


@pytest.mark.parametrize("kind,words", [("html", "answered with HTML"), ("truncated", "not JSON")])
def test_html_or_garbage_json_is_one_line_exit_4(comfy_double, pack_env, kind, words):
    comfy_double.garble("/system_stats", kind)
    r = status(comfy_double.url, env=pack_env)
    assert r.returncode == 4
    assert words in one_line(r.stderr)


def test_server_error_500_is_exit_4(comfy_double, pack_env):
    comfy_double.fail("/system_stats", 500)
    r = status(comfy_double.url, env=pack_env)
    assert r.returncode == 4
    assert "HTTP 500" in one_line(r.stderr)


def test_timeout_is_retried_once_then_exit_5_busy_not_absent(comfy_double, pack_env):
    comfy_double.delay = 2.0
    start = time.monotonic()
    r = status(comfy_double.url, "--timeout", "0.4", env=pack_env)
    assert r.returncode == 5
    out = json.loads(r.stdout)  # not answering in time, though something took the request
    assert out["online"] is False and out["reachable"] is True and "0.4 s" in out["error"]
    assert "busy or stuck" in out["error"]
    assert [p for _, p, _ in comfy_double.requests].count("/system_stats") == 2
    assert time.monotonic() - start < 5


def test_one_slow_answer_is_absorbed_by_the_retry(comfy_double, pack_env):
    comfy_double.delay, comfy_double.delay_limit = 2.0, 1
    r = status(comfy_double.url, "--timeout", "0.4", env=pack_env)
    assert r.returncode == 0, r.stderr


def test_bearer_key_is_sent_and_never_printed(comfy_double, pack_env):
    comfy_double.fail("/system_stats", 500)
    r = status(comfy_double.url, "--api-key", SECRET, "--debug", env=pack_env)
    assert r.returncode == 4
    headers = comfy_double.requests[0][2]
    assert headers["Authorization"] == f"Bearer {SECRET}"
    assert SECRET not in r.stdout + r.stderr


def cloud_client(double, key=SECRET):
    double.go_cloud(SECRET)
    client = Client(double.url, api_key=key, timeout=5)
    client.cloud = True  # the double listens on 127.0.0.1, not cloud.comfy.org
    return client


def test_cloud_uses_api_prefix_and_x_api_key(comfy_double):
    client = cloud_client(comfy_double)
    stats = client.get_json("/system_stats")
    assert stats["system"]["comfyui_version"] == "0.3.64"
    method, path, headers = comfy_double.requests[-1]
    assert path == "/api/system_stats"
    assert headers["X-API-Key"] == SECRET and "Authorization" not in headers


def test_cloud_without_the_key_is_401_exit_4(comfy_double):
    client = cloud_client(comfy_double, key=None)
    with pytest.raises(ServerError) as err:
        client.get_json("/system_stats")
    assert err.value.status == 401 and err.value.exit_code == 4
    assert "--api-key" in err.value.hint


def test_cloud_redirect_to_another_host_drops_the_key(comfy_double):
    comfy_double.add_file("output", "", "out.png", b"\x89PNG\r\n\x1a\nfake")
    client = cloud_client(comfy_double)
    resp = client.check(client.request("GET", "/view", params={"filename": "out.png", "type": "output"}), "view")
    assert resp.content == b"\x89PNG\r\n\x1a\nfake"
    assert comfy_double.requests[-1][2]["X-API-Key"] == SECRET
    assert len(comfy_double.blob_requests) == 1
    assert "X-API-Key" not in comfy_double.blob_requests[0]
    assert "Authorization" not in comfy_double.blob_requests[0]


def test_password_in_the_url_is_sent_as_basic_auth_and_never_printed(comfy_double, pack_env):
    url = comfy_double.url.replace("http://", "http://alice:s3cret@")
    r = script("status", "--json", "--url", url, env=pack_env)
    assert r.returncode == 0, r.stderr
    assert "s3cret" not in r.stdout + r.stderr
    assert json.loads(r.stdout)["url"] == comfy_double.url
    sent = [h.get("Authorization") for _, _, h in comfy_double.requests]
    assert "Basic YWxpY2U6czNjcmV0" in sent


def test_password_in_the_url_is_not_echoed_when_unreachable(pack_env):
    r = script("status", "--url", "http://alice:s3cret@127.0.0.1:9", env=pack_env)
    assert r.returncode == 3
    assert "s3cret" not in r.stdout + r.stderr


def test_a_kept_alive_connection_the_server_closed_is_replaced_not_reported():
    # a server (or a proxy in front of it) may close an idle kept-alive connection at any time;
    # the next request goes out on a fresh one instead of failing
    import socket
    import threading

    from comfyui_skills import wire

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    served = []

    def serve():
        for _ in range(2):
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                body = b'{"n": %d}' % len(served)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                             b"Connection: keep-alive\r\n\r\n%s" % (len(body), body))
                served.append(1)  # then the connection is closed, though the answer said keep-alive

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    session = wire.Session("test")
    try:
        assert session.request("GET", f"http://127.0.0.1:{port}/a").json() == {"n": 0}
        assert session.request("GET", f"http://127.0.0.1:{port}/b").json() == {"n": 1}
    finally:
        session.close()
        listener.close()
    thread.join(timeout=5)  # it counts a request after answering it
    assert len(served) == 2

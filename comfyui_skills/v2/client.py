"""A Comfy API v2 server: health, jobs, their events and outputs, input assets.

Polling `GET urls.self` is the truth; the SSE stream only wakes the poll early and carries
progress. Links in answers are followed as given, resolved against the server's origin when
host-relative; the key goes to that origin only (transport.Client).
"""

import json
import mimetypes
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urljoin

from .. import nextsteps, wire
from ..errors import CheckFailed, ServerError, ServerTimeout, ServerUnreachable
from ..transport import Client
from .errors import raise_for

TERMINAL = ("succeeded", "failed", "canceled", "expired")
# comfy-api-proxy 0.1.6 answers "expired" for a job that is in neither ComfyUI's queue nor its
# history, which a live job also is for a moment (just queued, or between its end and its history
# entry): seen live, 2 of 5 fresh jobs on ComfyUI 0.3.64. A job only expires after `expires_at`, so
# an early "expired" is believed once it has lasted this long.
EXPIRED_SETTLE = 3.0
POLL_SECONDS = 1.0  # between polls when no event arrives; an event wakes the poll at once
CANCEL_GRACE = 15.0  # how long a cancel may take to land at the next node or step boundary


class V2(Client):
    """`V2("http://127.0.0.1:8189").health()`: a server speaking Comfy API v2."""

    def endpoint(self, path):
        if path.startswith(("http://", "https://")):
            return path
        # host-relative links already carry any mount prefix: resolve against the origin only
        return urljoin(self.url + "/", path) if path.startswith("/") else f"{self.url}/{path}"

    def auth_headers(self):
        # the contract's one scheme, Cloud included (openapi-v2.yaml, securitySchemes.bearerAuth)
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else super().auth_headers()

    def _call(self, method, path, what, **kw):
        resp = self.request(method, path, **kw)
        raise_for(resp, what, self.url)
        return resp

    # -- health ----------------------------------------------------------------------------
    def health(self):
        """The health answer ({"status": "healthy", ...}); the proxy adds its `upstream` ComfyUI.
        The contract itself has no health route (Cloud answers 404): there, a job listing that
        answers is the sign of health."""
        resp = self.request("GET", "/api/v2/health", retry=False)
        if resp.status_code == 404:
            self._call("GET", "/api/v2/jobs", "GET /api/v2/jobs", params={"limit": 1}, retry=False)
            return {"status": "healthy"}
        raise_for(resp, "GET /api/v2/health", self.url)
        return resp.json()

    # -- jobs ------------------------------------------------------------------------------
    def submit(self, workflow, extra_data=None):
        """POST the API-format graph; the job object (201). The Idempotency-Key is fresh per
        submission and the POST is never resent: a retry on an unknown outcome could run it twice."""
        body = {"workflow": workflow}
        if extra_data:
            body["extra_data"] = extra_data
        resp = self.request("POST", "/api/v2/jobs", json_body=body, retry=False,
                            headers={"Idempotency-Key": str(uuid.uuid4())})
        raise_for(resp, "submitting the workflow", self.url)
        return resp.json()

    def job(self, job_or_id):
        link = job_or_id["urls"]["self"] if isinstance(job_or_id, dict) else f"/api/v2/jobs/{job_or_id}"
        return self._call("GET", link, "reading the job").json()

    def jobs(self, status=None, limit=None):
        params = {k: v for k, v in (("status", status), ("limit", limit)) if v}
        body = self._call("GET", "/api/v2/jobs", "listing jobs", params=params or None).json()
        return body.get("jobs", body) if isinstance(body, dict) else body

    def cancel(self, job_or_id, grace=CANCEL_GRACE, clock=time.monotonic, sleep=time.sleep):
        """Ask for the cancel, then watch the job until it really ends. A server that accepts the
        cancel and runs on (comfy-api-proxy 0.1.6 before a ComfyUI 0.26: its cancel route is
        missing upstream and the answer is ignored) is reported, never taken for a stop."""
        job = self.job(job_or_id)
        if job["status"] in TERMINAL:
            return job
        job = self._call("POST", job["urls"]["cancel"], "cancelling the job", retry=False).json()
        end = clock() + grace
        while job["status"] not in ("canceled", "failed", "succeeded") and clock() < end:
            sleep(0.25)
            job = self.job(job)
        # "expired" that lasts: a dequeued job left neither queue nor history behind (comfy-api-proxy)
        if job["status"] in ("canceled", "failed", "expired"):
            return job
        if job["status"] == "succeeded":
            raise CheckFailed(f"job {job['id']} finished before the cancel reached it",
                              hint=f"its outputs are there: {nextsteps.step('queue', 'outputs', job['id'], finds_server=True)}",
                              job_id=job["id"])
        raise CheckFailed(f"the server accepted the cancel, but job {job['id']} is still {job['status']} "
                          f"{grace:g} s later: it was not stopped",
                          hint=self._stop_hint(), job_id=job["id"])

    def _stop_hint(self):
        try:
            upstream = self.health().get("upstream")
        except (ServerError, ServerUnreachable, ServerTimeout):
            upstream = None
        if upstream:
            # comfy-api-proxy names the ComfyUI behind it; a ComfyUI before 0.26 has no per-job cancel
            return (f"the ComfyUI behind this proxy ({upstream}) has no per-job cancel before 0.26: "
                    f"interrupt it there: {nextsteps.step('queue', 'interrupt', url=upstream)}")
        return f"the server may stop it at its next step; check with {nextsteps.step('queue', 'list')}"

    def events(self, job, stop):
        """(event, data) pairs from the job's SSE stream until its terminal status or `stop` is set."""
        resp = self.request("GET", job["urls"]["events"], stream=True, retry=False)
        if resp.status_code >= 400:
            resp.close()
            return
        with resp:
            event, data = None, []
            for raw in resp.iter_lines(decode_unicode=True):
                if stop.is_set():
                    return
                if raw is None:
                    continue
                if raw == "":
                    if event and data:
                        try:
                            yield event, json.loads("\n".join(data))
                        except ValueError:
                            pass
                    event, data = None, []
                elif raw.startswith("event:"):
                    event = raw[6:].strip()
                elif raw.startswith("data:"):
                    data.append(raw[5:].lstrip())

    def wait(self, job, reporter=None, max_wait=None, cancel=None, clock=time.monotonic):
        """Poll the job to a terminal status; SSE events report progress and wake the poll early.
        Returns the final job object; ServerTimeout past `max_wait` (the job goes on)."""
        wake, stop = threading.Event(), threading.Event()
        watcher = threading.Thread(target=self._listen, args=(job, reporter, wake, stop), daemon=True)
        watcher.start()
        start = clock()
        expired_since = None
        try:
            while True:
                job = self.job(job)
                if job["status"] == "expired":
                    expired_since = expired_since or clock()
                    if clock() - expired_since < EXPIRED_SETTLE:
                        time.sleep(0.1)
                        continue
                if job["status"] in TERMINAL:
                    return job
                expired_since = None
                if reporter and job.get("queue_position") is not None:
                    reporter.queued(job["queue_position"])
                if cancel is not None and cancel.is_set():
                    return self.cancel(job)
                if max_wait is not None and clock() - start > max_wait:
                    raise ServerTimeout(f"job {job['id']} is still {job['status']} after {max_wait:g} s",
                                        hint=f"it goes on: {nextsteps.resume([job['id']])}", job_id=job["id"])
                wake.wait(POLL_SECONDS)
                wake.clear()
        finally:
            stop.set()

    def _listen(self, job, reporter, wake, stop):
        try:
            for event, data in self.events(job, stop):
                if event == "progress" and reporter:
                    if data.get("steps"):
                        reporter.step(data.get("step") or 0, data["steps"])
                    if data.get("current_node") and data.get("nodes_total"):
                        reporter.node(data.get("nodes_done", 0) + 1, data["nodes_total"], data["current_node"],
                                      data.get("current_node_class"), None)
                if event in ("status", "output"):
                    wake.set()
        except (ServerError, ServerUnreachable, ServerTimeout, wire.WireError):
            pass  # the stream is a convenience: polling goes on without it
        finally:
            wake.set()

    # -- outputs ---------------------------------------------------------------------------
    def download(self, output, write):
        """Stream one output's bytes into `write(chunk)` from the link the job gave (a 302 to a
        signed URL is followed without the key); returns the byte count, checked against
        `size_bytes` and the blake3 `hash` where the server gave them."""
        resp = self.request("GET", output["url"], stream=True)
        raise_for(resp, f"downloading {output['name']}", self.url)
        hasher = _blake3() if (output.get("hash") or "").startswith("blake3:") else None
        n = 0
        with resp:
            for chunk in resp.iter_content(1 << 20):
                write(chunk)
                n += len(chunk)
                if hasher:
                    hasher.update(chunk)
        if output.get("size_bytes") and n != output["size_bytes"]:
            raise ServerError(f"{output['name']}: {n} bytes arrived of the {output['size_bytes']} the job lists",
                              hint=f"nothing was kept; fetch it again: {nextsteps.step('queue', 'outputs', output.get('job_id') or 'JOB_ID', finds_server=True)}",
                              url=self.url)
        if hasher and "blake3:" + hasher.hexdigest() != output["hash"]:
            raise ServerError(f"{output['name']}: the bytes do not match the hash the job lists",
                              hint=f"nothing was kept; fetch it again: {nextsteps.step('queue', 'outputs', output.get('job_id') or 'JOB_ID', finds_server=True)}",
                              url=self.url)
        return n

    # -- inputs ----------------------------------------------------------------------------
    def upload(self, path, file_path=None):
        """Make `path` an input asset; returns the asset. With blake3 at hand the hash goes first and
        only bytes the server lacks are sent; without it, the bytes always go."""
        path = Path(path)
        name = file_path or path.name
        digest = file_hash(path)
        if digest:
            known = self.request("HEAD", f"/api/v2/assets/by-hash/{digest}", retry=False)
            if known.status_code == 200:
                return self._call("POST", "/api/v2/assets/from-hash", "reusing the uploaded file",
                                  json_body={"hash": digest, "file_path": name, "tags": ["input"]}).json()
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        fields = {"content_type": ctype, "file_path": name, "tags": "input"}
        if digest:
            fields["expected_hash"] = digest
        with open(path, "rb") as fh:
            return self._call("POST", "/api/v2/assets", f"uploading {path.name}",
                              files={"file": (name, fh, ctype)}, data=fields).json()


def asset_ref(asset):
    """What a workflow carries where a filename would go (openapi-v2.yaml, AssetReference)."""
    info = {"id": asset["id"]}
    if asset.get("file_path"):
        info["file_path"] = asset["file_path"]
    return {"__type": "core/ASSET", "info": info}


def _blake3():
    try:
        import blake3
    except ImportError:
        return None
    return blake3.blake3()


def file_hash(path):
    """`blake3:<hex>` of the file, or None without the blake3 package (the optional extra `v2`)."""
    hasher = _blake3()
    if hasher is None:
        return None
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            hasher.update(chunk)
    return "blake3:" + hasher.hexdigest()


def is_v2(url, api_key=None, timeout=2.0):
    """Does the server at `url` answer the v2 health route? One short request."""
    client = V2(url, api_key=api_key, timeout=timeout, connect_timeout=min(timeout, 1.5))
    try:
        resp = client.request("GET", "/api/v2/health", retry=False)
        body = resp.json() if resp.status_code == 200 else None
    except (ServerError, ServerUnreachable, ServerTimeout, ValueError):
        return False
    finally:
        client.close()
    return isinstance(body, dict) and "status" in body


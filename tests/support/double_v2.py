"""A Comfy API v2 server for tests: comfy-api-proxy 0.1.6 in front of the ComfyUI double, or Comfy
Cloud's v2 as its specification describes it.

What it answers follows tests/recordings/v2/proxy-0.1.6-comfyui-0.3.64.json (recorded from the real
proxy in front of a real ComfyUI 0.3.64 by tests/support/record_v2.py), and for `cloud` the public contract,
Comfy-Org/docs openapi-v2.yaml at 058ac160: a Bearer key required (401 `unauthorized` otherwise),
output content as a 302 to a signed URL on another host, `size_bytes` and `hash` filled in.
Like the real proxy it speaks to its ComfyUI over HTTP only, and maps:
- job status from ComfyUI's /history (interrupted -> canceled, error -> failed) and /queue
  (running, queued with its position); a job in neither is `expired`;
- a /prompt rejection to 422 `invalid_workflow` with ComfyUI's node_errors as they are;
- cancel to ComfyUI's /api/jobs/{id}/cancel, whose answer it ignores: on a ComfyUI without that
  route (0.3.64) the job runs on and the answer says `canceling`, as recorded.

    def test_x(v2_double):           # the proxy; v2_double.comfy is the ComfyUI double behind it
        requests.get(v2_double.url + "/api/v2/health")
"""

import asyncio
import hashlib
import json
import mimetypes
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from support.double import ComfyDouble, LoopServer

RECORDED = json.loads((Path(__file__).resolve().parents[1] / "recordings" / "v2" /
                       "proxy-0.1.6-comfyui-0.3.64.json").read_text())
OUTPUT_KINDS = {"images": "image", "gifs": "video", "video": "video", "audio": "audio", "text": "text",
                "3d": "file", "latents": "latent"}


def _blake3(data):
    try:
        import blake3
    except ImportError:  # the double still answers; only hash-first uploads are then untested
        return None
    return "blake3:" + blake3.blake3(data).hexdigest()


def _iso(dt):
    return dt.isoformat()


def error(status, code, message, details=None, headers=None):
    return web.json_response({"error": {"code": code, "message": message, "details": details}}, status=status,
                             headers=headers)


class V2Double(LoopServer):
    def __init__(self, comfy, cloud_key=None):
        self.comfy = comfy
        self.cloud_key = cloud_key  # None: comfy-api-proxy (no auth); a key: Comfy Cloud's v2
        self.jobs, self.assets, self.outputs, self.keys = {}, {}, {}, set()
        self.requests = []  # (method, path, headers)
        self.blob_requests = []
        self.fail_submit = None  # (status, code, retry_after): the next submissions answer this

    # -- lifecycle ---------------------------------------------------------------------------
    async def _startup(self):
        self.session = aiohttp.ClientSession()
        app = web.Application(middlewares=[self._auth])
        r = app.router
        r.add_get("/api/v2/health", self.health)
        r.add_post("/api/v2/jobs", self.submit)
        r.add_get("/api/v2/jobs", self.list_jobs)
        r.add_get("/api/v2/jobs/{id}", self.get_job)
        r.add_post("/api/v2/jobs/{id}/cancel", self.cancel)
        r.add_get("/api/v2/jobs/{id}/events", self.events)
        r.add_post("/api/v2/assets", self.upload)
        r.add_post("/api/v2/assets/from-hash", self.from_hash)
        r.add_route("HEAD", "/api/v2/assets/by-hash/{hash}", self.by_hash)
        r.add_get("/api/v2/assets/{id}/content", self.content)
        self._runner = await self._listen(app)
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        blob = web.Application()
        blob.router.add_get("/signed/{id}", self.signed)
        self._blob_runner = await self._listen(blob)
        self.blob_url = f"http://127.0.0.1:{self._blob_runner.addresses[0][1]}"

    def stop(self):
        async def down():
            await self.session.close()
            await self._runner.cleanup()
            await self._blob_runner.cleanup()
        asyncio.run_coroutine_threadsafe(down(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @web.middleware
    async def _auth(self, request, handler):
        self.requests.append((request.method, request.path, dict(request.headers)))
        if self.cloud_key and request.headers.get("Authorization") != f"Bearer {self.cloud_key}":
            return error(401, "unauthorized", "Missing or invalid credentials.")
        return await handler(request)

    async def _comfy(self, method, path, **kw):
        async with self.session.request(method, self.comfy.url + path, **kw) as r:
            try:
                return r.status, await r.json(content_type=None)
            except ValueError:
                return r.status, None

    # -- routes ------------------------------------------------------------------------------
    async def health(self, request):
        if self.cloud_key:  # the contract has no health route
            return error(404, "not_found", "Not found.")
        return web.json_response({"status": "healthy", "upstream": self.comfy.url})

    async def submit(self, request):
        try:
            body = await request.json()
        except ValueError:
            return error(400, "invalid_request", "Body must be JSON.")
        if self.fail_submit:
            status, code, retry = self.fail_submit
            return error(status, code, code.replace("_", " "), headers={"Retry-After": str(retry)} if retry else None)
        wf = body.get("workflow")
        if not isinstance(wf, dict):
            return error(422, "invalid_workflow", "Missing 'workflow' (API-format graph).")
        if "nodes" in wf and "links" in wf:
            return error(422, "workflow_format_ui",
                         "This is a UI-export graph. Export the workflow in API format instead.")
        missing = []
        wf = self._resolve_assets(wf, missing)
        if missing:
            return error(422, "missing_asset", f"Unresolvable core/ASSET reference(s): {', '.join(missing)}",
                         {"missing_ids": missing})
        key = request.headers.get("Idempotency-Key")
        if key in self.keys:
            return error(422, "idempotency_key_reuse", RECORDED["errors"]["idempotency_reuse"]["body"]["error"]["message"])
        job_id = str(uuid.uuid4())
        payload = {"prompt": wf, "prompt_id": job_id, "client_id": job_id}
        if body.get("extra_data"):
            payload["extra_data"] = body["extra_data"]
        status, answer = await self._comfy("POST", "/prompt", json=payload)
        if status != 200:
            answer = answer or {}
            return error(422, "invalid_workflow", (answer.get("error") or {}).get("message", "Workflow rejected."),
                         {"node_errors": answer.get("node_errors") or {}})
        if key:
            self.keys.add(key)
        self.jobs[job_id] = {"created": datetime.now(timezone.utc)}
        return web.json_response(self._job(job_id, {"status": "queued", "outputs": []}), status=201)

    def _resolve_assets(self, node, missing):
        if isinstance(node, dict) and node.get("__type") == "core/ASSET":
            asset = self.assets.get((node.get("info") or {}).get("id"))
            if asset is None:
                missing.append(str((node.get("info") or {}).get("id")))
                return node
            return asset["file_path"]
        if isinstance(node, dict):
            return {k: self._resolve_assets(v, missing) for k, v in node.items()}
        if isinstance(node, list):
            return [self._resolve_assets(v, missing) for v in node]
        return node

    async def _state(self, job_id):
        status, hist = await self._comfy("GET", f"/history/{job_id}")
        if status == 200 and isinstance(hist, dict) and job_id in hist:
            entry = hist[job_id]
            st = entry.get("status") or {}
            messages = st.get("messages") or []
            outputs = self._outputs(job_id, entry)
            if any(m[0] == "execution_interrupted" for m in messages):
                return {"status": "canceled", "outputs": outputs}
            if st.get("status_str", "success") == "success":
                return {"status": "succeeded", "outputs": outputs}
            err = next((m[1] for m in messages if m[0] == "execution_error"), {})
            return {"status": "failed", "outputs": outputs,
                    "error": {"code": "node_execution_error", "message": err.get("exception_message", ""),
                              "node_id": err.get("node_id"), "class_type": err.get("node_type"), "traceback": None}}
        status, queue = await self._comfy("GET", "/queue")
        running = {item[1] for item in queue.get("queue_running", [])}
        pending = [item[1] for item in queue.get("queue_pending", [])]
        if job_id in running:
            return {"status": "running", "outputs": [], "progress": {"value": 0.0, "nodes_done": 0, "nodes_total": 0}}
        if job_id in pending:
            return {"status": "queued", "outputs": [], "queue_position": pending.index(job_id) + 1}
        return {"status": "expired", "outputs": []}

    def _outputs(self, job_id, entry):
        out = []
        for node_id, node_out in (entry.get("outputs") or {}).items():
            for key, items in node_out.items():
                kind = OUTPUT_KINDS.get(key)
                if not kind or not isinstance(items, list):
                    continue
                for it in items:
                    if not isinstance(it, dict) or "filename" not in it:
                        continue
                    ref = (it.get("type", "output"), it.get("subfolder", ""), it["filename"])
                    data = self.comfy.files.get(ref, b"")
                    aid = hashlib.sha256(f"{job_id}/{ref}".encode()).hexdigest()[:32]
                    self.outputs[aid] = ref
                    out.append({"node_id": node_id, "name": it["filename"], "type": kind,
                                "content_type": mimetypes.guess_type(it["filename"])[0] or "application/octet-stream",
                                # the proxy lists 0 and no hash (recorded); Cloud the real ones
                                "size_bytes": len(data) if self.cloud_key else 0,
                                "hash": _blake3(data) if self.cloud_key else None,
                                "id": aid, "url": f"{self.url}/api/v2/assets/{aid}/content",
                                "url_expires_at": _iso(datetime.now(timezone.utc) + timedelta(hours=1)),
                                "job_id": job_id})
        return out

    def _job(self, job_id, state):
        created = self.jobs[job_id]["created"]
        base = f"{self.url}/api/v2/jobs/{job_id}"
        return {"id": job_id, "status": state["status"], "created_at": _iso(created), "started_at": None,
                "completed_at": None, "expires_at": _iso(created + timedelta(days=1)),
                "queue_position": state.get("queue_position"), "progress": state.get("progress"),
                "outputs": state.get("outputs", []), "error": state.get("error"), "outputs_reused": False,
                "urls": {"self": base, "events": base + "/events", "cancel": base + "/cancel"}}

    async def get_job(self, request):
        job_id = request.match_info["id"]
        if job_id not in self.jobs:
            return error(404, "not_found", f"No job {job_id}.")
        return web.json_response(self._job(job_id, await self._state(job_id)))

    async def list_jobs(self, request):
        want = request.query.get("status")
        jobs = [self._job(j, await self._state(j)) for j in reversed(list(self.jobs))]
        return web.json_response({"jobs": [j for j in jobs if not want or j["status"] == want]})

    async def cancel(self, request):
        job_id = request.match_info["id"]
        if job_id not in self.jobs:
            return error(404, "not_found", f"No job {job_id}.")
        await self._comfy("POST", f"/api/jobs/{job_id}/cancel")  # the answer is ignored, as by the proxy
        state = await self._state(job_id)
        if state["status"] == "running":
            state["status"] = "canceling"
        return web.json_response(self._job(job_id, state))

    async def events(self, request):
        job_id = request.match_info["id"]
        if job_id not in self.jobs:
            return error(404, "not_found", f"No job {job_id}.")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        last = None
        while True:
            state = await self._state(job_id)
            if state["status"] != last:
                last = state["status"]
                await resp.write(f"event: status\ndata: {json.dumps({'status': last})}\n\n".encode())
            if last in ("succeeded", "failed", "canceled"):
                for o in state["outputs"]:
                    await resp.write(f"event: output\ndata: {json.dumps(o)}\n\n".encode())
                break
            await asyncio.sleep(0.02)
        return resp

    async def content(self, request):
        ref = self.outputs.get(request.match_info["id"]) or self.assets.get(request.match_info["id"], {}).get("ref")
        if ref is None:
            return error(404, "not_found", "No such asset.")
        if self.cloud_key:  # a fresh signed URL on another host (openapi-v2.yaml, getAssetContent)
            raise web.HTTPFound(f"{self.blob_url}/signed/{request.match_info['id']}?sig={uuid.uuid4().hex}")
        return web.Response(body=self.comfy.files[ref], content_type=mimetypes.guess_type(ref[2])[0] or "image/png")

    async def signed(self, request):
        self.blob_requests.append(dict(request.headers))
        ref = self.outputs.get(request.match_info["id"])
        return web.Response(body=self.comfy.files[ref], content_type=mimetypes.guess_type(ref[2])[0] or "image/png")

    def _asset(self, asset, created_new):
        return {"id": asset["id"], "hash": asset["hash"], "size_bytes": len(asset["data"]),
                "content_type": asset["content_type"], "file_path": asset["file_path"], "created_new": created_new,
                "created_at": asset["created_at"], "url": f"{self.url}/api/v2/assets/{asset['id']}/content",
                "url_expires_at": asset["created_at"]}

    async def upload(self, request):
        post = await request.post()
        f = post.get("file")
        data = f.file.read()
        digest = _blake3(data)
        if post.get("expected_hash") and digest and post["expected_hash"] != digest:
            return error(409, "hash_mismatch", "The bytes do not match expected_hash.")
        name = post.get("file_path") or f.filename
        self.comfy.add_file("input", "", name, data)
        asset = {"id": str(uuid.uuid4()), "hash": digest, "data": data, "file_path": name,
                 "content_type": post.get("content_type") or "application/octet-stream",
                 "created_at": _iso(datetime.now(timezone.utc)), "ref": ("input", "", name)}
        self.assets[asset["id"]] = asset
        return web.json_response(self._asset(asset, True), status=201)

    async def by_hash(self, request):
        known = any(a["hash"] == request.match_info["hash"] for a in self.assets.values())
        return web.Response(status=200 if known else 404)

    async def from_hash(self, request):
        body = await request.json()
        same = next((a for a in self.assets.values() if a["hash"] == body.get("hash")), None)
        if same is None:
            return error(404, "blob_not_found", "No blob the caller may mint from.")
        asset = dict(same, id=str(uuid.uuid4()), file_path=body.get("file_path") or same["file_path"])
        self.assets[asset["id"]] = asset
        return web.json_response(self._asset(asset, False), status=201)


@pytest.fixture(params=["proxy", "cloud"])
def v2_double(request):
    """comfy-api-proxy in front of the ComfyUI double (`proxy`), and Comfy Cloud's v2 (`cloud`, key
    `sk-v2-cloud`): a test taking it runs against both."""
    comfy = ComfyDouble().start()
    v2 = V2Double(comfy, cloud_key="sk-v2-cloud" if request.param == "cloud" else None).start()
    v2.kind = request.param
    try:
        yield v2
    finally:
        v2.stop()
        comfy.stop()

"""Comfy API v2: the versioned contract of Comfy Cloud, Comfy API deployments and comfy-api-proxy.

Shapes and rules from the public specification, Comfy-Org/docs `openapi-v2.yaml` (commit
058ac1602f1acdf18f9be0bdc643660d479b9e5f), checked live against comfy-api-proxy 0.1.6:
- jobs: `POST /api/v2/jobs` (single-use `Idempotency-Key`), `GET` its `urls.self` to poll (the
  truth), `urls.events` for SSE progress, `urls.cancel`;
- outputs are assets whose `url` is followed as given (a signed URL on Cloud: never built);
- inputs are assets (`core/ASSET` references in the workflow), deduplicated by blake3 hash;
- every error is `{"error": {"code", "message", "details"}}`; `errors.py` maps each code.
"""

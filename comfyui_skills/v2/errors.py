"""Every v2 error code as the pack's own exception: one line, what to do next, the exit code."""

from ..errors import CheckFailed, InputError, ServerError

# code -> (exception class, hint); the classes carry the exit codes (errors.py)
HINTS = {
    "invalid_workflow": (CheckFailed, "fix the nodes named above"),
    "workflow_format_ui": (InputError, "the server takes the API format: convert the workflow first"),
    "missing_asset": (CheckFailed, "upload the input again: asset ids are per account and expire"),
    "idempotency_key_reuse": (ServerError, "this submission was already made: list the jobs instead of resending"),
    "queue_full": (ServerError, "the server's queue is full: retry after the time it gave"),
    "deployment_not_ready": (ServerError, "the deployment is starting: retry after the time it gave"),
    "deployment_stopped": (ServerError, "the deployment is stopped: start it again in its dashboard"),
    "insufficient_credits": (ServerError, "the account has no credits left: add credits, then run again"),
    "rate_limited": (ServerError, "too many requests: retry after the time it gave"),
    "too_many_streams": (ServerError, "too many event streams are open: polling still works"),
    "unauthorized": (ServerError, "give the server's API key"),
    "forbidden": (ServerError, "this key may not do that: check the key's account and permissions"),
    "not_found": (ServerError, "the job or asset is unknown, expired, or another account's"),
    "hash_mismatch": (ServerError, "the file changed while it was sent: upload it again"),
    "blob_not_found": (ServerError, None),
    "asset_in_use": (ServerError, "a job still uses this asset"),
    "upstream_error": (ServerError, "the service failed behind its front door: retry later"),
    "upstream_unreachable": (ServerError, "the proxy cannot reach its ComfyUI: is that server running?"),
    "not_implemented": (ServerError, None),
}


def envelope(body):
    """(code, message, details) of a v2 error body, or None when it is not one."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict) or not isinstance(err.get("code"), str):
        return None
    return err["code"], err.get("message") or err["code"], err.get("details") or {}


def raise_for(resp, what, url):
    """Raise the pack's exception for a v2 error answer; return `resp` when it is not one."""
    if resp.status_code < 400:
        return resp
    try:
        body = resp.json()
    except ValueError:
        body = resp.text[:500]
    parsed = envelope(body)
    code, message, details = parsed or (None, f"HTTP {resp.status_code}", {})
    cls, hint = HINTS.get(code, (ServerError, None))
    retry_after = resp.headers.get("Retry-After")
    if retry_after and hint:
        hint = hint.replace("the time it gave", f"{retry_after} s")
    line = f"{what}: {code or 'HTTP ' + str(resp.status_code)}: {message}"
    node_errors = details.get("node_errors") if isinstance(details, dict) else None
    if node_errors:
        line += " (" + "; ".join(_node_error_text(n, e) for n, e in node_errors.items()) + ")"
    extra = {"code": code, "retry_after": int(retry_after) if (retry_after or "").isdigit() else None,
             "node_errors": node_errors or None}
    if cls is ServerError:
        raise ServerError(line, hint=hint, status=resp.status_code, body=body, url=url, **extra)
    raise cls(line, hint=hint, url=url, **extra)


def _node_error_text(node, errors):
    """`node 12: required input missing: model` from either shape v2 servers give: the contract's
    `[{field, reason}]`, or ComfyUI's own `{errors: [{message, details}], class_type}` the proxy
    passes through."""
    if isinstance(errors, dict):
        items = errors.get("errors") or []
        label = f"node {node} ({errors['class_type']})" if errors.get("class_type") else f"node {node}"
        parts = [f"{e.get('message', '')}: {e.get('details', '')}".rstrip(": ") for e in items if isinstance(e, dict)]
        return f"{label}: " + ", ".join(parts)
    if isinstance(errors, list):
        parts = [f"{e.get('field', '')} {e.get('reason', '')}".strip() for e in errors if isinstance(e, dict)]
        return f"node {node}: " + ", ".join(parts)
    return f"node {node}: {errors}"

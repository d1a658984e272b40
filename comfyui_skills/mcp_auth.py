"""The bearer token that lets the MCP server listen beyond loopback.

An ASGI wrapper rather than a route dependency, so that every request (the MCP endpoint, and
whatever the SDK adds beside it) is checked before the SDK sees it.
"""

import hmac


class BearerGate:
    """Answer 401 to any HTTP request whose `Authorization` is not `Bearer <token>`."""

    def __init__(self, app, token):
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and not self._allowed(scope):
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"www-authenticate", b'Bearer realm="comfyui-skills"')]})
            await send({"type": "http.response.body",
                        "body": b'{"error": "unauthorized: send Authorization: Bearer <token>"}'})
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope):
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        # constant time, so the token cannot be guessed a byte at a time from response timings
        return hmac.compare_digest(given, self.expected)

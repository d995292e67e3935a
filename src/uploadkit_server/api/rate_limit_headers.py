"""``X-RateLimit-Limit`` and ``X-RateLimit-Remaining`` on every response of an authenticated
endpoint, errors after authentication included (a ``404`` of a resource, a ``400``).

The ``ApiKeyAuth`` dependency leaves its decision in the request state (``scope["state"]``,
shared with ``request.state``); this middleware adds the headers when the response starts.
Responses without a decision (public endpoints, ``401``) get none.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from uploadkit_server.core.auth.rate_limit import rate_limit_headers
from uploadkit_server.ratelimit.base import RateDecision


class RateLimitHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            decision = state.get("rate_limit")
            if message["type"] == "http.response.start" and isinstance(decision, RateDecision):
                headers = MutableHeaders(scope=message)
                for name, value in rate_limit_headers(decision).items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)

"""Pure-ASGI middleware that must see every request before routing: the HTTPS rule and the
cap on API request bodies. Both answer in the SPEC's error envelope."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from uploadkit_server.api.error_handlers import error_response
from uploadkit_server.errors import HttpsRequired, PayloadTooLarge, ValidationFailed
from uploadkit_server.settings import HttpsRule, IPNetwork

#: JSON bodies of the API are small; the bytes of uploads go to the storage endpoints instead.
MAX_API_BODY_BYTES = 1024 * 1024


def _client_ip(scope: Scope) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    client = scope.get("client")
    if not client:
        return None
    try:
        return ipaddress.ip_address(client[0])
    except ValueError:
        return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class HttpsRuleMiddleware:
    """Refuse plain HTTP with ``403 HTTPS_REQUIRED`` unless exempt.

    ``auto`` exempts loopback clients (local development). A request forwarded by a trusted proxy
    with ``X-Forwarded-Proto: https`` counts as HTTPS, and its scheme is rewritten to ``https``
    so that URLs built from it are right.
    """

    def __init__(self, app: ASGIApp, *, rule: HttpsRule, trusted_proxies: Sequence[IPNetwork]):
        self.app = app
        self.rule = rule
        self.trusted_proxies = list(trusted_proxies)

    def _from_trusted_proxy(self, scope: Scope) -> bool:
        ip = _client_ip(scope)
        return ip is not None and any(ip in network for network in self.trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("scheme") != "https" and self._from_trusted_proxy(scope):
            forwarded = (_header(scope, b"x-forwarded-proto") or "").split(",")[0].strip().lower()
            if forwarded == "https":
                scope = dict(scope, scheme="https")
        if scope.get("scheme") == "https" or self.rule is HttpsRule.FALSE:
            await self.app(scope, receive, send)
            return
        ip = _client_ip(scope)
        if self.rule is HttpsRule.AUTO and ip is not None and ip.is_loopback:
            await self.app(scope, receive, send)
            return
        response = error_response(
            HttpsRequired(
                "All requests must be made over HTTPS. HTTP requests are rejected.",
                suggestion="Use the https:// URL of this server",
            )
        )
        await response(scope, receive, send)


class RejectNulMiddleware:
    """``400`` for a NUL (``%00``) in the path or query: PostgreSQL cannot compare text holding
    one, so it must never reach a query."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            b"%00" in scope.get("raw_path", b"") or b"%00" in scope.get("query_string", b"")
        ):
            error = ValidationFailed("NUL characters are not allowed in URLs")
            await error_response(error)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class ApiBodyLimitMiddleware:
    """Answer ``413`` for API bodies over the cap, whether declared by ``Content-Length`` or
    streamed chunked, without buffering more than the cap."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        prefix: str = "/api/",
        max_bytes: int = MAX_API_BODY_BYTES,
        exempt: tuple[str, ...] = (),
    ):
        self.app = app
        self.prefix = prefix
        self.max_bytes = max_bytes
        #: Paths under ``prefix`` whose bodies are not JSON (tus PATCHes) and are capped there.
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or not path.startswith(self.prefix)
            or (self.exempt and path.startswith(self.exempt))
        ):
            await self.app(scope, receive, send)
            return
        too_large = error_response(PayloadTooLarge(f"Request body exceeds {self.max_bytes} bytes"))
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await too_large(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the app's body parsing, so the app's handlers render it.
                    raise StarletteHTTPException(status_code=413)
            return message

        await self.app(scope, limited_receive, send)

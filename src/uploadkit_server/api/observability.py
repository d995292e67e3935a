"""Pure-ASGI middleware that sees every request: its id, its metrics, its access-log line.

The request id is the ``X-Request-Id`` a trusted proxy sent (``UPLOADKIT_TRUSTED_PROXIES``),
else a new one; it is echoed in the response, set for every log line written while serving the
request, and so in the line that logs an error body. Metrics are labelled with the matched
route's template (``/api/v1/files/{key}``), never the raw path, so their number stays bounded.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import secrets
import time
from collections.abc import Sequence

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from uploadkit_server.observability.logging import request_id_var
from uploadkit_server.observability.metrics import Metrics
from uploadkit_server.observability.redaction import redact_url
from uploadkit_server.settings import IPNetwork

REQUEST_ID_HEADER = "X-Request-Id"
#: What a forwarded id may look like: no room for log injection or huge values.
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_logger = logging.getLogger("uploadkit.access")


class RouteTemplates:
    """The full template (``/api/v1/files/{key}``) of the route a request matched.

    Routers are included lazily, so the route object left in ``scope["route"]`` knows only its
    own part of the path; the full one is looked up in the application's route table, built on
    first use (every route is declared by then)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._templates: dict[int, str] | None = None

    def __call__(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return "unmatched"
        if self._templates is None:
            self._templates = {
                id(context.original_route): context.path_format
                for context in iter_route_contexts(self.app.routes)
                if context.path_format
            }
        template = self._templates.get(id(route)) or getattr(route, "path_format", None)
        return template if isinstance(template, str) else "unmatched"


class ObservabilityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        templates: RouteTemplates,
        trusted_proxies: Sequence[IPNetwork],
        access_log: bool,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.templates = templates
        self.trusted_proxies = list(trusted_proxies)
        self.access_log = access_log

    def _forwarded_id(self, scope: Scope) -> str | None:
        client = scope.get("client")
        try:
            ip = ipaddress.ip_address(client[0]) if client else None
        except ValueError:
            ip = None
        if ip is None or not any(ip in network for network in self.trusted_proxies):
            return None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                candidate = value.decode("latin-1").strip()
                return candidate if _VALID_ID.match(candidate) else None
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self._forwarded_id(scope) or secrets.token_hex(16)
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        received = sent = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def tagging_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, tagging_send)
        finally:
            seconds = time.perf_counter() - started
            route = self.templates(scope)
            self.metrics.observe_request(
                method=scope["method"],
                route=route,
                status=status,
                seconds=seconds,
                received=received,
                sent=sent,
            )
            if self.access_log:
                access_logger.info(
                    "%s %s %s",
                    scope["method"],
                    redact_url(scope.get("path", "")),
                    status,
                    extra={
                        "method": scope["method"],
                        "path": redact_url(scope.get("path", "")),
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 3),
                        "bytes_received": received,
                        "bytes_sent": sent,
                    },
                )
            request_id_var.reset(token)

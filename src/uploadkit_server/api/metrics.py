"""``GET /metrics``: Prometheus text format, for a scraper; guarded by ``UPLOADKIT_METRICS_TOKEN``
(a bearer token) or, without one, by ``UPLOADKIT_METRICS_ALLOW`` (client networks, loopback by
default). No API key: a scraper is not a tenant."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Request, Response

from uploadkit_server.api.deps import RequestRoute, RuntimeDep
from uploadkit_server.clock import utcnow
from uploadkit_server.core.webhooks.service import queue_state
from uploadkit_server.errors import Forbidden, Unauthorized
from uploadkit_server.observability.metrics import CONTENT_TYPE, Metrics, QueueSnapshot
from uploadkit_server.security import signatures_match

router = APIRouter(route_class=RequestRoute, tags=["operations"])


def _check_access(request: Request, runtime: RuntimeDep) -> None:
    settings = runtime.settings
    if settings.metrics_token:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not signatures_match(
            token.strip(), settings.metrics_token
        ):
            raise Unauthorized(
                "Metrics need the metrics token",
                suggestion="Send Authorization: Bearer <UPLOADKIT_METRICS_TOKEN>",
            )
        return
    host = request.client.host if request.client else ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is None or not any(ip in network for network in settings.metrics_allow):
        raise Forbidden(
            "Metrics are not served to this address",
            suggestion="Scrape from an address in UPLOADKIT_METRICS_ALLOW, or set "
            "UPLOADKIT_METRICS_TOKEN",
        )


@router.get("/metrics")
async def metrics(request: Request, runtime: RuntimeDep) -> Response:
    _check_access(request, runtime)
    registry: Metrics = request.app.state.metrics
    async with runtime.sessionmaker() as session:
        depth, oldest_due = await queue_state(session, now=utcnow())
    queue = QueueSnapshot(depth=depth, oldest_due_seconds=oldest_due)
    return Response(registry.render(queue), media_type=CONTENT_TYPE)

"""``GET /healthz`` (liveness) and ``GET /readyz`` (readiness), for load balancers and process
supervisors; no key, no rate limit.

``healthz`` says the process answers and its database does. ``readyz`` says it can serve: the
database, Redis (when configured) and the storage backend all answer; otherwise ``503`` with
the failing ones in ``details``.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from redis.asyncio import Redis

from uploadkit_server.api.deps import RequestRoute, RuntimeDep
from uploadkit_server.db.session import ping
from uploadkit_server.errors import UploadKitError

router = APIRouter(route_class=RequestRoute, tags=["health"])

#: Seconds each readiness check may take: a probe must answer before its own timeout.
CHECK_TIMEOUT = 2.0
#: A key no upload has (keys start with a project id): looking it up only proves storage answers.
PROBE_KEY = "readyz/probe"


class NotReady(UploadKitError):
    code, status = "NOT_READY", 503


@router.get("/healthz")
async def health(runtime: RuntimeDep) -> dict[str, str]:
    await ping(runtime.engine)
    return {"status": "ok"}


async def _redis(url: str) -> None:
    client = Redis.from_url(url, socket_timeout=CHECK_TIMEOUT, socket_connect_timeout=CHECK_TIMEOUT)
    try:
        await client.ping()
    finally:
        await client.aclose()


@router.get("/readyz")
async def ready(runtime: RuntimeDep) -> dict[str, object]:
    checks = {"database": ping(runtime.engine), "storage": runtime.storage.head(PROBE_KEY)}
    if runtime.settings.redis_url:
        checks["redis"] = _redis(runtime.settings.redis_url)
    results: dict[str, str] = {}
    failures: dict[str, list[str]] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, CHECK_TIMEOUT)
            results[name] = "ok"
        except Exception as error:  # any failure is "not ready", reported by name
            failures[name] = [f"{type(error).__name__}: {error}"[:300]]
    if failures:
        raise NotReady(
            f"Not ready: {', '.join(sorted(failures))} unreachable",
            suggestion="Check the listed services; the process itself is alive (see /healthz)",
            details=failures,
        )
    return {"status": "ok", "checks": results}

"""A minimal authenticated endpoint pair mounted on the real app, for tests of what every
authenticated endpoint shares (authentication, rate limiting, its headers), independent of any
one domain's endpoints. ``create_probe_app`` is also a uvicorn factory for server processes."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from uploadkit_server.api.deps import ApiKeyAuth
from uploadkit_server.app import API_PREFIX, create_app
from uploadkit_server.errors import NotFound
from uploadkit_server.settings import Settings

PROBE_PATH = f"{API_PREFIX}/_probe"

probe_router = APIRouter()


@probe_router.get("/_probe")
async def whoami(auth: ApiKeyAuth) -> dict[str, str]:
    return {"keyId": auth.key_id, "mode": auth.mode}


@probe_router.get("/_probe/missing")
async def missing(auth: ApiKeyAuth) -> dict[str, str]:
    raise NotFound(f"No such thing for {auth.key_id}")


def with_probe(app: FastAPI) -> FastAPI:
    app.include_router(probe_router, prefix=API_PREFIX)
    return app


def create_probe_app(settings: Settings | None = None) -> FastAPI:
    return with_probe(create_app(settings))

"""``GET /healthz``: for load balancers and process supervisors; no key, no rate limit."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from uploadkit_server.api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def health(runtime: RuntimeDep) -> dict[str, str]:
    async with runtime.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return {"status": "ok"}

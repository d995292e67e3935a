"""``/usage``: the account's usage in the key's mode, and the tier's limits."""

from __future__ import annotations

from fastapi import APIRouter

from uploadkit_server.api.deps import ApiKeyAuth, RequestRoute, SessionDep
from uploadkit_server.core.schemas import Items
from uploadkit_server.core.usage import service
from uploadkit_server.core.usage.schemas import UsageMonthRead, UsageRead

router = APIRouter(route_class=RequestRoute, tags=["usage"])


@router.get("/usage")
async def get_usage(auth: ApiKeyAuth, session: SessionDep) -> UsageRead:
    return await service.current_usage(session, auth)


@router.get("/usage/history")
async def get_usage_history(
    auth: ApiKeyAuth, session: SessionDep, limit: int | None = None
) -> Items[UsageMonthRead]:
    return Items(items=await service.usage_history(session, auth, months=limit))

"""``/logs``: upload events of the key's project and mode, for polling."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from uploadkit_server.api.deps import ApiKeyAuth, RequestRoute, SessionDep
from uploadkit_server.core.logs import service
from uploadkit_server.core.logs.schemas import EventPage

router = APIRouter(route_class=RequestRoute, tags=["logs"])


@router.get("/logs")
async def poll_logs(
    auth: ApiKeyAuth,
    session: SessionDep,
    since: datetime | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> EventPage:
    return await service.poll_events(session, auth, since=since, limit=limit, cursor=cursor)

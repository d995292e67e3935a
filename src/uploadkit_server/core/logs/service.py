"""Upload events (uploaded, failed, deleted) of the key's project and mode, oldest first, for
polling: start with ``since`` (a time), then pass back ``nextCursor`` to get only what is new.
Events are ordered by insertion, so events written in the same millisecond keep their order and
a cursor never repeats or skips one that was already visible."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.core.auth.context import AuthContext
from uploadkit_server.core.logs import repository
from uploadkit_server.core.logs.schemas import EventPage, UploadEventRead
from uploadkit_server.core.pagination import decode_cursor, encode_cursor, page_request


async def poll_events(
    session: AsyncSession,
    auth: AuthContext,
    *,
    since: datetime | None,
    limit: int | None,
    cursor: str | None,
) -> EventPage:
    size = page_request(limit=limit, cursor=None).limit
    after_pk = decode_cursor(cursor) if cursor else None
    rows = await repository.events_after(
        session,
        project_id=auth.project_id,
        is_test=auth.is_test,
        since=since,
        after_pk=after_pk,
        limit=size + 1,
    )
    events = rows[:size]
    if events:
        next_cursor: str | None = encode_cursor(events[-1].pk)
    else:
        next_cursor = cursor
    return EventPage(
        items=[
            UploadEventRead(
                event=event.event,
                file_id=event.file_id,
                key=event.file_key,
                detail=event.detail,
                created_at=event.created_at,
            )
            for event in events
        ],
        next_cursor=next_cursor,
        has_more=len(rows) > size,
    )

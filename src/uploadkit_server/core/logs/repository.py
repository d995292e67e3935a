"""Upload events in insertion order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.db.models import UploadEvent


async def events_after(
    session: AsyncSession,
    *,
    project_id: str,
    is_test: bool,
    since: datetime | None,
    after_pk: int | None,
    limit: int,
) -> list[UploadEvent]:
    query = select(UploadEvent).where(
        UploadEvent.project_id == project_id, UploadEvent.is_test == is_test
    )
    if since is not None:
        query = query.where(UploadEvent.created_at >= since)
    if after_pk is not None:
        query = query.where(UploadEvent.pk > after_pk)
    return list(await session.scalars(query.order_by(UploadEvent.pk).limit(limit)))

"""All SQL of ``upload_events``: written by the upload flow and deletions, read in insertion
order by ``GET /logs``, purged with old test-mode files."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.db.models import File, UploadEvent


def record_event(session: AsyncSession, file: File, event: str, detail: str | None = None) -> None:
    """Add the event to the session: it is written with the file's own change, at the next
    flush, and committed or rolled back with it."""
    session.add(
        UploadEvent(
            project_id=file.project_id,
            is_test=file.is_test,
            event=event,
            file_id=file.id,
            file_key=file.key,
            detail=detail,
        )
    )


async def delete_test_events(session: AsyncSession, *, created_before: datetime) -> None:
    await session.execute(
        delete(UploadEvent).where(
            UploadEvent.is_test.is_(True), UploadEvent.created_at < created_before
        )
    )


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

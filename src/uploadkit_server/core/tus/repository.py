"""Rows of ``tus_uploads``: lookups, the per-upload lease, and the expiry sweep.

The lease is what makes one upload's successive PATCHes safe across server processes: a PATCH
takes it in a short transaction (the row is locked, ``SELECT … FOR UPDATE`` on PostgreSQL, the
database write lock on SQLite), streams its body with no transaction open, renews it while the
body lasts, and gives it back when it records the new offset. A holder that died loses it when
``locked_until`` passes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.db.models import File, TusUpload
from uploadkit_server.db.session import affected_rows


async def get(
    session: AsyncSession, *, upload_id: str, project_id: str, is_test: bool, for_update: bool
) -> TusUpload | None:
    query = select(TusUpload).where(
        TusUpload.id == upload_id,
        TusUpload.project_id == project_id,
        TusUpload.is_test == is_test,
    )
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def file_of(session: AsyncSession, upload: TusUpload) -> File | None:
    if upload.file_id is None:
        return None
    return await session.scalar(select(File).where(File.id == upload.file_id))


async def renew_lease(
    session: AsyncSession, *, upload_id: str, token: str, until: datetime
) -> bool:
    """Extend the lease if ``token`` still holds it; ``False`` if it was lost."""
    result = await session.execute(
        update(TusUpload)
        .where(TusUpload.id == upload_id, TusUpload.lock_token == token)
        .values(locked_until=until)
    )
    return affected_rows(result) > 0


async def release_lease(session: AsyncSession, *, upload_id: str, token: str) -> None:
    await session.execute(
        update(TusUpload)
        .where(TusUpload.id == upload_id, TusUpload.lock_token == token)
        .values(lock_token=None, locked_until=None)
    )


async def claim_expired(session: AsyncSession, *, now: datetime, limit: int) -> list[TusUpload]:
    """Incomplete uploads past their expiry and not being written to; rows another process is
    already sweeping are skipped, not waited for."""
    rows = await session.scalars(
        select(TusUpload)
        .where(
            TusUpload.completed_at.is_(None),
            TusUpload.expires_at < now,
            or_(TusUpload.locked_until.is_(None), TusUpload.locked_until < now),
        )
        .order_by(TusUpload.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows)


async def delete_completed_before(session: AsyncSession, *, before: datetime) -> int:
    """Forget completed uploads whose resume window has passed (their files stay)."""
    result = await session.execute(
        delete(TusUpload).where(TusUpload.completed_at.is_not(None), TusUpload.expires_at < before)
    )
    return affected_rows(result)


async def open_storage_uploads(session: AsyncSession, *, keys: list[str]) -> set[tuple[str, str]]:
    """``(key, storage upload id)`` of the tus uploads among ``keys`` still receiving bytes.

    A deferred-length upload has no file row naming its multipart upload until its length is
    declared, so the sweep of orphaned multipart uploads asks here too."""
    found: set[tuple[str, str]] = set()
    for start in range(0, len(keys), 500):  # keep the IN list within every database's limits
        rows = await session.execute(
            select(TusUpload.key, TusUpload.storage_upload_id).where(
                TusUpload.key.in_(keys[start : start + 500]),
                TusUpload.completed_at.is_(None),
                TusUpload.storage_upload_id.is_not(None),
            )
        )
        found.update((key, upload_id) for key, upload_id in rows if upload_id)
    return found


async def add(session: AsyncSession, upload: TusUpload) -> None:
    """Insert the new upload now (its id is what the client is sent)."""
    session.add(upload)
    await session.flush()


async def forget(session: AsyncSession, uploads: list[TusUpload]) -> None:
    """Delete the uploads' rows (their files are the upload flow's)."""
    for upload in uploads:
        await session.delete(upload)

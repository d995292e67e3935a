"""All SQL of idempotency keys: one row per (API key hash, Idempotency-Key)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.db.models import IdempotencyKey


async def claim(
    session: AsyncSession, *, scope: str, key: str, fingerprint: str, now: datetime
) -> IdempotencyKey | None:
    """Insert the in-progress row; ``None`` if it was inserted, else the row already there
    (the unique constraint decides between concurrent requests, in any process)."""
    try:
        async with session.begin_nested():
            session.add(
                IdempotencyKey(scope=scope, key=key, fingerprint=fingerprint, created_at=now)
            )
        return None
    except IntegrityError:
        pass
    row = await session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    )
    return row


async def forget(session: AsyncSession, *, scope: str, key: str) -> None:
    await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    )


async def store(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    status: int,
    content_type: str | None,
    body: str,
) -> None:
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        .values(status=status, content_type=content_type, body=body)
    )


async def purge_before(session: AsyncSession, cutoff: datetime) -> None:
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))

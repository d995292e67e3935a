"""Idempotency keys older than 24 hours are deleted: past that, a retry runs again."""

from __future__ import annotations

from datetime import datetime

from uploadkit_server.core.idempotency.service import purge_expired
from uploadkit_server.runtime import Runtime


async def purge_idempotency_keys(runtime: Runtime, *, now: datetime | None = None) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        await purge_expired(session, now=now)

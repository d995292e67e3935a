"""Deleting expired client tokens: they are refused from their expiry on, so their rows only
take space (``core/client_tokens``). One statement per run, on the ``expires_at`` index."""

from __future__ import annotations

import logging
from datetime import datetime

from uploadkit_server.clock import utcnow
from uploadkit_server.core.client_tokens.repository import delete_expired
from uploadkit_server.runtime import Runtime

logger = logging.getLogger("uploadkit.jobs.client_token_purge")


async def purge_expired_client_tokens(runtime: Runtime, *, now: datetime | None = None) -> int:
    async with runtime.sessionmaker() as session, session.begin():
        count = await delete_expired(session, now=now or utcnow())
    if count:
        logger.info("deleted %d expired client tokens", count)
    return count

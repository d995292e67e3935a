"""Purging webhook deliveries, in batches, each batch in its own transaction:

- test-mode deliveries go with the sandbox: those older than ``UPLOADKIT_TEST_MODE_TTL`` seconds
  are deleted with their attempts (a delivery's retries end within the retry schedule, far
  sooner than the TTL);
- finished deliveries of either mode (delivered or dead) whose last change is older than
  ``UPLOADKIT_WEBHOOK_RETENTION`` seconds (default 30 days; 0 keeps them) are deleted with their
  attempts. Pending and failed ones (a retry is scheduled) are never purged, however old; a
  redelivery makes a delivery pending again and restarts its clock.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.clock import utcnow
from uploadkit_server.core.webhooks.repository import (
    purge_finished_deliveries,
    purge_test_deliveries,
)
from uploadkit_server.runtime import Runtime

logger = logging.getLogger("uploadkit.jobs.webhook_purge")

BATCH = 500


async def _in_batches(runtime: Runtime, purge: Callable[[AsyncSession], Awaitable[int]]) -> int:
    total = 0
    while True:
        async with runtime.sessionmaker() as session, session.begin():
            count = await purge(session)
        total += count
        if count < BATCH:
            return total


async def purge_test_mode_deliveries(runtime: Runtime, *, now: datetime | None = None) -> int:
    cutoff = (now or utcnow()) - timedelta(seconds=runtime.settings.test_mode_ttl)
    total = await _in_batches(
        runtime,
        lambda session: purge_test_deliveries(session, created_before=cutoff, limit=BATCH),
    )
    if total:
        logger.info("purged %d test-mode webhook deliveries", total)
    return total


async def purge_expired_deliveries(runtime: Runtime, *, now: datetime | None = None) -> int:
    """Finished deliveries past ``webhook_retention``; returns how many were deleted."""
    retention = runtime.settings.webhook_retention
    if retention == 0:
        return 0
    cutoff = (now or utcnow()) - timedelta(seconds=retention)
    total = await _in_batches(
        runtime,
        lambda session: purge_finished_deliveries(session, finished_before=cutoff, limit=BATCH),
    )
    if total:
        logger.info("purged %d finished webhook deliveries past their retention", total)
    return total

"""Test-mode webhook deliveries go with the sandbox: those older than ``UPLOADKIT_TEST_MODE_TTL``
seconds are deleted with their attempts, in batches, each batch in its own transaction. (A
delivery's retries end within the retry schedule, far sooner than the TTL.)"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from uploadkit_server.clock import utcnow
from uploadkit_server.core.webhooks.repository import purge_test_deliveries
from uploadkit_server.runtime import Runtime

logger = logging.getLogger("uploadkit.jobs.webhook_purge")

BATCH = 500


async def purge_test_mode_deliveries(runtime: Runtime, *, now: datetime | None = None) -> int:
    cutoff = (now or utcnow()) - timedelta(seconds=runtime.settings.test_mode_ttl)
    total = 0
    while True:
        async with runtime.sessionmaker() as session, session.begin():
            count = await purge_test_deliveries(session, created_before=cutoff, limit=BATCH)
        total += count
        if count < BATCH:
            break
    if total:
        logger.info("purged %d test-mode webhook deliveries", total)
    return total

"""Empty the sandbox: test-mode files older than ``UPLOADKIT_TEST_MODE_TTL`` seconds go, objects
included, in batches, each batch in its own transaction. Safe in several processes at once:
rows another process holds are skipped."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from uploadkit_server.clock import utcnow
from uploadkit_server.core.files.service import purge_test_files
from uploadkit_server.runtime import Runtime

logger = logging.getLogger("uploadkit.jobs.test_mode_purge")

BATCH = 200


async def purge_test_mode(runtime: Runtime, *, now: datetime | None = None) -> int:
    cutoff = (now or utcnow()) - timedelta(seconds=runtime.settings.test_mode_ttl)
    total = 0
    while True:
        async with runtime.sessionmaker() as session, session.begin():
            count = await purge_test_files(
                session, runtime.storage, created_before=cutoff, limit=BATCH
            )
        total += count
        if count < BATCH:
            break
    if total:
        logger.info("purged %d test-mode files", total)
    return total

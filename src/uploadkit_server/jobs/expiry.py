"""Fail uploads abandoned past their URL lifetime plus the grace period, and clean storage."""

from __future__ import annotations

import logging

from uploadkit_server.clock import utcnow
from uploadkit_server.core.uploads.service import UploadService
from uploadkit_server.runtime import Runtime

logger = logging.getLogger("uploadkit.jobs.expiry")


async def expire_abandoned_uploads(runtime: Runtime) -> int:
    total = 0
    while True:
        async with runtime.sessionmaker() as session, session.begin():
            service = UploadService(session, storage=runtime.storage, settings=runtime.settings)
            count = await service.expire_abandoned(now=utcnow())
        total += count
        if count < 100:
            break
    if total:
        logger.info("expired %d abandoned uploads", total)
    return total

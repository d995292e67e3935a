"""Remove incomplete tus uploads past ``Upload-Expires``, with the bytes their store holds."""

from __future__ import annotations

import logging

from uploadkit_server.core.tus.service import TusService
from uploadkit_server.runtime import Runtime

logger = logging.getLogger("uploadkit.jobs.tus_expiry")


async def expire_tus_uploads(runtime: Runtime) -> int:
    if runtime.tus_store is None:
        return 0
    service = TusService(
        runtime.sessionmaker,
        store=runtime.tus_store,
        storage=runtime.storage,
        settings=runtime.settings,
    )
    total = 0
    while True:
        count = await service.expire()
        total += count
        if count < 100:
            break
    if total:
        logger.info("removed %d expired tus uploads", total)
    return total

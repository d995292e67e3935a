"""Abort multipart uploads the bucket holds but no upload record tracks any more.

The expiry job cleans every upload it has a row for. This sweep catches the rest: an upload
started in storage whose request then failed before its row committed, one whose abort failed
after its row was marked FAILED, one whose project was deleted meanwhile. Only object stores
that list their multipart uploads (``capabilities.multipart_listing``) take part (S3); for the
others the sweep does nothing.

An upload is swept only when it is older than a part URL's lifetime plus the grace period and
no row in flight names it (a file row, or the tus upload row of one whose length is still
deferred), so an upload being resumed (its row keeps it) is never touched, and
several processes sweeping at once only abort the same orphans twice, which is harmless.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from uploadkit_server.core.tus.repository import open_storage_uploads
from uploadkit_server.core.uploads.repository import open_multipart_uploads
from uploadkit_server.core.uploads.schemas import PART_URL_LIFETIME_SECONDS
from uploadkit_server.jobs.storage_sweep import SERVER_KEY_PREFIX, StorageSweep
from uploadkit_server.runtime import Runtime

logger = logging.getLogger("uploadkit.jobs.orphaned_multipart")


class OrphanedMultipartSweep(StorageSweep):
    """Returns how many multipart uploads it aborted."""

    __name__ = "abort_orphaned_multipart_uploads"

    async def sweep(self, runtime: Runtime, now: datetime) -> int:
        storage = runtime.storage
        listing = storage.capabilities.multipart_listing
        if listing is None:
            return 0
        cutoff = now - timedelta(
            seconds=PART_URL_LIFETIME_SECONDS + runtime.settings.upload_grace_period
        )
        stale = await listing.multipart_uploads(prefix=SERVER_KEY_PREFIX, started_before=cutoff)
        if not stale:
            return 0
        async with runtime.sessionmaker() as session:
            keys = [u.key for u in stale]
            tracked = await open_multipart_uploads(session, keys=keys)
            tracked |= await open_storage_uploads(session, keys=keys)
        orphans = [u for u in stale if (u.key, u.upload_id) not in tracked]
        for upload in orphans:
            await storage.abort_multipart(upload.key, upload_id=upload.upload_id)
        if orphans:
            logger.info("aborted %d orphaned multipart uploads", len(orphans))
        return len(orphans)

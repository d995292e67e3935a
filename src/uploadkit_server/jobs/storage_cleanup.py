"""Remove what crashed or killed processes left in storage, which no file record points at.

- Local storage: temporary files of uploads that never finished writing.
- S3: multipart uploads whose file record never committed (a crash between
  CreateMultipartUpload and the commit). Uploads that an open file record still owns are left
  alone however old they are, since re-signing parts keeps a resumable upload alive.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from uploadkit_server.clock import utcnow
from uploadkit_server.core.uploads.repository import open_multipart_upload_ids
from uploadkit_server.core.uploads.schemas import PART_URL_LIFETIME_SECONDS
from uploadkit_server.runtime import Runtime
from uploadkit_server.storage.local import LocalStorage
from uploadkit_server.storage.s3 import S3Storage

logger = logging.getLogger("uploadkit.jobs.storage_cleanup")

#: Far longer than any upload stays silent: a receiving upload touches its file on every write.
STALE_TEMP_AGE = 24 * 3600


async def remove_stale_temp_files(runtime: Runtime) -> int:
    storage = runtime.storage
    if isinstance(storage, LocalStorage):
        removed = await storage.remove_stale_temp_files(older_than=STALE_TEMP_AGE)
    elif isinstance(storage, S3Storage):
        removed = await abort_orphaned_multipart_uploads(runtime, storage)
    else:
        return 0
    if removed:
        logger.info("removed %d leftovers from storage", removed)
    return removed


async def abort_orphaned_multipart_uploads(runtime: Runtime, storage: S3Storage) -> int:
    # Older than any upload whose record could still be about to commit.
    cutoff = utcnow() - timedelta(
        seconds=PART_URL_LIFETIME_SECONDS + runtime.settings.upload_grace_period
    )
    candidates = await storage.list_multipart_uploads(started_before=cutoff)
    if not candidates:
        return 0
    async with runtime.sessionmaker() as session:
        owned = await open_multipart_upload_ids(session, [upload_id for _, upload_id in candidates])
    orphans = [(key, upload_id) for key, upload_id in candidates if upload_id not in owned]
    for key, upload_id in orphans:
        await storage.abort_multipart(key, upload_id=upload_id)
    return len(orphans)

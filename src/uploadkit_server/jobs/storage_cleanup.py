"""Remove temporary files that crashed or killed server processes left in local storage.

(Multipart uploads an S3 bucket holds with no record are swept by ``orphaned_multipart``.)
"""

from __future__ import annotations

import logging

from uploadkit_server.runtime import Runtime

logger = logging.getLogger("uploadkit.jobs.storage_cleanup")

#: Far longer than any upload stays silent: a receiving upload touches its file on every write.
STALE_TEMP_AGE = 24 * 3600


async def remove_stale_temp_files(runtime: Runtime) -> int:
    temporary_files = runtime.storage.capabilities.temporary_files
    if temporary_files is None:
        return 0  # the backend keeps no temporary files (S3)
    removed = await temporary_files.remove_stale_temp_files(older_than=STALE_TEMP_AGE)
    if removed:
        logger.info("removed %d stale temporary files from storage", removed)
    return removed

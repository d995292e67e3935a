"""Remove stored objects that no live file record names (issue 12, finding 1).

Every object under a project's keys belongs to a file that is in flight (``UPLOADING``) or
stored (``UPLOADED``). Anything else is an orphan: bytes PUT to an old S3 URL after the file was
deleted or failed (a conditional write only refuses to overwrite an object that exists), a PUT
still streaming when its file was deleted, a delete that failed after its row committed, a
project removed meanwhile. Orphans are not counted in anyone's storage, and the CDN does not
serve them; this sweep removes them on every backend that can list its objects
(``capabilities.object_listing``: local, S3).

An object is removed only when it was last written more than ``UPLOADKIT_ORPHAN_OBJECT_AGE``
seconds ago (default one hour) and, at that moment, no live row names its key. Since a PUT can
only start while its URL is valid, an orphan is gone at most the URL lifetime plus that age plus
one sweep interval after its URL was signed. Only keys starting with ``proj_`` are looked at,
so a shared bucket's other objects (and image variants, tus tails) are never touched; several
processes sweeping at once only delete the same orphans twice, which is harmless.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from uploadkit_server.core.uploads.repository import live_keys
from uploadkit_server.jobs.storage_sweep import SERVER_KEY_PREFIX, StorageSweep
from uploadkit_server.runtime import Runtime

logger = logging.getLogger("uploadkit.jobs.orphaned_objects")


class OrphanedObjectSweep(StorageSweep):
    """Returns how many objects it removed."""

    __name__ = "remove_orphaned_objects"

    async def sweep(self, runtime: Runtime, now: datetime) -> int:
        storage = runtime.storage
        listing = storage.capabilities.object_listing
        if listing is None:
            return 0
        cutoff = now - timedelta(seconds=runtime.settings.orphan_object_age)
        removed = 0
        async for keys in listing.stored_keys(prefix=SERVER_KEY_PREFIX, modified_before=cutoff):
            async with runtime.sessionmaker() as session:
                live = await live_keys(session, keys=keys)
            orphans = [key for key in keys if key not in live]
            if orphans:
                await storage.delete_many(orphans)
                removed += len(orphans)
        if removed:
            logger.info("removed %d stored objects no live file names", removed)
        return removed

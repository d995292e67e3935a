"""Whether storage may take bytes for an object key at all (issue 12, finding 1).

A presigned URL proves the server signed a PUT; it cannot know what happened since. Bytes are
accepted only while the file is still waiting for them: once it is completed, deleted, aborted,
failed or expired, a PUT to its old URL would replace verified bytes behind the record's back,
or store an object no record counts (around the storage quota). The local storage endpoint
asks this before it reads a byte of the body; S3 URLs are guarded by a conditional write
instead (``storage/s3.py``), and the orphan sweep removes whatever slips through a race.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.core.uploads.repository import waiting_for_bytes


async def accepts_bytes(session: AsyncSession, *, key: str, upload_id: str | None = None) -> bool:
    """True while the file at ``key`` waits for a single PUT (``upload_id`` ``None``) or for
    parts of the multipart upload ``upload_id``."""
    return await waiting_for_bytes(session, key=key, upload_id=upload_id)

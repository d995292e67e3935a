"""File records for tests that presign storage URLs directly, without the upload API.

The storage endpoint takes bytes only for a file still waiting for them, and the CDN serves only
``UPLOADED`` files (issue 12 finding 1), so a test that works with the storage layer itself
first records the file its key belongs to, as ``/upload/request`` or ``/multipart/init`` would.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from uploadkit_server.clock import utcnow
from uploadkit_server.core.accounts.service import create_account
from uploadkit_server.db.models import File, FileStatus
from uploadkit_server.security import new_id


async def record_file(
    sessionmaker: async_sessionmaker[AsyncSession],
    key: str,
    *,
    upload_id: str | None = None,
    status: FileStatus = FileStatus.UPLOADING,
    size: int = 1,
    content_type: str = "application/octet-stream",
) -> str:
    """A file at ``key`` (of a fresh account), waiting for its bytes by default; its id."""
    async with sessionmaker() as session, session.begin():
        owner = await create_account(session, email=f"{secrets.token_hex(6)}@example.com")
        file = File(
            id=new_id("file"),
            project_id=owner.project.id,
            account_id=owner.account.id,
            route_slug="files",
            key=key,
            file_name=key.rsplit("/", 1)[-1] or "file",
            file_size=size,
            content_type=content_type,
            status=status,
            upload_id=upload_id,
            metadata_={},
            expires_at=utcnow() + timedelta(hours=1),
        )
        session.add(file)
    return file.id


async def ensure_waiting(
    sessionmaker: async_sessionmaker[AsyncSession], key: str, *, upload_id: str | None = None
) -> None:
    """The file at ``key`` waits for bytes of this kind (recorded now if there is none)."""
    async with sessionmaker() as session, session.begin():
        changed = await session.execute(
            update(File)
            .where(File.key == key)
            .values(status=FileStatus.UPLOADING, upload_id=upload_id)
        )
    if not changed.rowcount:  # type: ignore[attr-defined]
        await record_file(sessionmaker, key, upload_id=upload_id)


async def set_status(
    sessionmaker: async_sessionmaker[AsyncSession], key: str, status: FileStatus
) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(update(File).where(File.key == key).values(status=status))


async def set_upload_id(
    sessionmaker: async_sessionmaker[AsyncSession], key: str, upload_id: str
) -> None:
    """Make the file at ``key`` a multipart upload (one ``create_multipart`` started)."""
    async with sessionmaker() as session, session.begin():
        await session.execute(update(File).where(File.key == key).values(upload_id=upload_id))


def sessionmaker_for(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def file_row(sessionmaker: async_sessionmaker[AsyncSession], file_id: str) -> File:
    """The file's record as stored now."""
    async with sessionmaker() as session:
        file = await session.scalar(select(File).where(File.id == file_id))
        assert file is not None
        return file

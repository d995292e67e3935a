"""File rows as the upload flow needs them: locked for the state changes of complete/abort."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.db.driver import DriverStatement
from uploadkit_server.db.models import File, FileStatus

#: Attribute name -> column (``metadata_`` is stored in ``metadata``).
_COLUMN_OF = {attribute.key: attribute.columns[0] for attribute in inspect(File).column_attrs}


@cache
def _insert_file(names: tuple[str, ...]) -> DriverStatement:
    """The ``INSERT`` of a file row giving these attributes (the others take their defaults)."""
    return DriverStatement(
        lambda _dialect: insert(File).values({_COLUMN_OF[name]: bindparam(name) for name in names})
    )


async def insert_file(session: AsyncSession, values: dict[str, Any]) -> None:
    """A new file row from its attribute values, as one ``INSERT`` on the driver connection of
    the session's transaction (``db/driver.py``): it runs on every presign. The row is not in
    the session: read it back with a query if the same transaction needs it as an object."""
    await _insert_file(tuple(values)).rows(session, values)


async def add_file(session: AsyncSession, file: File) -> None:
    """Insert the new file through the ORM, for flows that go on changing it as an object."""
    session.add(file)
    await session.flush()


async def get_upload_for_update(
    session: AsyncSession, *, file_id: str, project_id: str, is_test: bool
) -> File | None:
    """The file of this project and mode, row-locked (PostgreSQL) until the transaction ends.

    On SQLite the transaction already holds the database write lock (``BEGIN IMMEDIATE``).
    """
    return await session.scalar(
        select(File)
        .where(File.id == file_id, File.project_id == project_id, File.is_test == is_test)
        .with_for_update()
    )


async def claim_abandoned(session: AsyncSession, *, before: datetime, limit: int) -> list[File]:
    """Uploads still in flight whose URLs expired before ``before``; rows another process is
    already cleaning are skipped, not waited for."""
    rows = await session.scalars(
        select(File)
        .where(File.status == FileStatus.UPLOADING, File.expires_at < before)
        .order_by(File.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows)


async def waiting_for_bytes(session: AsyncSession, *, key: str, upload_id: str | None) -> bool:
    """Whether the file at ``key`` is still in flight and takes bytes of this kind: a single
    PUT (``upload_id`` ``None``) or a part of the multipart upload ``upload_id``."""
    upload_match = File.upload_id.is_(None) if upload_id is None else File.upload_id == upload_id
    found = await session.scalar(
        select(File.pk).where(File.key == key, File.status == FileStatus.UPLOADING, upload_match)
    )
    return found is not None


async def live_keys(session: AsyncSession, *, keys: list[str]) -> set[str]:
    """Those of ``keys`` that a file in flight or stored still names (not failed or deleted)."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):  # keep the IN list within every database's limits
        rows = await session.scalars(
            select(File.key).where(
                File.key.in_(keys[start : start + 500]),
                File.status.in_([FileStatus.UPLOADING, FileStatus.UPLOADED]),
            )
        )
        found.update(rows)
    return found


async def open_multipart_uploads(session: AsyncSession, *, keys: list[str]) -> set[tuple[str, str]]:
    """``(key, upload_id)`` of the multipart uploads among ``keys`` that are still in flight."""
    found: set[tuple[str, str]] = set()
    for start in range(0, len(keys), 500):  # keep the IN list within every database's limits
        rows = await session.execute(
            select(File.key, File.upload_id).where(
                File.key.in_(keys[start : start + 500]),
                File.status == FileStatus.UPLOADING,
                File.upload_id.is_not(None),
            )
        )
        found.update((key, upload_id) for key, upload_id in rows if upload_id)
    return found

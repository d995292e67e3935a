"""File rows as the management endpoints need them.

Reads that precede a change lock the rows they read (``FOR UPDATE``, a no-op on SQLite, whose
``BEGIN IMMEDIATE`` already serialises writers), so a delete racing a complete or another delete
releases a reservation exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Executable, Integer, Select, bindparam, delete, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.clock import utcnow
from uploadkit_server.db.driver import DriverStatement
from uploadkit_server.db.models import File, FileStatus

#: Rows per ``DELETE … WHERE pk IN (…)``: well under every driver's bound-parameter limit.
DELETE_CHUNK = 1000

#: Statuses a listing can show: deleted files are never listed.
LISTED_STATUSES = (FileStatus.UPLOADING, FileStatus.UPLOADED, FileStatus.FAILED)


def _scoped(project_id: str, is_test: bool) -> Select[File]:
    return select(File).where(File.project_id == project_id, File.is_test == is_test)


@dataclass(frozen=True, slots=True)
class ListedFile:
    """A file as a listing shows it: its columns only. A page holds up to a hundred, so rows
    are read as plain tuples, without the ORM's per-row identity and state bookkeeping."""

    pk: int
    id: str
    key: str
    file_name: str
    file_size: int
    content_type: str
    status: str
    route_slug: str
    metadata_: dict[str, Any]
    sha256: str | None
    detected_type: str | None
    created_at: datetime
    updated_at: datetime


#: In ``ListedFile``'s field order.
_LISTED_COLUMNS = (
    File.pk,
    File.id,
    File.key,
    File.file_name,
    File.file_size,
    File.content_type,
    File.status,
    File.route_slug,
    File.metadata_,
    File.sha256,
    File.detected_type,
    File.created_at,
    File.updated_at,
)


def _newest_of_status(index: int, *, by_route: bool, before: bool) -> Select[Any]:
    """Newest first, one status: a range scan of ``ix_files_listing`` at any depth."""
    query = select(*_LISTED_COLUMNS).where(
        File.project_id == bindparam("p_project_id"),
        File.is_test == bindparam("p_is_test"),
        File.status == bindparam(f"p_status_{index}"),
    )
    if by_route:
        query = query.where(File.route_slug == bindparam("p_route_slug"))
    if before:
        query = query.where(File.pk < bindparam("p_before_pk"))
    return query.order_by(File.pk.desc()).limit(bindparam("p_limit", type_=Integer))


@cache
def _newest(*, statuses: int, by_route: bool, before: bool) -> DriverStatement:
    """The listing query, built once per shape and run on the driver connection
    (``db/driver.py``): it runs on every listing request.

    Several statuses are one statement: each status's newest ``limit`` rows (an index range
    scan each, as deep pages need) united and cut to the newest ``limit`` overall. A single
    ``status IN (…)`` scan would have to sort the whole project instead."""
    return DriverStatement(
        lambda _dialect: _newest_query(statuses=statuses, by_route=by_route, before=before)
    )


def _newest_query(*, statuses: int, by_route: bool, before: bool) -> Select[Any]:
    if statuses == 1:
        return _newest_of_status(0, by_route=by_route, before=before)
    branches = [
        select(*_newest_of_status(index, by_route=by_route, before=before).subquery().c)
        for index in range(statuses)
    ]
    united = union_all(*branches).subquery()
    return select(*united.c).order_by(united.c.pk.desc()).limit(bindparam("p_limit", type_=Integer))


async def list_newest(
    session: AsyncSession,
    *,
    project_id: str,
    is_test: bool,
    statuses: Sequence[str],
    route_slug: str | None,
    before_pk: int | None,
    limit: int,
) -> list[ListedFile]:
    """The newest ``limit`` files in any of ``statuses``, newest first, in one statement."""
    query = _newest(
        statuses=len(statuses), by_route=route_slug is not None, before=before_pk is not None
    )
    params: dict[str, Any] = {
        "p_project_id": project_id,
        "p_is_test": is_test,
        "p_route_slug": route_slug,
        "p_before_pk": before_pk,
        "p_limit": limit,
    }
    params.update({f"p_status_{index}": status for index, status in enumerate(statuses)})
    return [ListedFile(*row) for row in await query.rows(session, params)]


async def find_by_key(
    session: AsyncSession, *, project_id: str, is_test: bool, key: str, lock: bool = False
) -> File | None:
    """The file at ``key`` in this project and mode, unless deleted."""
    query = _scoped(project_id, is_test).where(File.key == key, File.status != FileStatus.DELETED)
    if lock:
        query = query.with_for_update()
    file: File | None = await session.scalar(query)
    return file


async def find_by_keys(
    session: AsyncSession, *, project_id: str, is_test: bool, keys: Sequence[str]
) -> dict[str, File]:
    query = (
        _scoped(project_id, is_test)
        .where(File.key.in_(keys), File.status != FileStatus.DELETED)
        .order_by(File.pk)
        .with_for_update()
    )
    return {file.key: file for file in await session.scalars(query)}


@dataclass(frozen=True, slots=True)
class FileTrace:
    """What removing a file outright needs to know: where its bytes are, what it holds."""

    pk: int
    key: str
    status: str
    upload_id: str | None
    account_id: str
    is_test: bool
    reserved_bytes: int
    reserved_month: str | None


_TRACE_COLUMNS = (
    File.pk,
    File.key,
    File.status,
    File.upload_id,
    File.account_id,
    File.is_test,
    File.reserved_bytes,
    File.reserved_month,
)


async def _traces(session: AsyncSession, query: Executable) -> list[FileTrace]:
    return [FileTrace(*row) for row in (await session.execute(query)).all()]


async def lock_files_of_project(session: AsyncSession, project_id: str) -> list[FileTrace]:
    """Every file of the project that may still hold an object, a multipart upload or a
    reservation (all but the deleted ones), locked. Columns only: a project may hold many."""
    query = (
        select(*_TRACE_COLUMNS)
        .where(File.project_id == project_id, File.status != FileStatus.DELETED)
        .order_by(File.pk)
        .with_for_update()
    )
    return await _traces(session, query)


async def lock_expired_test_files(
    session: AsyncSession, *, created_before: datetime, limit: int
) -> list[FileTrace]:
    """Test files older than the sandbox's time to live. Rows another process is purging are
    skipped rather than waited for (PostgreSQL ``SKIP LOCKED``)."""
    query = (
        select(*_TRACE_COLUMNS)
        .where(File.is_test.is_(True), File.created_at < created_before)
        .order_by(File.pk)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return await _traces(session, query)


async def delete_rows(session: AsyncSession, file_pks: Sequence[int]) -> None:
    for start in range(0, len(file_pks), DELETE_CHUNK):
        chunk = file_pks[start : start + DELETE_CHUNK]
        await session.execute(
            delete(File).where(File.pk.in_(chunk)), execution_options={"synchronize_session": False}
        )


async def stored_owner(session: AsyncSession, key: str) -> tuple[str, bool] | None:
    """Account and mode of the stored (``UPLOADED``) file at ``key``, for served-bytes usage."""
    row = (
        await session.execute(
            select(File.account_id, File.is_test).where(
                File.key == key, File.status == FileStatus.UPLOADED
            )
        )
    ).first()
    return None if row is None else (row.account_id, row.is_test)


async def route_slug_of(session: AsyncSession, *, project_id: str, file_id: str) -> str | None:
    """The slug of the route the project's file ``file_id`` was uploaded through."""
    return await session.scalar(
        select(File.route_slug).where(File.id == file_id, File.project_id == project_id)
    )


async def set_metadata(session: AsyncSession, file: File, metadata: dict[str, Any]) -> None:
    file.metadata_ = metadata
    file.updated_at = utcnow()
    await session.flush()

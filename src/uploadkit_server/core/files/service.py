"""Files of the caller's project and mode: list, get, update metadata, delete.

Every lookup is scoped by project and by mode (live or test key), so a key never sees or touches
another project's or the other mode's files: a file outside the scope is simply not found.

Deletion order: the database change is made (and flushed) first, then the object is removed from
storage, and the request's transaction commits last. If storage fails, the transaction rolls back
and the record still points at whatever is left, so retrying finishes the job; an object is never
left behind by a committed delete.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.clock import utcnow
from uploadkit_server.core.auth.context import AuthContext
from uploadkit_server.core.files import repository
from uploadkit_server.core.files.repository import FileTrace, ListedFile
from uploadkit_server.core.logs import repository as events_repository
from uploadkit_server.core.pagination import PageRequest, encode_cursor
from uploadkit_server.core.transforms.service import remove_variants
from uploadkit_server.core.usage import quota
from uploadkit_server.db.models import File, FileStatus
from uploadkit_server.errors import NotFound, UploadKitError, ValidationFailed
from uploadkit_server.storage.base import StorageBackend

#: Storage calls in flight at once when many objects go (project delete, test-mode purge).
STORAGE_CONCURRENCY = 16


@dataclass(frozen=True, slots=True)
class FilePage:
    files: list[ListedFile]
    next_cursor: str | None
    has_more: bool


@dataclass(frozen=True, slots=True)
class BulkDeleteResult:
    key: str
    error: UploadKitError | None = None

    @property
    def deleted(self) -> bool:
        return self.error is None


def parse_status(value: str | None) -> tuple[str, ...]:
    """The statuses a listing covers: the one asked for, or every listable one."""
    if value is None:
        return tuple(repository.LISTED_STATUSES)
    status = value.strip().upper()
    if status not in repository.LISTED_STATUSES:
        allowed = ", ".join(repository.LISTED_STATUSES)
        raise ValidationFailed(
            f"status must be one of {allowed}", details={"status": [f"must be one of {allowed}"]}
        )
    return (status,)


async def list_files(
    session: AsyncSession,
    auth: AuthContext,
    *,
    page: PageRequest,
    status: str | None = None,
    route_slug: str | None = None,
) -> FilePage:
    """Newest first; without a status filter, every listable status (one statement that is
    still an index range scan per status, so a deep page costs what the first one does)."""
    rows = await repository.list_newest(
        session,
        project_id=auth.project_id,
        is_test=auth.is_test,
        statuses=parse_status(status),
        route_slug=route_slug,
        before_pk=page.before_pk,
        limit=page.limit + 1,
    )
    has_more = len(rows) > page.limit
    files = rows[: page.limit]
    next_cursor = encode_cursor(files[-1].pk) if has_more and files else None
    return FilePage(files=files, next_cursor=next_cursor, has_more=has_more)


async def get_file(
    session: AsyncSession, auth: AuthContext, *, key: str, lock: bool = False
) -> File:
    file = await repository.find_by_key(
        session, project_id=auth.project_id, is_test=auth.is_test, key=key, lock=lock
    )
    if file is None:
        raise NotFound(f"No file with key {key!r}")
    return file


def merge_metadata(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Top-level merge: keys in ``patch`` replace existing ones; a ``null`` value removes a key
    (as in JSON Merge Patch, RFC 7396, one level deep)."""
    merged = dict(current)
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


async def update_metadata(
    session: AsyncSession, auth: AuthContext, *, key: str, metadata: dict[str, Any]
) -> File:
    file = await get_file(session, auth, key=key, lock=True)
    await repository.set_metadata(session, file, merge_metadata(file.metadata_ or {}, metadata))
    return file


async def remove_objects(storage: StorageBackend, files: Iterable[File | FileTrace]) -> None:
    """Remove what storage holds for each file: its multipart upload if one may still be open
    (few: only uploads in flight), then every object in batches. Both are no-ops on what is
    already gone."""
    files = list(files)
    gate = asyncio.Semaphore(STORAGE_CONCURRENCY)

    async def abort(key: str, upload_id: str) -> None:
        async with gate:
            await storage.abort_multipart(key, upload_id=upload_id)

    await asyncio.gather(
        *(
            abort(file.key, file.upload_id)
            for file in files
            if file.upload_id is not None and file.status == FileStatus.UPLOADING
        )
    )
    await storage.delete_many([file.key for file in files])


async def _mark_deleted(session: AsyncSession, file: File) -> None:
    await quota.release_reservation(session, file)
    now = utcnow()
    file.status = FileStatus.DELETED
    file.deleted_at = now
    file.updated_at = now
    events_repository.record_event(session, file, "deleted")


async def delete_file(
    session: AsyncSession, auth: AuthContext, *, storage: StorageBackend, key: str
) -> None:
    file = await get_file(session, auth, key=key, lock=True)
    await _mark_deleted(session, file)
    await session.flush()
    await remove_variants(session, storage, [file.pk])  # image transform variants go too
    await remove_objects(storage, [file])


async def delete_files(
    session: AsyncSession, auth: AuthContext, *, storage: StorageBackend, keys: Sequence[str]
) -> list[BulkDeleteResult]:
    """Delete each key independently; the result says, per key in the order given, whether it
    was deleted or why not. A key given twice is deleted once and reported as not found after."""
    found = await repository.find_by_keys(
        session, project_id=auth.project_id, is_test=auth.is_test, keys=list(dict.fromkeys(keys))
    )
    results: list[BulkDeleteResult] = []
    removed: list[File] = []
    for key in keys:
        file = found.pop(key, None)
        if file is None:
            results.append(BulkDeleteResult(key, NotFound(f"No file with key {key!r}")))
            continue
        await _mark_deleted(session, file)
        removed.append(file)
        results.append(BulkDeleteResult(key))
    await session.flush()
    await remove_variants(session, storage, [file.pk for file in removed])
    await remove_objects(storage, removed)
    return results


async def discard_files(
    session: AsyncSession,
    storage: StorageBackend,
    files: Sequence[FileTrace],
    *,
    delete_rows: bool = True,
) -> None:
    """Remove files outright (project deletion, test-mode purge): give back what they held, in
    one update per account and mode, delete the records (unless a cascade will), then remove
    the objects. The caller has locked the rows."""
    await quota.release_reservations(session, files)
    await remove_variants(session, storage, [file.pk for file in files])
    if delete_rows:
        await repository.delete_rows(session, [file.pk for file in files])
    await remove_objects(storage, files)


async def purge_test_files(
    session: AsyncSession, storage: StorageBackend, *, created_before: datetime, limit: int
) -> int:
    """Remove up to ``limit`` test-mode files created before ``created_before``, objects and
    records alike, and, once none are left, the test-mode upload events of the same age.
    Returns how many files went; the caller repeats while it gets ``limit``."""
    files = await repository.lock_expired_test_files(
        session, created_before=created_before, limit=limit
    )
    await discard_files(session, storage, files)
    if len(files) < limit:
        await events_repository.delete_test_events(session, created_before=created_before)
    return len(files)

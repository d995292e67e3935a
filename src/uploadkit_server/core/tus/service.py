"""The tus protocol's rules over the upload model: create, append, report, terminate, expire.

A tus upload becomes a file exactly as the REST flow makes one: creation runs
``UploadService.open_upload`` (route, type, size, tier and quota checks; the file record
``UPLOADING`` with its reservations), and the last byte runs ``UploadService.complete_upload``
(verification, content sniffing, ``UPLOADED``, usage, the ``onUploadComplete`` webhook).

Unlike the other services this one opens its own transactions: one PATCH spans several (take
the lease, renew it, record the offset, complete), and none may stay open while the body
streams, or SQLite's write lock and a PostgreSQL connection would be held for the whole upload.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
import pydantic
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from uploadkit_server.clock import utcnow
from uploadkit_server.core.auth.context import AuthContext
from uploadkit_server.core.tiers import limits_for
from uploadkit_server.core.tus import repository
from uploadkit_server.core.tus.errors import (
    ChecksumMismatch,
    OffsetMismatch,
    UploadExpired,
    UploadLocked,
)
from uploadkit_server.core.tus.schemas import TusMetadata
from uploadkit_server.core.tus.store import (
    ChunkChecksum,
    ChunkChecksumMismatch,
    ChunkTooLong,
    FinishedObject,
    StoredUploadGone,
    TusStore,
)
from uploadkit_server.core.uploads.object_keys import build_object_key
from uploadkit_server.core.uploads.schemas import UploadRequest
from uploadkit_server.core.uploads.service import UploadService
from uploadkit_server.db.models import File, FileStatus, TusUpload
from uploadkit_server.db.session import unit_of_work
from uploadkit_server.errors import (
    PayloadTooLarge,
    UploadKitError,
    UploadNotFound,
    ValidationFailed,
)
from uploadkit_server.security import new_id, random_token
from uploadkit_server.settings import Settings
from uploadkit_server.storage.base import StorageBackend

#: A PATCH holds its upload's lease this long without renewing it; a dead holder's lease lapses.
LEASE_SECONDS = 30.0
#: While a body streams, the lease is renewed this often.
RENEW_EVERY_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class TusStatus:
    """What the tus headers report about an upload, and its file once complete."""

    upload: TusUpload
    file: File | None


def _request(metadata: TusMetadata, size: int, user: dict[str, str]) -> UploadRequest:
    """The ``/upload/request`` body this upload amounts to, validated the same way."""
    try:
        return UploadRequest(
            file_name=metadata.file_name,
            file_size=size,
            content_type=metadata.content_type,
            route_slug=metadata.route_slug,
            metadata=dict(user),
        )
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first.get("loc", ())) or "Upload-Metadata"
        names = {"file_name": "filename", "content_type": "filetype", "file_size": "Upload-Length"}
        field = names.get(field, field)
        raise ValidationFailed(
            f"Invalid {field}: {first['msg']}", details={field: [str(first["msg"])]}
        ) from None


def _metadata_of(upload: TusUpload) -> TusMetadata:
    return TusMetadata(
        file_name=upload.file_name,
        content_type=upload.content_type,
        route_slug=upload.route_slug,
        user=dict(upload.metadata_ or {}),
    )


class TusService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        store: TusStore,
        storage: StorageBackend,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.store = store
        self.storage = storage
        self.settings = settings
        self.clock = clock
        self.monotonic = monotonic

    def _uploads(self, session: AsyncSession) -> UploadService:
        return UploadService(session, storage=self.storage, settings=self.settings)

    def _expiry(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.settings.tus_upload_lifetime)

    # -- creation ----------------------------------------------------------------------------

    async def create(
        self,
        auth: AuthContext,
        *,
        length: int | None,
        metadata: TusMetadata,
        raw_metadata: str | None,
    ) -> TusUpload:
        """A new upload (``length`` ``None``: deferred). With a length, every check of
        ``/upload/request`` runs now; without, the route and type now and the rest when the
        length arrives."""
        request = _request(metadata, 1 if length is None else length, metadata.user)
        ref: str | None = None
        try:
            async with unit_of_work(self.sessionmaker) as session:
                uploads = self._uploads(session)
                now = self.clock()
                file: File | None = None
                lifetime = self.settings.tus_upload_lifetime
                if length is not None:
                    file = await uploads.open_upload(auth, body=request, lifetime=lifetime)
                    key = file.key
                else:
                    await uploads.check_route(
                        auth, route_slug=request.route_slug, content_type=request.content_type
                    )
                    key = build_object_key(
                        project_id=auth.project_id,
                        route_slug=request.route_slug,
                        is_test=auth.is_test,
                        file_name=request.file_name,
                    )
                handle = await self.store.create(key=key, content_type=request.content_type)
                ref = handle.ref
                if file is not None:
                    file.upload_id = handle.storage_upload_id
                upload = TusUpload(
                    id=new_id("tus"),
                    project_id=auth.project_id,
                    account_id=auth.account_id,
                    is_test=auth.is_test,
                    file_id=file.id if file is not None else None,
                    route_slug=request.route_slug,
                    file_name=request.file_name,
                    content_type=request.content_type,
                    metadata_=dict(metadata.user),
                    raw_metadata=raw_metadata,
                    upload_length=length,
                    upload_offset=0,
                    key=key,
                    store_ref=ref,
                    storage_upload_id=handle.storage_upload_id,
                    expires_at=self._expiry(now),
                    created_at=now,
                    updated_at=now,
                )
                await repository.add(session, upload)
        except BaseException:
            if ref is not None:
                with anyio.CancelScope(shield=True):
                    await self.store.discard(ref)
            raise
        return upload

    # -- status ------------------------------------------------------------------------------

    async def _alive(
        self, session: AsyncSession, auth: AuthContext, upload_id: str, *, for_update: bool
    ) -> tuple[TusUpload, File | None]:
        upload = await repository.get(
            session,
            upload_id=upload_id,
            project_id=auth.project_id,
            is_test=auth.is_test,
            for_update=for_update,
        )
        if upload is None:
            raise UploadNotFound(f"No tus upload {upload_id}")
        file = await repository.file_of(session, upload)
        if file is not None and file.status in (FileStatus.FAILED, FileStatus.DELETED):
            raise UploadNotFound(f"Upload {upload_id} was {file.failure_reason or 'deleted'}")
        if upload.completed_at is None and upload.expires_at <= self.clock():
            raise UploadExpired(
                f"Upload {upload_id} expired at {upload.expires_at.isoformat()}",
                suggestion="Start a new upload",
            )
        return upload, file

    async def status(self, auth: AuthContext, upload_id: str) -> TusStatus:
        async with unit_of_work(self.sessionmaker) as session:
            upload, file = await self._alive(session, auth, upload_id, for_update=False)
            return TusStatus(upload=upload, file=file)

    # -- appending ---------------------------------------------------------------------------

    async def append(
        self,
        auth: AuthContext,
        upload_id: str,
        *,
        offset: int,
        length: int | None,
        checksum: ChunkChecksum | None,
        chunks: AsyncIterable[bytes],
    ) -> TusStatus:
        """Write the body at ``offset``; complete the upload when its last byte arrives."""
        token = random_token(16)
        async with unit_of_work(self.sessionmaker) as session:
            upload, file = await self._alive(session, auth, upload_id, for_update=True)
            if upload.completed_at is not None:
                if offset != upload.upload_offset:
                    raise OffsetMismatch(f"Upload {upload_id} is complete")
                return TusStatus(upload=upload, file=file)
            if offset != upload.upload_offset:
                raise OffsetMismatch(
                    f"Upload-Offset {offset} differs from the {upload.upload_offset} bytes "
                    "received",
                    suggestion="Send HEAD to learn the offset, then resume from it",
                )
            now = self.clock()
            if upload.locked_until is not None and upload.locked_until > now:
                raise UploadLocked(f"Upload {upload_id} is being written by another request")
            if length is not None:
                file = await self._declare_length(session, auth, upload, length)
            upload.lock_token = token
            upload.locked_until = now + timedelta(seconds=LEASE_SECONDS)
            upload.expires_at = self._expiry(now)
            if file is not None:
                file.expires_at = upload.expires_at
            remaining = (
                upload.upload_length - offset
                if upload.upload_length is not None
                else limits_for(auth.tier).max_file_size - offset
            )
            ref = upload.store_ref

        try:
            kept = await self.store.append(
                ref,
                offset=offset,
                chunks=self._renewing(chunks, upload_id, token),
                max_bytes=max(remaining, 0),
                checksum=checksum,
            )
        except BaseException as error:
            with anyio.CancelScope(shield=True):
                async with unit_of_work(self.sessionmaker) as session:
                    await repository.release_lease(session, upload_id=upload_id, token=token)
            if isinstance(error, ChunkChecksumMismatch):
                raise ChecksumMismatch(
                    f"The body does not match its Upload-Checksum; its bytes were discarded "
                    f"(offset stays {offset})",
                    suggestion="Send the chunk again",
                ) from None
            if isinstance(error, ChunkTooLong):
                raise PayloadTooLarge(
                    f"The body runs past Upload-Length: {remaining} bytes remained"
                ) from None
            if isinstance(error, StoredUploadGone):
                raise UploadNotFound(f"The bytes of upload {upload_id} are gone") from None
            raise

        async with unit_of_work(self.sessionmaker) as session:
            upload, file = await self._leased(session, auth, upload_id, token)
            upload.upload_offset = offset + kept
            done = upload.upload_length is not None and upload.upload_offset >= upload.upload_length
            if not done:
                upload.lock_token = None
                upload.locked_until = None
                return TusStatus(upload=upload, file=file)
        return await self._complete(auth, upload_id, token)

    async def _declare_length(
        self, session: AsyncSession, auth: AuthContext, upload: TusUpload, length: int
    ) -> File | None:
        """``Upload-Length`` on a PATCH: fixes a deferred length and admits the upload."""
        if upload.upload_length is not None:
            if length != upload.upload_length:
                raise ValidationFailed(
                    f"Upload-Length {length} differs from the {upload.upload_length} declared",
                    details={"Upload-Length": ["cannot change once set"]},
                )
            return await repository.file_of(session, upload)
        if length < upload.upload_offset:
            raise ValidationFailed(
                f"Upload-Length {length} is less than the {upload.upload_offset} bytes received",
                details={"Upload-Length": ["smaller than the bytes already received"]},
            )
        request = _request(_metadata_of(upload), length, dict(upload.metadata_ or {}))
        file = await self._uploads(session).open_upload(
            auth, body=request, lifetime=self.settings.tus_upload_lifetime
        )
        # The store was started for the key chosen at creation: the file takes it.
        file.key = upload.key
        file.upload_id = upload.storage_upload_id
        await session.flush()
        upload.upload_length = length
        upload.file_id = file.id
        return file

    async def _renewing(
        self, chunks: AsyncIterable[bytes], upload_id: str, token: str
    ) -> AsyncIterator[bytes]:
        last = self.monotonic()
        async for chunk in chunks:
            yield chunk
            if self.monotonic() - last >= RENEW_EVERY_SECONDS:
                last = self.monotonic()
                until = self.clock() + timedelta(seconds=LEASE_SECONDS)
                async with unit_of_work(self.sessionmaker) as session:
                    held = await repository.renew_lease(
                        session, upload_id=upload_id, token=token, until=until
                    )
                if not held:
                    raise UploadLocked(f"Upload {upload_id} was taken over by another request")

    async def _leased(
        self, session: AsyncSession, auth: AuthContext, upload_id: str, token: str
    ) -> tuple[TusUpload, File | None]:
        upload = await repository.get(
            session,
            upload_id=upload_id,
            project_id=auth.project_id,
            is_test=auth.is_test,
            for_update=True,
        )
        if upload is None:
            raise UploadNotFound(f"Upload {upload_id} was terminated meanwhile")
        if upload.lock_token != token:
            raise UploadLocked(f"Upload {upload_id} was taken over by another request")
        return upload, await repository.file_of(session, upload)

    async def _complete(self, auth: AuthContext, upload_id: str, token: str) -> TusStatus:
        """Place the bytes in storage, then complete the file as ``/upload/complete`` does.
        Whatever fails, the lease is given back, so that the client's retry is not locked out."""
        try:
            return await self._finish_leased(auth, upload_id, token)
        except BaseException:
            with anyio.CancelScope(shield=True):
                async with unit_of_work(self.sessionmaker) as session:
                    await repository.release_lease(session, upload_id=upload_id, token=token)
            raise

    async def _finish_leased(self, auth: AuthContext, upload_id: str, token: str) -> TusStatus:
        async with unit_of_work(self.sessionmaker) as session:
            upload, file = await self._leased(session, auth, upload_id, token)
        assert file is not None and upload.upload_length is not None
        finished: FinishedObject | None
        try:
            finished = await self.store.finish(
                upload.store_ref,
                key=file.key,
                content_type=file.content_type,
                size=upload.upload_length,
            )
        except StoredUploadGone:
            finished = None  # placed by a request that died before recording it: verify it
        async with unit_of_work(self.sessionmaker) as session:
            upload, file = await self._leased(session, auth, upload_id, token)
            assert file is not None
            if finished is not None:
                file.sha256 = finished.sha256
            file.upload_id = None  # the store's multipart upload is the object now
            await session.flush()
            try:
                file = await self._uploads(session).complete_upload(
                    auth, file_id=file.id, metadata=None
                )
            except UploadKitError as error:
                if error.keeps_changes:  # FAILED (not verified, type refused): forget the upload
                    await repository.forget(session, [upload])
                raise
            upload.completed_at = self.clock()
            upload.lock_token = None
            upload.locked_until = None
            return TusStatus(upload=upload, file=file)

    # -- termination and expiry --------------------------------------------------------------

    async def terminate(self, auth: AuthContext, upload_id: str) -> None:
        """tus termination: the upload and its bytes are removed, its reservations released."""
        async with unit_of_work(self.sessionmaker) as session:
            upload, file = await self._alive(session, auth, upload_id, for_update=True)
            if upload.locked_until is not None and upload.locked_until > self.clock():
                raise UploadLocked(f"Upload {upload_id} is being written by another request")
            if upload.completed_at is not None:
                raise ValidationFailed(
                    f"Upload {upload_id} is complete; delete its file with DELETE /files/{{key}}"
                )
            if file is not None and file.status == FileStatus.UPLOADING:
                await self._uploads(session).abort_upload(auth, file_id=file.id)
            ref = upload.store_ref
            await repository.forget(session, [upload])
        await self.store.discard(ref)

    async def expire(self, *, limit: int = 100) -> int:
        """Remove incomplete uploads past ``Upload-Expires`` and their bytes; returns how many.

        Their files (``UPLOADING``, with the same expiry) are failed and their reservations
        released by the upload expiry job after the grace period, as for any abandoned upload.
        Completed uploads are forgotten once their resume window passes (files stay).
        """
        now = self.clock()
        async with unit_of_work(self.sessionmaker) as session:
            expired = await repository.claim_expired(session, now=now, limit=limit)
            refs = [upload.store_ref for upload in expired]
            await repository.forget(session, expired)
            await repository.delete_completed_before(session, before=now)
        for ref in refs:
            await self.store.discard(ref)
        return len(refs)

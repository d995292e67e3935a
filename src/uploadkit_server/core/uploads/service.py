"""The upload flow: request a presigned URL, the client PUTs, complete verifies.

Validation order on request (SPEC): body schema → route exists → type allowed → size → quotas.
Complete is idempotent: a file already ``UPLOADED`` is returned as it is, nothing counted twice.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.clock import month_of, utcnow
from uploadkit_server.core.auth.context import AuthContext
from uploadkit_server.core.client_tokens import service as client_tokens
from uploadkit_server.core.client_tokens.service import ClientGrant
from uploadkit_server.core.file_routes.repository import RouteRules, get_by_slug
from uploadkit_server.core.file_routes.schemas import TypeCheck
from uploadkit_server.core.files.schemas import file_url
from uploadkit_server.core.logs import repository as events_repository
from uploadkit_server.core.mime import type_allowed
from uploadkit_server.core.tiers import limits_for
from uploadkit_server.core.uploads import checksums, content_check, repository
from uploadkit_server.core.uploads.object_keys import build_object_key
from uploadkit_server.core.uploads.schemas import (
    PART_URL_LIFETIME_SECONDS,
    URL_LIFETIME_SECONDS,
    MultipartComplete,
    MultipartParts,
    MultipartTicket,
    PartUrl,
    SignedParts,
    SignParts,
    StoredPartRead,
    UploadBatchRequest,
    UploadBatchTicket,
    UploadRequest,
    UploadTicket,
)
from uploadkit_server.core.usage import quota
from uploadkit_server.core.usage import repository as usage_repository
from uploadkit_server.core.webhooks.outbox import queue_upload_complete
from uploadkit_server.db.models import FailureReason, File, FileStatus
from uploadkit_server.errors import (
    ChecksumMismatch,
    FileTooLarge,
    FileTypeMismatch,
    FileTypeNotAllowed,
    NotFound,
    UploadIncomplete,
    UploadNotFound,
    UploadNotVerified,
    ValidationFailed,
    upgrade_hint,
)
from uploadkit_server.security import new_id
from uploadkit_server.settings import Settings
from uploadkit_server.storage import base as storage_base
from uploadkit_server.storage.base import InvalidParts, ObjectNotFound, PartETag, StorageBackend
from uploadkit_server.storage.multipart_rules import MAX_PART_NUMBER, MIN_PART_SIZE

MIB = 1024 * 1024


def choose_part_size(file_size: int) -> int:
    """At least 5 MiB, whole MiB, and few enough parts to stay within 10,000."""
    size = max(MIN_PART_SIZE, math.ceil(file_size / MAX_PART_NUMBER))
    return math.ceil(size / MIB) * MIB


def part_count(file_size: int, part_size: int) -> int:
    return max(1, math.ceil(file_size / part_size))


def part_length(file_size: int, part_size: int, part_number: int) -> int:
    return min(part_size, file_size - (part_number - 1) * part_size)


class UploadService:
    """The upload flow for one request's session. Every caller method takes the caller's
    ``auth`` and, for a browser with a client token, its ``grant``: the token's route, size,
    budget and fixed metadata apply on top of the API's own rules, here and nowhere else."""

    def __init__(
        self, session: AsyncSession, *, storage: StorageBackend, settings: Settings
    ) -> None:
        self.session = session
        self.storage = storage
        self.settings = settings

    # -- request -------------------------------------------------------------------------

    async def check_route(
        self, auth: AuthContext, *, route_slug: str, content_type: str
    ) -> RouteRules:
        """The route exists and allows the type: the first checks of a request, alone (a tus
        upload whose length is not known yet gets these at creation and the rest later)."""
        route = await get_by_slug(self.session, auth.project_id, route_slug)
        if route is None:
            raise NotFound(f"File route '{route_slug}' not found in this project")
        if not type_allowed(content_type, route.allowed_types):
            allowed = ", ".join(route.allowed_types)
            raise FileTypeNotAllowed(
                f"Content type {content_type} is not allowed by route '{route.slug}' "
                f"(allowed: {allowed})"
            )
        return route

    async def _admit(self, auth: AuthContext, body: UploadRequest) -> RouteRules:
        """Route, type, size and quota checks, in the SPEC's order; reserves quota on success."""
        route = await self._check(auth, body)
        await self._reserve(auth, body)
        return route

    async def _check(self, auth: AuthContext, body: UploadRequest) -> RouteRules:
        """Route, type and size checks, which read but change nothing."""
        route = await self.check_route(
            auth, route_slug=body.route_slug, content_type=body.content_type
        )
        tier_max = limits_for(auth.tier).max_file_size
        limit = min(route.max_file_size, tier_max)
        if body.file_size > limit:
            raise FileTooLarge(
                f"File size {body.file_size} bytes exceeds the {limit} byte limit",
                suggestion=(
                    upgrade_hint(self.settings.billing_url)
                    if tier_max <= route.max_file_size
                    else f"Raise maxFileSize of route '{route.slug}'"
                ),
            )
        return route

    async def _reserve(self, auth: AuthContext, body: UploadRequest) -> None:
        """The monthly upload slot and the storage bytes, or ``TierLimitExceeded``."""
        await quota.reserve_upload(
            self.session,
            account_id=auth.account_id,
            tier=auth.tier,
            is_test=auth.is_test,
            size=body.file_size,
            month=month_of(utcnow()),
            billing_url=self.settings.billing_url,
        )

    def _new_file_values(
        self, auth: AuthContext, body: UploadRequest, route: RouteRules, *, lifetime: int
    ) -> dict[str, Any]:
        """The columns of a new file row in flight, by attribute name."""
        now = utcnow()
        return {
            "id": new_id("file"),
            "project_id": auth.project_id,
            "account_id": auth.account_id,
            "route_id": route.id,
            "route_slug": route.slug,
            "is_test": auth.is_test,
            "key": build_object_key(
                project_id=auth.project_id,
                route_slug=route.slug,
                is_test=auth.is_test,
                file_name=body.file_name,
            ),
            "file_name": body.file_name,
            "file_size": body.file_size,
            "content_type": body.content_type,
            "status": FileStatus.UPLOADING,
            "metadata_": dict(body.metadata or {}),
            "reserved_bytes": body.file_size,
            "reserved_month": month_of(now),
            "expires_at": now + timedelta(seconds=lifetime),
            "created_at": now,
            "updated_at": now,
        }

    def cdn_url(self, key: str) -> str:
        return file_url(self.settings.effective_cdn_url, key)

    async def _admit_client(self, grant: ClientGrant | None, body: UploadRequest) -> UploadRequest:
        """The body as a client token lets it through (budget taken, fixed metadata laid over);
        unchanged for an API key."""
        if grant is None:
            return body
        return await client_tokens.admit_request(self.session, grant, body)

    async def _check_client_file(self, grant: ClientGrant | None, file_id: str) -> None:
        if grant is not None:
            await client_tokens.check_file(self.session, grant, file_id)

    async def _client_completion(
        self, grant: ClientGrant | None, file_id: str, metadata: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """A completion as a client token lets it through: only an upload of its own route, with
        the token's fixed metadata laid over what was sent; unchanged for an API key."""
        if grant is None:
            return metadata
        await client_tokens.check_file(self.session, grant, file_id)
        return client_tokens.fixed_metadata(grant, metadata)

    async def request_upload(
        self, auth: AuthContext, *, body: UploadRequest, grant: ClientGrant | None = None
    ) -> UploadTicket:
        return await self._presign(auth, await self._admit_client(grant, body))

    async def _presign(self, auth: AuthContext, body: UploadRequest) -> UploadTicket:
        checksum = checksums.check_supported(self.storage, body.checksum)
        route = await self._check(auth, body)
        # Inserted as one Core statement: nothing else in the request reads or changes the
        # row, so the ORM's unit of work would only add bookkeeping to every presign.
        values = self._new_file_values(auth, body, route, lifetime=URL_LIFETIME_SECONDS)
        values["checksum"] = checksums.encode(checksum) if checksum is not None else None
        await repository.insert_file(self.session, values)
        url = await self.storage.presign_put(
            values["key"],
            content_type=body.content_type,
            content_length=body.file_size,
            expires_in=URL_LIFETIME_SECONDS,
            checksum=checksum,
            create_only=True,
        )
        # Last before the commit: every presign of an account updates the same two rows, so
        # their row locks (PostgreSQL) are held for as short a time as possible. A refusal
        # rolls the file row back with the rest.
        await self._reserve(auth, body)
        return UploadTicket(
            file_id=values["id"],
            key=values["key"],
            upload_url=url,
            cdn_url=self.cdn_url(values["key"]),
            upload_headers=self.storage.put_headers(create_only=True, checksum=checksum) or None,
        )

    async def request_batch(
        self, auth: AuthContext, *, body: UploadBatchRequest, grant: ClientGrant | None = None
    ) -> UploadBatchTicket:
        """Several files for one route in one request, as UploadKit counts ``maxFileCount``:
        files per request. More than the route allows is refused before anything is checked
        or reserved; otherwise each file is admitted as ``request_upload`` admits one, and
        the first refusal (type, size, quota: the whole batch counts against the quota)
        rolls back the request's transaction, so no file of the batch exists."""
        route_slug = body.route_slug
        bodies = [await self._admit_client(grant, one) for one in body.requests()]
        route = await get_by_slug(self.session, auth.project_id, route_slug)
        if route is None:
            raise NotFound(f"File route '{route_slug}' not found in this project")
        if len(bodies) > route.max_file_count:
            raise ValidationFailed(
                f"Route '{route.slug}' accepts at most {route.max_file_count} files per request; "
                f"this one has {len(bodies)}",
                details={"files": [f"at most {route.max_file_count} files"]},
                suggestion="Send fewer files per request, or raise the route's maxFileCount",
            )
        return UploadBatchTicket(files=[await self._presign(auth, one) for one in bodies])

    async def open_upload(self, auth: AuthContext, *, body: UploadRequest, lifetime: int) -> File:
        """Admit an upload whose bytes arrive another way than a presigned URL (tus): the same
        checks and reservations as ``request_upload``, the same file record, no URL."""
        route = await self._admit(auth, body)
        file = File(**self._new_file_values(auth, body, route, lifetime=lifetime))
        await repository.add_file(self.session, file)
        return file

    async def init_multipart(
        self, auth: AuthContext, *, body: UploadRequest, grant: ClientGrant | None = None
    ) -> MultipartTicket:
        body = await self._admit_client(grant, body)
        checksum = checksums.check_supported(self.storage, body.checksum, multipart=True)
        route = await self._admit(auth, body)
        file = File(**self._new_file_values(auth, body, route, lifetime=PART_URL_LIFETIME_SECONDS))
        file.checksum = checksums.encode(checksum) if checksum is not None else None
        file.part_size = choose_part_size(body.file_size)
        await repository.add_file(self.session, file)
        file.upload_id = await self.storage.create_multipart(
            file.key, content_type=file.content_type
        )
        numbers = range(1, part_count(file.file_size, file.part_size) + 1)
        parts = await self._sign_parts(file, numbers)
        await self.session.flush()
        return MultipartTicket(
            file_id=file.id,
            upload_id=file.upload_id,
            key=file.key,
            cdn_url=self.cdn_url(file.key),
            part_size=file.part_size,
            parts=parts,
        )

    async def _sign_parts(self, file: File, numbers: range | list[int]) -> list[PartUrl]:
        assert file.upload_id is not None and file.part_size is not None
        return [
            PartUrl(
                part_number=n,
                upload_url=await self.storage.presign_part(
                    file.key,
                    upload_id=file.upload_id,
                    part_number=n,
                    content_length=part_length(file.file_size, file.part_size, n),
                    expires_in=PART_URL_LIFETIME_SECONDS,
                ),
            )
            for n in numbers
        ]

    # -- complete --------------------------------------------------------------------------

    async def _locked_upload(
        self, auth: AuthContext, file_id: str, upload_id: str | None = None
    ) -> File:
        file = await repository.get_upload_for_update(
            self.session, file_id=file_id, project_id=auth.project_id, is_test=auth.is_test
        )
        if file is None or file.status == FileStatus.DELETED:
            raise UploadNotFound(f"No upload with fileId {file_id}")
        if upload_id is not None and file.upload_id != upload_id:
            raise UploadNotFound(f"No multipart upload {upload_id} for file {file_id}")
        if file.status == FileStatus.FAILED:
            if file.failure_reason == FailureReason.NOT_VERIFIED:
                raise UploadNotVerified(
                    f"Upload {file_id} failed verification; request a new upload"
                )
            if file.failure_reason == FailureReason.TYPE_MISMATCH:
                raise FileTypeMismatch(f"Upload {file_id} was refused by content sniffing")
            raise UploadNotFound(f"Upload {file_id} was {file.failure_reason or 'cancelled'}")
        return file

    async def complete_upload(
        self,
        auth: AuthContext,
        *,
        file_id: str,
        metadata: dict[str, Any] | None,
        grant: ClientGrant | None = None,
    ) -> File:
        metadata = await self._client_completion(grant, file_id, metadata)
        file = await self._locked_upload(auth, file_id)
        if file.status == FileStatus.UPLOADED:
            return file
        if file.upload_id is not None:
            raise ValidationFailed(
                f"{file_id} is a multipart upload: complete it with /upload/multipart/complete"
            )
        return await self._verify_and_finish(file, metadata)

    async def complete_multipart(
        self, auth: AuthContext, *, body: MultipartComplete, grant: ClientGrant | None = None
    ) -> File:
        metadata = await self._client_completion(grant, body.file_id, body.metadata)
        file = await self._locked_upload(auth, body.file_id, body.upload_id)
        if file.status == FileStatus.UPLOADED:
            return file
        assert file.upload_id is not None and file.part_size is not None
        expected = part_count(file.file_size, file.part_size)
        numbers = [part.part_number for part in body.parts]
        if sorted(numbers) != list(range(1, expected + 1)):
            raise ValidationFailed(
                f"parts must list part numbers 1 to {expected} once each",
                details={"parts": [f"expected part numbers 1..{expected}"]},
            )
        whole = self._multipart_checksum(file, body)
        sha256: bytes | None = None
        try:
            sha256 = await self.storage.complete_multipart(
                file.key,
                upload_id=file.upload_id,
                parts=[
                    PartETag(
                        p.part_number, p.etag, p.checksum.digest if p.checksum is not None else None
                    )
                    for p in sorted(body.parts, key=lambda p: p.part_number)
                ],
                sha256=whole,
            )
        except storage_base.ChecksumMismatch as error:
            if not error.upload_kept:  # the store had assembled it: this upload is over
                await self._fail(file, FailureReason.NOT_VERIFIED, detail=str(error))
            raise ChecksumMismatch(
                f"Upload {file.id}: {error}",
                suggestion=(
                    "PUT the part again and complete once more"
                    if error.upload_kept
                    else "Request a new upload"
                ),
            ) from None
        except InvalidParts as error:
            raise ValidationFailed(
                f"The parts do not match what storage holds: {error}",
                details={"parts": ["etags must be those returned by each part PUT"]},
            ) from None
        except ObjectNotFound:
            if await self.storage.head(file.key) is None:
                raise UploadNotFound(
                    f"Multipart upload {body.upload_id} no longer exists"
                ) from None
        return await self._verify_and_finish(file, metadata, sha256=sha256)

    @staticmethod
    def _multipart_checksum(file: File, body: MultipartComplete) -> bytes | None:
        """The whole object's SHA-256, declared at init or now (the same if both)."""
        declared = checksums.declared(file)
        if body.checksum is None:
            return declared.digest if declared is not None else None
        if declared is not None and declared.digest != body.checksum.digest:
            raise ValidationFailed(
                "checksum differs from the one declared at init",
                details={"checksum": ["must match the checksum given to multipart/init"]},
            )
        return body.checksum.digest

    async def _verify_and_finish(
        self, file: File, metadata: dict[str, Any] | None, *, sha256: bytes | None = None
    ) -> File:
        stored = await self.storage.head(file.key)
        problem = None
        if stored is None and self._may_still_arrive(file):
            # Complete came before the PUT finished (a retry after a crash, a race): a storage
            # object appears whole or not at all, so nothing is wrong yet. The file keeps
            # waiting; failing it here would refuse the bytes still on their way.
            raise UploadIncomplete(
                f"Upload {file.id} has no stored object yet",
                suggestion="Finish the PUT to the upload URL, then call complete again",
            )
        if stored is None:
            problem = "no object was uploaded before the upload URL expired"
        elif stored.size != file.file_size:
            problem = f"stored size {stored.size} bytes differs from the declared {file.file_size}"
        elif stored.content_type.split(";")[0].strip().lower() != file.content_type:
            problem = (
                f"stored content type {stored.content_type} differs from the declared "
                f"{file.content_type}"
            )
        if problem is not None:
            await self._fail(file, FailureReason.NOT_VERIFIED, detail=problem)
            raise UploadNotVerified(f"Upload {file.id} could not be verified: {problem}")
        assert stored is not None
        await checksums.verify_stored(self.storage, file, stored, sha256=sha256)
        await self._check_content(file)
        now = utcnow()
        await quota.release_slot(self.session, file)
        await usage_repository.count_completed_upload(
            self.session,
            account_id=file.account_id,
            is_test=file.is_test,
            month=month_of(now),
            size=file.file_size,
        )
        file.status = FileStatus.UPLOADED
        file.uploaded_at = now
        file.updated_at = now
        if metadata:
            file.metadata_ = {**(file.metadata_ or {}), **metadata}
        events_repository.record_event(self.session, file, "uploaded")
        await self.session.flush()
        # Same transaction as UPLOADED: the webhook is queued if and only if this commits.
        await queue_upload_complete(
            self.session, file=file, cdn_base=self.settings.effective_cdn_url
        )
        return file

    def _may_still_arrive(self, file: File) -> bool:
        """Whether a PUT to the file's URL may still be running or yet to come: the URL is
        valid, or expired so recently that a PUT it admitted may still be streaming."""
        grace = timedelta(seconds=self.settings.upload_grace_period)
        return utcnow() < file.expires_at + grace

    async def _check_content(self, file: File) -> None:
        """Sniff the stored bytes under the route's ``typeCheck``; a refused file is FAILED."""
        route = await get_by_slug(self.session, file.project_id, file.route_slug)
        mode = TypeCheck(route.type_check) if route is not None else TypeCheck.LENIENT
        if mode is TypeCheck.OFF:
            return
        head = await content_check.read_head(self.storage, file.key, size=file.file_size)
        file.detected_type = content_check.detect_type(head, declared=file.content_type)
        problem = content_check.mismatch(
            file.content_type,
            file.detected_type,
            mode=mode,
            allowed_types=route.allowed_types if route is not None else ["*/*"],
        )
        if problem is not None:
            await self._fail(file, FailureReason.TYPE_MISMATCH, detail=problem)
            raise FileTypeMismatch(
                f"Upload {file.id} was refused: {problem}",
                suggestion="Declare the file's real type, or upload the file the type names",
            )

    # -- failure, abort, expiry ----------------------------------------------------------

    async def _fail(self, file: File, reason: FailureReason, *, detail: str | None = None) -> None:
        """Mark FAILED, remove what storage holds for it, give back its reservations."""
        if file.upload_id is not None:
            await self.storage.abort_multipart(file.key, upload_id=file.upload_id)
        await self.storage.delete(file.key)
        await quota.release_reservation(self.session, file)
        file.status = FileStatus.FAILED
        file.failure_reason = reason
        file.updated_at = utcnow()
        events_repository.record_event(self.session, file, "failed", detail or reason.value)
        await self.session.flush()

    async def abort_multipart(
        self,
        auth: AuthContext,
        *,
        file_id: str,
        upload_id: str,
        grant: ClientGrant | None = None,
    ) -> None:
        await self._check_client_file(grant, file_id)
        await self._abort(auth, file_id, upload_id)

    async def abort_upload(self, auth: AuthContext, *, file_id: str) -> None:
        """Abort an upload in flight whatever its kind (tus termination)."""
        await self._abort(auth, file_id, None)

    async def _abort(self, auth: AuthContext, file_id: str, upload_id: str | None) -> None:
        file = await self._locked_upload(auth, file_id, upload_id)
        if file.status == FileStatus.UPLOADED:
            raise ValidationFailed(f"Upload {file_id} is already complete; delete the file instead")
        await self._fail(file, FailureReason.ABORTED)

    async def expire_abandoned(self, *, now: datetime, limit: int = 100) -> int:
        """Fail uploads whose URLs expired more than the grace period ago. Returns how many."""
        before = now - timedelta(seconds=self.settings.upload_grace_period)
        files = await repository.claim_abandoned(self.session, before=before, limit=limit)
        for file in files:
            await self._fail(file, FailureReason.EXPIRED)
        return len(files)

    # -- resume ----------------------------------------------------------------------------

    async def _open_multipart(self, auth: AuthContext, file_id: str, upload_id: str) -> File:
        file = await self._locked_upload(auth, file_id, upload_id)
        if file.status != FileStatus.UPLOADING or file.upload_id is None:
            raise UploadNotFound(f"Upload {file_id} is not an open multipart upload")
        return file

    async def list_parts(
        self,
        auth: AuthContext,
        *,
        file_id: str,
        upload_id: str,
        grant: ClientGrant | None = None,
    ) -> MultipartParts:
        await self._check_client_file(grant, file_id)
        file = await self._open_multipart(auth, file_id, upload_id)
        assert file.upload_id is not None and file.part_size is not None
        try:
            parts = await self.storage.list_parts(file.key, upload_id=file.upload_id)
        except ObjectNotFound:
            raise UploadNotFound(f"Multipart upload {upload_id} no longer exists") from None
        return MultipartParts(
            file_id=file.id,
            upload_id=upload_id,
            part_size=file.part_size,
            part_count=part_count(file.file_size, file.part_size),
            parts=[
                StoredPartRead(part_number=p.part_number, etag=p.etag, size=p.size) for p in parts
            ],
        )

    async def sign_parts(
        self, auth: AuthContext, *, body: SignParts, grant: ClientGrant | None = None
    ) -> SignedParts:
        await self._check_client_file(grant, body.file_id)
        file_id, upload_id, numbers = body.file_id, body.upload_id, body.part_numbers
        file = await self._open_multipart(auth, file_id, upload_id)
        assert file.part_size is not None
        count = part_count(file.file_size, file.part_size)
        bad = sorted({n for n in numbers if not 1 <= n <= count})
        if bad:
            raise ValidationFailed(
                f"part numbers must be between 1 and {count}",
                details={"partNumbers": [f"out of range: {', '.join(map(str, bad[:10]))}"]},
            )
        # Re-signing is how a client resumes; keep the upload alive as long as its new URLs.
        file.expires_at = utcnow() + timedelta(seconds=PART_URL_LIFETIME_SECONDS)
        parts = await self._sign_parts(file, sorted(set(numbers)))
        await self.session.flush()
        return SignedParts(file_id=file_id, upload_id=upload_id, parts=parts)

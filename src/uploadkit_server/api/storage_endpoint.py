"""The public storage endpoints: targets of local presigned URLs, and the built-in CDN.

None takes an API key: a PUT is authorised by its signed URL (``SignedPutTarget.verify_put``) and
by its file still waiting for bytes (``core.uploads.admission``), both checked before a byte of
the body is read; CDN keys are unguessable and only ``UPLOADED`` files are served.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from uploadkit_server.api.deps import RequestRoute, RuntimeDep, StorageDep
from uploadkit_server.api.object_responses import (
    describe_body,
    is_active_content,
    is_not_modified,
    object_headers,
    open_body,
    requested_range,
)
from uploadkit_server.core.uploads.admission import accepts_bytes
from uploadkit_server.core.usage.served import count_served, owner_of
from uploadkit_server.errors import (
    ChecksumMismatch,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    UploadKitError,
    UploadNotFound,
    ValidationFailed,
)
from uploadkit_server.runtime import Runtime
from uploadkit_server.storage import base as storage_base
from uploadkit_server.storage.base import (
    BodyIncomplete,
    BodyTooLarge,
    ObjectNotFound,
    SignedPutTarget,
    StorageError,
)
from uploadkit_server.storage.local_files import KeyConflict
from uploadkit_server.storage.secure_path import UnsafeKey
from uploadkit_server.storage.signed_urls import PutGrant, PutKind, UrlExpired, UrlRefused

#: Keys are unique per upload, so a stored object never changes; deletion is what caches delay.
CDN_CACHE_CONTROL = "public, max-age=3600"
#: Lifetime of the presigned GET a ``/cdn`` request is redirected to (backends that have one).
CDN_REDIRECT_SECONDS = 300
#: A cached redirect must be followed well before the URL it points to expires.
CDN_REDIRECT_CACHE_CONTROL = "private, max-age=60"

router = APIRouter(route_class=RequestRoute, tags=["storage"])


async def get_signed_put_target(storage: StorageDep) -> SignedPutTarget:
    target = storage.capabilities.signed_put_target
    if target is None:
        raise NotFound("This server's storage takes uploads at its own presigned URLs")
    return target


SignedPutTargetDep = Annotated[SignedPutTarget, Depends(get_signed_put_target)]


def _storage_error(error: StorageError) -> UploadKitError:
    """Translate the backend's errors into the API's envelope."""
    if isinstance(error, UrlExpired):
        return Forbidden(str(error), suggestion="Request a new upload URL")
    if isinstance(error, UrlRefused):
        return Forbidden(str(error), suggestion="PUT exactly as the URL was signed")
    if isinstance(error, BodyTooLarge):
        return PayloadTooLarge(str(error))
    if isinstance(error, BodyIncomplete):
        return ValidationFailed(str(error))
    if isinstance(error, storage_base.ChecksumMismatch):
        return ChecksumMismatch(
            str(error), suggestion="PUT the exact bytes the checksum was computed from"
        )
    if isinstance(error, UnsafeKey | KeyConflict):
        return ValidationFailed(f"Invalid object key: {error}")
    if isinstance(error, ObjectNotFound):
        return UploadNotFound("The multipart upload does not exist (completed or aborted)")
    return ValidationFailed(str(error))


def _refusal(error: UploadKitError) -> UploadKitError:
    # The rest of a refused body is not wanted: closing the connection stops it, where
    # keep-alive would have the server read and discard it to the last byte.
    error.headers["Connection"] = "close"
    return error


async def _verify_and_receive(
    storage: SignedPutTarget,
    runtime: Runtime,
    request: Request,
    kind: PutKind,
    key: str,
    *,
    upload_id: str | None = None,
    part_number: int | None = None,
) -> Response:
    try:
        grant: PutGrant = storage.verify_put(
            kind,
            key,
            request.query_params,
            upload_id=upload_id,
            part_number=part_number,
            content_type=request.headers.get("content-type"),
            content_length=request.headers.get("content-length"),
        )
    except StorageError as error:
        raise _refusal(_storage_error(error)) from error
    # A genuine URL outlives what it was for: after complete, delete, abort or a failed
    # verification it must not store bytes (issue 12 finding 1). Asked before reading the body.
    async with runtime.sessionmaker() as session:
        waiting = await accepts_bytes(session, key=grant.key, upload_id=grant.upload_id)
    if not waiting:
        raise _refusal(
            Forbidden(
                "This upload no longer accepts bytes: it was completed, deleted, aborted, "
                "failed verification or expired",
                suggestion="Request a new upload URL to upload the file again",
            )
        )
    try:
        etag = await storage.receive(grant, request.stream())
    except StorageError as error:
        raise _refusal(_storage_error(error)) from error
    return Response(status_code=200, headers={"ETag": etag})


@router.put("/storage/objects/{key:path}")
async def put_object(
    key: str, request: Request, storage: SignedPutTargetDep, runtime: RuntimeDep
) -> Response:
    """Receive the bytes of a single-PUT upload; answers with the object's ``ETag``."""
    return await _verify_and_receive(storage, runtime, request, PutKind.OBJECT, key)


@router.put("/storage/parts/{upload_id}/{part_number}/{key:path}")
async def put_part(
    upload_id: str,
    part_number: int,
    key: str,
    request: Request,
    storage: SignedPutTargetDep,
    runtime: RuntimeDep,
) -> Response:
    """Receive one part of a multipart upload; answers with the part's ``ETag``, as S3 does."""
    return await _verify_and_receive(
        storage, runtime, request, PutKind.PART, key, upload_id=upload_id, part_number=part_number
    )


@router.api_route("/cdn/{key:path}", methods=["GET", "HEAD"])
async def cdn(key: str, request: Request, storage: StorageDep, runtime: RuntimeDep) -> Response:
    """Serve a stored object: ranges, validators and caching headers, the stored type. A GET of
    an object in a store with its own download URLs (S3) is redirected to a short-lived one.

    Only the object of an ``UPLOADED`` file is served: bytes PUT for an upload not completed
    (or failed, or deleted) are not the file's until complete verified them, and never are
    once its record is gone. Active types (HTML, SVG, scripts) come as downloads in a sandbox,
    so they cannot run in this server's origin (``object_responses.active_content_headers``).
    """
    async with runtime.sessionmaker() as session:
        owner = await owner_of(session, key)
    if owner is None:
        raise NotFound("File not found", suggestion="Check the key; deleted files are gone")
    info = await storage.head(key)
    if info is None:
        raise NotFound("File not found", suggestion="Check the key; deleted files are gone")
    headers = object_headers(info, cache_control=CDN_CACHE_CONTROL)
    if is_not_modified(request, info):
        return Response(status_code=304, headers=headers)
    if request.method == "GET":
        direct = await storage.presign_get(
            key, expires_in=CDN_REDIRECT_SECONDS, attachment=is_active_content(info.content_type)
        )
        if direct is not None:
            # An object store serves the bytes and ranges itself; this process only points there.
            return RedirectResponse(
                direct, status_code=307, headers={"Cache-Control": CDN_REDIRECT_CACHE_CONTROL}
            )
    byte_range = requested_range(request, info, noun="file")
    status, length = describe_body(headers, info, byte_range)
    if request.method == "HEAD" or length == 0:
        return Response(status_code=status, headers=headers)
    body = await open_body(storage, key, byte_range)
    if body is None:
        raise NotFound("File not found", suggestion="Check the key; deleted files are gone")
    # bytes served count in the owner's monthly usage
    body = count_served(body, partial(runtime.served_bytes.add, owner))
    return StreamingResponse(body, status_code=status, headers=headers)

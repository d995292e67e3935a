"""The public storage endpoints: targets of local presigned URLs, and the built-in CDN.

None takes an API key: a PUT is authorised by its signed URL alone (``LocalStorage.verify_put``),
and CDN keys are unguessable. The signature is checked before a byte of the body is read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from uploadkit_server.api.deps import RuntimeDep, StorageDep
from uploadkit_server.api.http_ranges import (
    Unsatisfiable,
    http_date,
    not_modified,
    parse_range,
    range_applies,
)
from uploadkit_server.core.usage.served import count_served, owner_of
from uploadkit_server.errors import (
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RangeNotSatisfiable,
    UploadKitError,
    UploadNotFound,
    ValidationFailed,
)
from uploadkit_server.storage.base import ObjectNotFound, StorageError
from uploadkit_server.storage.local import BodyIncomplete, BodyTooLarge, LocalStorage
from uploadkit_server.storage.local_files import KeyConflict
from uploadkit_server.storage.secure_path import UnsafeKey
from uploadkit_server.storage.signed_urls import PutGrant, PutKind, UrlExpired, UrlRefused

#: Keys are unique per upload, so a stored object never changes; deletion is what caches delay.
CDN_CACHE_CONTROL = "public, max-age=3600"
#: Lifetime of the presigned GET a ``/cdn`` request is redirected to (backends that have one).
CDN_REDIRECT_SECONDS = 300
#: A cached redirect must be followed well before the URL it points to expires.
CDN_REDIRECT_CACHE_CONTROL = "private, max-age=60"

router = APIRouter(tags=["storage"])


def get_local_storage(storage: StorageDep) -> LocalStorage:
    if not isinstance(storage, LocalStorage):
        raise NotFound("This server's storage takes uploads at its own presigned URLs")
    return storage


LocalStorageDep = Annotated[LocalStorage, Depends(get_local_storage)]


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
    if isinstance(error, UnsafeKey | KeyConflict):
        return ValidationFailed(f"Invalid object key: {error}")
    if isinstance(error, ObjectNotFound):
        return UploadNotFound("The multipart upload does not exist (completed or aborted)")
    return ValidationFailed(str(error))


async def _verify_and_receive(
    storage: LocalStorage,
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
        etag = await storage.receive(grant, request.stream())
    except StorageError as error:
        refusal = _storage_error(error)
        # The rest of a refused body is not wanted: closing the connection stops it, where
        # keep-alive would have the server read and discard it to the last byte.
        refusal.headers["Connection"] = "close"
        raise refusal from error
    return Response(status_code=200, headers={"ETag": etag})


@router.put("/storage/objects/{key:path}")
async def put_object(key: str, request: Request, storage: LocalStorageDep) -> Response:
    """Receive the bytes of a single-PUT upload; answers with the object's ``ETag``."""
    return await _verify_and_receive(storage, request, PutKind.OBJECT, key)


@router.put("/storage/parts/{upload_id}/{part_number}/{key:path}")
async def put_part(
    upload_id: str, part_number: int, key: str, request: Request, storage: LocalStorageDep
) -> Response:
    """Receive one part of a multipart upload; answers with the part's ``ETag``, as S3 does."""
    return await _verify_and_receive(
        storage, request, PutKind.PART, key, upload_id=upload_id, part_number=part_number
    )


async def _stream(chunks: AsyncIterator[bytes], first: bytes) -> AsyncIterator[bytes]:
    async with aclosing(chunks):  # type: ignore[type-var]
        yield first
        async for chunk in chunks:
            yield chunk


@router.api_route("/cdn/{key:path}", methods=["GET", "HEAD"])
async def cdn(key: str, request: Request, storage: StorageDep, runtime: RuntimeDep) -> Response:
    """Serve a stored object: ranges, validators and caching headers, the stored type. A GET of
    an object in a store with its own download URLs (S3) is redirected to a short-lived one."""
    info = await storage.head(key)
    if info is None:
        raise NotFound("File not found")
    headers = {
        "ETag": info.etag,
        "Last-Modified": http_date(info.last_modified),
        "Cache-Control": CDN_CACHE_CONTROL,
        "Accept-Ranges": "bytes",
        # Uploaded bytes are served as their declared type, never sniffed into something else.
        "X-Content-Type-Options": "nosniff",
    }
    if not_modified(
        if_none_match=request.headers.get("if-none-match"),
        if_modified_since=request.headers.get("if-modified-since"),
        info=info,
    ):
        return Response(status_code=304, headers=headers)
    if request.method == "GET":
        direct = await storage.presign_get(key, expires_in=CDN_REDIRECT_SECONDS)
        if direct is not None:
            # An object store serves the bytes and ranges itself; this process only points there.
            return RedirectResponse(
                direct, status_code=307, headers={"Cache-Control": CDN_REDIRECT_CACHE_CONTROL}
            )
    byte_range = None
    if range_applies(if_range=request.headers.get("if-range"), info=info):
        try:
            byte_range = parse_range(request.headers.get("range"), info.size)
        except Unsatisfiable:
            raise RangeNotSatisfiable(
                f"The range starts past the end of the file ({info.size} bytes)",
                headers={"Content-Range": f"bytes */{info.size}"},
            ) from None
    status = 200
    length = info.size
    if byte_range is not None:
        status, length = 206, byte_range.length
        headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{info.size}"
    headers["Content-Length"] = str(length)
    headers["Content-Type"] = info.content_type
    if request.method == "HEAD" or length == 0:
        return Response(status_code=status, headers=headers)
    chunks = storage.read(key, byte_range=byte_range)
    try:
        # Read the first chunk now, so an object deleted since ``head`` is still a clean 404.
        first = await anext(chunks)
    except (ObjectNotFound, StopAsyncIteration):
        raise NotFound("File not found") from None
    async with runtime.sessionmaker() as session:
        owner = await owner_of(session, key)
    body = _stream(chunks, first)
    if owner is not None:  # bytes served count in the owner's monthly usage
        body = count_served(body, partial(runtime.served_bytes.add, owner))
    return StreamingResponse(body, status_code=status, headers=headers)

"""The tus 1.0 endpoint at ``/api/v1/tus/``: HTTP only, the protocol's rules are in
``core/tus/service.py``.

Every response carries ``Tus-Resumable``; errors are the API's envelope with tus's status codes
(``409`` offset mismatch, ``412`` version, ``423`` locked, ``460`` checksum mismatch). A
completed upload's responses also carry ``UploadKit-File-Id`` and ``UploadKit-File-Key``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from email.utils import format_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.requests import ClientDisconnect

from uploadkit_server.api.deps import ApiKeyAuthAlone, RequestRoute, RuntimeDep
from uploadkit_server.api.error_handlers import error_response
from uploadkit_server.core.mime import essence
from uploadkit_server.core.tus.errors import (
    TUS_VERSION,
    TusVersionUnsupported,
    UnsupportedMediaType,
)
from uploadkit_server.core.tus.schemas import parse_checksum, parse_length, parse_metadata
from uploadkit_server.core.tus.service import TusService, TusStatus
from uploadkit_server.core.tus.store import CHECKSUM_ALGORITHMS
from uploadkit_server.errors import UploadKitError, ValidationFailed

TUS_EXTENSIONS = (
    "creation,creation-with-upload,creation-defer-length,termination,expiration,checksum"
)
OFFSET_OCTET_STREAM = "application/offset+octet-stream"
#: What a browser client on another origin must be able to read (CORS ``expose_headers``).
TUS_EXPOSED_HEADERS = (
    "Location",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Defer-Length",
    "Upload-Metadata",
    "Upload-Expires",
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
    "Tus-Checksum-Algorithm",
    "UploadKit-File-Id",
    "UploadKit-File-Key",
)


class TusRoute(RequestRoute):
    """Renders this router's errors itself, so that they too carry ``Tus-Resumable``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except UploadKitError as error:
                response = error_response(error)
            response.headers["Tus-Resumable"] = TUS_VERSION
            return response

        return route


router = APIRouter(prefix="/tus", tags=["tus"], route_class=TusRoute)


async def check_tus_version(request: Request) -> None:
    """Every request but ``OPTIONS`` names the protocol version (``412`` otherwise)."""
    version = request.headers.get("tus-resumable")
    if version != TUS_VERSION:
        raise TusVersionUnsupported(
            f"Tus-Resumable {version!r} is not supported; this server speaks {TUS_VERSION}",
            headers={"Tus-Version": TUS_VERSION},
        )


async def get_tus_service(runtime: RuntimeDep) -> TusService:
    if runtime.tus_store is None:
        raise TusUnavailable("Resumable (tus) uploads are not available on this storage backend")
    return TusService(
        runtime.sessionmaker,
        store=runtime.tus_store,
        storage=runtime.storage,
        settings=runtime.settings,
    )


class TusUnavailable(UploadKitError):
    code, status = "TUS_UNAVAILABLE", 501


TusVersion = Annotated[None, Depends(check_tus_version)]
Tus = Annotated[TusService, Depends(get_tus_service)]


async def _body(request: Request) -> AsyncIterator[bytes]:
    """The request body; a client that goes away ends it (the bytes so far are kept)."""
    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except ClientDisconnect:
        return


def _status_headers(status: TusStatus) -> dict[str, str]:
    upload = status.upload
    headers = {"Upload-Offset": str(upload.upload_offset)}
    if upload.completed_at is None:
        headers["Upload-Expires"] = format_datetime(upload.expires_at, usegmt=True)
    elif status.file is not None:
        headers["UploadKit-File-Id"] = status.file.id
        headers["UploadKit-File-Key"] = status.file.key
    return headers


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return bool(request.headers.get("transfer-encoding")) or (
        length is not None and length.strip() not in ("", "0")
    )


def _content_type(request: Request) -> str:
    return essence(request.headers.get("content-type", ""))


@router.options("")
@router.options("/")
@router.options("/{upload_id}")
async def tus_options() -> Response:
    """What this server supports; needs no key (capability discovery)."""
    return Response(
        status_code=204,
        headers={
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": TUS_EXTENSIONS,
            "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
        },
    )


@router.post("", status_code=201)
@router.post("/", status_code=201)
async def tus_create(
    request: Request, _version: TusVersion, auth: ApiKeyAuthAlone, tus: Tus
) -> Response:
    headers = request.headers
    length = parse_length("Upload-Length", headers.get("upload-length"))
    deferred = headers.get("upload-defer-length")
    if deferred is not None and (deferred.strip() != "1" or length is not None):
        raise ValidationFailed(
            "Upload-Defer-Length must be 1, and only without Upload-Length",
            details={"Upload-Defer-Length": ["must be 1, without Upload-Length"]},
        )
    if length is None and deferred is None:
        raise ValidationFailed(
            "Upload-Length (or Upload-Defer-Length: 1) is required",
            details={"Upload-Length": ["required"]},
        )
    raw_metadata = headers.get("upload-metadata")
    upload = await tus.create(
        auth, length=length, metadata=parse_metadata(raw_metadata), raw_metadata=raw_metadata
    )
    location = str(request.url_for("tus_head", upload_id=upload.id))
    response_headers = {
        "Location": location,
        "Upload-Expires": format_datetime(upload.expires_at, usegmt=True),
    }
    if _has_body(request) and _content_type(request) == OFFSET_OCTET_STREAM:
        try:  # creation-with-upload
            status = await tus.append(
                auth,
                upload.id,
                offset=0,
                length=None,
                checksum=parse_checksum(headers.get("upload-checksum")),
                chunks=_body(request),
            )
        except UploadKitError as error:
            error.headers["Location"] = location  # created all the same: resumable from here
            raise
        response_headers.update(_status_headers(status))
    return Response(status_code=201, headers=response_headers)


@router.head("/{upload_id}", name="tus_head")
async def tus_head(
    upload_id: str, _version: TusVersion, auth: ApiKeyAuthAlone, tus: Tus
) -> Response:
    status = await tus.status(auth, upload_id)
    upload = status.upload
    headers = {**_status_headers(status), "Cache-Control": "no-store"}
    if upload.upload_length is None:
        headers["Upload-Defer-Length"] = "1"
    else:
        headers["Upload-Length"] = str(upload.upload_length)
    if upload.raw_metadata:
        headers["Upload-Metadata"] = upload.raw_metadata
    return Response(status_code=200, headers=headers)


@router.patch("/{upload_id}", status_code=204)
async def tus_patch(
    upload_id: str, request: Request, _version: TusVersion, auth: ApiKeyAuthAlone, tus: Tus
) -> Response:
    headers = request.headers
    if _content_type(request) != OFFSET_OCTET_STREAM:
        raise UnsupportedMediaType(f"A PATCH body must be sent as {OFFSET_OCTET_STREAM}")
    offset = parse_length("Upload-Offset", headers.get("upload-offset"))
    if offset is None:
        raise ValidationFailed("Upload-Offset is required", details={"Upload-Offset": ["required"]})
    status = await tus.append(
        auth,
        upload_id,
        offset=offset,
        length=parse_length("Upload-Length", headers.get("upload-length")),
        checksum=parse_checksum(headers.get("upload-checksum")),
        chunks=_body(request),
    )
    return Response(status_code=204, headers=_status_headers(status))


@router.delete("/{upload_id}", status_code=204)
async def tus_delete(
    upload_id: str, _version: TusVersion, auth: ApiKeyAuthAlone, tus: Tus
) -> Response:
    await tus.terminate(auth, upload_id)
    return Response(status_code=204)

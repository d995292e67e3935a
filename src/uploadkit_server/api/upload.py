"""Upload endpoints: ``/upload/request``, ``/upload/complete`` and the multipart family.

Callers are API keys or browsers with a client token (``UploadAuth``); the caller's grant is
handed to ``UploadService``, which applies a token's route, size, budget and fixed metadata."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import Discriminator, Tag

from uploadkit_server.api.client_tokens import UploadAuth
from uploadkit_server.api.deps import RequestRoute, SettingsDep, get_session, runtime_of
from uploadkit_server.core.files.schemas import FileRead, file_read
from uploadkit_server.core.uploads.schemas import (
    Aborted,
    MultipartAbort,
    MultipartComplete,
    MultipartParts,
    MultipartTicket,
    SignedParts,
    SignParts,
    UploadBatchRequest,
    UploadBatchTicket,
    UploadComplete,
    UploadRequest,
    UploadTicket,
)
from uploadkit_server.core.uploads.service import UploadService

router = APIRouter(route_class=RequestRoute, prefix="/upload", tags=["upload"])


async def get_upload_service(request: Request) -> UploadService:
    runtime = runtime_of(request)
    return UploadService(
        await get_session(request), storage=runtime.storage, settings=runtime.settings
    )


Uploads = Annotated[UploadService, Depends(get_upload_service)]


def _request_kind(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "files" in value else "single"


#: One file (the SPEC's body), or several for one route under ``files``.
RequestBody = Annotated[
    Annotated[UploadRequest, Tag("single")] | Annotated[UploadBatchRequest, Tag("batch")],
    Discriminator(_request_kind),
]


@router.post("/request", response_model_exclude_none=True)
async def request_upload(
    body: Annotated[RequestBody, Body()], caller: UploadAuth, uploads: Uploads
) -> UploadTicket | UploadBatchTicket:
    if isinstance(body, UploadBatchRequest):
        return await uploads.request_batch(caller.auth, body=body, grant=caller.grant)
    return await uploads.request_upload(caller.auth, body=body, grant=caller.grant)


@router.post("/complete")
async def complete_upload(
    body: UploadComplete, caller: UploadAuth, uploads: Uploads, settings: SettingsDep
) -> FileRead:
    file = await uploads.complete_upload(
        caller.auth, file_id=body.file_id, metadata=body.metadata, grant=caller.grant
    )
    return file_read(file, cdn_base=settings.effective_cdn_url)


@router.post("/multipart/init")
async def init_multipart(
    body: UploadRequest, caller: UploadAuth, uploads: Uploads
) -> MultipartTicket:
    return await uploads.init_multipart(caller.auth, body=body, grant=caller.grant)


@router.post("/multipart/complete")
async def complete_multipart(
    body: MultipartComplete, caller: UploadAuth, uploads: Uploads, settings: SettingsDep
) -> FileRead:
    file = await uploads.complete_multipart(caller.auth, body=body, grant=caller.grant)
    return file_read(file, cdn_base=settings.effective_cdn_url)


@router.post("/multipart/abort")
async def abort_multipart(body: MultipartAbort, caller: UploadAuth, uploads: Uploads) -> Aborted:
    await uploads.abort_multipart(
        caller.auth, file_id=body.file_id, upload_id=body.upload_id, grant=caller.grant
    )
    return Aborted()


@router.get("/multipart/parts")
async def list_parts(
    caller: UploadAuth,
    uploads: Uploads,
    file_id: Annotated[str, Query(alias="fileId", min_length=1, max_length=40)],
    upload_id: Annotated[str, Query(alias="uploadId", min_length=1, max_length=1024)],
) -> MultipartParts:
    return await uploads.list_parts(
        caller.auth, file_id=file_id, upload_id=upload_id, grant=caller.grant
    )


@router.post("/multipart/sign-parts")
async def sign_parts(body: SignParts, caller: UploadAuth, uploads: Uploads) -> SignedParts:
    return await uploads.sign_parts(caller.auth, body=body, grant=caller.grant)

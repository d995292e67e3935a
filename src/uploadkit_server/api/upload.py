"""Upload endpoints: ``/upload/request``, ``/upload/complete`` and the multipart family.

Callers are API keys or browsers with a client token (``UploadAuth``); a token's route, size,
budget and fixed metadata are applied here, before the same ``UploadService`` call."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import Discriminator, Tag

from uploadkit_server.api.client_tokens import UploadAuth
from uploadkit_server.api.deps import SessionDep, SettingsDep, StorageDep
from uploadkit_server.core.client_tokens import service as client_tokens
from uploadkit_server.core.files.schemas import FileRead, file_read
from uploadkit_server.core.uploads.schemas import (
    Aborted,
    MultipartAbort,
    MultipartComplete,
    MultipartParts,
    MultipartTicket,
    SignedParts,
    SignParts,
    StoredPartRead,
    UploadBatchRequest,
    UploadBatchTicket,
    UploadComplete,
    UploadRequest,
    UploadTicket,
)
from uploadkit_server.core.uploads.service import NewUpload, UploadService, part_count

router = APIRouter(prefix="/upload", tags=["upload"])


async def get_upload_service(
    session: SessionDep, storage: StorageDep, settings: SettingsDep
) -> UploadService:
    return UploadService(session, storage=storage, settings=settings)


Uploads = Annotated[UploadService, Depends(get_upload_service)]


def _request_kind(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "files" in value else "single"


#: One file (the SPEC's body), or several for one route under ``files``.
RequestBody = Annotated[
    Annotated[UploadRequest, Tag("single")] | Annotated[UploadBatchRequest, Tag("batch")],
    Discriminator(_request_kind),
]


def _ticket(new: NewUpload) -> UploadTicket:

    return UploadTicket(
        file_id=new.file_id,
        upload_url=new.upload_url,
        key=new.key,
        cdn_url=new.cdn_url,
        upload_headers=new.upload_headers or None,
    )


@router.post("/request", response_model_exclude_none=True)
async def request_upload(
    body: Annotated[RequestBody, Body()], caller: UploadAuth, uploads: Uploads, session: SessionDep
) -> UploadTicket | UploadBatchTicket:
    if isinstance(body, UploadBatchRequest):
        requests = body.requests()
        if caller.grant is not None:
            requests = [
                await client_tokens.admit_request(session, caller.grant, one) for one in requests
            ]
        batch = await uploads.request_batch(caller.auth, body.route_slug, requests)
        return UploadBatchTicket(files=[_ticket(new) for new in batch])
    if caller.grant is not None:
        body = await client_tokens.admit_request(session, caller.grant, body)
    return _ticket(await uploads.request_upload(caller.auth, body))


@router.post("/complete")
async def complete_upload(
    body: UploadComplete,
    caller: UploadAuth,
    uploads: Uploads,
    settings: SettingsDep,
    session: SessionDep,
) -> FileRead:
    metadata = body.metadata
    if caller.grant is not None:
        await client_tokens.check_file(session, caller.grant, body.file_id)
        metadata = client_tokens.fixed_metadata(caller.grant, metadata)
    file = await uploads.complete_upload(caller.auth, body.file_id, metadata)
    return file_read(file, cdn_base=settings.effective_cdn_url)


@router.post("/multipart/init")
async def init_multipart(
    body: UploadRequest, caller: UploadAuth, uploads: Uploads, session: SessionDep
) -> MultipartTicket:
    if caller.grant is not None:
        body = await client_tokens.admit_request(session, caller.grant, body)
    new = await uploads.init_multipart(caller.auth, body)
    assert new.file.upload_id is not None and new.file.part_size is not None
    return MultipartTicket(
        file_id=new.file.id,
        upload_id=new.file.upload_id,
        key=new.file.key,
        cdn_url=new.cdn_url,
        part_size=new.file.part_size,
        parts=new.parts,
    )


@router.post("/multipart/complete")
async def complete_multipart(
    body: MultipartComplete,
    caller: UploadAuth,
    uploads: Uploads,
    settings: SettingsDep,
    session: SessionDep,
) -> FileRead:
    if caller.grant is not None:
        await client_tokens.check_file(session, caller.grant, body.file_id)
        body = body.model_copy(
            update={"metadata": client_tokens.fixed_metadata(caller.grant, body.metadata)}
        )
    file = await uploads.complete_multipart(caller.auth, body)
    return file_read(file, cdn_base=settings.effective_cdn_url)


@router.post("/multipart/abort")
async def abort_multipart(
    body: MultipartAbort, caller: UploadAuth, uploads: Uploads, session: SessionDep
) -> Aborted:
    if caller.grant is not None:
        await client_tokens.check_file(session, caller.grant, body.file_id)
    await uploads.abort_multipart(caller.auth, body.file_id, body.upload_id)
    return Aborted()


@router.get("/multipart/parts")
async def list_parts(
    caller: UploadAuth,
    uploads: Uploads,
    session: SessionDep,
    file_id: Annotated[str, Query(alias="fileId", min_length=1, max_length=40)],
    upload_id: Annotated[str, Query(alias="uploadId", min_length=1, max_length=1024)],
) -> MultipartParts:
    if caller.grant is not None:
        await client_tokens.check_file(session, caller.grant, file_id)
    file, parts = await uploads.list_parts(caller.auth, file_id, upload_id)
    assert file.part_size is not None
    return MultipartParts(
        file_id=file.id,
        upload_id=upload_id,
        part_size=file.part_size,
        part_count=part_count(file.file_size, file.part_size),
        parts=[StoredPartRead(part_number=p.part_number, etag=p.etag, size=p.size) for p in parts],
    )


@router.post("/multipart/sign-parts")
async def sign_parts(
    body: SignParts, caller: UploadAuth, uploads: Uploads, session: SessionDep
) -> SignedParts:
    if caller.grant is not None:
        await client_tokens.check_file(session, caller.grant, body.file_id)
    parts = await uploads.sign_parts(caller.auth, body.file_id, body.upload_id, body.part_numbers)
    return SignedParts(file_id=body.file_id, upload_id=body.upload_id, parts=parts)

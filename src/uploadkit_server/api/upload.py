"""Upload endpoints: ``/upload/request``, ``/upload/complete`` and the multipart family."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from uploadkit_server.api.deps import ApiKeyAuth, SessionDep, SettingsDep, StorageDep
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
    UploadComplete,
    UploadRequest,
    UploadTicket,
)
from uploadkit_server.core.uploads.service import UploadService, part_count

router = APIRouter(prefix="/upload", tags=["upload"])


async def get_upload_service(
    session: SessionDep, storage: StorageDep, settings: SettingsDep
) -> UploadService:
    return UploadService(session, storage=storage, settings=settings)


Uploads = Annotated[UploadService, Depends(get_upload_service)]


@router.post("/request")
async def request_upload(body: UploadRequest, auth: ApiKeyAuth, uploads: Uploads) -> UploadTicket:
    new = await uploads.request_upload(auth, body)
    return UploadTicket(
        file_id=new.file.id, upload_url=new.upload_url, key=new.file.key, cdn_url=new.cdn_url
    )


@router.post("/complete")
async def complete_upload(
    body: UploadComplete, auth: ApiKeyAuth, uploads: Uploads, settings: SettingsDep
) -> FileRead:
    file = await uploads.complete_upload(auth, body.file_id, body.metadata)
    return file_read(file, cdn_base=settings.effective_cdn_url)


@router.post("/multipart/init")
async def init_multipart(
    body: UploadRequest, auth: ApiKeyAuth, uploads: Uploads
) -> MultipartTicket:
    new = await uploads.init_multipart(auth, body)
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
    body: MultipartComplete, auth: ApiKeyAuth, uploads: Uploads, settings: SettingsDep
) -> FileRead:
    file = await uploads.complete_multipart(auth, body)
    return file_read(file, cdn_base=settings.effective_cdn_url)


@router.post("/multipart/abort")
async def abort_multipart(body: MultipartAbort, auth: ApiKeyAuth, uploads: Uploads) -> Aborted:
    await uploads.abort_multipart(auth, body.file_id, body.upload_id)
    return Aborted()


@router.get("/multipart/parts")
async def list_parts(
    auth: ApiKeyAuth,
    uploads: Uploads,
    file_id: Annotated[str, Query(alias="fileId", min_length=1, max_length=40)],
    upload_id: Annotated[str, Query(alias="uploadId", min_length=1, max_length=1024)],
) -> MultipartParts:
    file, parts = await uploads.list_parts(auth, file_id, upload_id)
    assert file.part_size is not None
    return MultipartParts(
        file_id=file.id,
        upload_id=upload_id,
        part_size=file.part_size,
        part_count=part_count(file.file_size, file.part_size),
        parts=[StoredPartRead(part_number=p.part_number, etag=p.etag, size=p.size) for p in parts],
    )


@router.post("/multipart/sign-parts")
async def sign_parts(body: SignParts, auth: ApiKeyAuth, uploads: Uploads) -> SignedParts:
    parts = await uploads.sign_parts(auth, body.file_id, body.upload_id, body.part_numbers)
    return SignedParts(file_id=body.file_id, upload_id=body.upload_id, parts=parts)

"""``/files``: the files of the key's project and mode.

A file key contains slashes, and clients send it URL-encoded (``uploads%2Fabc%2Fphoto.jpg``).
Servers decode ``%2F`` before routing, so the key is read from the raw request path instead:
the encoded and the plain form both reach the handler as the same key, and a key holding a
literal ``%`` survives too.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from uploadkit_server.api.deps import ApiKeyAuth, RequestRoute, SessionDep, SettingsDep, StorageDep
from uploadkit_server.core.files import service
from uploadkit_server.core.files.schemas import (
    FileDeleteResult,
    FileRead,
    FilesDelete,
    FilesDeleted,
    FileUpdate,
    file_read,
)
from uploadkit_server.core.pagination import page_request
from uploadkit_server.core.schemas import Deleted, ErrorDetail, Page

router = APIRouter(route_class=RequestRoute, tags=["files"])

FILES_SEGMENT = "/files/"


def key_from_raw_path(request: Request, decoded: str) -> str:
    """The file key exactly as the client encoded it, decoded once."""
    raw: bytes | None = request.scope.get("raw_path")
    if not raw:
        return decoded
    path = raw.decode("latin-1").split("?", 1)[0]
    start = path.find(FILES_SEGMENT)
    if start < 0:
        return decoded
    return unquote(path[start + len(FILES_SEGMENT) :])


@router.get("/files")
async def list_files(
    auth: ApiKeyAuth,
    session: SessionDep,
    settings: SettingsDep,
    limit: int | None = None,
    cursor: str | None = None,
    status: str | None = None,
    route_slug: Annotated[str | None, Query(alias="routeSlug")] = None,
) -> Page[FileRead]:
    page = await service.list_files(
        session,
        auth,
        page=page_request(limit=limit, cursor=cursor),
        status=status,
        route_slug=route_slug,
    )
    return Page(
        items=[file_read(file, cdn_base=settings.effective_cdn_url) for file in page.files],
        next_cursor=page.next_cursor,
        has_more=page.has_more,
    )


@router.delete("/files", response_model=FilesDeleted)
async def delete_files(
    body: FilesDelete, auth: ApiKeyAuth, session: SessionDep, storage: StorageDep
) -> JSONResponse:
    """Per-key results in the order given: ``200`` when every key was deleted, ``207`` when
    any was not (unknown, already deleted, or outside this project and mode)."""
    results = await service.delete_files(session, auth, storage=storage, keys=body.keys)
    payload = FilesDeleted(
        results=[
            FileDeleteResult(
                key=result.key,
                deleted=result.deleted,
                error=ErrorDetail.of(result.error) if result.error else None,
            )
            for result in results
        ]
    )
    status = 200 if all(result.deleted for result in results) else 207
    return JSONResponse(payload.model_dump(mode="json", exclude_none=True), status_code=status)


@router.get("/files/{key:path}")
async def get_file(
    key: str, request: Request, auth: ApiKeyAuth, session: SessionDep, settings: SettingsDep
) -> FileRead:
    file = await service.get_file(session, auth, key=key_from_raw_path(request, key))
    return file_read(file, cdn_base=settings.effective_cdn_url)


@router.patch("/files/{key:path}")
async def update_file(
    key: str,
    body: FileUpdate,
    request: Request,
    auth: ApiKeyAuth,
    session: SessionDep,
    settings: SettingsDep,
) -> FileRead:
    file = await service.update_metadata(
        session, auth, key=key_from_raw_path(request, key), metadata=body.metadata
    )
    return file_read(file, cdn_base=settings.effective_cdn_url)


@router.delete("/files/{key:path}")
async def delete_file(
    key: str, request: Request, auth: ApiKeyAuth, session: SessionDep, storage: StorageDep
) -> Deleted:
    await service.delete_file(session, auth, storage=storage, key=key_from_raw_path(request, key))
    return Deleted()

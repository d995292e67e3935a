"""The file object, as every endpoint that returns a file writes it."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from pydantic import Field, StringConstraints

from uploadkit_server.core.files.repository import ListedFile
from uploadkit_server.core.schemas import CamelModel, ErrorDetail, StrictCamelModel, Timestamp
from uploadkit_server.db.models import File


class FileRead(CamelModel):
    id: str
    key: str
    url: str
    file_name: str
    file_size: int
    content_type: str
    status: str
    route_slug: str
    metadata: dict[str, Any]
    #: Hex SHA-256 of the stored bytes, computed by the server (null where not computed).
    sha256: str | None = None
    #: The type the stored bytes show (content sniffing), null if unknown or not checked.
    detected_type: str | None = None
    created_at: Timestamp
    updated_at: Timestamp


def file_url(cdn_base: str, key: str) -> str:
    return f"{cdn_base}/{quote(key, safe='/')}"


def file_read(file: File | ListedFile, *, cdn_base: str) -> FileRead:
    return FileRead(
        id=file.id,
        key=file.key,
        url=file_url(cdn_base, file.key),
        file_name=file.file_name,
        file_size=file.file_size,
        content_type=file.content_type,
        status=file.status,
        route_slug=file.route_slug,
        metadata=dict(file.metadata_ or {}),
        sha256=file.sha256,
        detected_type=file.detected_type,
        created_at=file.created_at,
        updated_at=file.updated_at,
    )


class FileUpdate(StrictCamelModel):
    """``PATCH /files/{key}``: merged into the file's metadata (a ``null`` value removes a key)."""

    metadata: dict[str, Any]


class FilesDelete(StrictCamelModel):
    """``DELETE /files``: up to 100 keys at once."""

    keys: list[Annotated[str, StringConstraints(min_length=1, max_length=1024)]] = Field(
        min_length=1, max_length=100
    )


class FileDeleteResult(CamelModel):
    key: str
    deleted: bool
    error: ErrorDetail | None = None


class FilesDeleted(CamelModel):
    results: list[FileDeleteResult]

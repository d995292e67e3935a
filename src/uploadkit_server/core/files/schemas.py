"""The file object, as every endpoint that returns a file writes it."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from uploadkit_server.core.schemas import CamelModel, Timestamp
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
    created_at: Timestamp
    updated_at: Timestamp


def file_url(cdn_base: str, key: str) -> str:
    return f"{cdn_base}/{quote(key, safe='/')}"


def file_read(file: File, *, cdn_base: str) -> FileRead:
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
        created_at=file.created_at,
        updated_at=file.updated_at,
    )

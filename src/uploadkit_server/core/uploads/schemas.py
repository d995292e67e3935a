"""Shapes of the upload endpoints (SPEC section 4, "Upload")."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from uploadkit_server.core.mime import essence, is_valid_type
from uploadkit_server.core.schemas import MAX_INT64, CamelModel, StrictCamelModel

URL_LIFETIME_SECONDS = 15 * 60
PART_URL_LIFETIME_SECONDS = 60 * 60
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10_000


#: Files in one batch request; a route's ``maxFileCount`` may lower it.
MAX_BATCH_FILES = 100


class UploadFileFields(StrictCamelModel):
    """One file as a request describes it (alone, or as an item of a batch)."""

    file_name: str = Field(min_length=1, max_length=255)
    file_size: int = Field(gt=0, le=MAX_INT64)
    content_type: str = Field(min_length=3, max_length=255)
    metadata: dict[str, Any] | None = None

    @field_validator("content_type")
    @classmethod
    def _mime(cls, value: str) -> str:
        if not is_valid_type(value):
            raise ValueError("must be a MIME type like 'image/png'")
        return essence(value)

    @field_validator("file_name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise ValueError("must not contain control characters")
        return value


class UploadRequest(UploadFileFields):
    route_slug: str = Field(min_length=1, max_length=100)


class UploadBatchRequest(StrictCamelModel):
    """``POST /upload/request`` with ``files``: several files for one route, admitted all or
    nothing. ``metadata`` applies to every file, a file's own ``metadata`` merged over it."""

    route_slug: str = Field(min_length=1, max_length=100)
    files: list[UploadFileFields] = Field(min_length=1, max_length=MAX_BATCH_FILES)
    metadata: dict[str, Any] | None = None

    def requests(self) -> list[UploadRequest]:
        return [
            UploadRequest(
                file_name=item.file_name,
                file_size=item.file_size,
                content_type=item.content_type,
                route_slug=self.route_slug,
                metadata={**(self.metadata or {}), **(item.metadata or {})}
                if self.metadata or item.metadata
                else None,
            )
            for item in self.files
        ]


class UploadTicket(CamelModel):
    file_id: str
    upload_url: str
    key: str
    cdn_url: str


class UploadBatchTicket(CamelModel):
    """One ticket per file, in the order of the request's ``files``."""

    files: list[UploadTicket]


class UploadComplete(StrictCamelModel):
    file_id: str = Field(min_length=1, max_length=40)
    metadata: dict[str, Any] | None = None


class PartUrl(CamelModel):
    part_number: int
    upload_url: str


class MultipartTicket(CamelModel):
    file_id: str
    upload_id: str
    key: str
    cdn_url: str
    part_size: int
    parts: list[PartUrl]


class PartETagIn(StrictCamelModel):
    part_number: int = Field(ge=1, le=MAX_PARTS)
    etag: str = Field(min_length=1, max_length=200)


class MultipartComplete(StrictCamelModel):
    file_id: str = Field(min_length=1, max_length=40)
    upload_id: str = Field(min_length=1, max_length=1024)
    parts: list[PartETagIn] = Field(min_length=1, max_length=MAX_PARTS)
    metadata: dict[str, Any] | None = None


class MultipartAbort(StrictCamelModel):
    file_id: str = Field(min_length=1, max_length=40)
    upload_id: str = Field(min_length=1, max_length=1024)


class Aborted(CamelModel):
    aborted: bool = True


class StoredPartRead(CamelModel):
    part_number: int
    etag: str
    size: int


class MultipartParts(CamelModel):
    """What storage already holds of a multipart upload, for resuming it."""

    file_id: str
    upload_id: str
    part_size: int
    part_count: int
    parts: list[StoredPartRead]


class SignParts(StrictCamelModel):
    file_id: str = Field(min_length=1, max_length=40)
    upload_id: str = Field(min_length=1, max_length=1024)
    part_numbers: list[int] = Field(min_length=1, max_length=MAX_PARTS)


class SignedParts(CamelModel):
    file_id: str
    upload_id: str
    parts: list[PartUrl]

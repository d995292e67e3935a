"""Shapes of the upload endpoints (SPEC section 4, "Upload")."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from uploadkit_server.core.mime import essence, is_valid_type
from uploadkit_server.core.schemas import CamelModel, StrictCamelModel

URL_LIFETIME_SECONDS = 15 * 60
PART_URL_LIFETIME_SECONDS = 60 * 60
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10_000


class UploadRequest(StrictCamelModel):
    file_name: str = Field(min_length=1, max_length=255)
    file_size: int = Field(gt=0)
    content_type: str = Field(min_length=3, max_length=255)
    route_slug: str = Field(min_length=1, max_length=100)
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


class UploadTicket(CamelModel):
    file_id: str
    upload_url: str
    key: str
    cdn_url: str
    #: Headers the PUT must send besides ``Content-Type``, exactly (on S3, ``If-None-Match: *``:
    #: a signed conditional write, so the URL cannot replace a stored object). Left out of the
    #: response when there are none (local storage), keeping the SPEC's shape.
    upload_headers: dict[str, str] | None = None


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

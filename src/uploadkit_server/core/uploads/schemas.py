"""Shapes of the upload endpoints (SPEC section 4, "Upload")."""

from __future__ import annotations

import base64
import binascii
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from uploadkit_server.core.mime import essence, is_valid_type
from uploadkit_server.core.schemas import MAX_INT64, CamelModel, StrictCamelModel
from uploadkit_server.storage.multipart_rules import MAX_PART_NUMBER

URL_LIFETIME_SECONDS = 15 * 60
PART_URL_LIFETIME_SECONDS = 60 * 60


class ChecksumAlgorithm(StrEnum):
    SHA256 = "sha256"
    CRC32C = "crc32c"


_DIGEST_SIZES = {ChecksumAlgorithm.SHA256: 32, ChecksumAlgorithm.CRC32C: 4}


class Checksum(StrictCamelModel):
    """``{"algorithm": "sha256", "value": "<base64 of the digest>"}``, as S3 writes checksums."""

    algorithm: ChecksumAlgorithm
    value: str = Field(min_length=4, max_length=64)

    @model_validator(mode="after")
    def _digest_size(self) -> Checksum:
        try:
            digest = base64.b64decode(self.value, validate=True)
        except binascii.Error:
            raise ValueError("value must be the base64 of the digest") from None
        if len(digest) != _DIGEST_SIZES[self.algorithm]:
            raise ValueError(
                f"a {self.algorithm} digest is {_DIGEST_SIZES[self.algorithm]} bytes, "
                f"this value decodes to {len(digest)}"
            )
        return self

    @property
    def digest(self) -> bytes:
        return base64.b64decode(self.value)


#: Files in one batch request; a route's ``maxFileCount`` may lower it.
MAX_BATCH_FILES = 100


class UploadFileFields(StrictCamelModel):
    """One file as a request describes it (alone, or as an item of a batch)."""

    file_name: str = Field(min_length=1, max_length=255)
    file_size: int = Field(gt=0, le=MAX_INT64)
    content_type: str = Field(min_length=3, max_length=255)
    metadata: dict[str, Any] | None = None
    #: The bytes must match it: the PUT (or, for multipart, complete) is refused otherwise.
    checksum: Checksum | None = None

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
                checksum=item.checksum,
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
    #: Headers the PUT must send besides ``Content-Type``, exactly (on S3, ``If-None-Match: *``:
    #: a signed conditional write, so the URL cannot replace a stored object). Left out of the
    #: response when there are none (local storage), keeping the SPEC's shape.
    upload_headers: dict[str, str] | None = None


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
    part_number: int = Field(ge=1, le=MAX_PART_NUMBER)
    etag: str = Field(min_length=1, max_length=200)
    #: The part's SHA-256 as the client computed it; complete is refused if storage differs.
    checksum: Checksum | None = None

    @field_validator("checksum")
    @classmethod
    def _sha256_only(cls, value: Checksum | None) -> Checksum | None:
        if value is not None and value.algorithm is not ChecksumAlgorithm.SHA256:
            raise ValueError("part checksums are sha256")
        return value


class MultipartComplete(StrictCamelModel):
    file_id: str = Field(min_length=1, max_length=40)
    upload_id: str = Field(min_length=1, max_length=1024)
    parts: list[PartETagIn] = Field(min_length=1, max_length=MAX_PART_NUMBER)
    metadata: dict[str, Any] | None = None
    #: The whole object's SHA-256, if not given at init (a client can hash while it uploads).
    checksum: Checksum | None = None

    @field_validator("checksum")
    @classmethod
    def _sha256_only(cls, value: Checksum | None) -> Checksum | None:
        if value is not None and value.algorithm is not ChecksumAlgorithm.SHA256:
            raise ValueError("a multipart upload's checksum is sha256")
        return value


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
    part_numbers: list[int] = Field(min_length=1, max_length=MAX_PART_NUMBER)


class SignedParts(CamelModel):
    file_id: str
    upload_id: str
    parts: list[PartUrl]

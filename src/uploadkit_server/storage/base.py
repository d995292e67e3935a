"""The storage interface, shaped after S3 so that every backend can honour it.

Services know storage only through ``StorageBackend``. A backend translates its native errors at
this boundary: a missing object or multipart upload is ``ObjectNotFound``, never a botocore or OS
error. Presigned URLs are absolute and lock method, key, content type, content length and expiry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class StorageError(Exception):
    """Base of the errors a backend may raise."""


class ObjectNotFound(StorageError):
    """The object, or the multipart upload, does not exist (or no longer does)."""


class InvalidParts(StorageError):
    """The parts given to complete a multipart upload do not match what storage holds."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    size: int
    content_type: str
    etag: str
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class StoredPart:
    part_number: int
    etag: str
    size: int


@dataclass(frozen=True, slots=True)
class PartETag:
    part_number: int
    etag: str


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Inclusive byte positions, as HTTP ``Range`` writes them."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class StorageBackend(Protocol):
    async def presign_put(
        self,
        key: str,
        *,
        content_type: str,
        content_length: int,
        expires_in: int,
        create_only: bool = False,
    ) -> str:
        """A URL that accepts one PUT of exactly ``content_length`` bytes of ``content_type``.
        ``create_only``: the PUT may create the object but never replace one that exists
        (where the store can enforce it; see ``put_headers``)."""
        ...

    def put_headers(self, *, create_only: bool) -> dict[str, str]:
        """Headers a PUT to a URL from ``presign_put`` must carry besides ``Content-Type``
        (a conditional write is a signed header on S3); empty where nothing more is needed."""
        ...

    async def create_multipart(self, key: str, *, content_type: str) -> str:
        """Start a multipart upload and return its upload id."""
        ...

    async def presign_part(
        self, key: str, *, upload_id: str, part_number: int, content_length: int, expires_in: int
    ) -> str:
        """A URL that accepts one PUT of part ``part_number``; the response carries an ``ETag``."""
        ...

    async def list_parts(self, key: str, *, upload_id: str) -> list[StoredPart]:
        """Parts stored so far, by part number. ``ObjectNotFound`` if the upload is gone."""
        ...

    async def complete_multipart(self, key: str, *, upload_id: str, parts: list[PartETag]) -> None:
        """Assemble the parts into the object. ``InvalidParts`` if they do not match."""
        ...

    async def abort_multipart(self, key: str, *, upload_id: str) -> None:
        """Remove every stored part. Aborting an unknown upload is not an error."""
        ...

    async def head(self, key: str) -> ObjectInfo | None:
        """The stored object's facts, or ``None`` if there is no object at ``key``."""
        ...

    def read(self, key: str, *, byte_range: ByteRange | None = None) -> AsyncIterator[bytes]:
        """Stream the object (or a range of it) in chunks. ``ObjectNotFound`` if missing."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object. Deleting a missing object is not an error."""
        ...

    async def delete_many(self, keys: Sequence[str]) -> None:
        """Remove these objects in as few calls as the store allows (project deletion, purges).
        Missing objects are not an error."""
        ...

    async def presign_get(
        self, key: str, *, expires_in: int, attachment: bool = False
    ) -> str | None:
        """A short-lived direct download URL, or ``None`` when the server itself serves bytes.
        ``attachment``: the store answers with ``Content-Disposition: attachment`` (active
        content is a download, never a page in the store's origin)."""
        ...

    async def close(self) -> None: ...

    # -- written by the server itself (image transform variants) -----------------------------

    async def put_object(self, key: str, data: bytes, *, content_type: str) -> ObjectInfo:
        """Store ``data`` at ``key`` in one call, replacing what was there; the stored facts."""
        ...

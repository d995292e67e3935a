"""The storage interface, shaped after S3 so that every backend can honour it.

Services know storage only through ``StorageBackend``. A backend translates its native errors at
this boundary: a missing object or multipart upload is ``ObjectNotFound``, never a botocore or OS
error. Presigned URLs are absolute and lock method, key, content type, content length and expiry.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class StorageError(Exception):
    """Base of the errors a backend may raise."""


class ObjectNotFound(StorageError):
    """The object, or the multipart upload, does not exist (or no longer does)."""


class InvalidParts(StorageError):
    """The parts given to complete a multipart upload do not match what storage holds."""


class ChecksumMismatch(StorageError):
    """The bytes do not match the checksum they were sent with; they were not stored.

    ``upload_kept`` says whether the upload can still be finished: true when the refused bytes
    were a single PUT or the local assembly of parts (the parts stay, one can be sent again),
    false when the store had already assembled the object (it was deleted)."""

    def __init__(self, message: str, *, upload_kept: bool = True) -> None:
        super().__init__(message)
        self.upload_kept = upload_kept


@dataclass(frozen=True, slots=True)
class ContentChecksum:
    """A checksum the client declared for bytes it will send: ``sha256`` or ``crc32c``."""

    algorithm: str
    digest: bytes

    @property
    def base64(self) -> str:
        return base64.b64encode(self.digest).decode()


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    size: int
    content_type: str
    etag: str
    last_modified: datetime
    #: Digests of the stored bytes the store computed or keeps, by algorithm (``sha256``,
    #: ``crc32c``); an algorithm is missing where the store has none.
    checksums: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredPart:
    part_number: int
    etag: str
    size: int
    #: The part's SHA-256, where the store computed one while receiving it.
    sha256: bytes | None = None


@dataclass(frozen=True, slots=True)
class PartETag:
    part_number: int
    etag: str
    #: The SHA-256 the client computed of the part, checked at complete where given.
    sha256: bytes | None = None


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Inclusive byte positions, as HTTP ``Range`` writes them."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class StorageBackend(Protocol):
    #: The ``ContentChecksum`` algorithms ``presign_put`` can make the store enforce.
    checksum_algorithms: frozenset[str]

    async def presign_put(
        self,
        key: str,
        *,
        content_type: str,
        content_length: int,
        expires_in: int,
        checksum: ContentChecksum | None = None,
        create_only: bool = False,
    ) -> str:
        """A URL that accepts one PUT of exactly ``content_length`` bytes of ``content_type``;
        with ``checksum``, only of bytes that match it (the store refuses others unstored).
        ``create_only``: the PUT may create the object but never replace one that exists
        (where the store can enforce it; see ``put_headers``)."""
        ...

    def put_headers(
        self, *, create_only: bool, checksum: ContentChecksum | None = None
    ) -> dict[str, str]:
        """Headers a PUT to a URL from ``presign_put`` must carry besides ``Content-Type``
        (a conditional write or a checksum is a signed header on S3); empty where nothing more
        is needed."""
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

    async def complete_multipart(
        self,
        key: str,
        *,
        upload_id: str,
        parts: list[PartETag],
        sha256: bytes | None = None,
    ) -> bytes | None:
        """Assemble the parts into the object. ``InvalidParts`` if they do not match;
        ``ChecksumMismatch`` if a part's ``sha256`` or the whole object's does not, and then no
        object is left at ``key``. Returns the object's SHA-256 where it was computed."""
        ...

    async def abort_multipart(self, key: str, *, upload_id: str) -> None:
        """Remove every stored part. Aborting an unknown upload is not an error."""
        ...

    async def head(self, key: str) -> ObjectInfo | None:
        """The stored object's facts (with the checksums the store keeps), or ``None`` if there
        is no object at ``key``."""
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

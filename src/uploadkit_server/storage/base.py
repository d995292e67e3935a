"""The storage interface, shaped after S3 so that every backend can honour it.

Services know storage only through ``StorageBackend``. A backend translates its native errors at
this boundary: a missing object or multipart upload is ``ObjectNotFound``, never a botocore or OS
error. Presigned URLs are absolute and lock method, key, content type, content length and expiry.

Optional capabilities. What only some backends can do is a small protocol here (``ObjectListing``,
``MultipartListing``, ``SignedPutTarget``, ``TemporaryFiles``, ``FileAdoption``), and every
backend declares the ones it has in ``capabilities``, a ``StorageCapabilities`` whose fields
are the capability or ``None``. Callers ask for what they need and branch on ``None``, never on
the backend's class::

    listing = storage.capabilities.object_listing
    if listing is None:
        return 0  # this backend cannot list its objects: nothing to sweep
    async for keys in listing.stored_keys(prefix="proj_", modified_before=cutoff): ...

A backend usually offers a capability itself (``StorageCapabilities(object_listing=self)``),
which mypy checks against the protocol; a new capability is one protocol and one field that
defaults to ``None``, so backends without it need no change. This is typed and explicit where
``isinstance`` on a backend class couples callers to one implementation, and where a
``runtime_checkable`` protocol checks only that methods of those names exist.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from uploadkit_server.storage.signed_urls import PutGrant, PutKind


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


class BodyTooLarge(StorageError):
    """More bytes arrived than the URL was signed for; the upload was cut off and discarded."""


class BodyIncomplete(StorageError):
    """The body ended before the signed length; nothing was stored."""


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


@dataclass(frozen=True, slots=True)
class PendingMultipart:
    """A multipart upload the store holds: started, neither completed nor aborted."""

    key: str
    upload_id: str
    initiated: datetime


# -- optional capabilities (see the module docstring) ----------------------------------------


class ObjectListing(Protocol):
    """The store lists its objects by age (for the orphan sweep; local and S3)."""

    def stored_keys(self, *, prefix: str, modified_before: datetime) -> AsyncIterator[list[str]]:
        """Keys of the objects under ``prefix`` last written before ``modified_before``, a page
        at a time."""
        ...


class MultipartListing(Protocol):
    """The store lists the multipart uploads it holds (S3: uploads nothing tracks any more can
    be swept; the local emulation is swept with its upload records instead)."""

    async def multipart_uploads(
        self, *, prefix: str = "", started_before: datetime | None = None
    ) -> list[PendingMultipart]:
        """Uploads in progress under ``prefix``, optionally only those started before
        ``started_before``."""
        ...


class SignedPutTarget(Protocol):
    """This server is the target of the store's presigned PUT URLs (local disk): the storage
    endpoint checks a PUT against its signature and hands the body over."""

    def verify_put(
        self,
        kind: PutKind,
        key: str,
        query: Mapping[str, str],
        *,
        upload_id: str | None = None,
        part_number: int | None = None,
        content_type: str | None,
        content_length: str | None,
    ) -> PutGrant:
        """The grant of a PUT to one of the store's URLs; ``UrlRefused`` (or ``UrlExpired``) if
        the request does not match its signature. Checked before a byte of the body is read."""
        ...

    async def receive(self, grant: PutGrant, body: AsyncIterable[bytes]) -> str:
        """Store the body the grant allows and return its ETag; ``BodyTooLarge``,
        ``BodyIncomplete``, ``ChecksumMismatch`` or ``ObjectNotFound`` (the multipart upload is
        gone) with nothing stored."""
        ...


class TemporaryFiles(Protocol):
    """The store keeps bytes being received in temporary files that a killed process leaves
    behind (local disk)."""

    async def remove_stale_temp_files(self, *, older_than: float) -> int:
        """Remove the temporary files untouched for ``older_than`` seconds; how many."""
        ...


class FileAdoption(Protocol):
    """The store can take over a complete file from its own filesystem as an object, by a
    rename rather than a copy (local disk; how the local tus store finishes uploads)."""

    async def adopt_file(self, key: str, path: Path, *, content_type: str, etag: str) -> None: ...


@dataclass(frozen=True, slots=True)
class StorageCapabilities:
    """The optional capabilities a backend has; each field is the capability or ``None``."""

    object_listing: ObjectListing | None = None
    multipart_listing: MultipartListing | None = None
    signed_put_target: SignedPutTarget | None = None
    temporary_files: TemporaryFiles | None = None
    file_adoption: FileAdoption | None = None


class StorageBackend(Protocol):
    #: The ``ContentChecksum`` algorithms ``presign_put`` can make the store enforce.
    checksum_algorithms: frozenset[str]
    #: What this backend can do beyond this interface (see the module docstring).
    capabilities: StorageCapabilities

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

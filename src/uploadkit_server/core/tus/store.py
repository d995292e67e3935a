"""The tus store interface: where the bytes of a resumable upload live until it is complete.

The tus service knows storage only through ``TusStore``, as tusd's handler knows its data stores:
create an upload, append at an offset, finish it into an object of the storage backend, or
discard it. The database row (``tus_uploads``) holds the offset that counts; a store keeps the
bytes and may hold a few more than that offset (a PATCH cut off by a crash), which the next
``append`` at that offset drops. Stores translate native errors into the ones below.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Any, Protocol

#: ``Tus-Checksum-Algorithm``: what ``Upload-Checksum`` may name.
CHECKSUM_ALGORITHMS = ("sha1", "sha256", "md5")


class TusStoreError(Exception):
    """Base of the errors a tus store raises."""


class StoredUploadGone(TusStoreError):
    """The store holds no bytes for this handle (discarded, expired, or lost)."""


class ChunkChecksumMismatch(TusStoreError):
    """The PATCH body does not match its ``Upload-Checksum``; nothing of it was kept."""


class ChunkTooLong(TusStoreError):
    """The PATCH body runs past the bytes the upload still expects; nothing of it was kept."""


@dataclass(frozen=True, slots=True)
class ChunkChecksum:
    """An ``Upload-Checksum``: the digest the whole PATCH body must have."""

    algorithm: str
    digest: bytes

    def hasher(self) -> Any:
        return hashlib.new(self.algorithm)


@dataclass(frozen=True, slots=True)
class StoreHandle:
    """A new upload's handle in the store."""

    ref: str
    #: The storage backend's multipart upload id where the store keeps the bytes in one (S3):
    #: recorded on the file, so that failing it aborts the upload and the orphan sweep spares it.
    storage_upload_id: str | None = None


@dataclass(frozen=True, slots=True)
class FinishedObject:
    """What finishing placed in storage: its size and the SHA-256 of its bytes (hex)."""

    size: int
    sha256: str


class TusStore(Protocol):
    async def create(self, *, key: str, content_type: str) -> StoreHandle:
        """Start an upload that will become the object at ``key``."""
        ...

    async def append(
        self,
        ref: str,
        *,
        offset: int,
        chunks: AsyncIterable[bytes],
        max_bytes: int,
        checksum: ChunkChecksum | None = None,
    ) -> int:
        """Append the body at ``offset`` (bytes past it are dropped first); return how many
        bytes were kept.

        At most ``max_bytes`` are taken: the caller stops the body there. Without a checksum, the
        bytes of a body that ends early are kept (the client resumes after them); with one, the
        body is kept only whole and matching (``ChunkChecksumMismatch``). A body longer than
        ``max_bytes`` is dropped whole (``ChunkTooLong``).
        ``StoredUploadGone`` if the store lost the upload.
        """
        ...

    async def finish(self, ref: str, *, key: str, content_type: str, size: int) -> FinishedObject:
        """Place the first ``size`` bytes as the object at ``key`` of the storage backend and
        release the handle. ``StoredUploadGone`` once finished (or discarded): the caller then
        finds the object in storage, as after a crash between finishing and recording it."""
        ...

    async def discard(self, ref: str) -> None:
        """Remove what the store holds for the upload; an unknown handle is not an error."""
        ...

    async def close(self) -> None: ...

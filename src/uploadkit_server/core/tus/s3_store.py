"""Tus uploads on an S3-compatible store: an S3 multipart upload under the hood.

What it needs: only the ``StorageBackend`` interface (multipart uploads, presigned PUTs, reads)
and an HTTP client to send bytes to the presigned URLs, so it works wherever ``S3Storage``
does. Layout in the bucket, for an upload whose object will be ``<key>``:

    multipart upload of <key>      full parts of ``PART_SIZE`` bytes, numbered from 1
    _tus-tails/<digest of ref>     the bytes past the last full part (< PART_SIZE), prefixed by
                                   their 8-byte big-endian start offset

S3 wants every part but the last to be at least 5 MiB, and tus PATCHes may be of any size: a
PATCH sends each full part as soon as it has one and leaves the rest as the tail object, which
the next PATCH (in any process) reads back first. Memory holds at most one part per PATCH.
Which parts and tail bytes count is decided by the offset the database recorded alone: parts
past it (a PATCH refused by its checksum, or cut off by a crash) are overwritten later, and
finishing completes the multipart upload with exactly the parts that count.

The SHA-256 is computed while the bytes arrive, in the process that receives them; a process
that did not see every byte reads the object back once after completing it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterable

import httpx

from uploadkit_server.core.tus.digests import DigestCache, RunningDigests
from uploadkit_server.core.tus.store import (
    ChunkChecksum,
    ChunkChecksumMismatch,
    ChunkTooLong,
    FinishedObject,
    StoredUploadGone,
    StoreHandle,
    TusStoreError,
)
from uploadkit_server.storage.base import (
    ByteRange,
    ObjectNotFound,
    PartETag,
    StorageBackend,
    StorageError,
)

#: Size of every part but the last: S3's minimum, so that the buffer stays small.
PART_SIZE = 5 * 1024 * 1024
TAIL_TYPE = "application/octet-stream"
URL_LIFETIME = 15 * 60
_START = 8  # bytes of the start offset at the head of a tail object


def _decode(ref: str) -> tuple[str, str]:
    try:
        value = json.loads(ref)
        return str(value["key"]), str(value["uploadId"])
    except (ValueError, KeyError, TypeError):
        raise StoredUploadGone(f"no upload {ref!r}") from None


class S3TusStore:
    """``TusStore`` over a ``StorageBackend`` with real multipart uploads; see the module
    docstring for the layout."""

    def __init__(self, storage: StorageBackend, *, http: httpx.AsyncClient | None = None) -> None:
        self.storage = storage
        self._http = http
        self._own_http = http is None
        self._digests = DigestCache()

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0))
        return self._http

    async def close(self) -> None:
        if self._own_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    @staticmethod
    def _tail_key(ref: str) -> str:
        return f"_tus-tails/{hashlib.sha256(ref.encode()).hexdigest()[:40]}"

    async def _put(self, url: str, data: bytes, *, content_type: str | None = None) -> str:
        headers = {"Content-Length": str(len(data))}
        if content_type is not None:
            headers["Content-Type"] = content_type
        try:
            response = await self._client().put(url, content=data, headers=headers)
        except httpx.HTTPError as error:
            raise StorageError(f"PUT to storage failed: {error}") from error
        if response.status_code == 404:
            raise StoredUploadGone("the multipart upload no longer exists")
        if response.status_code >= 300:
            raise StorageError(f"PUT to storage answered {response.status_code}")
        return str(response.headers.get("etag", ""))

    async def _put_part(self, key: str, upload_id: str, number: int, data: bytes) -> None:
        try:
            url = await self.storage.presign_part(
                key,
                upload_id=upload_id,
                part_number=number,
                content_length=len(data),
                expires_in=URL_LIFETIME,
            )
        except ObjectNotFound:
            raise StoredUploadGone("the multipart upload no longer exists") from None
        await self._put(url, data)

    async def _read_tail(self, ref: str, start: int, length: int) -> bytes:
        if length == 0:
            return b""
        data = bytearray()
        try:
            async for chunk in self.storage.read(
                self._tail_key(ref), byte_range=ByteRange(0, _START + length - 1)
            ):
                data += chunk
        except ObjectNotFound:
            raise StoredUploadGone("the bytes past the last part are gone") from None
        if len(data) < _START + length or int.from_bytes(data[:_START], "big") != start:
            raise StoredUploadGone("the bytes past the last part are not those recorded")
        return bytes(data[_START : _START + length])

    async def _write_tail(self, ref: str, start: int, data: bytes) -> None:
        if not data:
            await self.storage.delete(self._tail_key(ref))
            return
        body = start.to_bytes(_START, "big") + data
        url = await self.storage.presign_put(
            self._tail_key(ref),
            content_type=TAIL_TYPE,
            content_length=len(body),
            expires_in=URL_LIFETIME,
        )
        await self._put(url, body, content_type=TAIL_TYPE)

    # -- TusStore ----------------------------------------------------------------------------

    async def create(self, *, key: str, content_type: str) -> StoreHandle:
        upload_id = await self.storage.create_multipart(key, content_type=content_type)
        ref = json.dumps({"key": key, "uploadId": upload_id}, separators=(",", ":"))
        self._digests.remember(ref, RunningDigests())
        return StoreHandle(ref=ref, storage_upload_id=upload_id)

    async def append(
        self,
        ref: str,
        *,
        offset: int,
        chunks: AsyncIterable[bytes],
        max_bytes: int,
        checksum: ChunkChecksum | None = None,
    ) -> int:
        key, upload_id = _decode(ref)
        full_parts, tail_length = divmod(offset, PART_SIZE)
        start = full_parts * PART_SIZE
        buffer = bytearray(await self._read_tail(ref, start, tail_length))
        digests = self._digests.take(ref)
        if digests is not None and digests.offset != offset:
            digests = None
        before = digests.copy() if digests is not None else None
        chunk_hash = checksum.hasher() if checksum is not None else None
        next_part = full_parts + 1
        kept = 0
        try:
            async for chunk in chunks:
                kept += len(chunk)
                if kept > max_bytes:
                    raise ChunkTooLong(f"the body runs past the {max_bytes} bytes still expected")
                if chunk_hash is not None:
                    chunk_hash.update(chunk)
                if digests is not None:
                    digests.sha256.update(chunk)
                    digests.offset += len(chunk)
                buffer += chunk
                while len(buffer) >= PART_SIZE:
                    part, buffer = bytes(buffer[:PART_SIZE]), buffer[PART_SIZE:]
                    await self._put_part(key, upload_id, next_part, part)
                    next_part += 1
                    start += PART_SIZE
            if (
                chunk_hash is not None
                and checksum is not None
                and chunk_hash.digest() != checksum.digest
            ):
                raise ChunkChecksumMismatch(f"the body does not match its {checksum.algorithm}")
            await self._write_tail(ref, start, bytes(buffer))
        except BaseException:
            # Parts sent meanwhile lie past the recorded offset: overwritten or left out later.
            if before is not None:
                self._digests.remember(ref, before)
            raise
        if digests is not None:
            self._digests.remember(ref, digests)
        return kept

    async def finish(self, ref: str, *, key: str, content_type: str, size: int) -> FinishedObject:
        stored_key, upload_id = _decode(ref)
        full_parts, tail_length = divmod(size, PART_SIZE)
        try:
            stored = {
                part.part_number: part
                for part in await self.storage.list_parts(stored_key, upload_id=upload_id)
            }
        except ObjectNotFound:
            raise StoredUploadGone("the multipart upload no longer exists") from None
        if tail_length:
            tail = await self._read_tail(ref, full_parts * PART_SIZE, tail_length)
            await self._put_part(stored_key, upload_id, full_parts + 1, tail)
            stored = {
                part.part_number: part
                for part in await self.storage.list_parts(stored_key, upload_id=upload_id)
            }
        count = full_parts + (1 if tail_length else 0)
        parts = [stored.get(number) for number in range(1, count + 1)]
        if any(part is None for part in parts):
            raise StoredUploadGone("parts of the upload are missing")
        try:
            await self.storage.complete_multipart(
                stored_key,
                upload_id=upload_id,
                parts=[PartETag(p.part_number, p.etag) for p in parts if p is not None],
            )
        except ObjectNotFound:
            raise StoredUploadGone("the multipart upload no longer exists") from None
        except StorageError as error:
            raise TusStoreError(f"completing the multipart upload failed: {error}") from error
        await self.storage.delete(self._tail_key(ref))
        digests = self._digests.take(ref)
        if digests is None or digests.offset != size:
            digests = RunningDigests()
            async for chunk in self.storage.read(stored_key):
                digests.sha256.update(chunk)
                digests.offset += len(chunk)
        return FinishedObject(size=size, sha256=digests.sha256.hexdigest())

    async def discard(self, ref: str) -> None:
        self._digests.take(ref)
        try:
            key, upload_id = _decode(ref)
        except StoredUploadGone:
            return
        await self.storage.abort_multipart(key, upload_id=upload_id)
        await self.storage.delete(self._tail_key(ref))

"""Objects on the local disk, with this server as the target of its presigned URLs.

What it needs: one directory on one filesystem (so that a rename is atomic) and the server's
secret key. The layout under ``root`` (objects, their JSON sidecars, multipart uploads, bytes
being received) is ``local_layout``'s; multipart uploads are emulated by ``local_multipart``.

Keys become paths only through ``secure_path.resolve_key``. A presigned URL points at the public
storage endpoint (``{public_url}/storage/...``) and carries its expiry, the signed content type
and length, and an HMAC of all of them with the method and key; ``verify_put`` checks it and
``receive`` streams the body to a temporary file, refusing a byte more than was signed, before
moving it into place (as an object, or as a part of a multipart upload). ETags look like S3's:
32 quoted hex digits for a single object or part (the first 128 bits of its SHA-256, computed
on the way anyway, rather than an MD5: one hash per byte, not two), ``"md5(part digests)-N"``
for an assembled one.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread

from uploadkit_server.storage.base import (
    BodyIncomplete,
    BodyTooLarge,
    ByteRange,
    ChecksumMismatch,
    ContentChecksum,
    ObjectInfo,
    ObjectNotFound,
    PartETag,
    StorageCapabilities,
    StoredPart,
)
from uploadkit_server.storage.ingest import BodyWriter
from uploadkit_server.storage.local_files import (
    prune_empty_parents,
    remove_entries_older_than,
    remove_quietly,
    write_file_durably,
)
from uploadkit_server.storage.local_layout import DEFAULT_CONTENT_TYPE, LocalLayout, object_meta
from uploadkit_server.storage.local_multipart import LocalMultipartUploads
from uploadkit_server.storage.multipart_rules import MAX_PART_NUMBER, content_etag
from uploadkit_server.storage.secure_path import UnsafeKey, key_segments, resolve_key
from uploadkit_server.storage.signed_urls import (
    PutGrant,
    PutKind,
    UrlSigner,
)

#: Bytes handed to a worker thread at once when reading an object.
CHUNK_SIZE = 1024 * 1024
#: Keys per page handed out by ``stored_keys``, as S3's listing pages them.
LIST_PAGE = 1000


def _digest_of(writer: BodyWriter, checksum: ContentChecksum) -> bytes:
    if checksum.algorithm == "sha256":
        return writer.sha256.digest()
    raise ChecksumMismatch(f"checksum algorithm {checksum.algorithm!r} is not supported here")


class LocalStorage:
    """``StorageBackend`` on a local directory; see the module docstring for the layout."""

    #: SHA-256 is computed on every body anyway; CRC32C would need a dependency for nothing.
    checksum_algorithms = frozenset({"sha256"})

    def __init__(
        self,
        root: Path,
        secret_key: str,
        public_url: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self.signer = UrlSigner(secret_key, public_url, clock=clock)
        self.capabilities = StorageCapabilities(
            object_listing=self,
            signed_put_target=self,
            temporary_files=self,
            file_adoption=self,
        )
        self._clock = clock
        self._layout = LocalLayout(root)
        self._multipart = LocalMultipartUploads(self._layout)
        # Writes and hashes of incoming bodies (two workers per body); threads start on use.
        self._executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="ingest")

    # -- signed URLs -------------------------------------------------------------------------

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
        """The grant of a PUT to one of this backend's URLs; ``UrlRefused`` (or ``UrlExpired``)
        if the request does not match its signature. See ``UrlSigner.verify``."""
        return self.signer.verify(
            kind,
            key,
            query,
            upload_id=upload_id,
            part_number=part_number,
            content_type=content_type,
            content_length=content_length,
        )

    # -- receiving bytes ---------------------------------------------------------------------

    async def receive(self, grant: PutGrant, body: AsyncIterable[bytes]) -> str:
        """Stream ``body`` to a temporary file and move it into place; return its ETag.

        Memory holds at most two batches (``ingest.BodyWriter``); the disk never holds more
        than the signed length, since the chunk that would run past it is refused before it is
        written. MD5 (the ETag) and SHA-256 are computed on the way; a body that does not hash
        to the checksum signed into its URL is refused (``ChecksumMismatch``) before it is
        moved into place. On any failure (too long, too short, wrong checksum, client gone) the
        temporary file is removed and nothing else changes: the URL can be used again.
        """
        # Where the bytes will go is checked before any byte is read.
        if grant.kind is PutKind.OBJECT:
            targets = self._layout.object_paths(grant.key)
        else:
            assert grant.upload_id is not None
            upload_dir = await anyio.to_thread.run_sync(
                self._multipart.open_upload_dir, grant.key, grant.upload_id
            )
        temp = self._layout.temp_path("upload")
        fd = await anyio.to_thread.run_sync(self._layout.open_temp_fd, temp)
        writer: BodyWriter | None = None
        received = 0
        try:
            writer = BodyWriter(fd, executor=self._executor)
            async for chunk in body:
                received += len(chunk)
                if received > grant.content_length:
                    raise BodyTooLarge(
                        f"The body runs past the signed length of {grant.content_length} bytes"
                    )
                await writer.add(chunk)
            if received < grant.content_length:
                raise BodyIncomplete(
                    f"The body has {received} bytes; {grant.content_length} were signed"
                )
            await writer.finish()
            os.close(fd)
            fd = -1
            sha256 = writer.sha256.digest()
            if grant.checksum is not None and _digest_of(writer, grant.checksum) != (
                grant.checksum.digest
            ):
                raise ChecksumMismatch(
                    f"The body does not match the {grant.checksum.algorithm} checksum "
                    f"{grant.checksum.base64} it was signed for; nothing was stored"
                )
            etag = content_etag(sha256)
            if grant.kind is PutKind.OBJECT:
                meta = object_meta(
                    grant.content_type or DEFAULT_CONTENT_TYPE, etag, received, sha256=sha256
                )
                await anyio.to_thread.run_sync(self._layout.commit_object, temp, *targets, meta)
            else:
                assert grant.part_number is not None
                commit_part = self._multipart.commit_part
                await anyio.to_thread.run_sync(
                    commit_part, temp, upload_dir, grant.part_number, etag, received, sha256
                )
        except BaseException:
            # Synchronous on purpose: this also runs when the task is being cancelled.
            if writer is not None:
                writer.abandon()
            if fd >= 0:
                os.close(fd)
            remove_quietly(temp)
            raise
        return etag

    # -- StorageBackend ----------------------------------------------------------------------

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
        # ``create_only`` needs nothing here: the storage endpoint takes bytes only for a file
        # still waiting for them (core.uploads.admission), which also covers deleted objects.
        if checksum is not None and checksum.algorithm not in self.checksum_algorithms:
            raise ValueError(f"checksum algorithm {checksum.algorithm!r} is not supported")
        grant = PutGrant(
            kind=PutKind.OBJECT,
            key=key,
            content_type=content_type,
            content_length=content_length,
            checksum=checksum,
        )
        # No URL for a key that cannot be stored. Its own checks are enough here: where it
        # leads on disk (symlinks) is resolved when the bytes arrive, and ``realpath`` on every
        # segment cost a third of a presign's storage work.
        key_segments(grant.key)
        return self.signer.url(grant, expires_in)

    def put_headers(
        self, *, create_only: bool, checksum: ContentChecksum | None = None
    ) -> dict[str, str]:
        return {}  # the checksum travels signed in the URL

    async def create_multipart(self, key: str, *, content_type: str) -> str:
        resolve_key(self._layout.objects, key)
        return await self._multipart.create(key, content_type=content_type)

    async def presign_part(
        self, key: str, *, upload_id: str, part_number: int, content_length: int, expires_in: int
    ) -> str:
        self._multipart.upload_dir(upload_id)  # ObjectNotFound for an id never handed out
        if not 1 <= part_number <= MAX_PART_NUMBER:
            raise ValueError(f"part_number must be 1..{MAX_PART_NUMBER}")
        grant = PutGrant(
            kind=PutKind.PART,
            key=key,
            upload_id=upload_id,
            part_number=part_number,
            content_length=content_length,
        )
        key_segments(grant.key)  # no URL for a key that cannot be stored (see presign_put)
        return self.signer.url(grant, expires_in)

    async def list_parts(self, key: str, *, upload_id: str) -> list[StoredPart]:
        return await self._multipart.list_parts(key, upload_id=upload_id)

    async def complete_multipart(
        self,
        key: str,
        *,
        upload_id: str,
        parts: list[PartETag],
        sha256: bytes | None = None,
    ) -> bytes | None:
        return await self._multipart.complete(key, upload_id=upload_id, parts=parts, sha256=sha256)

    async def abort_multipart(self, key: str, *, upload_id: str) -> None:
        await self._multipart.abort(key, upload_id=upload_id)

    async def head(self, key: str) -> ObjectInfo | None:
        return await anyio.to_thread.run_sync(self._head, key)

    async def read(self, key: str, *, byte_range: ByteRange | None = None) -> AsyncIterator[bytes]:
        try:
            path = resolve_key(self._layout.objects, key)
            handle = await anyio.to_thread.run_sync(open, path, "rb")
        except (UnsafeKey, FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        try:
            remaining: int | None = None
            if byte_range is not None:
                handle.seek(byte_range.start)
                remaining = byte_range.length
            while remaining is None or remaining > 0:
                size = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
                data = await anyio.to_thread.run_sync(handle.read, size)
                if not data:
                    break
                if remaining is not None:
                    remaining -= len(data)
                yield data
        finally:
            handle.close()

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(self._delete, key)

    async def delete_many(self, keys: Sequence[str]) -> None:
        # One worker thread for the lot: a thread hop per key costs more than the unlink.
        await anyio.to_thread.run_sync(self._delete_many, list(keys))

    async def presign_get(
        self, key: str, *, expires_in: int, attachment: bool = False
    ) -> str | None:
        return None  # the CDN endpoint serves local objects itself

    async def close(self) -> None:
        self._executor.shutdown(wait=False)

    async def adopt_file(self, key: str, path: Path, *, content_type: str, etag: str) -> None:
        """Move a complete file from this filesystem into place as the object at ``key`` (the
        local tus store finishes uploads this way: a rename, no second copy of the bytes)."""
        targets = self._layout.object_paths(key)

        def adopt() -> None:
            self._layout.ensure()
            meta = object_meta(content_type, etag, path.stat().st_size)
            self._layout.commit_object(path, *targets, meta)

        await anyio.to_thread.run_sync(adopt)

    async def stored_keys(
        self, *, prefix: str, modified_before: datetime
    ) -> AsyncIterator[list[str]]:
        """Keys of the objects under ``prefix`` last written before ``modified_before``, a page
        at a time (for the orphan sweep). A key's segments are folders, so the walk is of
        ``objects/`` itself; keys that are not safe to resolve are never there."""
        keys = await anyio.to_thread.run_sync(self._keys_before, prefix, modified_before)
        for start in range(0, len(keys), LIST_PAGE):
            yield keys[start : start + LIST_PAGE]

    def _keys_before(self, prefix: str, modified_before: datetime) -> list[str]:
        cutoff = modified_before.timestamp()
        found: list[str] = []
        for folder, _dirs, names in os.walk(self._layout.objects):
            for name in names:
                path = Path(folder, name)
                key = path.relative_to(self._layout.objects).as_posix()
                if not key.startswith(prefix):
                    continue
                try:
                    if path.stat().st_mtime < cutoff:
                        found.append(key)
                except FileNotFoundError:  # deleted while walking
                    continue
        return found

    async def remove_stale_temp_files(self, *, older_than: float) -> int:
        """Remove what crashed or killed processes left in ``tmp/``; returns how many.

        A receiving upload touches its file on every write, so one untouched for ``older_than``
        seconds belongs to nobody.
        """
        return await anyio.to_thread.run_sync(self._remove_stale_temp_files, older_than)

    # -- written by the server itself (image transform variants) -----------------------------

    async def put_object(self, key: str, data: bytes, *, content_type: str) -> ObjectInfo:
        return await anyio.to_thread.run_sync(self._put_object, key, data, content_type)

    def _put_object(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        targets = self._layout.object_paths(key)
        temp = self._layout.temp_path("put")
        try:
            self._layout.ensure()
            write_file_durably(temp, data)  # the rename below is durable: the bytes must be too
            sha256 = hashlib.sha256(data).digest()
            etag = content_etag(sha256)
            meta = object_meta(content_type, etag, len(data), sha256=sha256)
            self._layout.commit_object(temp, *targets, meta)
        finally:
            remove_quietly(temp)
        return ObjectInfo(
            size=len(data),
            content_type=content_type,
            etag=etag,
            last_modified=datetime.fromtimestamp(meta["lastModified"], UTC),
        )

    # -- on-disk work (runs in worker threads) -----------------------------------------------

    def _remove_stale_temp_files(self, older_than: float) -> int:
        return remove_entries_older_than(self._layout.tmp, self._clock() - older_than)

    # -- objects -----------------------------------------------------------------------------

    def _head(self, key: str) -> ObjectInfo | None:
        try:
            object_path, meta_path = self._layout.object_paths(key)
            stat = object_path.stat()
        except (UnsafeKey, FileNotFoundError, NotADirectoryError):
            return None
        if not object_path.is_file():
            return None
        try:
            meta: dict[str, Any] = json.loads(meta_path.read_text())
        except (OSError, json.JSONDecodeError):
            meta = {}  # bytes placed by hand: still served, with neutral facts
        sha256 = meta.get("sha256")
        return ObjectInfo(
            size=stat.st_size,
            content_type=meta.get("contentType", DEFAULT_CONTENT_TYPE),
            etag=meta.get("etag", f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'),
            last_modified=datetime.fromtimestamp(meta.get("lastModified", stat.st_mtime), UTC),
            checksums={"sha256": bytes.fromhex(sha256)} if sha256 else {},
        )

    def _delete_many(self, keys: list[str]) -> None:
        for key in keys:
            self._delete(key)

    def _delete(self, key: str) -> None:
        try:
            object_path, meta_path = self._layout.object_paths(key)
        except UnsafeKey:
            return
        layout = self._layout
        with layout.commit_lock:
            for path, tree in ((object_path, layout.objects), (meta_path, layout.meta)):
                try:
                    path.unlink()
                except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                    continue
                prune_empty_parents(path, tree)

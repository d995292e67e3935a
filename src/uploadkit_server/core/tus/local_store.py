"""Tus uploads on the local disk: each upload is one file that PATCHes append to.

What it needs: a directory on the same filesystem as the local storage backend (so that
finishing is a rename, not a copy) and that backend's ``adopt_file``. Layout under ``root``::

    <ref>.upload    the bytes received so far (the handle is a random token)

The SHA-256 (and the MD5 that the local backend's ETags are made of) are computed while the
bytes arrive, in the process that receives them. A process that did not see every byte of an
upload (a restart, or PATCHes served by several processes) reads the file once when finishing.
Writes and hashing run in worker threads; memory holds at most one chunk per PATCH.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import AsyncIterable, Awaitable, Callable
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread

from uploadkit_server.core.tus.digests import DigestCache, RunningDigests
from uploadkit_server.core.tus.store import (
    ChunkChecksum,
    ChunkChecksumMismatch,
    ChunkTooLong,
    FinishedObject,
    StoredUploadGone,
    StoreHandle,
)
from uploadkit_server.security import random_token

#: Bytes handed to a worker thread at once.
CHUNK_SIZE = 1024 * 1024

_REF = re.compile(r"[a-z0-9]{20,64}")

#: ``adopt_file(key, path, *, content_type, etag)``: move a complete file into storage.
AdoptFile = Callable[..., Awaitable[None]]


class LocalTusStore:
    """``TusStore`` on a local directory; see the module docstring for the layout."""

    def __init__(self, root: Path, *, adopt_file: AdoptFile) -> None:
        self.root = root
        self._adopt_file = adopt_file
        self._digests = DigestCache()

    def _path(self, ref: str) -> Path:
        if not _REF.fullmatch(ref):
            raise StoredUploadGone(f"no upload {ref!r}")
        return self.root / f"{ref}.upload"

    # -- TusStore ----------------------------------------------------------------------------

    async def create(self, *, key: str, content_type: str) -> StoreHandle:
        ref = random_token(20).lower()
        path = self._path(ref)

        def make() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            path.touch(exist_ok=False)

        await anyio.to_thread.run_sync(make)
        self._digests.remember(ref, RunningDigests())
        return StoreHandle(ref=ref)

    async def append(
        self,
        ref: str,
        *,
        offset: int,
        chunks: AsyncIterable[bytes],
        max_bytes: int,
        checksum: ChunkChecksum | None = None,
    ) -> int:
        path = self._path(ref)
        handle = await anyio.to_thread.run_sync(self._open_at, path, offset)
        digests = self._digests.take(ref)
        if digests is not None and digests.offset != offset:
            digests = None  # bytes this process did not see: recomputed when finishing
        before = digests.copy() if digests is not None and checksum is not None else None
        chunk_hash = checksum.hasher() if checksum is not None else None
        kept = 0
        buffer = bytearray()

        def flush(data: bytearray) -> None:
            view = memoryview(data)
            while view:
                written = handle.write(view)
                view = view[written or 0 :]
            if chunk_hash is not None:
                chunk_hash.update(data)
            if digests is not None:
                digests.sha256.update(data)
                digests.md5.update(data)
                digests.offset += len(data)

        def drop_chunk() -> None:
            handle.truncate(offset)
            handle.close()
            if before is not None:
                self._digests.remember(ref, before)

        try:
            async for chunk in chunks:
                kept += len(chunk)
                if kept > max_bytes:
                    raise ChunkTooLong(f"the body runs past the {max_bytes} bytes still expected")
                buffer += chunk
                if len(buffer) >= CHUNK_SIZE:
                    data, buffer = buffer, bytearray()
                    await anyio.to_thread.run_sync(flush, data)
        except BaseException as error:
            # Synchronous on purpose: this also runs when the task is being cancelled. A body
            # that broke off keeps the bytes received (the client resumes after them), unless a
            # checksum was sent: then they cannot be verified and are dropped.
            if checksum is not None or isinstance(error, ChunkTooLong):
                drop_chunk()
            else:
                flush(buffer)
                os.fsync(handle.fileno())
                handle.close()
                if digests is not None:
                    self._digests.remember(ref, digests)
            raise
        await anyio.to_thread.run_sync(flush, buffer)
        if (
            checksum is not None
            and chunk_hash is not None
            and chunk_hash.digest() != checksum.digest
        ):
            await anyio.to_thread.run_sync(drop_chunk)
            raise ChunkChecksumMismatch(f"the body does not match its {checksum.algorithm}")
        await anyio.to_thread.run_sync(os.fsync, handle.fileno())
        handle.close()
        if digests is not None:
            self._digests.remember(ref, digests)
        return kept

    async def finish(self, ref: str, *, key: str, content_type: str, size: int) -> FinishedObject:
        path = self._path(ref)
        digests = self._digests.take(ref)
        if digests is None or digests.offset != size:
            digests = await anyio.to_thread.run_sync(self._digest_file, path, size)
        etag = f'"{digests.md5.hexdigest()}"'
        await self._adopt_file(key, path, content_type=content_type, etag=etag)
        return FinishedObject(size=size, sha256=digests.sha256.hexdigest())

    async def close(self) -> None:
        return None

    async def discard(self, ref: str) -> None:
        self._digests.take(ref)
        try:
            path = self._path(ref)
        except StoredUploadGone:
            return
        await anyio.to_thread.run_sync(self._unlink, path)

    # -- on-disk work (worker threads) -------------------------------------------------------

    @staticmethod
    def _open_at(path: Path, offset: int) -> BinaryIO:
        try:
            handle: BinaryIO = open(path, "r+b", buffering=0)  # noqa: SIM115 (closed by caller)
        except FileNotFoundError:
            raise StoredUploadGone(f"no bytes held for {path.name}") from None
        size = os.fstat(handle.fileno()).st_size
        if size < offset:
            handle.close()
            raise StoredUploadGone(f"{path.name} holds {size} bytes, fewer than the offset")
        if size > offset:
            handle.truncate(offset)  # left by a PATCH that was never recorded
        handle.seek(offset)
        return handle

    @staticmethod
    def _digest_file(path: Path, size: int) -> RunningDigests:
        digests = RunningDigests()
        try:
            with open(path, "r+b", buffering=0) as handle:
                if os.fstat(handle.fileno()).st_size < size:
                    raise StoredUploadGone(f"{path.name} holds fewer than {size} bytes")
                handle.truncate(size)
                while data := handle.read(CHUNK_SIZE):
                    digests.sha256.update(data)
                    digests.md5.update(data)
                    digests.offset += len(data)
        except FileNotFoundError:
            raise StoredUploadGone(f"no bytes held for {path.name}") from None
        return digests

    @staticmethod
    def _unlink(path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

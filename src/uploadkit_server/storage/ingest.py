"""Writing one incoming body to a file: batched, hashed, and overlapped with receiving it.

The per-chunk path of a large PUT decides its throughput. The event loop parses HTTP and hands
over chunks of at most a few dozen KiB; writing and hashing them one by one would cost a thread
hop (~90 µs here) and a system call per chunk. Instead chunks are gathered, as they came, into
batches of ``BATCH_BYTES``; a worker thread writes a batch with one ``os.pwritev`` (the chunks are
its vectors: no byte is copied in user space) and feeds it to the hashes (``hashlib`` and
``pwritev`` release the GIL), while the loop goes on gathering the next batch. MD5 (for the
S3-style ETag) and SHA-256 run on two workers at once, so a batch costs the slower of the two
rather than their sum. At most two batches are in memory per body; the file is fsynced once,
at the end.

Example::

    writer = BodyWriter(fd, executor=executor)
    try:
        async for chunk in body:
            await writer.add(chunk)
        await writer.finish()          # written, hashed, fsynced
    except BaseException:
        writer.abandon()               # waits for the workers; the caller removes the file
        raise
    writer.md5.digest(), writer.sha256.digest()
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from concurrent.futures import Executor, Future
from typing import Any

#: Bytes gathered before a batch is handed to the workers.
BATCH_BYTES = 4 * 1024 * 1024
#: Vectors per ``pwritev`` call (the kernel's ``IOV_MAX``).
_IOV_MAX = 1024


def pwrite_all(fd: int, chunks: list[bytes], offset: int) -> None:
    """Write ``chunks`` at ``offset`` with as few ``pwritev`` calls as the kernel allows."""
    views = [memoryview(chunk) for chunk in chunks if chunk]
    index = 0
    while index < len(views):
        written = os.pwritev(fd, views[index : index + _IOV_MAX], offset)
        offset += written
        # Skip what went out; a short write resumes inside the chunk it stopped in.
        while written and index < len(views):
            if written >= len(views[index]):
                written -= len(views[index])
                index += 1
            else:
                views[index] = views[index][written:]
                written = 0


class BodyWriter:
    """Gathers a body's chunks and writes and hashes them on worker threads; see the module
    docstring. Not safe for concurrent use: one body, one writer."""

    def __init__(self, fd: int, *, executor: Executor) -> None:
        self.md5 = hashlib.md5()
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._fd = fd
        self._executor = executor
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._in_flight: list[Future[Any]] = []

    async def add(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._pending.append(chunk)
        self._pending_bytes += len(chunk)
        if self._pending_bytes >= BATCH_BYTES:
            await self._hand_over()

    async def finish(self) -> None:
        """Write and hash what is left, wait for the workers, fsync."""
        if self._pending:
            await self._hand_over()
        await self._wait()
        await asyncio.wrap_future(self._executor.submit(os.fsync, self._fd))

    def abandon(self) -> None:
        """Wait (blocking) until no worker uses the file any more; errors are dropped, the
        caller is already failing. Synchronous so that it also works while being cancelled."""
        for future in self._in_flight:
            with contextlib.suppress(BaseException):  # the body is being thrown away
                future.result()
        self._in_flight = []

    async def _wait(self) -> None:
        in_flight, self._in_flight = self._in_flight, []
        try:
            for future in in_flight:
                await asyncio.wrap_future(future)
        except BaseException:
            self._in_flight = in_flight  # abandon() still waits for every one of them
            raise

    async def _hand_over(self) -> None:
        batch, self._pending, self._pending_bytes = self._pending, [], 0
        # One batch in the workers while the next is gathered: memory stays at two batches.
        await self._wait()
        offset = self.size
        self.size += sum(len(chunk) for chunk in batch)
        self._in_flight = [
            self._executor.submit(self._write_and_hash, batch, offset),
            self._executor.submit(_update, self.md5, batch),
        ]

    def _write_and_hash(self, batch: list[bytes], offset: int) -> None:
        pwrite_all(self._fd, batch, offset)
        _update(self.sha256, batch)


def _update(digest: Any, batch: list[bytes]) -> None:
    for chunk in batch:
        digest.update(chunk)

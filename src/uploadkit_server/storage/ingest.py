"""Writing one incoming body to a file: batched, hashed, and overlapped with receiving it.

The per-chunk path of a large PUT decides its throughput. The event loop parses HTTP and hands
over chunks of at most a few dozen KiB; writing and hashing them one by one would cost a thread
hop (~90 µs here) and a system call per chunk. Instead chunks are copied into one buffer of
``BATCH_BYTES``; a worker thread writes the batch with one ``os.pwrite`` and hashes it, while
the loop goes on gathering the next batch. Writing and hashing (SHA-256: the file's ``sha256``,
and the ETag) run on two workers at once, so a batch costs the slower of the two rather than
their sum. At most two batches are in memory per body; the file is fsynced once, at the end.

Why one contiguous buffer rather than handing the chunks over as they came (``pwritev`` would
take them without a copy): ``hashlib`` and ``pwrite`` release the GIL while they work, and a
worker must take it back after every call. While the loop thread is busy parsing the body it
gives the GIL up only every switch interval (5 ms), so a worker hashing 64 KiB chunks one call
at a time waits up to 5 ms per chunk: measured, that halved the throughput. One call per 4 MiB
costs one wait per batch; the copy costs less than a millisecond.

Example::

    writer = BodyWriter(fd, executor=executor)
    try:
        async for chunk in body:
            await writer.add(chunk)
        await writer.finish()          # written, hashed, fsynced
    except BaseException:
        writer.abandon()               # waits for the workers; the caller removes the file
        raise
    writer.sha256.digest()
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


def pwrite_all(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
    """Write all of ``data`` at ``offset`` (a write may take fewer bytes than offered)."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        offset += written
        view = view[written:]


class BodyWriter:
    """Gathers a body's chunks and writes and hashes them on worker threads; see the module
    docstring. Not safe for concurrent use: one body, one writer."""

    def __init__(self, fd: int, *, executor: Executor) -> None:
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._fd = fd
        self._executor = executor
        self._pending = bytearray()
        self._in_flight: list[Future[Any]] = []

    async def add(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._pending += chunk
        if len(self._pending) >= BATCH_BYTES:
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
        batch, self._pending = self._pending, bytearray()
        # One batch in the workers while the next is gathered: memory stays at two batches.
        await self._wait()
        offset = self.size
        self.size += len(batch)
        self._in_flight = [
            self._executor.submit(pwrite_all, self._fd, batch, offset),
            self._executor.submit(self.sha256.update, batch),
        ]

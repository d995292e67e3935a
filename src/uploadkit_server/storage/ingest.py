"""Writing one incoming body to a file: batched, hashed, and overlapped with receiving it.

The per-chunk path of a large PUT decides its throughput. The event loop parses HTTP and hands
over chunks of at most a few dozen KiB; writing and hashing them one by one would cost a thread
hop (~90 µs here) and a system call per chunk. Instead chunks are copied into one buffer of
``BATCH_BYTES``; a worker thread writes the batch with one ``os.pwrite`` and hashes it, while
the loop goes on gathering the next batch. Writing and hashing (SHA-256: the file's ``sha256``,
and the ETag) run on two workers at once, so a batch costs the slower of the two rather than
their sum. At most two batches are in memory per body; the file is fsynced once, at the end,
and since the writeback of every batch is started as soon as it is written
(``sync_file_range``), that fsync finds little left to do.

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
import ctypes
import ctypes.util
import hashlib
import os
from concurrent.futures import Executor, Future
from typing import Any

#: Bytes gathered before a batch is handed to the workers.
BATCH_BYTES = 4 * 1024 * 1024


#: ``sync_file_range(2)`` flag: start writing these pages back now, without waiting for it.
_SYNC_FILE_RANGE_WRITE = 2


def _load_sync_file_range() -> Any:
    """libc's ``sync_file_range`` (Linux), or ``None`` where there is none."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    function = getattr(ctypes.CDLL(name, use_errno=True), "sync_file_range", None)
    if function is not None:
        function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return function


_sync_file_range: Any = None
_sync_file_range_loaded = False


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Have the kernel start writing a just-written range to disk (``sync_file_range``), so the
    fsync before the ``200`` finds little left to do and the page cache does not fill up with
    dirty pages that throttle the writer. Best effort: a no-op where unsupported."""
    global _sync_file_range, _sync_file_range_loaded
    if not _sync_file_range_loaded:
        _sync_file_range, _sync_file_range_loaded = _load_sync_file_range(), True
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


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
            self._executor.submit(self._write, batch, offset),
            self._executor.submit(self.sha256.update, batch),
        ]

    def _write(self, batch: bytearray, offset: int) -> None:
        pwrite_all(self._fd, batch, offset)
        start_writeback(self._fd, offset, len(batch))

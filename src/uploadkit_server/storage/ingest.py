"""Writing one incoming body to a file: batched, hashed, and overlapped with receiving it.

The per-chunk path of a large PUT decides its throughput. The event loop parses HTTP and hands
over chunks of at most a few hundred KiB; writing and hashing them one by one would cost a thread
hop (~90 µs here) and a system call per chunk. Instead chunks are copied into one of two
page-aligned buffers of ``BATCH_BYTES``; a worker thread writes a full batch with one
``os.pwrite`` while another hashes it (SHA-256: the file's ``sha256``, and the ETag), and the
loop goes on filling the other buffer. A batch costs the slower of the two rather than their
sum, and memory holds two batches per body whatever its size.

The file is written with direct I/O (``O_DIRECT``, where the filesystem has it): the disk takes
the bytes straight from the buffer. Through the page cache, the kernel's copy of every byte
into it was the largest single cost of an upload (``perf``: a quarter of the server's CPU, more
than the SHA-256), on a 2-core machine where that CPU is the client's and the hash's too; and
since the bytes must be on disk before the ``200`` anyway, the cache saved nothing: the final
fsync waited for them. Measured here, 1 GiB in 4 MiB writes then fsync: 1.2 to 2.1 s of CPU
buffered, 0.07 s direct, at about the same wall time when the disk is the limit (the server's
CPU for a 512 MiB PUT fell from 2.2-2.4 s to 1.1-1.6 s).

Direct I/O wants aligned addresses, offsets and lengths: the buffers are ``mmap``'d
(page-aligned) and every batch but the last is full; the last one's unaligned tail is written
through the page cache. Where the filesystem
refuses direct I/O (tmpfs), writes are buffered, with the writeback of each batch started as
soon as it is written (``sync_file_range``) so that the final fsync finds little left to do.
Either way the file is fsynced once, at the end.

Why copy the chunks into a buffer rather than hand them over as they came (``pwritev`` would
take them as they are): besides alignment, ``hashlib`` and ``pwrite`` release the GIL while they
work, and a worker must take it back after every call. While the loop thread is busy parsing the
body it gives the GIL up only every switch interval (5 ms), so a worker hashing 64 KiB chunks
one call at a time waits up to 5 ms per chunk: measured, that halved the throughput. One call
per 4 MiB costs one wait per batch; the copy costs less than a millisecond.

Example::

    writer = None
    try:
        writer = BodyWriter(fd, executor=executor)   # may fail: the caller still owns fd
        async for chunk in body:
            await writer.add(chunk)
        await writer.finish()          # written, hashed, fsynced
    except BaseException:
        if writer is not None:
            writer.abandon()           # waits for the workers; the caller closes fd and
                                       # removes the file
        raise
    writer.sha256.digest()
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import hashlib
import mmap
import os
from concurrent.futures import Executor, Future
from typing import Any

#: Bytes gathered before a batch is handed to the workers (a multiple of ``DIRECT_ALIGNMENT``).
BATCH_BYTES = 4 * 1024 * 1024
#: Alignment of offsets and lengths that direct I/O is given: enough for any block device.
DIRECT_ALIGNMENT = 4096
#: ``O_DIRECT`` where the platform has it (Linux), else 0: buffered writes only.
_O_DIRECT: int = getattr(os, "O_DIRECT", 0)


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


def set_direct_io(fd: int, enabled: bool) -> bool:
    """Turn direct I/O on or off for ``fd``; whether it is now as asked (``False`` where the
    filesystem or platform has none: writes stay buffered)."""
    if not _O_DIRECT:
        return not enabled
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    wanted = flags | _O_DIRECT if enabled else flags & ~_O_DIRECT
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, wanted)
    except OSError as error:
        if error.errno != errno.EINVAL:
            raise
        return not enabled
    return True


def _fsync(fd: int) -> None:
    # The bytes and the file's size; the name is made durable by the rename that follows.
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


class BodyWriter:
    """Gathers a body's chunks and writes and hashes them on worker threads; see the module
    docstring. Not safe for concurrent use: one body, one writer."""

    def __init__(self, fd: int, *, executor: Executor, direct_io: bool = True) -> None:
        """``direct_io``: write with ``O_DIRECT`` where the file takes it (else buffered)."""
        self.sha256 = hashlib.sha256()
        #: Bytes handed to the workers so far.
        self.size = 0
        self._fd = fd
        self._executor = executor
        self._direct = direct_io and set_direct_io(fd, True)
        # The buffer being filled and the one the workers may be busy with.
        self._filling = mmap.mmap(-1, BATCH_BYTES)
        self._spare = mmap.mmap(-1, BATCH_BYTES)
        self._filled = 0
        self._in_flight: list[Future[Any]] = []

    async def add(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            count = min(len(view), BATCH_BYTES - self._filled)
            self._filling[self._filled : self._filled + count] = view[:count]
            self._filled += count
            view = view[count:]
            if self._filled == BATCH_BYTES:
                await self._hand_over()

    async def finish(self) -> None:
        """Write and hash what is left, wait for the workers, fsync."""
        if self._filled:
            await self._hand_over()
        await self._wait()
        # Tracked like a batch: a cancelled finish() leaves abandon() to wait for the fsync, so
        # the caller never closes the file under it.
        self._in_flight = [self._executor.submit(_fsync, self._fd)]
        await self._wait()
        self._release()

    def abandon(self) -> None:
        """Wait (blocking) until no worker uses the file or the buffers any more; errors are
        dropped, the caller is already failing. Synchronous so that it also works while being
        cancelled."""
        for future in self._in_flight:
            with contextlib.suppress(BaseException):  # the body is being thrown away
                future.result()
        self._in_flight = []
        self._release()

    def _release(self) -> None:
        # Unmapped now rather than when collected: memory is two batches per body in flight.
        for buffer in (self._filling, self._spare):
            with contextlib.suppress(BufferError):  # a view is still alive: left to the GC
                buffer.close()

    async def _wait(self) -> None:
        in_flight, self._in_flight = self._in_flight, []
        try:
            for future in in_flight:
                await asyncio.wrap_future(future)
        except BaseException:
            self._in_flight = in_flight  # abandon() still waits for every one of them
            raise

    async def _hand_over(self) -> None:
        # The previous batch must be done with the spare buffer before it is filled again.
        await self._wait()
        batch, length = self._filling, self._filled
        self._filling, self._spare, self._filled = self._spare, batch, 0
        offset = self.size
        self.size += length
        self._in_flight = [
            self._executor.submit(self._write, batch, length, offset),
            self._executor.submit(self._hash, batch, length),
        ]

    def _hash(self, batch: mmap.mmap, length: int) -> None:
        with memoryview(batch) as view:
            self.sha256.update(view[:length])

    def _write(self, batch: mmap.mmap, length: int, offset: int) -> None:
        with memoryview(batch) as view:
            data = view[:length]
            if self._direct:
                aligned = length - length % DIRECT_ALIGNMENT
                try:
                    pwrite_all(self._fd, data[:aligned], offset)
                except OSError as error:
                    if error.errno != errno.EINVAL:  # EINVAL: this file takes no direct I/O
                        raise
                    aligned = 0
                if aligned == length:
                    return
                # The last batch's tail (or a file that refused): through the page cache. Only
                # one batch is ever in the workers, so no other write sees the flag change.
                self._direct = not set_direct_io(self._fd, False)
                data, offset = data[aligned:], offset + aligned
            pwrite_all(self._fd, data, offset)
            start_writeback(self._fd, offset, len(data))

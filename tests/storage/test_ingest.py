"""``ingest.BodyWriter``: what reaches the file and its SHA-256, whatever the chunking, with
direct I/O (where the test's filesystem has it) and buffered."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from uploadkit_server.storage.ingest import BATCH_BYTES, DIRECT_ALIGNMENT, BodyWriter


@pytest.fixture(scope="module")
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield pool


async def write_body(
    folder: Path, executor: ThreadPoolExecutor, chunks: list[bytes], *, direct_io: bool
) -> Path:
    path = folder / "body"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    writer = BodyWriter(fd, executor=executor, direct_io=direct_io)
    try:
        for chunk in chunks:
            await writer.add(chunk)
        await writer.finish()
    finally:
        os.close(fd)
    data = b"".join(chunks)
    assert writer.size == len(data)
    assert writer.sha256.digest() == hashlib.sha256(data).digest()
    return path


@pytest.mark.parametrize(
    ("size", "chunk"),
    [
        (0, 1),
        (1, 1),
        (DIRECT_ALIGNMENT, 1000),
        (BATCH_BYTES - 1, 65536),
        (BATCH_BYTES, 256000),
        (BATCH_BYTES + 1, BATCH_BYTES + 1),
        (2 * BATCH_BYTES + DIRECT_ALIGNMENT + 17, 300_001),
    ],
)
@pytest.mark.parametrize("direct_io", [True, False], ids=["direct", "buffered"])
async def test_the_file_holds_exactly_the_body(
    tmp_path: Path, executor: ThreadPoolExecutor, size: int, chunk: int, direct_io: bool
) -> None:
    data = os.urandom(size)
    chunks = [data[start : start + chunk] for start in range(0, size, chunk)]
    path = await write_body(tmp_path, executor, chunks, direct_io=direct_io)
    assert path.read_bytes() == data


async def test_abandoned_body_leaves_the_workers_idle(
    tmp_path: Path, executor: ThreadPoolExecutor
) -> None:
    fd = os.open(tmp_path / "body", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    writer = BodyWriter(fd, executor=executor)
    await writer.add(os.urandom(BATCH_BYTES + 5))  # one batch handed over, five bytes pending
    writer.abandon()
    os.close(fd)
    assert (tmp_path / "body").stat().st_size == BATCH_BYTES


class HoldingExecutor(ThreadPoolExecutor):
    """Runs jobs as usual until ``hold`` is set; a job submitted after that starts (``started``)
    and then waits for ``HOLD_SECONDS`` before it runs (``finished`` once it has)."""

    HOLD_SECONDS = 0.5

    def __init__(self) -> None:
        super().__init__(max_workers=4)
        self.hold = False
        self.started = threading.Event()
        self.finished = threading.Event()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if not self.hold:
            return super().submit(fn, *args, **kwargs)

        def held() -> Any:
            self.started.set()
            threading.Event().wait(self.HOLD_SECONDS)
            try:
                return fn(*args, **kwargs)
            finally:
                self.finished.set()

        return super().submit(held)


async def test_a_body_cancelled_during_its_fsync_is_abandoned_only_after_the_fsync(
    tmp_path: Path,
) -> None:
    """The caller closes the file once ``abandon()`` returns: no worker may still use it."""
    with HoldingExecutor() as executor:
        fd = os.open(tmp_path / "body", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        writer = BodyWriter(fd, executor=executor)
        await writer.add(os.urandom(BATCH_BYTES))  # a full batch: handed over at once
        executor.hold = True  # the next job is the fsync of finish()
        finishing = asyncio.create_task(writer.finish())
        assert await asyncio.to_thread(executor.started.wait, 10)
        finishing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await finishing
        writer.abandon()
        assert executor.finished.is_set()
        os.close(fd)
    assert (tmp_path / "body").stat().st_size == BATCH_BYTES

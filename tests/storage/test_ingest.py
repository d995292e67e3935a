"""``ingest.BodyWriter``: what reaches the file and its SHA-256, whatever the chunking, with
direct I/O (where the test's filesystem has it) and buffered."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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

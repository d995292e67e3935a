"""The storage endpoints over a real socket, in a real ``uploadkit serve`` process: refusals
close the connection so a client cannot make the server swallow an endless body."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from tests.support.file_records import ensure_waiting, set_status
from tests.support.live_server import LiveServer, live_server
from uploadkit_server.db.models import FileStatus
from uploadkit_server.storage.local import LocalStorage

pytestmark = pytest.mark.slow

MiB = 1024 * 1024
KEY = "proj_live/files/abc/big.bin"
BODY_CAP = 200 * MiB


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("live") / "data"
    with live_server({}, data_dir=data_dir) as running:
        yield running


@pytest.fixture
def storage(server: LiveServer) -> LocalStorage:
    data_dir = server.log_path.parent
    return LocalStorage(data_dir / "storage", "live-server-test-secret", server.url)


def presign(storage: LocalStorage, length: int, key: str = KEY) -> str:
    """A URL for ``key``, whose file is recorded (in the server's SQLite database) as waiting
    for its bytes, as ``/upload/request`` leaves it: storage takes bytes for no other."""

    in_server_database(storage, lambda sessions: ensure_waiting(sessions, key))
    return asyncio.run(
        storage.presign_put(
            key, content_type="application/octet-stream", content_length=length, expires_in=60
        )
    )


def in_server_database(
    storage: LocalStorage,
    action: Callable[[async_sessionmaker[AsyncSession]], Awaitable[None]],
) -> None:
    async def run() -> None:
        engine = create_async_engine(f"sqlite+aiosqlite:///{storage.root.parent / 'uploadkit.db'}")
        try:
            await action(async_sessionmaker(engine, expire_on_commit=False))
        finally:
            await engine.dispose()

    asyncio.run(run())


def endless(sent: list[int]) -> Iterator[bytes]:
    block = b"x" * (64 * 1024)
    while sum(sent) < BODY_CAP:
        sent.append(len(block))
        yield block


def leftovers(storage: LocalStorage) -> list[Path]:
    return [path for path in (storage.root / "tmp").rglob("*") if path.is_file()]


def test_overrun_is_cut_off_and_the_connection_closed(storage: LocalStorage) -> None:
    sent: list[int] = []
    response = httpx.put(
        presign(storage, MiB),
        content=endless(sent),
        headers={"Content-Type": "application/octet-stream"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert response.headers["connection"] == "close"
    # The server stopped reading: only what the socket buffers held was ever sent.
    assert sum(sent) < BODY_CAP / 4
    assert leftovers(storage) == []
    assert not (storage.root / "objects" / KEY).exists()


def test_tampered_url_is_refused_before_the_body(storage: LocalStorage) -> None:
    sent: list[int] = []
    response = httpx.put(
        presign(storage, BODY_CAP).replace("big.bin", "other.bin"),
        content=endless(sent),
        headers={"Content-Type": "application/octet-stream", "Content-Length": str(BODY_CAP)},
        timeout=30,
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    assert sum(sent) < BODY_CAP / 4
    assert leftovers(storage) == []


def test_upload_then_ranged_download(server: LiveServer, storage: LocalStorage) -> None:
    data = bytes(range(256)) * 40_000  # about 10 MB
    response = httpx.put(
        presign(storage, len(data), "proj_live/files/abc/ok.bin"),
        content=data,
        headers={"Content-Type": "application/octet-stream"},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()[:32]}"'
    in_server_database(
        storage,
        lambda sessions: set_status(sessions, "proj_live/files/abc/ok.bin", FileStatus.UPLOADED),
    )
    ranged = httpx.get(
        f"{server.url}/cdn/proj_live/files/abc/ok.bin",
        headers={"Range": "bytes=1000-2999"},
        timeout=30,
    )
    assert ranged.status_code == 206
    assert ranged.content == data[1000:3000]


@pytest.mark.parametrize("piece", [997, 65_536, 4 * MiB + 3], ids=["tiny", "64k", "4m"])
def test_a_body_in_any_pieces_is_stored_byte_exact(storage: LocalStorage, piece: int) -> None:
    """However the body arrives: the server gets a chunk per socket read, several of which pile
    up while it writes a batch (``cli/http_protocols.py`` joins only those). Two uploads on one
    keep-alive connection, so the second starts from a fresh request state."""
    with httpx.Client(timeout=60) as client:
        for name in ("first", "second"):
            data = os.urandom(24 * MiB + 5)
            key = f"proj_live/files/pieces/{piece}-{name}.bin"

            def pieces(data: bytes = data) -> Iterator[bytes]:
                for start in range(0, len(data), piece):
                    yield data[start : start + piece]

            response = client.put(
                presign(storage, len(data), key),
                content=pieces(),
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(len(data)),
                },
            )
            assert response.status_code == 200, response.text
            stored = (storage.root / "objects" / key).read_bytes()
            assert hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()
    assert leftovers(storage) == []

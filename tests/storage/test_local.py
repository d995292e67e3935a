"""What only the local backend has: its on-disk layout, key clashes, arguments it refuses, a
client vanishing mid-upload, and the cleanup of stale temporary files."""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import NoReturn

import httpx
import pytest

from tests.support.api import assert_error
from tests.support.file_records import record_file, set_upload_id
from tests.support.fixtures import with_db_kind, with_local_storage, with_waiting_file
from tests.support.local_files import files_in
from uploadkit_server.jobs.storage_cleanup import STALE_TEMP_AGE, remove_stale_temp_files
from uploadkit_server.runtime import Runtime
from uploadkit_server.storage import ingest
from uploadkit_server.storage.base import ObjectNotFound
from uploadkit_server.storage.local import LocalStorage

KEY = "proj_test/files/abc/notes.txt"


# The storage endpoint these PUTs go through only asks the database whether ``KEY``'s file
# still takes bytes: one kind is enough.
db_kind = with_db_kind("sqlite")
storage = with_local_storage()
waiting = with_waiting_file(KEY)


async def put(
    client: httpx.AsyncClient, storage: LocalStorage, key: str, data: bytes
) -> httpx.Response:
    url = await storage.presign_put(
        key, content_type="text/plain", content_length=len(data), expires_in=60
    )
    return await client.put(url, content=data, headers={"Content-Type": "text/plain"})


async def test_layout_on_disk(client: httpx.AsyncClient, storage: LocalStorage) -> None:
    assert (await put(client, storage, KEY, b"hello")).status_code == 200
    assert (storage.root / "objects" / KEY).read_bytes() == b"hello"
    sidecar = json.loads((storage.root / "meta" / KEY).read_text())
    assert sidecar["contentType"] == "text/plain"
    assert sidecar["size"] == 5
    sha256 = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"  # of "hello"
    assert sidecar["sha256"] == sha256
    assert sidecar["etag"] == f'"{sha256[:32]}"'
    assert files_in(storage.root / "tmp") == []


async def test_object_without_sidecar_is_served_as_bytes(storage: LocalStorage) -> None:
    path = storage.root / "objects" / "proj_test" / "by-hand.bin"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"placed by hand")
    info = await storage.head("proj_test/by-hand.bin")
    assert info is not None
    assert (info.size, info.content_type) == (14, "application/octet-stream")


@pytest.mark.parametrize("second", [f"{KEY}/child.txt", "proj_test/files/abc"])
async def test_clashing_keys_are_refused_cleanly(
    client: httpx.AsyncClient, storage: LocalStorage, runtime: Runtime, second: str
) -> None:
    await record_file(runtime.sessionmaker, second)
    assert (await put(client, storage, KEY, b"first")).status_code == 200
    assert_error(await put(client, storage, second, b"second"), 400, "VALIDATION_ERROR")
    assert (storage.root / "objects" / KEY).read_bytes() == b"first"
    assert files_in(storage.root / "tmp") == []


async def test_client_vanishing_mid_upload_leaves_nothing(
    client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    class Vanished(Exception):
        pass

    async def body() -> AsyncIterator[bytes]:
        yield b"x" * 100_000
        raise Vanished

    url = await storage.presign_put(
        KEY, content_type="text/plain", content_length=1_000_000, expires_in=60
    )
    with pytest.raises(Vanished):
        await client.put(url, content=body(), headers={"Content-Type": "text/plain"})
    assert files_in(storage.root / "tmp") == []
    assert files_in(storage.root / "objects") == []


def open_files_below(root: Path) -> list[str]:
    """Files below ``root`` this process holds open (a removed one still counts)."""
    targets = (os.readlink(fd) for fd in Path("/proc/self/fd").iterdir() if fd.is_symlink())
    return [target for target in targets if target.startswith(str(root))]


async def test_a_put_that_fails_before_its_first_byte_leaves_nothing_open(
    client: httpx.AsyncClient, storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The body's buffers cannot be had (memory exhausted): the temporary file is closed and
    removed, as on any other failure, and the URL still works afterwards."""

    def no_memory(*args: object) -> NoReturn:
        raise MemoryError

    url = await storage.presign_put(KEY, content_type="text/plain", content_length=5, expires_in=60)
    with monkeypatch.context() as patch, pytest.raises(MemoryError):  # the 500 is Starlette's
        patch.setattr(ingest, "mmap", SimpleNamespace(mmap=no_memory))
        await client.put(url, content=b"hello", headers={"Content-Type": "text/plain"})
    assert open_files_below(storage.root) == []
    assert files_in(storage.root / "tmp") == []
    assert files_in(storage.root / "objects") == []
    again = await client.put(url, content=b"hello", headers={"Content-Type": "text/plain"})
    assert again.status_code == 200, again.text
    assert (storage.root / "objects" / KEY).read_bytes() == b"hello"


async def test_arguments_it_refuses(storage: LocalStorage) -> None:
    for expires_in in (0, -5, 8 * 24 * 3600):
        with pytest.raises(ValueError, match="expires_in"):
            await storage.presign_put(
                KEY, content_type="a/b", content_length=1, expires_in=expires_in
            )
    with pytest.raises(ValueError, match="content_length"):
        await storage.presign_put(KEY, content_type="a/b", content_length=-1, expires_in=60)
    upload_id = await storage.create_multipart(KEY, content_type="text/plain")
    for number in (0, 10_001):
        with pytest.raises(ValueError, match="part_number"):
            await storage.presign_part(
                KEY, upload_id=upload_id, part_number=number, content_length=1, expires_in=60
            )
    for bad_id in ("../../objects", "UPPER", ""):
        with pytest.raises(ObjectNotFound):
            await storage.presign_part(
                KEY, upload_id=bad_id, part_number=1, content_length=1, expires_in=60
            )
        with pytest.raises(ObjectNotFound):
            await storage.list_parts(KEY, upload_id=bad_id)
        await storage.abort_multipart(KEY, upload_id=bad_id)
    await storage.abort_multipart(KEY, upload_id=upload_id)


async def test_stale_temporary_files_are_removed_by_the_job(
    storage: LocalStorage, runtime: Runtime
) -> None:
    tmp = storage.root / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    old = time.time() - STALE_TEMP_AGE - 60
    stale_file = tmp / "abandoned.upload"
    stale_file.write_bytes(b"half an upload")
    stale_dir = tmp / "abandoned.removed"
    (stale_dir / "inner").mkdir(parents=True)
    (stale_dir / "inner" / "00001.part").write_bytes(b"part")
    for path in (stale_dir / "inner" / "00001.part", stale_dir / "inner", stale_dir, stale_file):
        os.utime(path, (old, old))
    fresh = tmp / "receiving.upload"
    fresh.write_bytes(b"still arriving")

    assert await remove_stale_temp_files(runtime) == 2
    assert sorted(path.name for path in tmp.iterdir()) == ["receiving.upload"]
    assert await remove_stale_temp_files(runtime) == 0


class DiskLog:
    """What this process asks of the disk from now on, in order: each completed ``fsync`` or
    ``fdatasync`` (by path) and each rename (``os.replace``/``os.rename``: from, to)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[tuple[str, str, str]] = []
        for name in ("fsync", "fdatasync"):
            real_sync = getattr(os, name)

            def sync(fd: int, real: Callable[[int], None] = real_sync) -> None:
                real(fd)
                self.events.append(("sync", os.readlink(f"/proc/self/fd/{fd}"), ""))

            monkeypatch.setattr(os, name, sync)
        for name in ("replace", "rename"):
            real_rename = getattr(os, name)

            def rename(
                source: object, target: object, real: Callable[..., None] = real_rename
            ) -> None:
                real(source, target)
                self.events.append(("rename", str(source), str(target)))

            monkeypatch.setattr(os, name, rename)

    def renamed_to(self, target: Path) -> tuple[int, str]:
        """Where the rename onto ``target`` is in the log, and what was renamed."""
        [(index, source)] = [
            (i, event[1])
            for i, event in enumerate(self.events)
            if event[0] == "rename" and event[2] == str(target)
        ]
        return index, source

    def synced(self, path: Path | str) -> list[int]:
        return [i for i, event in enumerate(self.events) if event == ("sync", str(path), "")]

    def assert_durable_rename(self, target: Path) -> None:
        """The file renamed onto ``target`` was synced before the rename, and the folder it went
        into after it."""
        index, source = self.renamed_to(target)
        assert [i for i in self.synced(source) if i < index], (source, self.events)
        assert [i for i in self.synced(target.parent) if i > index], (target.parent, self.events)


async def test_a_stored_object_survives_a_crash_once_its_put_is_answered(
    client: httpx.AsyncClient, storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the ``200``: the bytes and the sidecar are on disk, then the renames that put
    them in place, and every folder made for the key."""
    log = DiskLog(monkeypatch)
    assert (await put(client, storage, KEY, b"hello")).status_code == 200
    monkeypatch.undo()
    for tree in ("objects", "meta"):
        log.assert_durable_rename(storage.root / tree / KEY)
        for folder in (storage.root / tree / KEY).parents:
            if folder.is_relative_to(storage.root / tree) and folder != storage.root / tree:
                assert log.synced(folder.parent), (folder, log.events)  # its entry is durable


async def test_a_stored_part_survives_a_crash_once_its_put_is_answered(
    client: httpx.AsyncClient,
    storage: LocalStorage,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A part answered ``200`` is what a resumed upload builds on: the upload's folder, then the
    part's bytes and its record, each on disk before the rename that shows it."""
    log = DiskLog(monkeypatch)
    upload_id = await storage.create_multipart(KEY, content_type="text/plain")
    upload_dir = storage.root / "multipart" / upload_id
    index, staging = log.renamed_to(upload_dir)
    assert [i for i in log.synced(f"{staging}/upload.json") if i < index], log.events
    assert [i for i in log.synced(staging) if i < index], log.events
    assert [i for i in log.synced(upload_dir.parent) if i > index], log.events

    await set_upload_id(runtime.sessionmaker, KEY, upload_id)
    url = await storage.presign_part(
        KEY, upload_id=upload_id, part_number=1, content_length=5, expires_in=60
    )
    stored = await client.put(url, content=b"hello")
    monkeypatch.undo()
    assert stored.status_code == 200, stored.text
    log.assert_durable_rename(upload_dir / "00001.part")
    log.assert_durable_rename(upload_dir / "00001.json")
    bytes_at, _ = log.renamed_to(upload_dir / "00001.part")
    record_at, _ = log.renamed_to(upload_dir / "00001.json")
    assert [i for i in log.synced(upload_dir) if bytes_at < i < record_at], log.events
    assert [part.part_number for part in await storage.list_parts(KEY, upload_id=upload_id)] == [1]


async def test_an_object_the_server_writes_itself_is_as_durable(
    storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Image variants are written by ``put_object``: the same order as an uploaded object."""
    log = DiskLog(monkeypatch)
    key = "proj_test/variants/abc/w320.webp"
    await storage.put_object(key, b"variant bytes", content_type="image/webp")
    monkeypatch.undo()
    log.assert_durable_rename(storage.root / "objects" / key)
    log.assert_durable_rename(storage.root / "meta" / key)

"""Objects on the local disk, with this server as the target of its presigned URLs.

What it needs: one directory on one filesystem (so that a rename is atomic) and the server's
secret key. Layout under ``root``::

    objects/<key>                    the bytes of each object, the key's segments as directories
    meta/<key>                       its sidecar: JSON {contentType, etag, size, lastModified}
    multipart/<uploadId>/upload.json {key, contentType, createdAt} of an upload in progress
    multipart/<uploadId>/00001.part  the bytes of part 1, and 00001.json its {etag, size}
    tmp/                             bytes being received; moved into place only when complete

Keys become paths only through ``secure_path.resolve_key``. A presigned URL points at the public
storage endpoint (``{public_url}/storage/...``) and carries its expiry, the signed content type
and length, and an HMAC of all of them with the method and key; ``verify_put`` checks it and
``receive`` streams the body to a temporary file, refusing a byte more than was signed, before
moving it into place. Multipart uploads are emulated: parts are files in a per-upload folder, and
completion concatenates them into a temporary file that replaces the object atomically. ETags
follow S3: the quoted MD5 of a single object or part, ``"md5(md5s)-N"`` for an assembled one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlencode

import anyio.to_thread

from uploadkit_server.security import random_token, sign, signatures_match
from uploadkit_server.storage.base import (
    ByteRange,
    InvalidParts,
    ObjectInfo,
    ObjectNotFound,
    PartETag,
    StorageError,
    StoredPart,
)
from uploadkit_server.storage.secure_path import UnsafeKey, resolve_key

#: Bytes handed to a worker thread at once, when writing an upload or reading an object.
CHUNK_SIZE = 1024 * 1024
#: S3's rules for multipart uploads, kept so that nothing above storage depends on the backend.
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000
MAX_EXPIRES_IN = 7 * 24 * 3600
DEFAULT_CONTENT_TYPE = "application/octet-stream"

_UPLOAD_ID = re.compile(r"[a-z0-9]{16,64}")
_DIGITS = re.compile(r"[0-9]{1,19}")
_SIGNATURE_VERSION = "uploadkit-storage-v1"


class UrlRefused(StorageError):
    """The request does not match its signed URL: tampered, another key, type or length."""


class UrlExpired(UrlRefused):
    """The signed URL was genuine but its time is up."""


class BodyTooLarge(StorageError):
    """More bytes arrived than the URL was signed for; the upload was cut off and discarded."""


class BodyIncomplete(StorageError):
    """The body ended before the signed length; nothing was stored."""


class KeyConflict(StorageError):
    """The key needs a directory where an object is, or the reverse (``a`` and ``a/b``)."""


class PutKind(StrEnum):
    OBJECT = "objects"
    PART = "parts"


@dataclass(frozen=True, slots=True)
class PutGrant:
    """What a verified presigned PUT may store."""

    kind: PutKind
    key: str
    content_length: int
    content_type: str | None = None  # locked for objects; parts take any type, as on S3
    upload_id: str | None = None
    part_number: int | None = None


def quoted_md5(digest: bytes) -> str:
    return f'"{digest.hex()}"'


def normalize_etag(etag: str) -> str:
    """ETags compare without their quotes (clients send them either way)."""
    return etag.strip().removeprefix("W/").strip('"')


def _write_all(handle: BinaryIO, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        written = handle.write(view)
        view = view[written or 0 :]


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


class LocalStorage:
    """``StorageBackend`` on a local directory; see the module docstring for the layout."""

    def __init__(
        self,
        root: Path,
        secret_key: str,
        public_url: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self._secret_key = secret_key
        self._public_url = public_url.rstrip("/")
        self._clock = clock
        self._objects = root / "objects"
        self._meta = root / "meta"
        self._multipart = root / "multipart"
        self._tmp = root / "tmp"
        # Meta and bytes are two renames: one lock keeps each pair together within a process.
        self._commit_lock = threading.Lock()
        self._layout_ready = False

    # -- signing -----------------------------------------------------------------------------

    def _signature(self, grant: PutGrant, expires: int) -> str:
        # JSON keeps the fields unambiguous whatever characters a content type holds.
        payload = json.dumps(
            [
                "PUT",
                grant.kind.value,
                grant.key,
                grant.upload_id or "",
                grant.part_number or 0,
                grant.content_type or "",
                grant.content_length,
                expires,
            ]
        )
        return sign(self._secret_key, _SIGNATURE_VERSION, payload)

    def _presigned_url(self, grant: PutGrant, expires_in: int) -> str:
        if not 1 <= expires_in <= MAX_EXPIRES_IN:
            raise ValueError(f"expires_in must be 1..{MAX_EXPIRES_IN} seconds")
        if grant.content_length < 0:
            raise ValueError("content_length must not be negative")
        resolve_key(self._objects, grant.key)  # refuse unsafe keys before handing out a URL
        expires = int(self._clock()) + expires_in
        params = {"expires": str(expires), "length": str(grant.content_length)}
        if grant.content_type is not None:
            params["type"] = grant.content_type
        params["signature"] = self._signature(grant, expires)
        path = f"/storage/{grant.kind.value}/"
        if grant.kind is PutKind.PART:
            path += f"{grant.upload_id}/{grant.part_number}/"
        return f"{self._public_url}{path}{quote(grant.key, safe='/')}?{urlencode(params)}"

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
        """Check a PUT against its signed URL: signature first, then expiry, then the headers.

        ``content_type`` and ``content_length`` are the request's headers (``None`` if absent;
        a chunked body has no length and is held to the signed one while it streams).
        """
        length, expires = query.get("length", ""), query.get("expires", "")
        if not (_DIGITS.fullmatch(length) and _DIGITS.fullmatch(expires)):
            raise UrlRefused("The URL is missing its signed length or expiry")
        signed_type = query.get("type") if kind is PutKind.OBJECT else None
        if kind is PutKind.OBJECT and signed_type is None:
            raise UrlRefused("The URL is missing its signed content type")
        grant = PutGrant(
            kind=kind,
            key=key,
            content_length=int(length),
            content_type=signed_type,
            upload_id=upload_id if kind is PutKind.PART else None,
            part_number=part_number if kind is PutKind.PART else None,
        )
        expected = self._signature(grant, int(expires))
        if not signatures_match(expected, query.get("signature", "")):
            raise UrlRefused("The URL's signature does not match this request")
        if self._clock() >= int(expires):
            raise UrlExpired("The upload URL has expired")
        if signed_type is not None and (content_type or "").strip() != signed_type:
            raise UrlRefused(f"Content-Type must be {signed_type!r}, as signed")
        if content_length is not None and content_length.strip() != length:
            raise UrlRefused(f"Content-Length must be {length}, as signed")
        return grant

    # -- receiving bytes ---------------------------------------------------------------------

    async def receive(self, grant: PutGrant, body: AsyncIterable[bytes]) -> str:
        """Stream ``body`` to a temporary file and move it into place; return its ETag.

        Memory holds at most one chunk; the disk never holds more than the signed length, since
        the chunk that would run past it is refused before it is written. On any failure (too
        long, too short, client gone) the temporary file is removed and nothing else changes.
        """
        # Where the bytes will go is checked before any byte is read.
        if grant.kind is PutKind.OBJECT:
            targets = (resolve_key(self._objects, grant.key), resolve_key(self._meta, grant.key))
        else:
            upload_dir = await anyio.to_thread.run_sync(self._upload_dir_for, grant)
        temp = self._temp_path("upload")
        handle: BinaryIO = await anyio.to_thread.run_sync(self._open_temp, temp)
        md5 = hashlib.md5()
        received = 0
        buffer = bytearray()

        def flush(data: bytearray) -> None:
            _write_all(handle, data)
            md5.update(data)

        try:
            async for chunk in body:
                received += len(chunk)
                if received > grant.content_length:
                    raise BodyTooLarge(
                        f"The body runs past the signed length of {grant.content_length} bytes"
                    )
                buffer += chunk
                if len(buffer) >= CHUNK_SIZE:
                    data, buffer = buffer, bytearray()
                    await anyio.to_thread.run_sync(flush, data)
            if received < grant.content_length:
                raise BodyIncomplete(
                    f"The body has {received} bytes; {grant.content_length} were signed"
                )
            await anyio.to_thread.run_sync(flush, buffer)
            await anyio.to_thread.run_sync(os.fsync, handle.fileno())
            handle.close()
            etag = quoted_md5(md5.digest())
            if grant.kind is PutKind.OBJECT:
                meta = self._object_meta(grant.content_type or DEFAULT_CONTENT_TYPE, etag, received)
                await anyio.to_thread.run_sync(self._commit_object, temp, *targets, meta)
            else:
                assert grant.part_number is not None
                await anyio.to_thread.run_sync(
                    self._commit_part, temp, upload_dir, grant.part_number, etag, received
                )
        except BaseException:
            # Synchronous on purpose: this also runs when the task is being cancelled.
            handle.close()
            _remove_quietly(temp)
            raise
        return etag

    # -- StorageBackend ----------------------------------------------------------------------

    async def presign_put(
        self, key: str, *, content_type: str, content_length: int, expires_in: int
    ) -> str:
        grant = PutGrant(
            kind=PutKind.OBJECT, key=key, content_type=content_type, content_length=content_length
        )
        return self._presigned_url(grant, expires_in)

    async def create_multipart(self, key: str, *, content_type: str) -> str:
        resolve_key(self._objects, key)
        return await anyio.to_thread.run_sync(self._create_multipart, key, content_type)

    async def presign_part(
        self, key: str, *, upload_id: str, part_number: int, content_length: int, expires_in: int
    ) -> str:
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise ObjectNotFound(f"no multipart upload {upload_id!r}")
        if not 1 <= part_number <= MAX_PART_NUMBER:
            raise ValueError(f"part_number must be 1..{MAX_PART_NUMBER}")
        grant = PutGrant(
            kind=PutKind.PART,
            key=key,
            upload_id=upload_id,
            part_number=part_number,
            content_length=content_length,
        )
        return self._presigned_url(grant, expires_in)

    async def list_parts(self, key: str, *, upload_id: str) -> list[StoredPart]:
        return await anyio.to_thread.run_sync(self._list_parts, key, upload_id)

    async def complete_multipart(self, key: str, *, upload_id: str, parts: list[PartETag]) -> None:
        await anyio.to_thread.run_sync(self._complete_multipart, key, upload_id, parts)

    async def abort_multipart(self, key: str, *, upload_id: str) -> None:
        await anyio.to_thread.run_sync(self._abort_multipart, key, upload_id)

    async def head(self, key: str) -> ObjectInfo | None:
        return await anyio.to_thread.run_sync(self._head, key)

    async def read(self, key: str, *, byte_range: ByteRange | None = None) -> AsyncIterator[bytes]:
        try:
            path = resolve_key(self._objects, key)
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

    async def presign_get(self, key: str, *, expires_in: int) -> str | None:
        return None  # the CDN endpoint serves local objects itself

    async def close(self) -> None:
        return None

    async def remove_stale_temp_files(self, *, older_than: float) -> int:
        """Remove what crashed or killed processes left in ``tmp/``; returns how many.

        A receiving upload touches its file on every write, so one untouched for ``older_than``
        seconds belongs to nobody.
        """
        return await anyio.to_thread.run_sync(self._remove_stale_temp_files, older_than)

    # -- on-disk work (runs in worker threads) -----------------------------------------------

    def _ensure_layout(self) -> None:
        if not self._layout_ready:
            for directory in (self._objects, self._meta, self._multipart, self._tmp):
                directory.mkdir(parents=True, exist_ok=True)
            self._layout_ready = True

    def _remove_stale_temp_files(self, older_than: float) -> int:
        cutoff = self._clock() - older_than
        removed = 0
        try:
            entries = list(self._tmp.iterdir())
        except FileNotFoundError:
            return 0
        for path in entries:
            try:
                if path.lstat().st_mtime >= cutoff:
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except FileNotFoundError:
                continue
            removed += 1
        return removed

    def _temp_path(self, purpose: str) -> Path:
        return self._tmp / f"{random_token(10)}.{purpose}"

    def _open_temp(self, path: Path) -> BinaryIO:
        self._ensure_layout()
        return open(path, "xb", buffering=0)  # closed by the caller

    def _write_json_into_place(self, data: dict[str, Any], target: Path) -> None:
        temp = self._temp_path("json")
        try:
            temp.write_text(json.dumps(data))
            self._move_into_place(temp, target)
        finally:
            _remove_quietly(temp)

    def _move_into_place(self, source: Path, target: Path) -> None:
        """Atomic rename, creating parent directories; retried if a concurrent delete prunes
        a parent between its creation and the rename."""
        for attempt in range(5):
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
                return
            except (FileExistsError, NotADirectoryError, IsADirectoryError) as error:
                raise KeyConflict(f"{target.name}: the key clashes with another key") from error
            except FileNotFoundError:
                if attempt == 4 or not source.exists():
                    raise

    def _prune_empty_parents(self, path: Path, stop: Path) -> None:
        current = path.parent
        while current != stop and stop in current.parents:
            try:
                current.rmdir()
            except OSError:
                return
            current = current.parent

    @staticmethod
    def _object_meta(content_type: str, etag: str, size: int) -> dict[str, Any]:
        return {
            "contentType": content_type,
            "etag": etag,
            "size": size,
            "lastModified": time.time(),
        }

    def _commit_object(
        self, temp: Path, object_path: Path, meta_path: Path, meta: dict[str, Any]
    ) -> None:
        # Sidecar first: a reader that finds the new bytes always finds their sidecar too.
        with self._commit_lock:
            self._write_json_into_place(meta, meta_path)
            self._move_into_place(temp, object_path)

    # -- multipart ---------------------------------------------------------------------------

    def _upload_dir(self, upload_id: str) -> Path:
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise ObjectNotFound(f"no multipart upload {upload_id!r}")
        return self._multipart / upload_id

    def _read_upload(self, key: str, upload_id: str) -> tuple[Path, dict[str, Any]]:
        """The upload's folder and record; ``ObjectNotFound`` if gone or made for another key."""
        upload_dir = self._upload_dir(upload_id)
        try:
            record: dict[str, Any] = json.loads((upload_dir / "upload.json").read_text())
        except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
            raise ObjectNotFound(f"no multipart upload {upload_id!r}") from None
        if record.get("key") != key:
            raise ObjectNotFound(f"no multipart upload {upload_id!r} for this key")
        return upload_dir, record

    def _upload_dir_for(self, grant: PutGrant) -> Path:
        assert grant.upload_id is not None
        upload_dir, _record = self._read_upload(grant.key, grant.upload_id)
        return upload_dir

    def _create_multipart(self, key: str, content_type: str) -> str:
        self._ensure_layout()
        upload_id = random_token(16)
        # Built aside and renamed in, so an upload folder always has its record.
        staging = self._temp_path("multipart")
        staging.mkdir()
        record = {"key": key, "contentType": content_type, "createdAt": time.time()}
        (staging / "upload.json").write_text(json.dumps(record))
        os.rename(staging, self._multipart / upload_id)
        return upload_id

    def _commit_part(
        self, temp: Path, upload_dir: Path, part_number: int, etag: str, size: int
    ) -> None:
        stem = f"{part_number:05d}"
        record_temp = self._temp_path("json")
        try:
            # Bytes first, then their record: a part without a record is not listed.
            os.replace(temp, upload_dir / f"{stem}.part")
            record_temp.write_text(json.dumps({"etag": etag, "size": size}))
            os.replace(record_temp, upload_dir / f"{stem}.json")
        except FileNotFoundError:  # aborted while the part was arriving
            raise ObjectNotFound("the multipart upload was aborted") from None
        finally:
            _remove_quietly(record_temp)

    def _stored_parts(self, upload_dir: Path) -> dict[int, StoredPart]:
        parts: dict[int, StoredPart] = {}
        for record_path in upload_dir.glob("[0-9][0-9][0-9][0-9][0-9].json"):
            try:
                record = json.loads(record_path.read_text())
                size = (record_path.with_suffix(".part")).stat().st_size
            except (FileNotFoundError, json.JSONDecodeError):
                continue
            if size != record.get("size"):
                continue  # bytes replaced by a re-upload whose record is not written yet
            number = int(record_path.stem)
            parts[number] = StoredPart(part_number=number, etag=record["etag"], size=size)
        return parts

    def _list_parts(self, key: str, upload_id: str) -> list[StoredPart]:
        upload_dir, _record = self._read_upload(key, upload_id)
        return sorted(self._stored_parts(upload_dir).values(), key=lambda part: part.part_number)

    def _complete_multipart(self, key: str, upload_id: str, parts: list[PartETag]) -> None:
        upload_dir, record = self._read_upload(key, upload_id)
        chosen = self._check_parts(parts, self._stored_parts(upload_dir))
        object_path = resolve_key(self._objects, key)
        meta_path = resolve_key(self._meta, key)
        self._ensure_layout()
        temp = self._temp_path("assembly")
        digests = hashlib.md5()
        size = 0
        try:
            with open(temp, "xb") as out:
                for part in chosen:
                    with open(upload_dir / f"{part.part_number:05d}.part", "rb") as source:
                        shutil.copyfileobj(source, out, CHUNK_SIZE)
                    digests.update(bytes.fromhex(normalize_etag(part.etag)))
                    size += part.size
                out.flush()
                os.fsync(out.fileno())
            etag = f'"{digests.hexdigest()}-{len(chosen)}"'
            meta = self._object_meta(record.get("contentType", DEFAULT_CONTENT_TYPE), etag, size)
            self._commit_object(temp, object_path, meta_path, meta)
        except FileNotFoundError:
            raise ObjectNotFound("the multipart upload was aborted") from None
        finally:
            _remove_quietly(temp)
        self._remove_upload_dir(upload_dir)

    @staticmethod
    def _check_parts(given: list[PartETag], stored: dict[int, StoredPart]) -> list[StoredPart]:
        """The stored parts named by ``given``, checked as S3 checks them."""
        if not given:
            raise InvalidParts("at least one part is required")
        numbers = [part.part_number for part in given]
        if numbers != sorted(set(numbers)):
            raise InvalidParts("parts must be listed once each, in ascending part number order")
        chosen: list[StoredPart] = []
        for index, part in enumerate(given):
            held = stored.get(part.part_number)
            if held is None:
                raise InvalidParts(f"part {part.part_number} was not uploaded")
            if normalize_etag(held.etag) != normalize_etag(part.etag):
                raise InvalidParts(f"part {part.part_number}: ETag does not match the stored part")
            if index < len(given) - 1 and held.size < MIN_PART_SIZE:
                raise InvalidParts(
                    f"part {part.part_number} is {held.size} bytes; every part but the last "
                    f"must be at least {MIN_PART_SIZE} bytes"
                )
            chosen.append(held)
        return chosen

    def _remove_upload_dir(self, upload_dir: Path) -> None:
        # Renamed aside first, so a part arriving meanwhile fails instead of recreating it.
        graveyard = self._temp_path("removed")
        try:
            os.rename(upload_dir, graveyard)
        except FileNotFoundError:
            return
        shutil.rmtree(graveyard, ignore_errors=True)

    def _abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            upload_dir, _record = self._read_upload(key, upload_id)
        except ObjectNotFound:
            return
        self._ensure_layout()
        self._remove_upload_dir(upload_dir)

    # -- objects -----------------------------------------------------------------------------

    def _head(self, key: str) -> ObjectInfo | None:
        try:
            object_path = resolve_key(self._objects, key)
            meta_path = resolve_key(self._meta, key)
            stat = object_path.stat()
        except (UnsafeKey, FileNotFoundError, NotADirectoryError):
            return None
        if not object_path.is_file():
            return None
        try:
            meta: dict[str, Any] = json.loads(meta_path.read_text())
        except (OSError, json.JSONDecodeError):
            meta = {}  # bytes placed by hand: still served, with neutral facts
        return ObjectInfo(
            size=stat.st_size,
            content_type=meta.get("contentType", DEFAULT_CONTENT_TYPE),
            etag=meta.get("etag", f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'),
            last_modified=datetime.fromtimestamp(meta.get("lastModified", stat.st_mtime), UTC),
        )

    def _delete(self, key: str) -> None:
        try:
            object_path = resolve_key(self._objects, key)
            meta_path = resolve_key(self._meta, key)
        except UnsafeKey:
            return
        with self._commit_lock:
            for path, tree in ((object_path, self._objects), (meta_path, self._meta)):
                try:
                    path.unlink()
                except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                    continue
                self._prune_empty_parents(path, tree)

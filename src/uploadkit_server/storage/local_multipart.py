"""S3 multipart uploads emulated on the local disk, so that nothing above storage branches on
the backend (``LocalStorage`` hands its multipart calls here).

What it needs: the backend's ``LocalLayout`` (same filesystem, so assembly ends in a rename).
Layout under ``multipart/``::

    <uploadId>/upload.json   {key, contentType, createdAt} of an upload in progress
    <uploadId>/00001.part    the bytes of part 1, and 00001.json its {etag, size, sha256}

A part's bytes arrive through ``LocalStorage.receive`` like a single PUT's and are renamed into
the upload's folder (``commit_part``). Completion checks the parts as S3 does
(``multipart_rules.check_parts``), concatenates them into a temporary file while hashing the
whole (the object's SHA-256), fsyncs it and moves it into place atomically; the ETag is S3's
``"md5(part digests)-N"``. Aborting, or completing, renames the upload's folder aside before
removing it, so a part still arriving fails instead of recreating it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import anyio.to_thread

from uploadkit_server.security import random_token
from uploadkit_server.storage.base import ChecksumMismatch, ObjectNotFound, PartETag, StoredPart
from uploadkit_server.storage.local_files import (
    fsync_directory,
    remove_quietly,
    write_all,
    write_file_durably,
)
from uploadkit_server.storage.local_layout import DEFAULT_CONTENT_TYPE, LocalLayout, object_meta
from uploadkit_server.storage.multipart_rules import check_parts, normalize_etag

#: Bytes read and written at once while assembling the parts.
ASSEMBLY_BUFFER = 4 * 1024 * 1024

_UPLOAD_ID = re.compile(r"[a-z0-9]{16,64}")


class LocalMultipartUploads:
    """The multipart half of ``LocalStorage``; see the module docstring for the layout.
    The ``async`` methods hop to a worker thread once each; the others block (for callers
    already in one)."""

    def __init__(self, layout: LocalLayout) -> None:
        self._layout = layout

    # -- the StorageBackend calls --------------------------------------------------------------

    async def create(self, key: str, *, content_type: str) -> str:
        return await anyio.to_thread.run_sync(self._create, key, content_type)

    async def list_parts(self, key: str, *, upload_id: str) -> list[StoredPart]:
        return await anyio.to_thread.run_sync(self._list_parts, key, upload_id)

    async def complete(
        self, key: str, *, upload_id: str, parts: list[PartETag], sha256: bytes | None
    ) -> bytes:
        return await anyio.to_thread.run_sync(self._complete, key, upload_id, parts, sha256)

    async def abort(self, key: str, *, upload_id: str) -> None:
        await anyio.to_thread.run_sync(self._abort, key, upload_id)

    # -- receiving parts (blocking) ------------------------------------------------------------

    def upload_dir(self, upload_id: str) -> Path:
        """Where the upload's parts go; ``ObjectNotFound`` for an id this store never makes."""
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise ObjectNotFound(f"no multipart upload {upload_id!r}")
        return self._layout.multipart / upload_id

    def open_upload_dir(self, key: str, upload_id: str) -> Path:
        """The folder of an upload in progress for ``key``; ``ObjectNotFound`` if there is
        none (completed, aborted, or made for another key)."""
        upload_dir, _record = self._read_upload(key, upload_id)
        return upload_dir

    def commit_part(
        self, temp: Path, upload_dir: Path, part_number: int, etag: str, size: int, sha256: bytes
    ) -> None:
        """Move a received part's bytes into the upload, then its record."""
        stem = f"{part_number:05d}"
        record_temp = self._layout.temp_path("json")
        try:
            # Bytes first, then their record: a part without a record is not listed.
            os.replace(temp, upload_dir / f"{stem}.part")
            fsync_directory(upload_dir)  # the bytes' rename is on disk before their record's
            record = {"etag": etag, "size": size, "sha256": sha256.hex()}
            write_file_durably(record_temp, json.dumps(record).encode())
            os.replace(record_temp, upload_dir / f"{stem}.json")
            fsync_directory(upload_dir)
        except FileNotFoundError:  # aborted while the part was arriving
            raise ObjectNotFound("the multipart upload was aborted") from None
        finally:
            remove_quietly(record_temp)

    # -- on-disk work (runs in worker threads) -------------------------------------------------

    def _read_upload(self, key: str, upload_id: str) -> tuple[Path, dict[str, Any]]:
        """The upload's folder and record; ``ObjectNotFound`` if gone or made for another key."""
        upload_dir = self.upload_dir(upload_id)
        try:
            record: dict[str, Any] = json.loads((upload_dir / "upload.json").read_text())
        except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
            raise ObjectNotFound(f"no multipart upload {upload_id!r}") from None
        if record.get("key") != key:
            raise ObjectNotFound(f"no multipart upload {upload_id!r} for this key")
        return upload_dir, record

    def _create(self, key: str, content_type: str) -> str:
        self._layout.ensure()
        upload_id = random_token(16)
        # Built aside and renamed in, so an upload folder always has its record.
        staging = self._layout.temp_path("multipart")
        staging.mkdir()
        record = {"key": key, "contentType": content_type, "createdAt": time.time()}
        write_file_durably(staging / "upload.json", json.dumps(record).encode())
        fsync_directory(staging)
        os.rename(staging, self._layout.multipart / upload_id)
        fsync_directory(self._layout.multipart)
        return upload_id

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
            sha256 = record.get("sha256")
            parts[number] = StoredPart(
                part_number=number,
                etag=record["etag"],
                size=size,
                sha256=bytes.fromhex(sha256) if sha256 else None,
            )
        return parts

    def _list_parts(self, key: str, upload_id: str) -> list[StoredPart]:
        upload_dir, _record = self._read_upload(key, upload_id)
        return sorted(self._stored_parts(upload_dir).values(), key=lambda part: part.part_number)

    def _complete(
        self, key: str, upload_id: str, parts: list[PartETag], sha256: bytes | None
    ) -> bytes:
        upload_dir, record = self._read_upload(key, upload_id)
        chosen = check_parts(parts, self._stored_parts(upload_dir))
        for given, stored in zip(parts, chosen, strict=True):
            if given.sha256 is not None and stored.sha256 != given.sha256:
                raise ChecksumMismatch(
                    f"Part {stored.part_number} does not match its sha256 checksum; PUT it again"
                )
        object_path, meta_path = self._layout.object_paths(key)
        self._layout.ensure()
        temp = self._layout.temp_path("assembly")
        digests = hashlib.md5()
        whole = hashlib.sha256()
        size = 0
        buffer = bytearray(ASSEMBLY_BUFFER)
        view = memoryview(buffer)
        try:
            with open(temp, "xb", buffering=0) as out:
                for part in chosen:
                    part_path = upload_dir / f"{part.part_number:05d}.part"
                    # Read, hashed and written in one pass: the object's SHA-256 needs the
                    # bytes in order, which a kernel-side copy would not show us.
                    with open(part_path, "rb", buffering=0) as source:
                        while count := source.readinto(buffer):
                            whole.update(view[:count])
                            write_all(out, view[:count])
                    digests.update(bytes.fromhex(normalize_etag(part.etag)))
                    size += part.size
                os.fsync(out.fileno())
            if sha256 is not None and whole.digest() != sha256:
                raise ChecksumMismatch(
                    "The assembled parts do not match the upload's sha256 checksum "
                    f"{base64.b64encode(sha256).decode()}; nothing was stored"
                )
            etag = f'"{digests.hexdigest()}-{len(chosen)}"'
            meta = object_meta(
                record.get("contentType", DEFAULT_CONTENT_TYPE), etag, size, sha256=whole.digest()
            )
            self._layout.commit_object(temp, object_path, meta_path, meta)
        except FileNotFoundError:
            raise ObjectNotFound("the multipart upload was aborted") from None
        finally:
            remove_quietly(temp)
        self._remove_upload_dir(upload_dir)
        return whole.digest()

    def _remove_upload_dir(self, upload_dir: Path) -> None:
        # Renamed aside first, so a part arriving meanwhile fails instead of recreating it.
        graveyard = self._layout.temp_path("removed")
        try:
            os.rename(upload_dir, graveyard)
        except FileNotFoundError:
            return
        shutil.rmtree(graveyard, ignore_errors=True)

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            upload_dir, _record = self._read_upload(key, upload_id)
        except ObjectNotFound:
            return
        self._layout.ensure()
        self._remove_upload_dir(upload_dir)

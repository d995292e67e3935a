"""The local backend's directory: where objects, their sidecars, multipart uploads and bytes
being received live, and how a finished object is put in place.

Shared by ``LocalStorage`` and its multipart emulation (``LocalMultipartUploads``), which both
end by moving a temporary file into place as an object. Layout under ``root``::

    objects/<key>   the bytes of each object, the key's segments as directories
    meta/<key>      its sidecar: JSON {contentType, etag, size, lastModified[, sha256]}
    multipart/      uploads in progress (see ``local_multipart``)
    tmp/            bytes being received; moved into place only when complete

Everything here runs in worker threads: it blocks on the disk.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from uploadkit_server.security import random_token
from uploadkit_server.storage.local_files import (
    make_directories,
    move_into_place,
    remove_quietly,
    write_file_durably,
)
from uploadkit_server.storage.secure_path import resolve_key

DEFAULT_CONTENT_TYPE = "application/octet-stream"


class LocalLayout:
    """The folders under ``root``, created on first use, and the object commit."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = root / "objects"
        self.meta = root / "meta"
        self.multipart = root / "multipart"
        self.tmp = root / "tmp"
        # Meta and bytes are two renames: one lock keeps each pair together within a process.
        self.commit_lock = threading.Lock()
        self._ready = False

    def ensure(self) -> None:
        if not self._ready:
            for directory in (self.objects, self.meta, self.multipart, self.tmp):
                make_directories(directory)  # the store's folders survive a crash too
            self._ready = True

    def object_paths(self, key: str) -> tuple[Path, Path]:
        """The object's bytes and its sidecar; ``UnsafeKey`` for a key that cannot be stored."""
        return resolve_key(self.objects, key), resolve_key(self.meta, key)

    def temp_path(self, purpose: str) -> Path:
        return self.tmp / f"{random_token(10)}.{purpose}"

    def open_temp_fd(self, path: Path) -> int:
        self.ensure()
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # closed by the caller

    def write_json_into_place(self, data: dict[str, Any], target: Path) -> None:
        temp = self.temp_path("json")
        try:
            write_file_durably(temp, json.dumps(data).encode())
            move_into_place(temp, target)
        finally:
            remove_quietly(temp)

    def commit_object(
        self, temp: Path, object_path: Path, meta_path: Path, meta: dict[str, Any]
    ) -> None:
        # Sidecar first: a reader that finds the new bytes always finds their sidecar too.
        with self.commit_lock:
            self.write_json_into_place(meta, meta_path)
            move_into_place(temp, object_path)


def object_meta(
    content_type: str, etag: str, size: int, *, sha256: bytes | None = None
) -> dict[str, Any]:
    """An object's sidecar."""
    meta: dict[str, Any] = {
        "contentType": content_type,
        "etag": etag,
        "size": size,
        "lastModified": time.time(),
    }
    if sha256 is not None:
        meta["sha256"] = sha256.hex()
    return meta

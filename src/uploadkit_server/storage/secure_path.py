"""Turn an object key into a path under a root directory, or refuse it.

This is the only place where a key becomes a filesystem path, so every way out of the root is
closed here: ``..`` and ``.`` segments, absolute paths, empty segments (``a//b``, a trailing
``/``), backslashes (a separator on Windows), NUL and other control characters, overlong names,
and symlinks inside the root that point outside it.

    >>> resolve_key(Path("/srv/objects"), "proj_x/images/Q3k/photo.jpg")
    PosixPath('/srv/objects/proj_x/images/Q3k/photo.jpg')
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from uploadkit_server.storage.base import StorageError

#: S3's own limit on a key, in UTF-8 bytes.
MAX_KEY_BYTES = 1024
#: Most filesystems refuse a longer name (ext4, xfs, btrfs, APFS).
MAX_SEGMENT_BYTES = 255


class UnsafeKey(StorageError):
    """The key cannot name a file under the root safely."""


def _check_characters(key: str) -> None:
    for char in key:
        # Cc: NUL, newlines, ESC, DEL, C1 controls. Cs: lone surrogates (not encodable as UTF-8).
        if unicodedata.category(char) in {"Cc", "Cs"}:
            raise UnsafeKey(f"key contains a control character (U+{ord(char):04X})")
    if "\\" in key:
        raise UnsafeKey("key contains a backslash")


def key_segments(key: str) -> list[str]:
    """The key's ``/``-separated segments, after checking each one; ``UnsafeKey`` otherwise."""
    if not key:
        raise UnsafeKey("key is empty")
    _check_characters(key)
    if len(key.encode()) > MAX_KEY_BYTES:
        raise UnsafeKey(f"key is longer than {MAX_KEY_BYTES} bytes")
    if key.startswith("/"):
        raise UnsafeKey("key is an absolute path")
    segments = key.split("/")
    for segment in segments:
        if not segment:
            raise UnsafeKey("key has an empty segment")
        if segment in {".", ".."}:
            raise UnsafeKey("key has a '.' or '..' segment")
        if len(segment.encode()) > MAX_SEGMENT_BYTES:
            raise UnsafeKey(f"key has a segment longer than {MAX_SEGMENT_BYTES} bytes")
    return segments


def resolve_key(root: Path, key: str) -> Path:
    """The path of ``key`` under ``root``; ``UnsafeKey`` if the key could lead anywhere else.

    Symlinks already on disk are followed to check where the path really ends up, so a link
    planted inside the root cannot redirect a write outside it. The returned path is the plain
    join (not the resolved one) so callers create directories under the root they were given.
    """
    segments = key_segments(key)
    candidate = root.joinpath(*segments)
    real_root = os.path.realpath(root)
    real_candidate = os.path.realpath(candidate)
    if os.path.commonpath([real_root, real_candidate]) != real_root or real_candidate == real_root:
        raise UnsafeKey("key resolves outside the storage root")
    return candidate

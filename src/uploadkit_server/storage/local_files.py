"""Small filesystem steps of the local backend, each safe against a concurrent process doing
the same thing: atomic placement, pruning of empty folders, removal of stale leftovers."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import BinaryIO

from uploadkit_server.storage.base import StorageError


class KeyConflict(StorageError):
    """The key needs a directory where an object is, or the reverse (``a`` and ``a/b``)."""


def write_all(handle: BinaryIO, data: bytes | bytearray | memoryview) -> None:
    """Write every byte to an unbuffered file (a raw write may take fewer than offered)."""
    view = memoryview(data)
    while view:
        written = handle.write(view)
        view = view[written or 0 :]


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def fsync_directory(directory: Path) -> None:
    """Make the entries of ``directory`` (a rename into it, a folder made in it) durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_durably(path: Path, data: bytes) -> None:
    """A new file holding ``data``, flushed to disk before it is renamed anywhere: a rename that
    survives a crash must not bring an empty file with it."""
    with open(path, "xb", buffering=0) as handle:
        write_all(handle, data)
        os.fsync(handle.fileno())


def make_directories(directory: Path) -> None:
    """``mkdir -p`` whose new folders survive a crash: each one's parent is fsynced."""
    missing: list[Path] = []
    current = directory
    while not current.is_dir():
        missing.append(current)
        current = current.parent
    for new in reversed(missing):
        new.mkdir(exist_ok=True)
        fsync_directory(new.parent)


def move_into_place(source: Path, target: Path) -> None:
    """Atomic rename, creating parent directories, durable once it returns (the bytes of
    ``source`` must already be on disk); retried if a concurrent delete prunes a parent between
    its creation and the rename. ``KeyConflict`` if a file is in the way."""
    for attempt in range(5):
        try:
            make_directories(target.parent)
            os.replace(source, target)
            break
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as error:
            raise KeyConflict(f"{target.name}: the key clashes with another key") from error
        except FileNotFoundError:
            if attempt == 4 or not source.exists():
                raise
    # A delete of the key (another process) may already have removed the folder again: the
    # rename happened, the delete came after it, and there is nothing left to make durable.
    with contextlib.suppress(FileNotFoundError):
        fsync_directory(target.parent)


def prune_empty_parents(path: Path, stop: Path) -> None:
    """Remove the folders above ``path`` that are now empty, up to (not including) ``stop``."""
    current = path.parent
    while current != stop and stop in current.parents:
        try:
            current.rmdir()
        except OSError:  # not empty (or already gone): whoever is using it keeps it
            return
        current = current.parent


def remove_entries_older_than(directory: Path, cutoff: float) -> int:
    """Remove the files and folders directly in ``directory`` last modified before ``cutoff``."""
    removed = 0
    try:
        entries = list(directory.iterdir())
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

"""What ``upload`` accepts — a path, bytes, or a binary file object — behind one small interface
that reads byte ranges safely from several threads at once."""

from __future__ import annotations

import mimetypes
import os
import threading
from pathlib import Path
from typing import BinaryIO, Protocol, Union

Uploadable = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, BinaryIO]

DEFAULT_NAME = "file"
DEFAULT_CONTENT_TYPE = "application/octet-stream"


class UploadSource(Protocol):
    name: str
    size: int
    content_type: str
    #: Identifies a file on disk for resuming (path, size, mtime); ``None`` for bytes and streams.
    fingerprint: tuple[str, int, int] | None

    def read(self, offset: int, length: int) -> bytes: ...

    def close(self) -> None: ...


def guess_content_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or DEFAULT_CONTENT_TYPE


class PathSource:
    def __init__(self, path: Path, *, name: str | None, content_type: str | None) -> None:
        self.path = path.resolve()
        stat = self.path.stat()
        self.size = stat.st_size
        self.name = name or self.path.name
        self.content_type = content_type or guess_content_type(self.name)
        self.fingerprint: tuple[str, int, int] | None = (
            str(self.path),
            stat.st_size,
            stat.st_mtime_ns,
        )
        self._file = self.path.open("rb")
        self._lock = threading.Lock()

    def read(self, offset: int, length: int) -> bytes:
        if hasattr(os, "pread"):  # positional reads need no lock
            return os.pread(self._file.fileno(), length, offset)
        with self._lock:
            self._file.seek(offset)
            return self._file.read(length)

    def close(self) -> None:
        self._file.close()


class BytesSource:
    def __init__(
        self, data: bytes | bytearray | memoryview, *, name: str, content_type: str
    ) -> None:
        self._data = memoryview(data).cast("B")
        self.size = len(self._data)
        self.name = name
        self.content_type = content_type
        self.fingerprint: tuple[str, int, int] | None = None

    def read(self, offset: int, length: int) -> bytes:
        return bytes(self._data[offset : offset + length])

    def close(self) -> None:
        self._data.release()


class StreamSource:
    """A seekable binary file object, read from its current position to its end."""

    def __init__(self, stream: BinaryIO, *, name: str, content_type: str) -> None:
        self._stream = stream
        self._start = stream.tell()
        self.size = stream.seek(0, os.SEEK_END) - self._start
        self.name = name
        self.content_type = content_type
        self.fingerprint: tuple[str, int, int] | None = None
        self._lock = threading.Lock()

    def read(self, offset: int, length: int) -> bytes:
        with self._lock:
            self._stream.seek(self._start + offset)
            return self._stream.read(length)

    def close(self) -> None:
        """The caller opened the stream, so the caller closes it."""


def open_source(
    source: Uploadable, *, file_name: str | None = None, content_type: str | None = None
) -> UploadSource:
    if isinstance(source, (str, os.PathLike)):
        return PathSource(Path(source), name=file_name, content_type=content_type)
    if isinstance(source, (bytes, bytearray, memoryview)):
        name = file_name or DEFAULT_NAME
        return BytesSource(source, name=name, content_type=content_type or guess_content_type(name))
    stream_name = getattr(source, "name", None)
    name = file_name or (
        os.path.basename(stream_name) if isinstance(stream_name, str) else DEFAULT_NAME
    )
    kind = content_type or guess_content_type(name)
    if getattr(source, "seekable", lambda: False)():
        return StreamSource(source, name=name, content_type=kind)
    return BytesSource(source.read(), name=name, content_type=kind)

"""Content sniffing: do the first bytes of a stored object agree with its declared type?

Magic numbers come from ``puremagic`` (pure Python, no system libmagic), with a few rules of our
own first for what matters most and what it names poorly: executables (PE, ELF, Mach-O,
``#!`` scripts) and HTML. A file route's ``typeCheck`` decides what a disagreement means:

- ``off``: nothing is read or refused; ``detectedType`` stays null.
- ``lenient`` (default): refuse only a known mismatch: active content (an executable, a script,
  HTML, SVG) declared as something else, or a media type (``image/*``, ``video/*``,
  ``audio/*``, ``font/*``) whose bytes are known to be of another kind. A JPEG declared as
  ``image/png`` passes (same family); bytes nobody recognises pass.
- ``strict``: the detected type must be known and allowed by the route (and pass ``lenient``).

Bytes that match no signature but read as UTF-8 text are ``text/plain`` (a guess: ``lenient``
does not refuse on it); declared textual types (``application/json``, ``text/csv`` …) count as
matched by them. Signatures shorter than three bytes are ignored: random bytes match them.
"""

from __future__ import annotations

import contextlib
import re

import puremagic

from uploadkit_server.core.file_routes.schemas import TypeCheck
from uploadkit_server.core.mime import essence, type_allowed
from uploadkit_server.storage.base import ByteRange, ObjectNotFound, StorageBackend

#: How much of the object is read: enough for every signature puremagic knows well.
SNIFF_BYTES = 8192

EXECUTABLE_TYPES = {
    "application/vnd.microsoft.portable-executable",
    "application/x-executable",
    "application/x-mach-binary",
    "text/x-shellscript",
}
ACTIVE_TYPES = EXECUTABLE_TYPES | {
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/javascript",
    "application/javascript",
}
MEDIA_FAMILIES = {"image", "video", "audio", "font"}
TEXTUAL_TYPES = {
    "application/json",
    "application/xml",
    "application/x-ndjson",
    "application/yaml",
    "application/x-yaml",
    "application/toml",
    "application/sql",
}

#: Signatures shorter than this (``BM``, ``MZ`` alone) match random bytes too often to count.
MIN_SIGNATURE_BYTES = 3

_MACH_O = (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe")
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<iframe")
_SHEBANG = re.compile(rb"#! ?/[\x21-\x7e]+")


def _executable(head: bytes) -> str | None:
    """PE (``MZ`` with a ``PE`` header where ``e_lfanew`` points, or a DOS stub), ELF, Mach-O,
    and ``#!/…`` scripts."""
    if head.startswith(b"MZ") and len(head) >= 0x40:
        pe_offset = int.from_bytes(head[0x3C:0x40], "little")
        if head[pe_offset : pe_offset + 4] == b"PE\0\0" or b"This program cannot be run" in head:
            return "application/vnd.microsoft.portable-executable"
    if head.startswith(b"\x7fELF"):
        return "application/x-executable"
    if head.startswith(_MACH_O):
        return "application/x-mach-binary"
    if _SHEBANG.match(head):
        return "text/x-shellscript"
    return None


def _is_textual(content_type: str) -> bool:
    return (
        content_type.startswith("text/")
        or content_type in TEXTUAL_TYPES
        or (content_type.endswith(("+json", "+xml")))
    )


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut off by the end of the sample is still text.
        return error.start >= len(head) - 3 and error.reason == "unexpected end of data"
    return True


def detect_type(head: bytes, *, declared: str) -> str | None:
    """The type the first bytes show, or ``None`` if nothing is recognised.

    Where the bytes fit several types equally (a ZIP is also an OOXML container), the declared
    type wins if it is one of them.
    """
    if not head:
        return None
    executable = _executable(head)
    if executable is not None:
        return executable
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith(_HTML_STARTS):
        return "text/html"
    matches = []
    with contextlib.suppress(puremagic.PureError, ValueError):
        matches = [
            m
            for m in puremagic.magic_string(head)
            if m.mime_type and len(m.byte_match) >= MIN_SIGNATURE_BYTES
        ]
    if matches:
        if any(essence(m.mime_type) == declared for m in matches):
            return declared
        best = max(matches, key=lambda m: m.confidence)
        return essence(best.mime_type)
    if _looks_like_text(head):
        return declared if _is_textual(declared) else "text/plain"
    return None


def mismatch(
    declared: str, detected: str | None, *, mode: TypeCheck, allowed_types: list[str]
) -> str | None:
    """Why the upload is refused under ``mode``, or ``None`` if it passes."""
    if mode is TypeCheck.OFF or detected == declared:
        return None
    if detected is not None:
        if detected in ACTIVE_TYPES:
            return f"its bytes are {detected}, declared as {declared}"
        family = declared.split("/", 1)[0]
        known = detected != "text/plain"  # a guess from decoding, not a signature
        if known and family in MEDIA_FAMILIES and detected.split("/", 1)[0] != family:
            return f"its bytes are {detected}, not {family} as declared ({declared})"
    if mode is TypeCheck.STRICT:
        if detected is None:
            return f"its type could not be recognised (declared {declared})"
        if not type_allowed(detected, allowed_types):
            return f"its bytes are {detected}, which the route does not allow"
    return None


async def read_head(storage: StorageBackend, key: str, *, size: int) -> bytes:
    """The first bytes of the stored object (empty if it is gone)."""
    length = min(size, SNIFF_BYTES)
    if length <= 0:
        return b""
    data = bytearray()
    try:
        async for chunk in storage.read(key, byte_range=ByteRange(0, length - 1)):
            data += chunk
    except ObjectNotFound:
        return b""
    return bytes(data[:length])

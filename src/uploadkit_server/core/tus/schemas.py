"""The tus headers as values: ``Upload-Metadata``, ``Upload-Checksum``, lengths and offsets.

``Upload-Metadata`` is ``key base64value,key2 base64value2`` (a key may come without a value).
``filename``, ``filetype`` (or ``contentType``) and ``routeSlug`` are ours; every other pair is the
file's user metadata, as strings.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from uploadkit_server.core.schemas import MAX_INT64
from uploadkit_server.core.tus.store import CHECKSUM_ALGORITHMS, ChunkChecksum
from uploadkit_server.errors import ValidationFailed

MAX_METADATA_HEADER = 8192
DEFAULT_FILE_NAME = "upload.bin"
DEFAULT_CONTENT_TYPE = "application/octet-stream"

_KEY = re.compile(r"[\x21-\x7e]+")
_DIGITS = re.compile(r"[0-9]{1,19}")
_DIGEST_SIZES = {"sha1": 20, "sha256": 32, "md5": 16}


@dataclass(frozen=True, slots=True)
class TusMetadata:
    file_name: str
    content_type: str
    route_slug: str
    user: dict[str, str] = field(default_factory=dict)


def _invalid(header: str, problem: str) -> ValidationFailed:
    return ValidationFailed(f"Invalid {header}: {problem}", details={header: [problem]})


def parse_metadata(header: str | None) -> TusMetadata:
    """``ValidationFailed`` for a malformed header or a missing ``routeSlug``."""
    pairs: dict[str, str] = {}
    if header:
        if len(header) > MAX_METADATA_HEADER:
            raise _invalid("Upload-Metadata", f"longer than {MAX_METADATA_HEADER} characters")
        for item in header.split(","):
            parts = item.strip().split(" ")
            if not parts[0] or len(parts) > 2 or not _KEY.fullmatch(parts[0]):
                raise _invalid(
                    "Upload-Metadata", "pairs must be 'key base64value', comma-separated"
                )
            key = parts[0]
            if key in pairs:
                raise _invalid("Upload-Metadata", f"key {key!r} appears twice")
            value = ""
            if len(parts) == 2:
                try:
                    value = base64.b64decode(parts[1], validate=True).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError):
                    raise _invalid(
                        "Upload-Metadata", f"the value of {key!r} is not base64 of UTF-8 text"
                    ) from None
            pairs[key] = value
    route_slug = pairs.pop("routeSlug", "")
    if not route_slug:
        raise _invalid("Upload-Metadata", "routeSlug is required (the file route to upload to)")
    content_type = pairs.pop("filetype", "") or pairs.pop("contentType", "")
    pairs.pop("contentType", None)
    file_name = pairs.pop("filename", "") or pairs.pop("name", "") or DEFAULT_FILE_NAME
    return TusMetadata(
        file_name=file_name,
        content_type=content_type or DEFAULT_CONTENT_TYPE,
        route_slug=route_slug,
        user=pairs,
    )


def parse_length(header: str, value: str | None) -> int | None:
    """A non-negative integer header, or ``None`` if absent."""
    if value is None:
        return None
    if not _DIGITS.fullmatch(value.strip()) or int(value) > MAX_INT64:
        raise _invalid(header, f"must be a non-negative integer of at most {MAX_INT64}")
    return int(value)


def parse_checksum(value: str | None) -> ChunkChecksum | None:
    """``Upload-Checksum: <algorithm> <base64 digest>``; an unknown algorithm is a ``400``."""
    if value is None:
        return None
    parts = value.strip().split(" ")
    if len(parts) != 2:
        raise _invalid("Upload-Checksum", "must be '<algorithm> <base64 digest>'")
    algorithm = parts[0].lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise _invalid(
            "Upload-Checksum",
            f"algorithm {parts[0]!r} is not supported (use {', '.join(CHECKSUM_ALGORITHMS)})",
        )
    try:
        digest = base64.b64decode(parts[1], validate=True)
    except binascii.Error:
        raise _invalid("Upload-Checksum", "the digest is not base64") from None
    if len(digest) != _DIGEST_SIZES[algorithm]:
        size = _DIGEST_SIZES[algorithm]
        raise _invalid("Upload-Checksum", f"a {algorithm} digest has {size} bytes")
    return ChunkChecksum(algorithm=algorithm, digest=digest)

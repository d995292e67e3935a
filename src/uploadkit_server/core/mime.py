"""MIME types and the glob patterns of a file route's ``allowedTypes``."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

_TOKEN = r"[a-z0-9][a-z0-9!#$&^_.+-]*"
_TYPE = re.compile(rf"^{_TOKEN}/{_TOKEN}$")
_PATTERN = re.compile(rf"^(\*|{_TOKEN})/(\*|{_TOKEN}\*?)$")


def essence(content_type: str) -> str:
    """``"Text/Plain; charset=utf-8"`` → ``"text/plain"``."""
    return content_type.split(";", 1)[0].strip().lower()


def is_valid_type(content_type: str) -> bool:
    return bool(_TYPE.match(essence(content_type)))


def normalise_pattern(pattern: str) -> str:
    """``"image"`` → ``"image/*"``; ``ValueError`` for anything that is not ``type/subtype``."""
    value = pattern.strip().lower()
    if "/" not in value:
        value = f"{value}/*"
    if not _PATTERN.match(value):
        raise ValueError(f"{pattern!r} is not a MIME type or glob like 'image/*'")
    return value


def type_allowed(content_type: str, patterns: list[str]) -> bool:
    value = essence(content_type)
    return any(fnmatchcase(value, pattern) for pattern in patterns)

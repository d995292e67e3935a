"""``parse_size``: bytes from an int or a text with a binary unit, within a signed 64-bit range."""

from __future__ import annotations

import pytest

from uploadkit_server.core.schemas import MAX_INT64
from uploadkit_server.core.sizes import parse_size

KIB = 1024
MIB = 1024**2
GIB = 1024**3
TIB = 1024**4


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1),
        (4096, 4096),
        (MAX_INT64, MAX_INT64),
        ("1", 1),
        ("10B", 10),
        ("512KB", 512 * KIB),
        ("4MB", 4 * MIB),
        ("1GB", GIB),
        ("2TB", 2 * TIB),
        ("512 KiB", 512 * KIB),
        ("4mib", 4 * MIB),
        ("4mb", 4 * MIB),
        ("4M", 4 * MIB),  # the B may be left out
        ("4Mi", 4 * MIB),
        ("1.5GB", 3 * GIB // 2),
        ("0.5KB", 512),
        ("  8 MB  ", 8 * MIB),
        ("8388607TB", 8388607 * TIB),  # just below 2**63
    ],
)
def test_sizes_that_parse(value: object, expected: int) -> None:
    assert parse_size(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "greater than 0"),
        (-1, "greater than 0"),
        ("0", "greater than 0"),
        ("0KB", "greater than 0"),
        ("0.0001B", "greater than 0"),  # rounds down to no bytes at all
        (MAX_INT64 + 1, "at most"),
        ("8388608TB", "at most"),  # exactly 2**63
        ("99999999999999999999999TB", "at most"),  # no float overflow on the way
        ("", "is not a size"),
        ("MB", "is not a size"),
        ("-4MB", "is not a size"),
        ("4 XB", "is not a size"),
        ("4PB", "is not a size"),
        ("1e3", "is not a size"),
        ("4 MB extra", "is not a size"),
        ("1,5GB", "is not a size"),
        (True, "number of bytes"),  # a bool is an int to Python, not a size
        (False, "number of bytes"),
        (1.5, "number of bytes"),
        (None, "number of bytes"),
        ([4], "number of bytes"),
        ({"size": 4}, "number of bytes"),
    ],
)
def test_sizes_that_are_refused(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_size(value)

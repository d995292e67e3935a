"""``parse_range``: the one byte range a ``Range`` header asks for (RFC 9110), or the whole
object."""

from __future__ import annotations

import pytest

from uploadkit_server.api.http_ranges import Unsatisfiable, parse_range
from uploadkit_server.storage.base import ByteRange


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-0", 10, ByteRange(0, 0)),
        ("bytes=0-9", 10, ByteRange(0, 9)),
        ("bytes=2-5", 10, ByteRange(2, 5)),
        ("bytes=9-9", 10, ByteRange(9, 9)),
        ("bytes=5-", 10, ByteRange(5, 9)),  # open end: to the last byte
        ("bytes=0-", 1, ByteRange(0, 0)),
        ("bytes=5-1000", 10, ByteRange(5, 9)),  # an end past the object is clamped
        ("bytes=-3", 10, ByteRange(7, 9)),  # the last 3 bytes
        ("bytes=-10", 10, ByteRange(0, 9)),
        ("bytes=-1000", 10, ByteRange(0, 9)),  # a suffix longer than the object: all of it
        ("BYTES=1-2", 10, ByteRange(1, 2)),  # the unit is case-insensitive
        ("  bytes=1-2  ", 10, ByteRange(1, 2)),
    ],
)
def test_satisfiable_ranges(header: str, size: int, expected: ByteRange) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes=",
        "bytes=-",  # neither end
        "bytes=5-2",  # last before first: invalid, so ignored
        "bytes=0-1,4-5",  # several ranges: the whole object is a valid answer
        "items=0-1",
        "bytes 0-1",
        "bytes=a-b",
        "bytes=-1-2",
        "bytes=1.5-2",
        "bytes = 0-1",
    ],
)
def test_headers_that_ask_for_the_whole_object(header: str | None) -> None:
    assert parse_range(header, 10) is None


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=10-", 10),  # starts at the end
        ("bytes=10-20", 10),
        ("bytes=11-12", 10),
        ("bytes=0-", 0),  # an empty object has no first byte
        ("bytes=0-0", 0),
        ("bytes=-0", 10),  # the last zero bytes
        ("bytes=-5", 0),
    ],
)
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, size)


def test_a_range_reports_its_length() -> None:
    assert parse_range("bytes=2-5", 10) == ByteRange(2, 5)
    assert ByteRange(2, 5).length == 4

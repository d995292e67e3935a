"""``check_parts``: completing a multipart upload accepts exactly what S3 accepts."""

from __future__ import annotations

import pytest

from uploadkit_server.storage.base import InvalidParts, PartETag, StoredPart
from uploadkit_server.storage.multipart_rules import MIN_PART_SIZE, check_parts

BIG = MIN_PART_SIZE
STORED = {
    1: StoredPart(part_number=1, etag='"aa"', size=BIG),
    2: StoredPart(part_number=2, etag='"bb"', size=BIG + 1),
    3: StoredPart(part_number=3, etag='"cc"', size=1),
    5: StoredPart(part_number=5, etag='"ee"', size=BIG - 1),
}


def given(*parts: tuple[int, str]) -> list[PartETag]:
    return [PartETag(part_number=number, etag=etag) for number, etag in parts]


@pytest.mark.parametrize(
    ("parts", "chosen"),
    [
        (given((1, '"aa"')), [1]),
        (given((3, '"cc"')), [3]),  # a single part may be of any size
        (given((5, '"ee"')), [5]),
        (given((1, '"aa"'), (2, '"bb"'), (3, '"cc"')), [1, 2, 3]),  # the last may be small
        (given((1, '"aa"'), (3, '"cc"')), [1, 3]),  # gaps in the numbering are allowed
        (given((2, '"bb"'), (5, '"ee"')), [2, 5]),  # not every stored part has to be used
        (given((1, "aa"), (2, 'W/"bb"')), [1, 2]),  # ETags compare without quotes or W/
        (given((1, '  "aa" ')), [1]),
    ],
)
def test_parts_that_complete(parts: list[PartETag], chosen: list[int]) -> None:
    assert check_parts(parts, STORED) == [STORED[number] for number in chosen]


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([], "at least one part"),
        (given((2, '"bb"'), (1, '"aa"')), "ascending"),
        (given((1, '"aa"'), (1, '"aa"')), "once each"),
        (given((1, '"aa"'), (2, '"bb"'), (2, '"bb"')), "once each"),
        (given((4, '"dd"')), "part 4 was not uploaded"),
        (given((1, '"aa"'), (4, '"dd"')), "part 4 was not uploaded"),
        (given((1, '"xx"')), "part 1: ETag does not match"),
        (given((1, '"AA"')), "part 1: ETag does not match"),  # ETags are case-sensitive
        (given((3, '"cc"'), (5, '"ee"')), "part 3 is 1 bytes"),  # too small, and not last
        (given((5, '"ee"'), (6, '"ff"')), "part 5 is"),  # one byte below the minimum
    ],
)
def test_parts_that_are_refused(parts: list[PartETag], message: str) -> None:
    with pytest.raises(InvalidParts, match=message):
        check_parts(parts, STORED)

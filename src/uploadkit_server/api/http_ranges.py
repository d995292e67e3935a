"""HTTP ``Range`` and conditional-request rules (RFC 9110) for serving stored objects."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from uploadkit_server.storage.base import ByteRange, ObjectInfo

_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)", re.IGNORECASE)


class Unsatisfiable(Exception):
    """The range starts past the end of the object."""


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _parse_http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _etags(header: str) -> list[str]:
    return [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range asked for, or ``None`` to send the whole object.

    Malformed headers and multi-range requests are ignored (the whole object is a valid answer);
    a range that starts at or past the end raises ``Unsatisfiable``.
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first:  # "bytes=-N": the last N bytes
        if not last:
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(start=max(0, size - suffix), end=size - 1)
    start = int(first)
    if last and int(last) < start:
        return None  # syntactically invalid: ignored, as the RFC says
    if start >= size:
        raise Unsatisfiable
    end = min(int(last), size - 1) if last else size - 1
    return ByteRange(start=start, end=end)


def not_modified(
    *, if_none_match: str | None, if_modified_since: str | None, info: ObjectInfo
) -> bool:
    """True when the client's copy is current (answer ``304``). ``If-None-Match`` wins."""
    if if_none_match is not None:
        tags = _etags(if_none_match)
        return "*" in tags or info.etag in tags
    if if_modified_since is not None:
        since = _parse_http_date(if_modified_since)
        return since is not None and info.last_modified.replace(microsecond=0) <= since
    return False


def range_applies(*, if_range: str | None, info: ObjectInfo) -> bool:
    """``If-Range``: honour ``Range`` only if the client's copy is still the stored one."""
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith(('"', "W/")):
        return value == info.etag  # strong comparison, as the RFC requires here
    since = _parse_http_date(value)
    return since is not None and info.last_modified.replace(microsecond=0) <= since

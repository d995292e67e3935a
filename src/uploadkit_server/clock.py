"""Time in one place, so tests and jobs agree on what "now" is and how it is written."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(moment: datetime) -> str:
    """``2026-04-08T12:00:00.000Z``: milliseconds and ``Z``, as the API writes every timestamp;
    a naive value is taken as UTC.

    >>> from datetime import timedelta, timezone
    >>> isoformat(datetime(2026, 4, 8, 12, 0, 0, 123456, tzinfo=UTC))
    '2026-04-08T12:00:00.123Z'
    >>> isoformat(datetime(2026, 4, 8, 14, 0, tzinfo=timezone(timedelta(hours=2))))
    '2026-04-08T12:00:00.000Z'
    >>> isoformat(datetime(2026, 4, 8, 12, 0))
    '2026-04-08T12:00:00.000Z'
    """
    # ``isoformat`` rather than ``strftime``, and no conversion of what is UTC already (every
    # value read from the database): a listing writes 40 of these per page.
    if moment.tzinfo is not None and moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def month_of(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment.month:02d}"

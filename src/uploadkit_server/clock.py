"""Time in one place, so tests and jobs agree on what "now" is and how it is written."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(moment: datetime) -> str:
    """``2026-04-08T12:00:00.000Z``: milliseconds and ``Z``, as the API writes every timestamp."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    # ``isoformat`` rather than ``strftime``: a listing writes 40 of these per page.
    return moment.isoformat(timespec="milliseconds") + "Z"


def month_of(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment.month:02d}"

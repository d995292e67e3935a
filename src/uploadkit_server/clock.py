"""Time in one place, so tests and jobs agree on what "now" is and how it is written."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(moment: datetime) -> str:
    """``2026-04-08T12:00:00.000Z``: milliseconds and ``Z``, as the API writes every timestamp."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def month_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")

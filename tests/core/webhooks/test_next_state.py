"""``next_state``: what one attempt leads to, given the retry schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from uploadkit_server.core.webhooks.dispatcher import next_state
from uploadkit_server.core.webhooks.sender import AttemptResult
from uploadkit_server.db.models import DeliveryStatus

SCHEDULE = [10, 60, 300]


def result(status_code: int | None, error: str | None = None) -> AttemptResult:
    return AttemptResult(
        attempted_at=datetime(2026, 1, 1, tzinfo=UTC),
        duration_ms=5,
        status_code=status_code,
        error=error,
    )


@pytest.mark.parametrize("status_code", [200, 201, 202, 204, 299])
@pytest.mark.parametrize("attempt_count", [0, 1, 3, 10])
def test_a_2xx_delivers_whatever_the_attempt(status_code: int, attempt_count: int) -> None:
    assert next_state(attempt_count, result(status_code), retry_delays=SCHEDULE) == (
        DeliveryStatus.DELIVERED,
        None,
    )


@pytest.mark.parametrize(
    ("attempt_count", "expected"),
    [
        (0, (DeliveryStatus.FAILED, timedelta(seconds=10))),  # the first retry
        (1, (DeliveryStatus.FAILED, timedelta(seconds=60))),
        (2, (DeliveryStatus.FAILED, timedelta(seconds=300))),  # the last retry
        (3, (DeliveryStatus.DEAD, None)),  # the schedule is used up
        (50, (DeliveryStatus.DEAD, None)),
    ],
)
def test_failures_follow_the_schedule(
    attempt_count: int, expected: tuple[DeliveryStatus, timedelta | None]
) -> None:
    assert next_state(attempt_count, result(500), retry_delays=SCHEDULE) == expected


@pytest.mark.parametrize(
    "failed",
    [
        result(None, error="timed out after 2 s"),  # no answer at all
        result(None, error="connection refused"),
        result(100),
        result(199),
        result(300),  # redirects are not followed: a failed attempt
        result(307),
        result(400),
        result(410),
        result(429),
        result(500),
        result(503),
    ],
)
def test_anything_but_a_2xx_is_a_failed_attempt(failed: AttemptResult) -> None:
    assert next_state(0, failed, retry_delays=SCHEDULE) == (
        DeliveryStatus.FAILED,
        timedelta(seconds=10),
    )


def test_without_retries_the_first_failure_is_final() -> None:
    assert next_state(0, result(500), retry_delays=[]) == (DeliveryStatus.DEAD, None)


def test_a_zero_delay_retries_at_once() -> None:
    assert next_state(0, result(500), retry_delays=[0]) == (DeliveryStatus.FAILED, timedelta(0))

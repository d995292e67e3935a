"""What an account has used, per mode: this month's counters, storage held now, and history.

Live and test figures are kept apart (``usage_months.is_test``, ``accounts.storage_bytes`` and
``test_storage_bytes``); a key reads its own mode's. Test mode is limited by nothing, so its
``quotaApplies`` is false.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.clock import month_of, utcnow
from uploadkit_server.core.accounts import repository as accounts_repository
from uploadkit_server.core.auth.context import AuthContext
from uploadkit_server.core.pagination import MAX_LIMIT
from uploadkit_server.core.projects import repository as projects_repository
from uploadkit_server.core.tiers import limits_for, rate_limit_for, transform_units_for
from uploadkit_server.core.usage import repository
from uploadkit_server.core.usage.schemas import TierLimitsRead, UsageMonthRead, UsageRead
from uploadkit_server.errors import NotFound, ValidationFailed

DEFAULT_HISTORY_MONTHS = 12


def tier_limits(tier: str, custom_rate_limit: int | None) -> TierLimitsRead:
    limits = limits_for(tier)
    return TierLimitsRead(
        requests_per_minute=rate_limit_for(tier, custom_rate_limit),
        max_file_size=limits.max_file_size,
        storage_bytes=limits.storage_bytes,
        uploads_per_month=limits.uploads_per_month,
        projects=limits.projects,
        keys_per_project=limits.keys_per_project,
        transform_units_per_month=transform_units_for(tier),
    )


async def current_usage(
    session: AsyncSession, auth: AuthContext, *, now: datetime | None = None
) -> UsageRead:
    account = await accounts_repository.get_account(session, auth.account_id)
    if account is None:
        raise NotFound("Account not found")
    month = month_of(now or utcnow())
    row = await repository.usage_month(
        session, account_id=account.id, is_test=auth.is_test, month=month
    )
    return UsageRead(
        mode=auth.mode,
        tier=account.tier,
        month=month,
        uploads=row.uploads if row else 0,
        uploads_in_flight=max(row.uploads_in_flight, 0) if row else 0,
        bytes_uploaded=row.bytes_uploaded if row else 0,
        bytes_served=row.bytes_served if row else 0,
        transform_units=row.transform_units if row else 0,
        storage_bytes=max(account.test_storage_bytes if auth.is_test else account.storage_bytes, 0),
        projects=await projects_repository.count_projects(session, account.id),
        quota_applies=not auth.is_test,
        limits=tier_limits(account.tier, account.rate_limit),
    )


async def usage_history(
    session: AsyncSession, auth: AuthContext, *, months: int | None, now: datetime | None = None
) -> list[UsageMonthRead]:
    """Monthly figures, newest first; the current month is always there, zero if unused."""
    months = DEFAULT_HISTORY_MONTHS if months is None else months
    if not 1 <= months <= MAX_LIMIT:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_LIMIT}",
            details={"limit": [f"must be between 1 and {MAX_LIMIT}"]},
        )
    rows = await repository.usage_months(
        session, account_id=auth.account_id, is_test=auth.is_test, limit=months
    )
    history = [
        UsageMonthRead(
            month=row.month,
            uploads=row.uploads,
            bytes_uploaded=row.bytes_uploaded,
            bytes_served=row.bytes_served,
            transform_units=row.transform_units,
        )
        for row in rows
    ]
    current = month_of(now or utcnow())
    if not history or history[0].month < current:
        history.insert(
            0, UsageMonthRead(month=current, uploads=0, bytes_uploaded=0, bytes_served=0)
        )
    return history[:months]

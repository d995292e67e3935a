"""Quota reservations that hold under concurrency on SQLite and PostgreSQL.

Every check is a conditional UPDATE in ``repository.py`` (``… SET n = n + 1 WHERE n + 1 <=
limit``): the database decides atomically, so concurrent requests that together would pass a
limit never all succeed. This module picks the limits and turns a refusal into the error.
Live storage counts stored files plus uploads in flight; test mode is counted but never limited.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.core.tiers import limits_for
from uploadkit_server.core.usage import repository
from uploadkit_server.errors import TierLimitExceeded


def _upgrade_hint(billing_url: str) -> str:
    return f"Upgrade your plan at {billing_url}"


async def reserve_upload(
    session: AsyncSession,
    *,
    account_id: str,
    tier: str,
    is_test: bool,
    size: int,
    month: str,
    billing_url: str,
) -> None:
    """Hold one monthly upload and ``size`` bytes of storage, or raise ``TierLimitExceeded``."""
    limits = limits_for(tier)
    monthly_limit = None if is_test else limits.uploads_per_month
    taken = await repository.take_upload_slot(
        session, account_id=account_id, is_test=is_test, month=month, limit=monthly_limit
    )
    if (monthly_limit is not None and monthly_limit <= 0) or not taken:
        raise TierLimitExceeded(
            f"Monthly upload limit of {limits.uploads_per_month} reached for the {tier} plan",
            suggestion=_upgrade_hint(billing_url),
        )
    storage_limit = None if is_test else limits.storage_bytes
    held = await repository.hold_storage(
        session, account_id=account_id, is_test=is_test, size=size, limit=storage_limit
    )
    if not held:
        raise TierLimitExceeded(
            f"Storage limit of {limits.storage_bytes} bytes reached for the {tier} plan",
            suggestion=_upgrade_hint(billing_url),
        )

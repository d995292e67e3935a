"""Reads of the usage counters (the writes are in ``quota.py``)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.db.models import Project, UsageMonth


async def usage_month(
    session: AsyncSession, *, account_id: str, is_test: bool, month: str
) -> UsageMonth | None:
    return await session.get(UsageMonth, (account_id, is_test, month))


async def usage_months(
    session: AsyncSession, *, account_id: str, is_test: bool, limit: int
) -> list[UsageMonth]:
    """Newest month first ("YYYY-MM" sorts as text)."""
    result = await session.scalars(
        select(UsageMonth)
        .where(UsageMonth.account_id == account_id, UsageMonth.is_test == is_test)
        .order_by(UsageMonth.month.desc())
        .limit(limit)
    )
    return list(result)


async def count_projects(session: AsyncSession, account_id: str) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Project).where(Project.account_id == account_id)
    )
    return int(count or 0)

"""Account rows as the operator commands read them."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.db.models import Account


async def count_accounts(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Account)) or 0)


async def email_taken(session: AsyncSession, email: str) -> bool:
    return await session.scalar(select(Account.id).where(Account.email == email)) is not None

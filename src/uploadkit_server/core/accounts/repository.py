"""Account rows: lookups by id and email, creation, counting."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.db.models import Account


async def get_account(session: AsyncSession, account_id: str) -> Account | None:
    return await session.get(Account, account_id)


async def find_by_email(session: AsyncSession, email: str) -> Account | None:
    return await session.scalar(select(Account).where(Account.email == email))


async def add_account(session: AsyncSession, account: Account) -> None:
    """Insert the new account now, so rows that name it can follow in the same transaction."""
    session.add(account)
    await session.flush()


async def count_accounts(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Account)) or 0)


async def email_taken(session: AsyncSession, email: str) -> bool:
    return await session.scalar(select(Account.id).where(Account.email == email)) is not None


async def set_plan(
    session: AsyncSession, account: Account, *, tier: str, rate_limit: int | None
) -> None:
    account.tier = tier
    account.rate_limit = rate_limit
    await session.flush()


async def set_password_hash(session: AsyncSession, account: Account, password_hash: str) -> None:
    account.password_hash = password_hash
    await session.flush()

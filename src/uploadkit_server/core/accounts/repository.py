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

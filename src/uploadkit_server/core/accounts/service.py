"""Accounts are created by the operator (``uploadkit admin``), each with a first project and a
live and a test key, so the new account can upload at once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.core.accounts import repository
from uploadkit_server.core.keys.service import mint_key
from uploadkit_server.core.projects.service import create_project
from uploadkit_server.db.models import Account, Project, Tier
from uploadkit_server.errors import NotFound, ValidationFailed
from uploadkit_server.security import new_id


@dataclass(frozen=True, slots=True)
class NewAccount:
    account: Account
    project: Project
    live_key: str
    test_key: str


def parse_tier(value: str) -> Tier:
    try:
        return Tier(value.upper())
    except ValueError:
        allowed = ", ".join(t.value.lower() for t in Tier)
        raise ValidationFailed(f"Unknown tier {value!r}: use one of {allowed}") from None


async def create_account(
    session: AsyncSession,
    *,
    email: str,
    tier: Tier = Tier.FREE,
    rate_limit: int | None = None,
    project_name: str = "Default project",
) -> NewAccount:
    if await repository.email_taken(session, email):
        raise ValidationFailed(f"An account with email {email} already exists")
    account = Account(id=new_id("acct"), email=email, tier=tier, rate_limit=rate_limit)
    await repository.add_account(session, account)
    project = await create_project(session, account_id=account.id, name=project_name)
    live = await mint_key(session, project=project, name="live", is_test=False)
    test = await mint_key(session, project=project, name="test", is_test=True)
    return NewAccount(
        account=account, project=project, live_key=live.plaintext, test_key=test.plaintext
    )


async def set_tier(
    session: AsyncSession, *, account_id: str, tier: Tier, rate_limit: int | None = None
) -> Account:
    account = await repository.get_account(session, account_id)
    if account is None:
        raise NotFound(f"No account {account_id}")
    # An enterprise account keeps its custom rate limit unless a new one is given.
    keep = rate_limit is None and tier is Tier.ENTERPRISE
    await repository.set_plan(
        session, account, tier=tier, rate_limit=account.rate_limit if keep else rate_limit
    )
    return account

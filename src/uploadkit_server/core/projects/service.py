"""Project rules: slug derived from the name and unique per account, tier project limit."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.core.projects import repository
from uploadkit_server.core.tiers import limits_for
from uploadkit_server.db.models import Project
from uploadkit_server.errors import NotFound, TierLimitExceeded
from uploadkit_server.security import new_id, random_token


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:80] or "project"


def new_signing_key() -> str:
    return "sig_" + random_token(24)


def new_webhook_secret() -> str:
    import base64
    import secrets

    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def create_project(
    session: AsyncSession, *, account_id: str, name: str, billing_url: str | None = None
) -> Project:
    account = await repository.lock_account(session, account_id)
    if account is None:
        raise NotFound("Account not found")
    limit = limits_for(account.tier).projects
    if limit is not None and await repository.count_projects(session, account_id) >= limit:
        raise TierLimitExceeded(
            f"Your {account.tier} plan allows {limit} projects",
            suggestion=f"Upgrade your plan at {billing_url}" if billing_url else None,
        )
    base = slugify(name)
    slug, n = base, 1
    while await repository.slug_taken(session, account_id, slug):
        n += 1
        slug = f"{base}-{n}"
    project = Project(
        id=new_id("proj"),
        account_id=account_id,
        name=name,
        slug=slug,
        current_signing_key=new_signing_key(),
        next_signing_key=new_signing_key(),
        webhook_secret=new_webhook_secret(),
    )
    session.add(project)
    await session.flush()
    return project

"""Database work the CLI does outside a running server: migrate, create accounts, set tiers,
and the development account made on the first ``serve`` of an empty embedded data directory."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.core.accounts import repository as accounts_repository
from uploadkit_server.core.accounts.passwords import set_password, set_password_by_email
from uploadkit_server.core.accounts.service import (
    NewAccount,
    create_account,
    parse_tier,
    set_tier,
)
from uploadkit_server.core.file_routes import repository as file_routes_repository
from uploadkit_server.core.file_routes.schemas import FileRouteCreate
from uploadkit_server.core.tiers import limits_for
from uploadkit_server.db.migrate import migrate
from uploadkit_server.db.models import FileRoute, Tier
from uploadkit_server.db.session import create_engine, create_sessionmaker
from uploadkit_server.security import new_id, random_token
from uploadkit_server.settings import Settings

DEV_EMAIL = "dev@localhost"
DEV_KEYS_FILE = "dev-keys.json"

__all__ = [
    "admin_create_account",
    "admin_set_password",
    "admin_set_tier",
    "ensure_dev_account",
    "parse_tier",
]


@asynccontextmanager
async def migrated_session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """A session in one transaction on the migrated database, committed on success."""
    settings.ensure_data_dir()
    engine = create_engine(settings.effective_database_url)
    try:
        await migrate(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()


async def run_migrations(settings: Settings) -> None:
    settings.ensure_data_dir()
    engine = create_engine(settings.effective_database_url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


def account_json(new: NewAccount) -> dict[str, Any]:
    return {
        "account": {"id": new.account.id, "email": new.account.email, "tier": new.account.tier},
        "project": {"id": new.project.id, "name": new.project.name, "slug": new.project.slug},
        "keys": {"live": new.live_key, "test": new.test_key},
    }


async def admin_create_account(
    settings: Settings,
    *,
    email: str,
    tier: Tier,
    rate_limit: int | None,
    password: str | None = None,
) -> dict[str, Any]:
    async with migrated_session(settings) as session:
        new = await create_account(session, email=email, tier=tier, rate_limit=rate_limit)
        if password is not None:
            await set_password(session, account=new.account, password=password)
        return account_json(new)


async def admin_set_password(settings: Settings, *, email: str, password: str) -> dict[str, Any]:
    async with migrated_session(settings) as session:
        account = await set_password_by_email(session, email=email, password=password)
        return {"id": account.id, "email": account.email}


async def admin_set_tier(
    settings: Settings, *, account_id: str, tier: Tier, rate_limit: int | None
) -> dict[str, Any]:
    async with migrated_session(settings) as session:
        account = await set_tier(session, account_id=account_id, tier=tier, rate_limit=rate_limit)
        return {
            "id": account.id,
            "email": account.email,
            "tier": account.tier,
            "rateLimit": account.rate_limit,
        }


async def ensure_dev_account(settings: Settings) -> dict[str, Any] | None:
    """On an empty embedded database: a development account (with a dashboard password),
    project, catch-all route ``files`` and keys, written (mode 0600) to the data directory.
    Returns them, or None if not new."""
    async with migrated_session(settings) as session:
        if await accounts_repository.count_accounts(session):
            return None
        new = await create_account(
            session, email=DEV_EMAIL, tier=Tier.PRO, project_name="Development"
        )
        password = random_token(12)  # for the dashboard; shown once, kept in the keys file
        await set_password(session, account=new.account, password=password)
        route = FileRouteCreate(slug="files", max_file_size=limits_for(Tier.PRO).max_file_size)
        file_routes_repository.add_route(
            session,
            FileRoute(
                id=new_id("route"),
                project_id=new.project.id,
                slug=route.slug,
                max_file_size=route.max_file_size,
                max_file_count=route.max_file_count,
                allowed_types=route.allowed_types,
            ),
        )
        data = account_json(new) | {"route": route.slug, "password": password}
    path = Path(settings.data_dir) / DEV_KEYS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
    data["path"] = str(path)
    return data

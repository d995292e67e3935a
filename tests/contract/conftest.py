"""One server per module for the contract tests: an app on a fresh SQLite database with an
Enterprise account (its rate limit out of the way of thousands of generated requests)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI

from uploadkit_server.app import create_app
from uploadkit_server.core.accounts.service import create_account
from uploadkit_server.db.migrate import migrate
from uploadkit_server.db.models import Tier
from uploadkit_server.db.session import create_engine, create_sessionmaker
from uploadkit_server.settings import Settings

BASE_URL = "http://testserver"


@dataclass
class ContractApp:
    settings: Settings
    live_key: str
    project_id: str


async def _seed(database_url: str) -> tuple[str, str]:
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            new = await create_account(
                session, email="contract@example.com", tier=Tier.ENTERPRISE, rate_limit=10**9
            )
        return new.live_key, new.project.id
    finally:
        await engine.dispose()


def contract_settings(data_dir: Path) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'contract.db'}",
        public_url=BASE_URL,
        run_background_jobs=False,
        webhook_dispatcher=False,
        secret_key="contract-test-secret",
        require_https="false",
    )


@pytest.fixture(scope="module")
def contract(tmp_path_factory: pytest.TempPathFactory) -> ContractApp:
    data_dir = tmp_path_factory.mktemp("contract")
    settings = contract_settings(data_dir)
    settings.ensure_data_dir()
    assert settings.database_url is not None
    live_key, project_id = asyncio.run(_seed(settings.database_url))
    return ContractApp(settings=settings, live_key=live_key, project_id=project_id)


@pytest.fixture(scope="module")
def contract_app(contract: ContractApp) -> Iterator[FastAPI]:
    yield create_app(contract.settings)

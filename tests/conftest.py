"""Shared fixtures: every API test runs on SQLite and on PostgreSQL, through the real ASGI app,
with real files on disk under a temporary data directory.

Each test gets its own database, copied from one migrated once per session
(``tests/support/databases.py``); ``empty_database_url`` is one the migrations have not touched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.support.databases import drop_templates, empty_database, fresh_database
from tests.support.webhook_receiver import WebhookReceiver, running_receiver
from uploadkit_server.app import create_app
from uploadkit_server.core.accounts.service import NewAccount, create_account
from uploadkit_server.db.models import Tier
from uploadkit_server.runtime import Runtime
from uploadkit_server.settings import Settings

pytest_plugins = ["tests.support.s3server"]

BASE_URL = "http://testserver"


@pytest.fixture(params=["sqlite", "postgres"])
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database_url(db_kind: str, tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database(db_kind, tmp_path) as url:
        yield url


@pytest.fixture
async def empty_database_url(db_kind: str, tmp_path: Path) -> AsyncIterator[str]:
    async with empty_database(db_kind, tmp_path) as url:
        yield url


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    drop_templates()


#: Folders under tests/ whose every test starts processes (the command lines) or runs end to
#: end: marked ``slow`` here, so that a test added there is marked too.
SLOW_FOLDERS = {"cli", "e2e"}
TESTS_DIR = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path
        if path.is_relative_to(TESTS_DIR) and path.relative_to(TESTS_DIR).parts[0] in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A local HTTP server that records the webhooks sent to it."""
    with running_receiver() as running:
        yield running


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Override in a test module to change settings for its app."""
    return {}


@pytest.fixture
def settings(database_url: str, tmp_path: Path, settings_overrides: dict[str, object]) -> Settings:
    # Any: each setting has its own type, checked by Settings itself.
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "public_url": BASE_URL,
        "run_background_jobs": False,
        "secret_key": "test-secret-key-not-for-production",
    }
    values.update(settings_overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def runtime(app: FastAPI) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


async def make_account(runtime: Runtime, *, email: str, tier: Tier = Tier.FREE) -> NewAccount:
    async with runtime.sessionmaker() as session, session.begin():
        return await create_account(session, email=email, tier=tier)


@pytest.fixture
async def account(runtime: Runtime) -> NewAccount:
    return await make_account(runtime, email="owner@example.com", tier=Tier.PRO)


@pytest.fixture
def live_headers(account: NewAccount) -> dict[str, str]:
    return {"x-api-key": account.live_key}


@pytest.fixture
def test_headers(account: NewAccount) -> dict[str, str]:
    return {"x-api-key": account.test_key}

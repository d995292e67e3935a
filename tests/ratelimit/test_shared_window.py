"""Two real ``uploadkit serve`` processes on one database and one Redis enforce one shared
window."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import LiveServer, start_server
from tests.support.redis_keys import delete_prefixed, new_prefix
from tests.support.services import TEST_REDIS_URL, require_service
from uploadkit_server.app import build_runtime, close_runtime
from uploadkit_server.core.accounts.service import NewAccount, create_account
from uploadkit_server.db.models import Tier
from uploadkit_server.settings import Settings

pytestmark = pytest.mark.slow

LIMIT = 20


@pytest.fixture
async def environment(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    require_service("Redis", TEST_REDIS_URL, 6379)
    prefix = new_prefix()
    yield {
        "UPLOADKIT_DATA_DIR": str(tmp_path / "data"),
        "UPLOADKIT_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}",
        "UPLOADKIT_REDIS_URL": TEST_REDIS_URL,
        "UPLOADKIT_RATE_LIMIT_KEY_PREFIX": prefix,
        "UPLOADKIT_SECRET_KEY": "test-secret-key-not-for-production",
        "UPLOADKIT_RUN_BACKGROUND_JOBS": "false",
    }
    await delete_prefixed(TEST_REDIS_URL, prefix)


@pytest.fixture
async def account(environment: dict[str, str]) -> NewAccount:
    """Created (and the database migrated) before the servers start."""
    settings = Settings(
        _env_file=None,
        data_dir=environment["UPLOADKIT_DATA_DIR"],
        database_url=environment["UPLOADKIT_DATABASE_URL"],
        secret_key=environment["UPLOADKIT_SECRET_KEY"],
    )
    runtime = await build_runtime(settings)
    try:
        async with runtime.sessionmaker() as session, session.begin():
            return await create_account(
                session, email="ent@example.com", tier=Tier.ENTERPRISE, rate_limit=LIMIT
            )
    finally:
        await close_runtime(runtime)


@pytest.fixture
def servers(
    environment: dict[str, str], account: NewAccount, tmp_path: Path
) -> Iterator[list[LiveServer]]:
    started: list[LiveServer] = []
    try:
        for _ in range(2):
            started.append(start_server(environment, data_dir=tmp_path / "data"))
        yield started
    finally:
        for server in started:
            server.stop()


async def test_two_processes_share_one_window(
    servers: list[LiveServer], account: NewAccount
) -> None:
    first, second = servers
    path = f"/api/v1/projects/{account.project.id}/routers"
    headers = {"x-api-key": account.live_key}
    async with httpx.AsyncClient(timeout=10) as http:
        # Half the limit on each process: the second continues the first's count.
        remaining = []
        for server in (first, second):
            for _ in range(LIMIT // 2):
                response = await http.get(server.url + path, headers=headers)
                assert response.status_code == 200, response.text
                remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        assert remaining == list(reversed(range(LIMIT)))
        for server in servers:
            response = await http.get(server.url + path, headers=headers)
            assert response.status_code == 429
            assert response.json()["error"]["code"] == "RATE_LIMITED"

        # A concurrent burst split over both processes: exactly LIMIT pass in total.
        test_headers = {"x-api-key": account.test_key}
        burst = await asyncio.gather(
            *(http.get(servers[i % 2].url + path, headers=test_headers) for i in range(LIMIT + 15))
        )
        statuses = sorted(r.status_code for r in burst)
        assert statuses == [200] * LIMIT + [429] * 15

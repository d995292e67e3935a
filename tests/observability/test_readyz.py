"""``GET /readyz``: ready only when the database, Redis (when configured) and storage answer;
``/healthz`` stays plain liveness."""

from __future__ import annotations

import httpx
import pytest

from tests.support.api import assert_error
from tests.support.live_server import free_port
from tests.support.services import TEST_REDIS_URL, require_service

pytestmark = pytest.mark.slow


async def test_ready_on_the_embedded_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "storage": "ok"}}


class TestRedisDown:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"redis_url": f"redis://127.0.0.1:{free_port()}/0"}  # nothing listens there

    async def test_not_ready_but_alive(self, client: httpx.AsyncClient) -> None:
        error = assert_error(await client.get("/readyz"), 503, "NOT_READY")
        assert set(error["details"]) == {"redis"}
        assert "redis" in error["message"]
        assert (await client.get("/healthz")).status_code == 200


class TestRedisUp:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        require_service("Redis", TEST_REDIS_URL, 6379)
        return {"redis_url": TEST_REDIS_URL}

    async def test_ready_with_redis(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/readyz")
        assert response.status_code == 200, response.text
        assert response.json()["checks"] == {"database": "ok", "storage": "ok", "redis": "ok"}

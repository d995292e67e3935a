"""Server errors the property run found, kept as plain regression tests."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import make_account
from tests.support.api import assert_error
from uploadkit_server.runtime import Runtime


@pytest.mark.parametrize("size", [{}, [], 1.5, None])
async def test_a_file_route_size_that_is_not_a_size_is_a_400(
    client: httpx.AsyncClient, runtime: Runtime, size: object
) -> None:
    new = await make_account(runtime, email="sizes@example.com")
    response = await client.post(
        f"/api/v1/projects/{new.project.id}/routers",
        headers={"x-api-key": new.live_key},
        json={"slug": "avatars", "maxFileSize": size},
    )
    assert_error(response, 400, "VALIDATION_ERROR")

"""Fixtures that API test modules would otherwise each define again: the route their uploads go
to. A module shapes its route by binding ``route_fields``
(``route_fields = with_route(maxFileSize="64MB")``, from ``tests/support/fixtures.py``) or by
defining a ``route_fields`` fixture of its own when the fields depend on other fixtures."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.uploads import create_route
from uploadkit_server.core.accounts.service import NewAccount


@pytest.fixture
def route_fields() -> dict[str, object]:
    """The route's fields besides its slug ``files``: none, the API's defaults."""
    return {}


@pytest.fixture
async def route(
    client: httpx.AsyncClient,
    account: NewAccount,
    live_headers: dict[str, str],
    route_fields: dict[str, object],
) -> dict[str, Any]:
    """The route ``files`` of the account's project, created through the API."""
    return await create_route(client, live_headers, account.project.id, **route_fields)

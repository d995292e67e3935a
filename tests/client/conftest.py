"""One real ``uploadkit serve`` process for the SDK and CLI tests (started once per session),
an enterprise account with a generous rate limit, and a few file routes created over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live_server import live_server
from tests.support.sdk import Live, admin_create_account, create_route
from uploadkit_client import UploadKit


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("sdk-server")
    data_dir = root / "data"
    env = {
        "UPLOADKIT_DATA_DIR": str(data_dir),
        "UPLOADKIT_DATABASE_URL": f"sqlite:///{root / 'uploadkit.db'}",
        "UPLOADKIT_SECRET_KEY": "sdk-test-secret",
        "UPLOADKIT_WEBHOOK_ALLOW_PRIVATE": "true",  # the webhook receiver is on loopback
    }
    account = admin_create_account(env, "sdk@example.com", tier="enterprise", rate_limit=100_000)
    with live_server(env, data_dir=data_dir) as server:
        key, project = account["keys"]["live"], account["project"]["id"]
        create_route(server.url, key, project, slug="files", maxFileSize="200MB")
        create_route(server.url, key, project, slug="images", allowedTypes=["image/*"])
        create_route(server.url, key, project, slug="tiny", maxFileSize=1024)
        yield Live(server=server, env=env, data_dir=data_dir, account=account)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def sdk(live: Live, state_dir: Path) -> Iterator[UploadKit]:
    with UploadKit(live.key, live.url, retry_base_delay=0.01, state_dir=state_dir) as client:
        yield client

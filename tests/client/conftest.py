"""One real ``uploadkit serve`` process for the SDK and CLI tests (started once per session),
an enterprise account with a generous rate limit, and a few file routes created over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.support.live_server import LiveServer, live_server
from uploadkit_client import UploadKit
from uploadkit_server.cli.main import app

MIB = 1024 * 1024


@dataclass(frozen=True)
class Live:
    server: LiveServer
    env: dict[str, str]
    data_dir: Path
    account: dict[str, Any]

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def key(self) -> str:
        return str(self.account["keys"]["live"])

    @property
    def project_id(self) -> str:
        return str(self.account["project"]["id"])


def admin_create_account(
    env: dict[str, str], email: str, *, tier: str, rate_limit: int | None = None
) -> dict[str, Any]:
    """``uploadkit admin create-account --json``, run in this process (no interpreter start-up)."""
    args = ["admin", "create-account", "--email", email, "--tier", tier, "--json"]
    if rate_limit is not None:
        args += ["--rate-limit", str(rate_limit)]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


def create_route(url: str, key: str, project_id: str, **fields: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/api/v1/projects/{project_id}/routers",
        json=fields,
        headers={"x-api-key": key},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


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


def download(url: str) -> bytes:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    return response.content

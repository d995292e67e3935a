"""The SDK and CLI against a real server: the ``live`` fixture's handle (``Live``), accounts
and routes made the way an operator and a client make them, and a transport that breaks chosen
part PUTs to test retries and resume."""

from __future__ import annotations

import json
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from tests.support.live_server import LiveServer
from uploadkit_client import UploadInterrupted, UploadKit
from uploadkit_server.cli.main import app

MIB = 1024 * 1024


@dataclass(frozen=True)
class Live:
    """The session's running server, its environment and the account made for the tests."""

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
    """A file route created over real HTTP with the key's project."""
    response = httpx.post(
        f"{url}/api/v1/projects/{project_id}/routers",
        json=fields,
        headers={"x-api-key": key},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def download(url: str) -> bytes:
    """A GET that must succeed; its body."""
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    return response.content


def part_number(request: httpx.Request) -> int | None:
    """The part a storage PUT carries: S3 puts it in the query, the local backend in the path."""
    if request.method != "PUT":
        return None
    query = parse_qs(urlsplit(str(request.url)).query)
    if "partNumber" in query:
        return int(query["partNumber"][0])
    match = re.search(r"/storage/parts/[^/]+/(\d+)/", request.url.path)
    return int(match.group(1)) if match else None


class FaultyTransport(httpx.BaseTransport):
    """The real HTTP transport, except that chosen part PUTs fail (the first ``times`` attempts,
    or always). Counts every PUT by part number."""

    def __init__(
        self, fail: dict[int | None, int] | None = None, *, error: str = "connect"
    ) -> None:
        self.inner = httpx.HTTPTransport()
        self.fail = dict(fail or {})
        self.error = error
        self.puts: Counter[int | None] = Counter()
        self.calls: Counter[str] = Counter()  # API calls by path
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        number = part_number(request)
        if request.method == "PUT":
            with self.lock:
                self.puts[number] += 1
                failing = number in self.fail and self.fail[number] > 0
                if failing:
                    self.fail[number] -= 1
            if failing:
                request.read()  # drain the body as a server that dropped it late would
                if self.error == "connect":
                    raise httpx.ConnectError("injected failure", request=request)
                return httpx.Response(int(self.error), text="injected failure", request=request)
        else:
            with self.lock:
                self.calls[request.url.path] += 1
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def client_for(
    live: Live, state_dir: Path, transport: httpx.BaseTransport, **options: object
) -> UploadKit:
    """An SDK client of the live server through ``transport``, retrying without delay."""
    return UploadKit(
        live.key,
        live.url,
        retry_base_delay=0.01,
        state_dir=state_dir,
        transport=transport,
        **options,  # type: ignore[arg-type]
    )


def interrupt(
    live: Live,
    state_dir: Path,
    source: object,
    fail: dict[int | None, int],
    *,
    max_retries: int = 0,
    concurrency: int = 4,
    **upload: object,
) -> tuple[UploadInterrupted, FaultyTransport]:
    """Upload with parts ``fail`` broken until the upload gives up; return its error."""
    transport = FaultyTransport(fail)
    with (
        client_for(
            live, state_dir, transport, max_retries=max_retries, concurrency=concurrency
        ) as client,
        pytest.raises(UploadInterrupted) as interrupted,
    ):
        client.upload(source, route="files", **upload)  # type: ignore[arg-type]
    return interrupted.value, transport


def write(path: Path, size: int) -> bytes:
    """``size`` random bytes written to ``path``; the bytes."""
    data = os.urandom(size)
    path.write_bytes(data)
    return data

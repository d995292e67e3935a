"""``X-Request-Id``: generated, or taken from a trusted proxy; echoed in every response; in
every JSON log line of the request (``UPLOADKIT_LOG_FORMAT=json``)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.support.live_server import live_server

HEX_ID = re.compile(r"^[0-9a-f]{32}$")


async def test_generated_and_echoed(client: httpx.AsyncClient) -> None:
    first = await client.get("/healthz")
    second = await client.get("/api/v1/files")  # an error response carries one too
    assert second.status_code == 401
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert all(HEX_ID.match(i) for i in ids) and ids[0] != ids[1]


async def test_a_client_cannot_choose_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": "chosen-by-client"})
    assert HEX_ID.match(response.headers["x-request-id"])


class TestBehindATrustedProxy:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"trusted_proxies": "10.0.0.0/8"}

    async def test_the_proxys_id_is_kept(self, app: FastAPI) -> None:
        transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as proxy:
            kept = await proxy.get("/healthz", headers={"X-Request-Id": "edge-42.abc"})
            bad = await proxy.get("/healthz", headers={"X-Request-Id": "x\\ny" * 3})
        assert kept.headers["x-request-id"] == "edge-42.abc"
        assert HEX_ID.match(bad.headers["x-request-id"])  # not an id: replaced


@pytest.mark.slow
def test_json_logs_carry_the_request_id(tmp_path: Path) -> None:
    env = {"UPLOADKIT_LOG_FORMAT": "json"}
    with live_server(env, data_dir=tmp_path / "data") as server:
        response = httpx.get(f"{server.api}/files", timeout=10)
        request_id = response.headers["x-request-id"]
        # The access line is written once the response is sent: the client may see it first.
        deadline = time.monotonic() + 10
        while request_id not in (log := server.log()) and time.monotonic() < deadline:
            time.sleep(0.05)
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert lines, log
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    access = [line for line in lines if line.get("request_id") == request_id]
    assert access and access[0]["logger"] == "uploadkit.access", lines
    assert access[0]["status"] == 401 and access[0]["route"] == "/api/v1/files"
    assert any(line["logger"].startswith("uvicorn") for line in lines)

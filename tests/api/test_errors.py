"""The error envelope everywhere: unknown paths, wrong methods, malformed JSON, missing keys."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from tests.support.api import assert_error
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.runtime import Runtime


async def test_unknown_path_is_not_found_envelope(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/v1/nowhere"), 404, "NOT_FOUND")
    assert_error(await client.get("/definitely/not/here"), 404, "NOT_FOUND")


async def test_missing_key_is_unauthorized(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/v1/projects/x/routers"), 401, "UNAUTHORIZED")


async def test_wrong_method_is_405_envelope(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/v1/upload/request"), 405, "METHOD_NOT_ALLOWED")


async def test_malformed_json_is_validation_error(
    client: httpx.AsyncClient, live_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/upload/request",
        content=b'{"fileName": "a.png",',
        headers=live_headers | {"content-type": "application/json"},
    )
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert "JSON" in str(error["message"])


async def test_oversized_body_is_413_envelope(
    client: httpx.AsyncClient, live_headers: dict[str, str]
) -> None:
    big = b'{"fileName": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    response = await client.post(
        "/api/v1/upload/request",
        content=big,
        headers=live_headers | {"content-type": "application/json"},
    )
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"x" * 65536

    streamed = await client.post(
        "/api/v1/upload/request",
        content=chunked(),
        headers=live_headers | {"content-type": "application/json"},
    )
    assert_error(streamed, 413, "PAYLOAD_TOO_LARGE")


async def test_unexpected_failure_is_500_without_trace(
    app: FastAPI, runtime: Runtime, live_headers: dict[str, str], account: NewAccount
) -> None:
    # As a real server does: the error is logged and answered, not raised to the client.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        created = await client.post(
            f"/api/v1/projects/{account.project.id}/routers",
            json={"slug": "files"},
            headers=live_headers,
        )
        assert created.status_code == 201
        async with runtime.engine.begin() as connection:
            await connection.execute(text("DROP TABLE usage_months"))
        response = await client.post(
            "/api/v1/upload/request",
            json={
                "fileName": "a.png",
                "fileSize": 1,
                "contentType": "image/png",
                "routeSlug": "files",
            },
            headers=live_headers,
        )
    error = assert_error(response, 500, "INTERNAL_SERVER_ERROR")
    assert "Traceback" not in response.text and "usage_months" not in response.text
    assert error["message"] == "Internal server error"


async def test_every_kind_of_error_carries_a_suggestion(
    client: httpx.AsyncClient, live_headers: dict[str, str]
) -> None:
    """Framework errors (unknown path, wrong method, schema), ours (401, 404 of a resource) and
    the body cap all tell the caller what to do next, as the SPEC's envelope shows."""
    cases = [
        (await client.get("/api/v1/nowhere"), 404, "NOT_FOUND"),
        (await client.get("/api/v1/files/nothing/here", headers=live_headers), 404, "NOT_FOUND"),
        (await client.get("/api/v1/files"), 401, "UNAUTHORIZED"),
        (
            await client.get("/api/v1/files", headers={"x-api-key": "uk_live_x"}),
            401,
            "UNAUTHORIZED",
        ),
        (await client.delete("/api/v1/upload/request"), 405, "METHOD_NOT_ALLOWED"),
        (
            await client.post("/api/v1/upload/request", json={"fileSize": 0}, headers=live_headers),
            400,
            "VALIDATION_ERROR",
        ),
        (
            await client.get("/api/v1/files", params={"limit": 0}, headers=live_headers),
            400,
            "VALIDATION_ERROR",
        ),
        (
            await client.post(
                "/api/v1/upload/request",
                content=b"[" * (2 * 1024 * 1024),
                headers=live_headers | {"content-type": "application/json"},
            ),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
    ]
    for response, status, code in cases:
        error = assert_error(response, status, code)
        assert str(error["suggestion"]).strip(), error

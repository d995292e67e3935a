"""The error envelope everywhere: unknown paths, wrong methods, malformed JSON, missing keys."""

from __future__ import annotations

import httpx


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return dict(body["error"])


async def test_unknown_path_is_not_found_envelope(client: httpx.AsyncClient) -> None:
    assert_envelope(await client.get("/api/v1/nowhere"), 404, "NOT_FOUND")
    assert_envelope(await client.get("/definitely/not/here"), 404, "NOT_FOUND")


async def test_missing_key_is_unauthorized(client: httpx.AsyncClient) -> None:
    assert_envelope(await client.get("/api/v1/projects/x/routers"), 401, "UNAUTHORIZED")

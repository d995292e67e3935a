"""Small helpers for API tests: the error envelope, and accounts made through the service."""

from __future__ import annotations

from typing import Any

import httpx


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is the SPEC's error envelope with this status and code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    # Every error tells the caller what to do next: a sentence, never missing or empty.
    assert isinstance(body["error"].get("suggestion"), str), body
    assert len(body["error"]["suggestion"].split()) >= 3, body
    return dict(body["error"])

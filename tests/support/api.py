"""Assertions on the API's responses, shared by every test that calls it: the SPEC's error
envelope, checked the same way wherever an error is expected, and the fields of a file."""

from __future__ import annotations

from typing import Any

import httpx

#: The fields of a file, in API responses and in the webhook's ``file`` (SPEC).
FILE_FIELDS = {
    "id",
    "key",
    "url",
    "fileName",
    "fileSize",
    "contentType",
    "status",
    "routeSlug",
    "metadata",
    "sha256",
    "detectedType",
    "createdAt",
    "updatedAt",
}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is the SPEC's error envelope with this status and code; returns its
    ``error`` object for further checks."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    # Every error tells the caller what to do next: a sentence, never missing or empty.
    assert isinstance(body["error"].get("suggestion"), str), body
    assert len(body["error"]["suggestion"].split()) >= 3, body
    return dict(body["error"])

"""``GET /logs``: upload events (uploaded, failed, deleted) for polling, per project and mode."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.api import assert_error
from tests.support.uploads import complete, put_headers, request_upload, upload_file
from uploadkit_server.clock import isoformat, utcnow
from uploadkit_server.core.accounts.service import NewAccount


async def poll(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/logs", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_events_in_order_and_polling_with_the_cursor(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    test_headers: dict[str, str],
) -> None:
    kept = await upload_file(client, live_headers, b"ok", name="ok.jpg")
    # HTML declared as a JPEG fails verification (a complete before any PUT would only be
    # "not finished yet", 409, while the URL is valid).
    page = b"<html><script></script></html>"
    broken = (await request_upload(client, live_headers, size=len(page), name="never.jpg")).json()
    put = await client.put(broken["uploadUrl"], content=page, headers=put_headers(broken))
    assert put.status_code == 200, put.text
    failed = await complete(client, live_headers, broken["fileId"])
    assert failed.status_code == 422, failed.text
    await client.delete(f"/api/v1/files/{quote(kept['key'], safe='')}", headers=live_headers)

    body = await poll(client, live_headers)
    assert [(e["event"], e["fileId"]) for e in body["items"]] == [
        ("uploaded", kept["id"]),
        ("failed", broken["fileId"]),
        ("deleted", kept["id"]),
    ]
    assert set(body["items"][0]) == {"event", "fileId", "key", "detail", "createdAt"}
    assert body["items"][0]["key"] == kept["key"]
    assert body["items"][1]["detail"]
    assert body["hasMore"] is False

    # Page by page, then keep polling from where we are.
    first = await poll(client, live_headers, limit=2)
    assert len(first["items"]) == 2 and first["hasMore"] is True
    second = await poll(client, live_headers, limit=2, cursor=first["nextCursor"])
    assert [e["event"] for e in second["items"]] == ["deleted"] and second["hasMore"] is False
    idle = await poll(client, live_headers, cursor=second["nextCursor"])
    assert idle["items"] == [] and idle["nextCursor"] == second["nextCursor"]

    fresh = await upload_file(client, live_headers, b"new", name="new.jpg")
    news = await poll(client, live_headers, cursor=idle["nextCursor"])
    assert [(e["event"], e["fileId"]) for e in news["items"]] == [("uploaded", fresh["id"])]

    # The sandbox has its own log.
    assert (await poll(client, test_headers))["items"] == []
    sandbox_file = await upload_file(client, test_headers, b"t", name="t.jpg")
    sandbox = await poll(client, test_headers)
    assert [(e["event"], e["fileId"]) for e in sandbox["items"]] == [
        ("uploaded", sandbox_file["id"])
    ]
    assert sandbox_file["id"] not in str(await poll(client, live_headers))


async def test_since_filters_by_time(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> None:
    first = await upload_file(client, live_headers, b"1", name="one.jpg")
    events = (await poll(client, live_headers))["items"]
    since_first = await poll(client, live_headers, since=events[0]["createdAt"])
    assert [e["fileId"] for e in since_first["items"]] == [first["id"]]
    future = isoformat(utcnow() + timedelta(hours=1))
    assert (await poll(client, live_headers, since=future))["items"] == []
    past = isoformat(utcnow() - timedelta(hours=1))
    assert len((await poll(client, live_headers, since=past))["items"]) == 1


async def test_another_project_sees_nothing(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    account: NewAccount,
) -> None:
    await upload_file(client, live_headers, b"a")
    other = (await client.post("/api/v1/projects", json={"name": "B"}, headers=live_headers)).json()
    key = (
        await client.post(f"/api/v1/projects/{other['id']}/keys", json={}, headers=live_headers)
    ).json()["key"]
    assert (await poll(client, {"x-api-key": key}))["items"] == []


@pytest.mark.parametrize(
    "params", [{"since": "yesterday"}, {"limit": 0}, {"limit": 101}, {"cursor": "%%%"}]
)
async def test_bad_parameters_are_validation_errors(
    client: httpx.AsyncClient, live_headers: dict[str, str], params: dict[str, Any]
) -> None:
    assert_error(
        await client.get("/api/v1/logs", params=params, headers=live_headers),
        400,
        "VALIDATION_ERROR",
    )

"""File-route CRUD: validation, size units, MIME globs, duplicate slugs, account isolation."""

from __future__ import annotations

import httpx

from tests.conftest import make_account
from tests.support.api import assert_error
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.runtime import Runtime


async def test_create_list_get_update_delete(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    pid = account.project.id
    created = await client.post(
        f"/api/v1/projects/{pid}/routers",
        json={
            "slug": "imageUploader",
            "maxFileSize": "4MB",
            "allowedTypes": ["image/*", "application/pdf"],
        },
        headers=live_headers,
    )
    assert created.status_code == 201, created.text
    route = created.json()
    assert route["id"].startswith("route_")
    assert route["maxFileSize"] == 4 * 1024 * 1024
    assert route["maxFileCount"] == 1
    assert route["allowedTypes"] == ["image/*", "application/pdf"]
    assert route["webhookUrl"] is None
    assert route["createdAt"].endswith("Z") and len(route["createdAt"]) == 24

    listed = await client.get(f"/api/v1/projects/{pid}/routers", headers=live_headers)
    assert [r["slug"] for r in listed.json()["items"]] == ["imageUploader"]

    got = await client.get(f"/api/v1/routers/{route['id']}", headers=live_headers)
    assert got.json() == route

    patched = await client.patch(
        f"/api/v1/routers/{route['id']}",
        json={"maxFileSize": "512KB", "allowedTypes": ["video"]},
        headers=live_headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["maxFileSize"] == 512 * 1024
    assert patched.json()["allowedTypes"] == ["video/*"]
    stored = await client.get(f"/api/v1/routers/{route['id']}", headers=live_headers)
    assert stored.json()["maxFileSize"] == 512 * 1024  # saved, not only echoed back
    assert stored.json()["allowedTypes"] == ["video/*"]

    deleted = await client.delete(f"/api/v1/routers/{route['id']}", headers=live_headers)
    assert deleted.json() == {"deleted": True}
    assert_error(
        await client.get(f"/api/v1/routers/{route['id']}", headers=live_headers), 404, "NOT_FOUND"
    )


async def test_defaults_and_gigabyte_units(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    created = await client.post(
        f"/api/v1/projects/{account.project.id}/routers",
        json={"slug": "big", "maxFileSize": "1GB"},
        headers=live_headers,
    )
    assert created.json()["maxFileSize"] == 1024**3
    assert created.json()["allowedTypes"] == ["*/*"]


async def test_duplicate_slug_is_409(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    url = f"/api/v1/projects/{account.project.id}/routers"
    assert (await client.post(url, json={"slug": "docs"}, headers=live_headers)).status_code == 201
    assert_error(
        await client.post(url, json={"slug": "docs"}, headers=live_headers), 409, "DUPLICATE_SLUG"
    )
    other = await client.post(url, json={"slug": "other"}, headers=live_headers)
    renamed = await client.patch(
        f"/api/v1/routers/{other.json()['id']}", json={"slug": "docs"}, headers=live_headers
    )
    assert_error(renamed, 409, "DUPLICATE_SLUG")


async def test_invalid_fields_are_validation_errors(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    url = f"/api/v1/projects/{account.project.id}/routers"
    for body in (
        {"slug": "1starts-with-digit"},
        {"slug": "has-dash"},
        {"slug": ""},
        {"slug": "x" * 101},
        {"slug": "ok", "maxFileSize": "lots"},
        {"slug": "ok", "maxFileSize": 0},
        {"slug": "ok", "allowedTypes": ["not a type"]},
        {"slug": "ok", "allowedTypes": []},
        {"slug": "ok", "maxFileCount": 0},
        {"slug": "ok", "webhookUrl": "ftp://example.com/hook"},
        {"slug": "ok", "unknownField": 1},
    ):
        error = assert_error(
            await client.post(url, json=body, headers=live_headers), 400, "VALIDATION_ERROR"
        )
        assert error.get("details") or body.get("webhookUrl"), body
    listed = await client.get(url, headers=live_headers)
    assert listed.json()["items"] == []


async def test_other_accounts_project_and_route_are_not_found(
    client: httpx.AsyncClient, runtime: Runtime, account: NewAccount, live_headers: dict[str, str]
) -> None:
    stranger = await make_account(runtime, email="stranger@example.com")
    theirs = await client.post(
        f"/api/v1/projects/{stranger.project.id}/routers",
        json={"slug": "secret"},
        headers={"x-api-key": stranger.live_key},
    )
    assert theirs.status_code == 201
    assert_error(
        await client.get(f"/api/v1/projects/{stranger.project.id}/routers", headers=live_headers),
        404,
        "NOT_FOUND",
    )
    assert_error(
        await client.post(
            f"/api/v1/projects/{stranger.project.id}/routers",
            json={"slug": "mine"},
            headers=live_headers,
        ),
        404,
        "NOT_FOUND",
    )
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(
            method,
            f"/api/v1/routers/{theirs.json()['id']}",
            json={} if method == "PATCH" else None,
            headers=live_headers,
        )
        assert_error(response, 404, "NOT_FOUND")


async def test_bearer_auth_and_bad_keys(client: httpx.AsyncClient, account: NewAccount) -> None:
    url = f"/api/v1/projects/{account.project.id}/routers"
    ok = await client.get(url, headers={"authorization": f"Bearer {account.test_key}"})
    assert ok.status_code == 200
    for headers in (
        {},
        {"x-api-key": "nonsense"},
        {"x-api-key": "uk_live_" + "x" * 40},
        {"authorization": "Basic abc"},
        {"authorization": "Bearer "},
    ):
        assert_error(await client.get(url, headers=headers), 401, "UNAUTHORIZED")

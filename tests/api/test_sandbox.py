"""Test keys stay in the sandbox: they cannot mint live keys or change anything live traffic
depends on (projects, routes, live keys, signing material), and work normally inside it."""

from __future__ import annotations

import httpx

from tests.support.api import assert_error
from tests.support.uploads import create_route, upload_file
from uploadkit_server.core.accounts.service import NewAccount


def assert_live_key_required(response: httpx.Response) -> None:
    error = assert_error(response, 403, "LIVE_KEY_REQUIRED")
    assert "test key" in error["message"]
    assert "uk_live_" in error["suggestion"]


async def test_test_key_cannot_change_what_live_traffic_uses(
    client: httpx.AsyncClient,
    account: NewAccount,
    live_headers: dict[str, str],
    test_headers: dict[str, str],
) -> None:
    project = account.project.id
    route = await create_route(client, live_headers, project, slug="files")
    signing_before = (
        await client.get("/api/v1/webhooks/signing-keys", headers=live_headers)
    ).json()
    keys_before = (
        await client.get(f"/api/v1/projects/{project}/keys", headers=live_headers)
    ).json()
    live_key_id = next(item["id"] for item in keys_before["items"] if not item["isTest"])

    refused = [
        await client.post(f"/api/v1/projects/{project}/keys", json={}, headers=test_headers),
        await client.post(
            f"/api/v1/projects/{project}/keys", json={"isTest": False}, headers=test_headers
        ),
        await client.delete(f"/api/v1/keys/{live_key_id}", headers=test_headers),
        await client.post("/api/v1/projects", json={"name": "Other"}, headers=test_headers),
        await client.patch(f"/api/v1/projects/{project}", json={"name": "X"}, headers=test_headers),
        await client.delete(f"/api/v1/projects/{project}", headers=test_headers),
        await client.post(
            f"/api/v1/projects/{project}/routers", json={"slug": "more"}, headers=test_headers
        ),
        await client.patch(
            f"/api/v1/routers/{route['id']}",
            json={"webhookUrl": "https://attacker.example.com/hook"},
            headers=test_headers,
        ),
        await client.patch(
            f"/api/v1/routers/{route['id']}", json={"maxFileSize": 1}, headers=test_headers
        ),
        await client.delete(f"/api/v1/routers/{route['id']}", headers=test_headers),
        await client.post("/api/v1/webhooks/signing-keys/rotate", headers=test_headers),
        await client.post("/api/v1/webhooks/signing-keys/rotate-secret", headers=test_headers),
    ]
    for response in refused:
        assert_live_key_required(response)

    # Nothing changed: same project, same route, same keys, same signing material.
    assert (await client.get(f"/api/v1/projects/{project}", headers=live_headers)).json()[
        "name"
    ] == account.project.name
    assert (await client.get("/api/v1/projects", headers=live_headers)).json()["items"] == [
        (await client.get(f"/api/v1/projects/{project}", headers=live_headers)).json()
    ]
    assert (await client.get(f"/api/v1/routers/{route['id']}", headers=live_headers)).json() == (
        route
    )
    routes = await client.get(f"/api/v1/projects/{project}/routers", headers=live_headers)
    assert [item["id"] for item in routes.json()["items"]] == [route["id"]]
    keys_after = await client.get(f"/api/v1/projects/{project}/keys", headers=live_headers)
    assert keys_after.json() == keys_before
    assert (
        await client.get("/api/v1/webhooks/signing-keys", headers=live_headers)
    ).json() == signing_before


async def test_test_key_works_inside_the_sandbox(
    client: httpx.AsyncClient,
    account: NewAccount,
    live_headers: dict[str, str],
    test_headers: dict[str, str],
) -> None:
    project = account.project.id
    await create_route(client, live_headers, project, slug="files")
    # Reads of shared state, and uploads and file management in test mode.
    assert (await client.get("/api/v1/projects", headers=test_headers)).status_code == 200
    routes = await client.get(f"/api/v1/projects/{project}/routers", headers=test_headers)
    assert routes.status_code == 200
    signing = await client.get("/api/v1/webhooks/signing-keys", headers=test_headers)
    assert signing.status_code == 200
    file = await upload_file(client, test_headers, b"sandbox", name="s.jpg")
    assert file["status"] == "UPLOADED"
    # Test keys mint and revoke test keys.
    minted = await client.post(
        f"/api/v1/projects/{project}/keys", json={"isTest": True}, headers=test_headers
    )
    assert minted.status_code == 201, minted.text
    assert minted.json()["key"].startswith("uk_test_")
    revoked = await client.delete(
        f"/api/v1/keys/{minted.json()['apiKey']['id']}", headers=test_headers
    )
    assert revoked.status_code == 200
    # The live key still can do everything the test key could not.
    rotated = await client.post("/api/v1/webhooks/signing-keys/rotate", headers=live_headers)
    assert rotated.status_code == 200
    live = await client.post(f"/api/v1/projects/{project}/keys", json={}, headers=live_headers)
    assert live.status_code == 201 and live.json()["key"].startswith("uk_live_")


async def test_another_accounts_project_is_still_not_found_for_a_test_key(
    client: httpx.AsyncClient, test_headers: dict[str, str]
) -> None:
    # The existence check comes before the mode check: a test key learns nothing new.
    response = await client.delete("/api/v1/projects/proj_nothere", headers=test_headers)
    assert_error(response, 404, "NOT_FOUND")

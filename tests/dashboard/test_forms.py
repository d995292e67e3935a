"""The dashboard's route and project forms through the real ASGI app and database: a form is
checked by the API's own schema and service, a refused one comes back with the reason and leaves
nothing behind, and what a form leaves empty takes the default (new) or stays as it was (edit)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.dashboard import csrf_of, sign_in
from uploadkit_server.core.accounts.service import NewAccount


def redirect_of(response: httpx.Response) -> tuple[str, dict[str, str]]:
    """Where a form sent the browser, and the notice or error it carries."""
    assert response.status_code == 303, response.text
    location = urlsplit(response.headers["location"])
    return location.path, {name: values[0] for name, values in parse_qs(location.query).items()}


async def routes_of(client: httpx.AsyncClient, owner: NewAccount) -> list[dict[str, Any]]:
    listed = await client.get(
        f"/api/v1/projects/{owner.project.id}/routers",
        headers={"authorization": f"Bearer {owner.live_key}"},
    )
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


async def projects_of(client: httpx.AsyncClient, owner: NewAccount) -> list[str]:
    listed = await client.get(
        "/api/v1/projects", headers={"authorization": f"Bearer {owner.live_key}"}
    )
    assert listed.status_code == 200, listed.text
    return sorted(project["name"] for project in listed.json()["items"])


@pytest.fixture
async def signed_in(client: httpx.AsyncClient, owner: NewAccount) -> str:
    """The CSRF token of the signed-in owner's session."""
    await sign_in(client)
    return csrf_of(await client.get(f"/dashboard/projects/{owner.project.id}/routes"))


async def test_a_route_made_from_a_slug_alone_gets_the_api_defaults(
    client: httpx.AsyncClient, owner: NewAccount, signed_in: str
) -> None:
    routes_page = f"/dashboard/projects/{owner.project.id}/routes"
    created = await client.post(
        routes_page,
        data={"csrf": signed_in, "slug": " docs ", "max_file_size": "", "allowed_types": ""},
    )
    assert redirect_of(created) == (routes_page, {"notice": "Route docs created"})
    [route] = await routes_of(client, owner)
    assert (route["slug"], route["maxFileSize"], route["maxFileCount"]) == ("docs", 4194304, 1)
    assert (route["allowedTypes"], route["webhookUrl"], route["typeCheck"]) == (
        ["*/*"],
        None,
        "lenient",
    )


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"slug": "docs", "max_file_size": "four megabytes"}, "maxFileSize"),
        ({"slug": "docs", "max_file_count": "0"}, "maxFileCount"),
        ({"slug": "not a slug!"}, "slug"),
        ({"slug": "docs", "type_check": "loose"}, "typeCheck"),
    ],
)
async def test_a_refused_route_form_says_why_and_creates_nothing(
    client: httpx.AsyncClient,
    owner: NewAccount,
    signed_in: str,
    fields: dict[str, str],
    reason: str,
) -> None:
    routes_page = f"/dashboard/projects/{owner.project.id}/routes"
    refused = await client.post(routes_page, data={"csrf": signed_in, **fields})
    path, message = redirect_of(refused)
    assert path == routes_page
    assert message["error"].startswith(f"{reason}: "), message
    assert await routes_of(client, owner) == []


async def test_a_second_route_with_the_same_slug_is_refused_by_the_service(
    client: httpx.AsyncClient, owner: NewAccount, signed_in: str
) -> None:
    routes_page = f"/dashboard/projects/{owner.project.id}/routes"
    await client.post(routes_page, data={"csrf": signed_in, "slug": "docs"})
    again = await client.post(
        routes_page, data={"csrf": signed_in, "slug": "docs", "max_file_size": "1MB"}
    )
    _, message = redirect_of(again)
    assert "docs" in message["error"] and "notice" not in message
    [route] = await routes_of(client, owner)
    assert route["maxFileSize"] == 4194304


async def test_editing_a_route_keeps_empty_fields_and_an_empty_webhook_removes_it(
    client: httpx.AsyncClient, owner: NewAccount, signed_in: str
) -> None:
    routes_page = f"/dashboard/projects/{owner.project.id}/routes"
    await client.post(
        routes_page,
        data={
            "csrf": signed_in,
            "slug": "docs",
            "max_file_count": "3",
            "allowed_types": "image/*,\ntext/plain",
            "webhook_url": "https://hooks.example.com/uk",
        },
    )
    [route] = await routes_of(client, owner)
    assert route["allowedTypes"] == ["image/*", "text/plain"]
    assert route["webhookUrl"] == "https://hooks.example.com/uk"

    saved = await client.post(
        f"{routes_page}/{route['id']}",
        data={"csrf": signed_in, "max_file_size": "2MB", "max_file_count": "", "webhook_url": ""},
    )
    assert redirect_of(saved) == (routes_page, {"notice": "Route docs saved"})
    [edited] = await routes_of(client, owner)
    assert edited["maxFileSize"] == 2 * 1024 * 1024
    assert edited["maxFileCount"] == 3
    assert edited["allowedTypes"] == ["image/*", "text/plain"]
    assert edited["webhookUrl"] is None


async def test_a_refused_edit_goes_back_to_the_edit_page_and_changes_nothing(
    client: httpx.AsyncClient, owner: NewAccount, signed_in: str
) -> None:
    routes_page = f"/dashboard/projects/{owner.project.id}/routes"
    await client.post(routes_page, data={"csrf": signed_in, "slug": "docs"})
    await client.post(routes_page, data={"csrf": signed_in, "slug": "pics"})
    docs = next(r for r in await routes_of(client, owner) if r["slug"] == "docs")

    for fields in ({"max_file_size": "huge"}, {"slug": "pics", "max_file_size": "1MB"}):
        refused = await client.post(
            f"{routes_page}/{docs['id']}", data={"csrf": signed_in, **fields}
        )
        path, message = redirect_of(refused)
        assert path == f"{routes_page}/{docs['id']}/edit"
        assert message["error"] and "notice" not in message
    assert next(r for r in await routes_of(client, owner) if r["id"] == docs["id"]) == docs


async def test_a_new_project_opens_on_its_files_and_a_blank_name_is_refused(
    client: httpx.AsyncClient, owner: NewAccount, signed_in: str
) -> None:
    before = await projects_of(client, owner)
    for name in ("   ", "x" * 101):
        refused = await client.post("/dashboard/projects", data={"csrf": signed_in, "name": name})
        path, message = redirect_of(refused)
        assert path == "/dashboard/projects"
        assert message["error"].startswith("name: "), message
    assert await projects_of(client, owner) == before

    created = await client.post("/dashboard/projects", data={"csrf": signed_in, "name": " Photos "})
    path, message = redirect_of(created)
    assert path.startswith("/dashboard/projects/") and path.endswith("/files")
    assert message == {"notice": "Project Photos created"}
    assert await projects_of(client, owner) == sorted([*before, "Photos"])
    assert (await client.get(path)).status_code == 200


async def test_renaming_a_project_is_checked_like_the_api(
    client: httpx.AsyncClient, owner: NewAccount, signed_in: str
) -> None:
    rename = f"/dashboard/projects/{owner.project.id}/rename"
    before = await projects_of(client, owner)
    refused = await client.post(rename, data={"csrf": signed_in, "name": ""})
    assert redirect_of(refused)[1]["error"].startswith("name: ")
    assert await projects_of(client, owner) == before

    renamed = await client.post(rename, data={"csrf": signed_in, "name": " Archive "})
    assert redirect_of(renamed) == ("/dashboard/projects", {"notice": "Renamed to Archive"})
    assert await projects_of(client, owner) == ["Archive"]

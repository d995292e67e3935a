"""The isolation matrix: live/test by project A/B. A key never lists, reads, patches, deletes or
completes a file of another project or of the other mode; each is simply not found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from tests.support.api import assert_error
from tests.support.uploads import create_route, request_upload, upload_file
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.runtime import Runtime


@dataclass
class Cell:
    name: str
    headers: dict[str, str]
    file: dict[str, Any]
    pending: dict[str, Any]


async def make_cell(client: httpx.AsyncClient, name: str, key: str) -> Cell:
    headers = {"x-api-key": key}
    file = await upload_file(
        client, headers, name.encode(), name=f"{name}.jpg", metadata={"cell": name}
    )
    ticket = await request_upload(client, headers, size=4, name=f"{name}-pending.jpg")
    assert ticket.status_code == 200, ticket.text
    return Cell(name, headers, file, ticket.json())


async def test_isolation_matrix(
    client: httpx.AsyncClient, runtime: Runtime, account: NewAccount, live_headers: dict[str, str]
) -> None:
    project_b = (
        await client.post("/api/v1/projects", json={"name": "B"}, headers=live_headers)
    ).json()
    b_keys = {}
    for is_test in (False, True):
        created = await client.post(
            f"/api/v1/projects/{project_b['id']}/keys",
            json={"isTest": is_test},
            headers=live_headers,
        )
        b_keys[is_test] = created.json()["key"]
    await create_route(client, live_headers, account.project.id, slug="files")
    await create_route(client, live_headers, project_b["id"], slug="files")

    cells = [
        await make_cell(client, "a-live", account.live_key),
        await make_cell(client, "a-test", account.test_key),
        await make_cell(client, "b-live", b_keys[False]),
        await make_cell(client, "b-test", b_keys[True]),
    ]

    for caller in cells:
        listed = await client.get("/api/v1/files", params={"limit": 100}, headers=caller.headers)
        assert sorted(i["key"] for i in listed.json()["items"]) == sorted(
            [caller.file["key"], caller.pending["key"]]
        ), caller.name
        for other in cells:
            if other is caller:
                continue
            for key in (other.file["key"], other.pending["key"]):
                path = f"/api/v1/files/{quote(key, safe='')}"
                assert_error(await client.get(path, headers=caller.headers), 404, "NOT_FOUND")
                assert_error(
                    await client.patch(
                        path, json={"metadata": {"x": caller.name}}, headers=caller.headers
                    ),
                    404,
                    "NOT_FOUND",
                )
                assert_error(await client.delete(path, headers=caller.headers), 404, "NOT_FOUND")
                bulk = await client.request(
                    "DELETE", "/api/v1/files", json={"keys": [key]}, headers=caller.headers
                )
                assert bulk.status_code == 207
                assert bulk.json()["results"][0]["deleted"] is False
            for file_id in (other.file["id"], other.pending["fileId"]):
                assert_error(
                    await client.post(
                        "/api/v1/upload/complete", json={"fileId": file_id}, headers=caller.headers
                    ),
                    404,
                    "UPLOAD_NOT_FOUND",
                )

    # Nothing was touched: each owner still finds its files as they were, objects included.
    for owner in cells:
        path = f"/api/v1/files/{quote(owner.file['key'], safe='')}"
        mine = await client.get(path, headers=owner.headers)
        assert mine.status_code == 200
        assert mine.json() == owner.file
        assert mine.json()["metadata"] == {"cell": owner.name}
        assert await runtime.storage.head(owner.file["key"]) is not None
        pending = await client.get(f"/api/v1/files/{owner.pending['key']}", headers=owner.headers)
        assert pending.json()["status"] == "UPLOADING"
        # And the owner can act on them.
        assert (await client.delete(path, headers=owner.headers)).json() == {"deleted": True}

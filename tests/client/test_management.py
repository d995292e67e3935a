"""The management resources of the SDK against the real server: files (cursor iteration, get,
update, delete, bulk delete), projects, routes, keys, usage and logs."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.support.sdk import Live
from uploadkit_client import NotFound, Unauthorized, UploadKit


class CountingTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.calls[(request.method, request.url.path)] += 1
        return super().handle_request(request)


@pytest.fixture
def route_slug(sdk: UploadKit, live: Live, request: pytest.FixtureRequest) -> str:
    """A route of this test's own, so listings filtered by it see only this test's files."""
    slug = "r" + "".join(ch for ch in request.node.name if ch.isalnum())[:60]
    sdk.routes.create(live.project_id, slug=slug)
    return slug


def test_files_list_follows_cursors_newest_first(
    live: Live, sdk: UploadKit, route_slug: str, tmp_path: Path
) -> None:
    uploaded = [
        sdk.upload(f"file {n}".encode(), route=route_slug, file_name=f"{n}.txt")["key"]
        for n in range(7)
    ]
    counting = CountingTransport()
    with UploadKit(live.key, live.url, transport=counting, state_dir=tmp_path) as client:
        listed = [f["key"] for f in client.files.list(route_slug=route_slug, page_size=3)]
    assert listed == uploaded[::-1]
    assert counting.calls[("GET", "/api/v1/files")] == 3  # 3 + 3 + 1

    first = sdk.files.page(limit=5, route_slug=route_slug)
    assert first["hasMore"] is True
    rest = sdk.files.page(limit=5, route_slug=route_slug, cursor=first["nextCursor"])
    assert rest["hasMore"] is False
    assert [f["key"] for f in first["items"] + rest["items"]] == uploaded[::-1]
    assert all(f["status"] == "UPLOADED" for f in sdk.files.list(status="UPLOADED"))


def test_get_update_and_delete_a_file_by_key(sdk: UploadKit, route_slug: str) -> None:
    file = sdk.upload(b"hello", route=route_slug, file_name="a b/c?.txt", metadata={"a": 1})
    assert "/" in file["key"]  # slashes travel encoded
    assert sdk.files.get(file["key"])["id"] == file["id"]
    updated = sdk.files.update(file["key"], metadata={"b": 2})
    assert updated["metadata"] == {"a": 1, "b": 2}
    assert sdk.files.delete(file["key"]) == {"deleted": True}
    with pytest.raises(NotFound):
        sdk.files.get(file["key"])
    assert httpx.get(file["url"], timeout=10).status_code == 404


def test_bulk_delete_reports_each_key(sdk: UploadKit, route_slug: str) -> None:
    keys = [sdk.upload(b"x", route=route_slug, file_name=f"{n}.bin")["key"] for n in range(2)]
    result = sdk.files.delete_many([*keys, "nope/missing.bin"])
    assert [(r["key"], r["deleted"]) for r in result["results"]] == [
        (keys[0], True),
        (keys[1], True),
        ("nope/missing.bin", False),
    ]
    assert list(sdk.files.list(route_slug=route_slug)) == []


def test_projects_crud(sdk: UploadKit) -> None:
    project = sdk.projects.create("Marketing Site")
    assert project["slug"]
    assert sdk.projects.get(project["id"])["name"] == "Marketing Site"
    assert sdk.projects.update(project["id"], name="Renamed")["name"] == "Renamed"
    assert project["id"] in {p["id"] for p in sdk.projects.list()}
    assert sdk.projects.delete(project["id"]) == {"deleted": True}
    with pytest.raises(NotFound):
        sdk.projects.get(project["id"])


def test_routes_crud(sdk: UploadKit, live: Live) -> None:
    route = sdk.routes.create(
        live.project_id, slug="avatars", max_file_size="2MB", allowed_types=["image/*"]
    )
    assert route["maxFileSize"] == 2 * 1024 * 1024
    assert sdk.routes.get(route["id"])["slug"] == "avatars"
    changed = sdk.routes.update(route["id"], max_file_size="8MB", max_file_count=3)
    assert (changed["maxFileSize"], changed["maxFileCount"]) == (8 * 1024 * 1024, 3)
    assert "avatars" in {r["slug"] for r in sdk.routes.list(live.project_id)}
    assert sdk.routes.delete(route["id"]) == {"deleted": True}
    with pytest.raises(NotFound):
        sdk.routes.get(route["id"])


def test_keys_create_use_and_revoke(sdk: UploadKit, live: Live, tmp_path: Path) -> None:
    created = sdk.keys.create(live.project_id, name="ci", is_test=True)
    plaintext = created["key"]
    assert plaintext.startswith("uk_test_")
    listed = {k["id"]: k for k in sdk.keys.list(live.project_id)}
    assert plaintext not in str(listed)
    assert listed[created["apiKey"]["id"]]["isTest"] is True
    with UploadKit(plaintext, live.url, state_dir=tmp_path) as test_client:
        assert test_client.usage.get()["mode"] == "test"
        sdk.keys.revoke(created["apiKey"]["id"])
        with pytest.raises(Unauthorized):
            test_client.usage.get()


def test_usage_history_and_logs(sdk: UploadKit, route_slug: str) -> None:
    file = sdk.upload(b"counted", route=route_slug)
    usage = sdk.usage.get()
    assert usage["mode"] == "live"
    assert usage["tier"] == "ENTERPRISE"
    assert usage["uploads"] >= 1
    assert sdk.usage.history()["items"][0]["uploads"] >= 1
    events = sdk.usage.logs(since=file["createdAt"], limit=100)["items"]
    assert any(event.get("fileId") == file["id"] for event in events)

"""The sweep of stored objects no live file names (issue 12 finding 1), on local storage and on
S3 (moto's server), each on SQLite and PostgreSQL: orphans older than the age go, everything a
file in flight or stored names stays, and keys outside the server's own are never touched."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.support.file_records import record_file
from tests.support.uploads import complete, create_route, put_headers, request_upload, upload_file
from uploadkit_server.clock import utcnow
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.db.models import FileStatus
from uploadkit_server.jobs.orphaned_objects import OrphanedObjectSweep
from uploadkit_server.jobs.schedule import background_jobs
from uploadkit_server.runtime import Runtime

DATA = b"orphan bytes"


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def storage_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings_overrides(storage_kind: str, request: pytest.FixtureRequest) -> dict[str, object]:
    if storage_kind == "s3":
        return dict(request.getfixturevalue("s3_settings_overrides"))
    return {}


def later(hours: float) -> OrphanedObjectSweep:
    """A sweep that sees the clock ``hours`` ahead (objects were written just now)."""
    moment = utcnow() + timedelta(hours=hours)
    return OrphanedObjectSweep(every=timedelta(0), clock=lambda: moment)


async def store(runtime: Runtime, key: str) -> None:
    await runtime.storage.put_object(key, DATA, content_type="application/octet-stream")


async def exists(runtime: Runtime, key: str) -> bool:
    return await runtime.storage.head(key) is not None


async def test_orphans_older_than_the_age_are_removed_and_live_objects_stay(
    runtime: Runtime,
) -> None:
    keys = {
        "uploading": "proj_a/files/k1/in-flight.bin",
        "uploaded": "proj_a/files/k2/stored.bin",
        "failed": "proj_a/files/k3/failed.bin",
        "deleted": "proj_a/files/k4/deleted.bin",
        "no record": "proj_a/files/k5/nobody.bin",
        "not ours": "elsewhere/k6/other.bin",
        "variant": "_transforms/file_x/abc.webp",
    }
    for status, name in (
        (FileStatus.UPLOADING, "uploading"),
        (FileStatus.UPLOADED, "uploaded"),
        (FileStatus.FAILED, "failed"),
        (FileStatus.DELETED, "deleted"),
    ):
        await record_file(runtime.sessionmaker, keys[name], status=status)
    for key in keys.values():
        await store(runtime, key)

    assert runtime.settings.orphan_object_age == 3600
    assert await later(0.5)(runtime) == 0  # younger than the age: a PUT may just have landed
    assert await later(2)(runtime) == 3

    survivors = {name for name, key in keys.items() if await exists(runtime, key)}
    assert survivors == {"uploading", "uploaded", "not ours", "variant"}


async def test_bytes_put_after_delete_are_not_served_and_are_swept(
    client: httpx.AsyncClient,
    account: NewAccount,
    live_headers: dict[str, str],
    runtime: Runtime,
    storage_kind: str,
    s3_http: httpx.AsyncClient,
) -> None:
    """Issue 12 finding 1 (b): request, PUT, delete, PUT again. Local storage refuses the second
    PUT; S3's conditional write cannot (the object is gone), so the CDN refuses to serve it,
    no usage counts it, and the sweep removes it."""
    await create_route(client, live_headers, account.project.id)
    ticket = (await request_upload(client, live_headers, size=len(DATA))).json()
    http: httpx.AsyncClient = client if storage_kind == "local" else s3_http
    first = await http.put(ticket["uploadUrl"], content=DATA, headers=put_headers(ticket))
    assert first.status_code == 200, first.text
    done = await complete(client, live_headers, ticket["fileId"])
    assert done.status_code == 200, done.text
    deleted = await client.delete(f"/api/v1/files/{ticket['key']}", headers=live_headers)
    assert deleted.status_code == 200, deleted.text

    again = await http.put(ticket["uploadUrl"], content=DATA, headers=put_headers(ticket))
    if storage_kind == "local":
        assert again.status_code == 403
        assert not await exists(runtime, ticket["key"])
        return
    assert again.status_code == 200, again.text
    assert await exists(runtime, ticket["key"])
    assert (await client.get(f"/cdn/{ticket['key']}")).status_code == 404
    assert await later(2)(runtime) == 1
    assert not await exists(runtime, ticket["key"])


async def test_a_stored_file_survives_the_sweep(
    client: httpx.AsyncClient,
    account: NewAccount,
    live_headers: dict[str, str],
    runtime: Runtime,
    storage_kind: str,
    s3_http: httpx.AsyncClient,
) -> None:
    await create_route(client, live_headers, account.project.id)
    if storage_kind == "local":
        stored: dict[str, Any] = await upload_file(client, live_headers, DATA)
    else:
        http = s3_http
        ticket = (await request_upload(client, live_headers, size=len(DATA))).json()
        put = await http.put(ticket["uploadUrl"], content=DATA, headers=put_headers(ticket))
        assert put.status_code == 200
        done = await complete(client, live_headers, ticket["fileId"])
        stored = done.json()
    assert await later(24)(runtime) == 0
    assert await exists(runtime, stored["key"])


async def test_sweep_runs_at_most_once_per_period(runtime: Runtime) -> None:
    moment = utcnow() + timedelta(hours=2)
    sweep = OrphanedObjectSweep(every=timedelta(hours=1), clock=lambda: moment)
    await store(runtime, "proj_a/files/k1/first.bin")
    assert await sweep(runtime) == 1
    await store(runtime, "proj_a/files/k2/second.bin")
    assert await sweep(runtime) == 0  # within the period: not listed again yet
    assert await exists(runtime, "proj_a/files/k2/second.bin")


def test_the_sweep_is_a_background_job() -> None:
    assert any(isinstance(job, OrphanedObjectSweep) for job in background_jobs())

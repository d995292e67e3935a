"""Two server processes on shared PostgreSQL, Redis and an S3-compatible store.

Uploads requested on one process complete on the other; the rate limit is one window across
both; each ``onUploadComplete`` is delivered once although both run a dispatcher; an abandoned
upload is cleaned once although both run the expiry job.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.support.databases import empty_database
from tests.support.live_server import LiveServer, start_server
from tests.support.s3server import S3Bucket
from tests.support.services import TEST_REDIS_URL, require_service
from tests.support.webhook_receiver import WebhookReceiver, running_receiver, wait_until

MIB = 1024 * 1024


@pytest.fixture
async def postgres_url(tmp_path: Path) -> AsyncIterator[str]:
    async with empty_database("postgres", tmp_path) as url:  # the servers migrate it
        yield url


@pytest.fixture
def shared_env(postgres_url: str, s3_bucket: S3Bucket) -> dict[str, str]:
    require_service("Redis", TEST_REDIS_URL, 6379)
    return {
        "UPLOADKIT_DATABASE_URL": postgres_url,
        "UPLOADKIT_REDIS_URL": TEST_REDIS_URL,
        "UPLOADKIT_RATE_LIMIT_KEY_PREFIX": f"uk-test-{secrets.token_hex(6)}:",
        "UPLOADKIT_STORAGE": "s3",
        "UPLOADKIT_S3_BUCKET": s3_bucket.name,
        "UPLOADKIT_S3_ENDPOINT_URL": s3_bucket.endpoint_url,
        "UPLOADKIT_S3_REGION": s3_bucket.region,
        "UPLOADKIT_S3_FORCE_PATH_STYLE": "true",
        "UPLOADKIT_WEBHOOK_ALLOW_PRIVATE": "true",
        "UPLOADKIT_JOB_INTERVAL": "0.5",
        "UPLOADKIT_UPLOAD_GRACE_PERIOD": "0",
        # Behind one load balancer, every process hands out the same file URLs.
        "UPLOADKIT_CDN_URL": "https://files.example.test",
    }


@pytest.fixture
def servers(shared_env: dict[str, str], tmp_path: Path) -> Iterator[list[LiveServer]]:
    # Start both at once on the empty database: migrations must serialise themselves.
    started: list[LiveServer] = []
    try:
        for name in ("a", "b"):
            started.append(start_server(shared_env, data_dir=tmp_path / name))
        yield started
    finally:
        for server in started:
            server.stop()


def create_account(env: dict[str, str]) -> dict[str, object]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "uploadkit_server",
            "admin",
            "create-account",
            "--email",
            "scale@example.com",
            "--tier",
            "pro",
            "--json",
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(result.stdout))


async def wait_until_every_attempt_is_written(
    database_url: str, receiver: WebhookReceiver, *, deliveries: int
) -> None:
    """Until (at least) ``deliveries`` are queued, all delivered, no lease is held, and the
    database has written an attempt for every request the receiver got. A send holds its lease
    until its attempt is written, and a second send of a delivery would be written too (as
    history, if its lease was lost), so from here on a duplicate shows as an extra request."""
    connection = await asyncpg.connect(database_url)
    try:

        async def settled() -> bool:
            row = await connection.fetchrow(
                "SELECT count(*) AS queued,"
                " count(*) FILTER (WHERE status = 'delivered' AND locked_until IS NULL) AS done,"
                " (SELECT count(*) FROM webhook_attempts) AS attempts"
                " FROM webhook_deliveries"
            )
            assert row is not None
            return bool(
                row["queued"] >= deliveries
                and row["done"] == row["queued"]
                and row["attempts"] == receiver.count()
            )

        deadline = time.monotonic() + 30
        while not await settled():
            assert time.monotonic() < deadline, "the deliveries did not settle"
            await asyncio.sleep(0.05)
    finally:
        await connection.close()


async def wait_until_older_transactions_end(connection: asyncpg.Connection) -> None:
    """Until every transaction that had begun on this database before now has ended. An expiry
    job claims and fails an upload in one transaction, and a claim begun after the upload was
    seen failed no longer finds it: so once these have ended, both processes' jobs have done
    all they will ever do to it."""
    now = await connection.fetchval("SELECT clock_timestamp()")
    deadline = time.monotonic() + 30
    while await connection.fetchval(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start < $1",
        now,
    ):
        assert time.monotonic() < deadline, "a transaction stayed open"
        await asyncio.sleep(0.05)


async def test_two_processes_share_everything(
    servers: list[LiveServer], shared_env: dict[str, str], s3_bucket: S3Bucket
) -> None:
    a, b = servers
    account = create_account(shared_env)
    keys = account["keys"]
    project = account["project"]
    assert isinstance(keys, dict) and isinstance(project, dict)
    live = {"x-api-key": keys["live"]}
    async with httpx.AsyncClient(timeout=30) as http:
        with running_receiver() as receiver:
            route = await http.post(
                f"{a.api}/projects/{project['id']}/routers",
                json={"slug": "files", "maxFileSize": "64MB", "webhookUrl": receiver.url},
                headers=live,
            )
            assert route.status_code == 201, route.text

            # Requested on one process, completed on the other, bytes in S3.
            file_ids = []
            for n in range(6):
                first, second = (a, b) if n % 2 == 0 else (b, a)
                data = os.urandom(1000 + n)
                ticket = await http.post(
                    f"{first.api}/upload/request",
                    json={
                        "fileName": f"f{n}.bin",
                        "fileSize": len(data),
                        "contentType": "application/octet-stream",
                        "routeSlug": "files",
                    },
                    headers=live,
                )
                assert ticket.status_code == 200, ticket.text
                assert ticket.json()["uploadUrl"].startswith(s3_bucket.endpoint_url)
                put = await http.put(
                    ticket.json()["uploadUrl"],
                    content=data,
                    headers={"content-type": "application/octet-stream"},
                )
                assert put.status_code == 200, put.text
                done = await http.post(
                    f"{second.api}/upload/complete",
                    json={"fileId": ticket.json()["fileId"]},
                    headers=live,
                )
                assert done.status_code == 200, done.text
                again = await http.post(
                    f"{first.api}/upload/complete",
                    json={"fileId": ticket.json()["fileId"]},
                    headers=live,
                )
                assert again.json() == done.json()
                file_ids.append(ticket.json()["fileId"])

            # Each webhook once, although both processes dispatch.
            await wait_until(lambda: receiver.count() >= len(file_ids))
            await wait_until_every_attempt_is_written(
                shared_env["UPLOADKIT_DATABASE_URL"], receiver, deliveries=len(file_ids)
            )
            delivered = Counter(json.loads(w.body)["file"]["id"] for w in receiver.received)
            assert delivered == Counter(file_ids)

        # One rate-limit window across both processes: the test key has its own, unused one.
        test_key = {"x-api-key": keys["test"]}
        responses = await asyncio.gather(
            *[
                http.get(f"{(a, b)[n % 2].api}/projects/{project['id']}/routers", headers=test_key)
                for n in range(310)
            ]
        )
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {200: 300, 429: 10}, statuses  # PRO: 300 a minute

        # An abandoned multipart upload is cleaned exactly once by the two expiry jobs.
        init = await http.post(
            f"{b.api}/upload/multipart/init",
            json={
                "fileName": "big.bin",
                "fileSize": 6 * MIB,
                "contentType": "application/octet-stream",
                "routeSlug": "files",
            },
            headers=live,
        )
        assert init.status_code == 200, init.text
        abandoned = init.json()
        part = await http.put(abandoned["parts"][0]["uploadUrl"], content=b"x" * (5 * MIB))
        assert part.status_code == 200

    connection = await asyncpg.connect(shared_env["UPLOADKIT_DATABASE_URL"])
    try:
        await connection.execute(
            "UPDATE files SET expires_at = now() - interval '1 minute' WHERE id = $1",
            abandoned["fileId"],
        )

        async def failed() -> bool:
            status = await connection.fetchval(
                "SELECT status FROM files WHERE id = $1", abandoned["fileId"]
            )
            return bool(status == "FAILED")

        for _ in range(200):
            if await failed():
                break
            await asyncio.sleep(0.1)
        assert await failed()
        await wait_until_older_transactions_end(connection)
        events = await connection.fetch(
            "SELECT event FROM upload_events WHERE file_id = $1", abandoned["fileId"]
        )
        storage_bytes = await connection.fetchval("SELECT storage_bytes FROM accounts")
    finally:
        await connection.close()
    assert [e["event"] for e in events] == ["failed"]
    assert storage_bytes == sum(1000 + n for n in range(6))
    uploads = await s3_bucket.client.list_multipart_uploads(Bucket=s3_bucket.name)
    assert uploads.get("Uploads", []) == []

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
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.support.databases import fresh_database
from tests.support.live_server import LiveServer, start_server
from tests.support.s3server import S3Bucket
from tests.support.services import TEST_REDIS_URL, require_service
from tests.support.webhook_receiver import running_receiver, wait_until

pytestmark = pytest.mark.slow

MIB = 1024 * 1024


@pytest.fixture
async def postgres_url(tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database("postgres", tmp_path) as url:
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
def servers(shared_env: dict[str, str], tmp_path: Path) -> list[LiveServer]:
    # Start both at once on the fresh database: migrations must serialise themselves.
    started: list[LiveServer] = []
    try:
        for name in ("a", "b"):
            started.append(start_server(shared_env, data_dir=tmp_path / name))
        yield started  # type: ignore[misc]
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
            await asyncio.sleep(2)  # room for a duplicate to show up, if there were one
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
            return status == "FAILED"

        for _ in range(200):
            if await failed():
                break
            await asyncio.sleep(0.1)
        assert await failed()
        await asyncio.sleep(1.5)  # both jobs have run again since
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

"""Does a page deep in the file listing cost what the first page does?

Fills one project with N file records (bulk insert: the bench is about the listing, not the
upload flow), then times ``GET /api/v1/files`` through the real ASGI app at the first page and
at a page near the end of the listing, for the unfiltered listing and both filters. For contrast
it also times the OFFSET query a naive listing would run at the same depth.

    .venv/bin/python bench/pagination_depth.py                  # SQLite, 100,000 files
    .venv/bin/python bench/pagination_depth.py --db postgres    # needs PostgreSQL at
        UPLOADKIT_TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres)

Results go into docs/management-api.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import insert, text

from uploadkit_server.app import create_app
from uploadkit_server.clock import utcnow
from uploadkit_server.core.accounts.service import create_account
from uploadkit_server.core.auth.context import AuthContext
from uploadkit_server.core.files.service import list_files
from uploadkit_server.core.pagination import encode_cursor, page_request
from uploadkit_server.db.models import File, FileStatus, Tier
from uploadkit_server.runtime import Runtime
from uploadkit_server.settings import Settings

ADMIN_URL = os.environ.get(
    "UPLOADKIT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BATCH = 5_000


@asynccontextmanager
async def database(kind: str, tmp: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    name = f"uk_bench_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(ADMIN_URL)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        yield f"{ADMIN_URL.rpartition('/')[0]}/{name}"
    finally:
        conn = await asyncpg.connect(ADMIN_URL)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def status_of(i: int) -> str:
    """90 % uploaded, 4 % failed, 3 % uploading, 3 % deleted, spread through the listing."""
    r = i % 100
    if r < 90:
        return FileStatus.UPLOADED
    if r < 94:
        return FileStatus.FAILED
    if r < 97:
        return FileStatus.UPLOADING
    return FileStatus.DELETED


async def fill(runtime: Runtime, *, project_id: str, account_id: str, count: int) -> None:
    start = utcnow() - timedelta(days=30)
    async with runtime.sessionmaker() as session, session.begin():
        for offset in range(0, count, BATCH):
            rows = [
                {
                    "id": f"file_bench{i:09d}",
                    "project_id": project_id,
                    "account_id": account_id,
                    "route_slug": "images" if i % 2 else "documents",
                    "is_test": False,
                    "key": f"{project_id}/bench/{i:09d}/file.jpg",
                    "file_name": "file.jpg",
                    "file_size": 1000 + i,
                    "content_type": "image/jpeg",
                    "status": status_of(i),
                    "metadata_": {},
                    "reserved_bytes": 0,
                    "expires_at": start,
                    "created_at": start + timedelta(milliseconds=i),
                    "updated_at": start + timedelta(milliseconds=i),
                }
                for i in range(offset, min(offset + BATCH, count))
            ]
            await session.execute(insert(File), rows)
        await session.execute(text("ANALYZE"))


async def timed_pair(
    first: Callable[[], Awaitable[object]], deep: Callable[[], Awaitable[object]], repeat: int
) -> tuple[list[float], list[float]]:
    """Both calls, alternated so that load from elsewhere on the machine hits both alike;
    sorted samples in milliseconds."""
    for _ in range(5):  # warm caches and the connection pool
        await first()
        await deep()
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for call, into in ((first, samples[0]), (deep, samples[1])):
            began = time.perf_counter()
            await call()
            into.append((time.perf_counter() - began) * 1000)
    return sorted(samples[0]), sorted(samples[1])


def summary(samples: list[float]) -> str:
    return f"{statistics.median(samples):>8.2f} / {samples[int(len(samples) * 0.95) - 1]:<7.2f}"


async def bench(kind: str, count: int, repeat: int, limit: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with database(kind, Path(tmp)) as url:
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None,
                data_dir=Path(tmp) / "data",
                database_url=url,
                run_background_jobs=False,
                secret_key="bench-secret",
            )
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                runtime: Runtime = app.state.runtime
                async with runtime.sessionmaker() as session, session.begin():
                    made = await create_account(
                        session,
                        email="bench@example.com",
                        tier=Tier.ENTERPRISE,
                        rate_limit=10**9,
                    )
                began = time.perf_counter()
                await fill(
                    runtime, project_id=made.project.id, account_id=made.account.id, count=count
                )
                print(f"{kind}: inserted {count:,} files in {time.perf_counter() - began:.1f} s")
                async with runtime.sessionmaker() as session:
                    low_pk = int(await session.scalar(text("SELECT min(pk) FROM files")) or 0)
                # The cursor the API hands out at that position: about `limit` rows from the end.
                deep_cursor = encode_cursor(low_pk + 2 * limit)
                headers = {"x-api-key": made.live_key}
                transport = httpx.ASGITransport(app=app)
                auth = AuthContext(
                    key_id="bench",
                    key_hash="bench",
                    account_id=made.account.id,
                    tier=Tier.ENTERPRISE,
                    custom_rate_limit=None,
                    project_id=made.project.id,
                    is_test=False,
                )
                print(f"{'median / p95 ms':<36}{'first page':>18}{'deep page':>18}")
                async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                    for label, params in (
                        ("all statuses", {}),
                        ("status=UPLOADED", {"status": "UPLOADED"}),
                        ("routeSlug=images", {"routeSlug": "images"}),
                    ):

                        def page(
                            cursor: str | None, p: dict[str, str] = params
                        ) -> Callable[[], Awaitable[object]]:
                            query: dict[str, object] = {"limit": limit, **p}
                            if cursor:
                                query["cursor"] = cursor

                            async def call() -> object:
                                response = await http.get(
                                    "/api/v1/files", params=query, headers=headers
                                )
                                assert response.status_code == 200, response.text
                                assert response.json()["items"], "pages must not be empty"
                                return response

                            return call

                        first, deep = await timed_pair(page(None), page(deep_cursor), repeat)
                        print(f"{'HTTP  ' + label:<36}{summary(first)}{summary(deep)}")

                        def query_only(
                            cursor: str | None, p: dict[str, str] = params
                        ) -> Callable[[], Awaitable[object]]:
                            async def call() -> object:
                                async with runtime.sessionmaker() as session:
                                    return await list_files(
                                        session,
                                        auth,
                                        page=page_request(limit=limit, cursor=cursor),
                                        status=p.get("status"),
                                        route_slug=p.get("routeSlug"),
                                    )

                            return call

                        first, deep = await timed_pair(
                            query_only(None), query_only(deep_cursor), repeat
                        )
                        print(f"{'query ' + label:<36}{summary(first)}{summary(deep)}")

                offset_query = text(
                    "SELECT * FROM files WHERE project_id = :p AND is_test = :t "
                    "AND status <> 'DELETED' ORDER BY pk DESC LIMIT :n OFFSET :o"
                )

                def offset_page(depth: int) -> Callable[[], Awaitable[object]]:
                    async def call() -> object:
                        async with runtime.sessionmaker() as session:
                            return (
                                await session.execute(
                                    offset_query,
                                    {
                                        "p": made.project.id,
                                        "t": False,
                                        "n": limit,
                                        "o": depth,
                                    },
                                )
                            ).all()

                    return call

                first, deep = await timed_pair(
                    offset_page(0), offset_page(count - 2 * limit), max(repeat // 5, 10)
                )
                print(f"{'contrast: OFFSET (not used)':<36}{summary(first)}{summary(deep)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--limit", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(bench(args.db, args.files, args.repeat, args.limit))


if __name__ == "__main__":
    main()

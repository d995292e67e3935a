"""What a server process records in memory (keys' ``lastUsedAt``, bytes served by the CDN) is
written by that process itself, even when the shared jobs run in a separate worker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
from sqlalchemy import select

from tests.support.fixtures import with_settings
from tests.support.uploads import create_route, upload_file
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.db.models import ApiKey, UsageMonth
from uploadkit_server.runtime import Runtime

# The shared jobs are off (a worker would run them); local flushes run every 50 ms.
settings_overrides = with_settings(run_background_jobs=False, job_interval=0.05)


async def eventually(check: Callable[[], Awaitable[bool]], *, polls: int = 1000) -> None:
    """Poll ``check()`` until it is true, every 20 ms for at most ``polls`` tries (a deadline,
    not a measurement: it usually holds within 50 ms)."""
    for _ in range(polls):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("never became true")


async def test_a_server_without_background_jobs_still_flushes_what_it_recorded(
    client: httpx.AsyncClient,
    runtime: Runtime,
    account: NewAccount,
    live_headers: dict[str, str],
) -> None:
    await create_route(client, live_headers, account.project.id, slug="files")
    file = await upload_file(client, live_headers, b"x" * 123)
    assert (await client.get(file["url"])).status_code == 200

    async def last_used_written() -> bool:
        async with runtime.sessionmaker() as session:
            moments = (
                await session.scalars(
                    select(ApiKey.last_used_at).where(ApiKey.project_id == account.project.id)
                )
            ).all()
        return any(moment is not None for moment in moments)

    async def served_written() -> bool:
        async with runtime.sessionmaker() as session:
            served = await session.scalar(
                select(UsageMonth.bytes_served).where(
                    UsageMonth.account_id == account.account.id, UsageMonth.is_test.is_(False)
                )
            )
        return served == 123

    await eventually(last_used_written)
    await eventually(served_written)

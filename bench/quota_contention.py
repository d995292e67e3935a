"""Presign quota reservations of one account under concurrency on PostgreSQL: how many per
second the two shared counter rows (the month's uploads, the account's storage) let through,
with the reserving transaction's commit waiting for the WAL flush (as before) and not waiting
(as ``core/usage/repository.py`` does now), alternating in one run.

Run by hand (results go into docs/benchmarks.md)::

    .venv/bin/python bench/quota_contention.py --database postgresql://postgres@127.0.0.1/postgres

Each of ``--concurrency`` tasks runs transactions of exactly the quota statements a presign
runs (``repository.take_upload_slot``, ``repository.hold_storage``) on its own connection,
for ``--seconds``; the "flush wait" variant adds ``SET LOCAL synchronous_commit TO on`` after
them, which restores the server's default for that transaction. A scratch database is created
and dropped. Afterwards the counters are checked against the number of committed reservations:
exact either way.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from uploadkit_server.clock import month_of, utcnow
from uploadkit_server.core.accounts.service import create_account
from uploadkit_server.core.usage import repository
from uploadkit_server.db.migrate import migrate
from uploadkit_server.db.models import Account, Tier, UsageMonth
from uploadkit_server.db.session import create_engine, create_sessionmaker


async def reserve_loop(
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: str,
    *,
    month: str,
    flush_wait: bool,
    until: float,
) -> int:
    done = 0
    while time.perf_counter() < until:
        async with sessionmaker() as session, session.begin():
            assert await repository.take_upload_slot(
                session, account_id=account_id, is_test=False, month=month, limit=10**9
            )
            assert await repository.hold_storage(
                session, account_id=account_id, is_test=False, size=1, limit=10**15
            )
            if flush_wait:
                await session.execute(text("SET LOCAL synchronous_commit TO on"))
        done += 1
    return done


async def run(url: str, *, concurrency: int, seconds: float, rounds: int) -> None:
    engine = create_engine(url)
    await migrate(engine)
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session, session.begin():
        owner = await create_account(session, email="quota@example.com", tier=Tier.ENTERPRISE)
    account_id = owner.account.id
    month = month_of(utcnow())
    rates: dict[str, list[float]] = {"flush wait (before)": [], "no flush wait (now)": []}
    total = 0
    try:
        for n in range(1, rounds + 1):
            for name in rates:
                until = time.perf_counter() + seconds
                started = time.perf_counter()
                counts = await asyncio.gather(
                    *(
                        reserve_loop(
                            sessionmaker,
                            account_id,
                            month=month,
                            flush_wait=name.startswith("flush"),
                            until=until,
                        )
                        for _ in range(concurrency)
                    )
                )
                total += sum(counts)
                rate = sum(counts) / (time.perf_counter() - started)
                rates[name].append(rate)
                print(f"round {n}, {name:20}: {rate:7.0f} reservations/s")
        before, after = (statistics.median(values) for values in rates.values())
        print(f"median: before {before:.0f}/s, now {after:.0f}/s, ratio {after / before:.2f}")
        async with sessionmaker() as session:
            in_flight = await session.scalar(
                select(UsageMonth.uploads_in_flight).where(UsageMonth.account_id == account_id)
            )
            stored = await session.scalar(
                select(Account.storage_bytes).where(Account.id == account_id)
            )
        print(f"counters: {in_flight} slots, {stored} bytes for {total} reservations")
        assert in_flight == total and stored == total
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1/postgres")
    parser.add_argument("--concurrency", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    async def scratch_run() -> None:
        name = f"uk_quota_{secrets.token_hex(4)}"
        admin = await asyncpg.connect(args.database)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        try:
            base = args.database.rpartition("/")[0].replace(
                "postgresql://", "postgresql+asyncpg://"
            )
            url = f"{base}/{name}"
            await run(url, concurrency=args.concurrency, seconds=args.seconds, rounds=args.rounds)
        finally:
            admin = await asyncpg.connect(args.database)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()

    asyncio.run(scratch_run())


if __name__ == "__main__":
    main()

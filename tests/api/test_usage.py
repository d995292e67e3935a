"""Usage per account and mode: this month's counters, storage held, the tier's limits, and the
monthly history; test mode counts against no quota."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import update

from tests.conftest import make_account
from tests.support.api import assert_error
from tests.support.uploads import create_route, request_upload, upload_file
from uploadkit_server.clock import month_of, utcnow
from uploadkit_server.core.accounts.service import NewAccount, set_tier
from uploadkit_server.core.tiers import GIB, MIB
from uploadkit_server.db.models import Tier, UsageMonth
from uploadkit_server.runtime import Runtime


async def usage(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/api/v1/usage", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_fresh_account_shows_zero_and_the_tier_limits(
    client: httpx.AsyncClient, live_headers: dict[str, str]
) -> None:
    body = await usage(client, live_headers)
    assert body == {
        "mode": "live",
        "tier": "PRO",
        "month": month_of(utcnow()),
        "uploads": 0,
        "uploadsInFlight": 0,
        "bytesUploaded": 0,
        "bytesServed": 0,
        "transformUnits": 0,
        "storageBytes": 0,
        "projects": 1,
        "quotaApplies": True,
        "limits": {
            "requestsPerMinute": 300,
            "maxFileSize": 512 * MIB,
            "storageBytes": 100 * GIB,
            "uploadsPerMonth": 50_000,
            "projects": 10,
            "keysPerProject": 10,
            "transformUnitsPerMonth": 5_000,
        },
    }


async def test_live_and_test_usage_are_counted_apart(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    test_headers: dict[str, str],
) -> None:
    big = await upload_file(client, live_headers, b"x" * 100, name="big.jpg")
    await upload_file(client, live_headers, b"y" * 50, name="small.jpg")
    await upload_file(client, test_headers, b"t" * 30, name="test.jpg")
    assert (await request_upload(client, live_headers, size=20)).status_code == 200

    live = await usage(client, live_headers)
    assert (live["uploads"], live["uploadsInFlight"], live["bytesUploaded"]) == (2, 1, 150)
    assert live["storageBytes"] == 170
    test = await usage(client, test_headers)
    assert test["mode"] == "test" and test["quotaApplies"] is False
    assert (test["uploads"], test["uploadsInFlight"], test["bytesUploaded"]) == (1, 0, 30)
    assert test["storageBytes"] == 30

    await client.delete(f"/api/v1/files/{quote(big['key'], safe='')}", headers=live_headers)
    after = await usage(client, live_headers)
    assert after["storageBytes"] == 70
    assert after["uploads"] == 2  # deleting does not undo a month's upload


async def test_test_mode_counts_against_no_quota(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    free = await make_account(runtime, email="free@example.com", tier=Tier.FREE)
    live, test = {"x-api-key": free.live_key}, {"x-api-key": free.test_key}
    await create_route(client, live, free.project.id, slug="files")
    await upload_file(client, live, b"first")
    # The live month is at the Free plan's limit.
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(UsageMonth)
            .where(UsageMonth.account_id == free.account.id, UsageMonth.is_test.is_(False))
            .values(uploads=1000)
        )
    assert_error(await request_upload(client, live, size=5), 403, "TIER_LIMIT_EXCEEDED")
    for i in range(3):
        await upload_file(client, test, b"sandbox", name=f"t{i}.jpg")
    assert (await usage(client, live))["uploads"] == 1000
    assert (await usage(client, test))["uploads"] == 3


async def test_enterprise_shows_its_custom_rate_limit(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    big = await make_account(runtime, email="big@example.com", tier=Tier.FREE)
    async with runtime.sessionmaker() as session, session.begin():
        await set_tier(session, account_id=big.account.id, tier=Tier.ENTERPRISE, rate_limit=12_345)
    limits = (await usage(client, {"x-api-key": big.live_key}))["limits"]
    assert limits["requestsPerMinute"] == 12_345
    assert limits["storageBytes"] is None and limits["uploadsPerMonth"] is None


async def test_history_is_monthly_newest_first(
    client: httpx.AsyncClient,
    runtime: Runtime,
    account: NewAccount,
    route: dict[str, Any],
    live_headers: dict[str, str],
    test_headers: dict[str, str],
) -> None:
    await upload_file(client, live_headers, b"z" * 9)
    async with runtime.sessionmaker() as session, session.begin():
        for month, uploads in (("2025-08", 4), ("2025-10", 7)):
            session.add(
                UsageMonth(
                    account_id=account.account.id,
                    is_test=False,
                    month=month,
                    uploads=uploads,
                    uploads_in_flight=0,
                    bytes_uploaded=uploads * 10,
                    bytes_served=uploads * 100,
                )
            )
    response = await client.get("/api/v1/usage/history", headers=live_headers)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [i["month"] for i in items] == [month_of(utcnow()), "2025-10", "2025-08"]
    assert items[0] == {
        "month": month_of(utcnow()),
        "uploads": 1,
        "bytesUploaded": 9,
        "bytesServed": 0,
        "transformUnits": 0,
    }
    assert items[1] == {
        "month": "2025-10",
        "uploads": 7,
        "bytesUploaded": 70,
        "bytesServed": 700,
        "transformUnits": 0,
    }

    one = await client.get("/api/v1/usage/history", params={"limit": 2}, headers=live_headers)
    assert [i["month"] for i in one.json()["items"]] == [month_of(utcnow()), "2025-10"]

    sandbox = (await client.get("/api/v1/usage/history", headers=test_headers)).json()["items"]
    assert sandbox == [
        {
            "month": month_of(utcnow()),
            "uploads": 0,
            "bytesUploaded": 0,
            "bytesServed": 0,
            "transformUnits": 0,
        }
    ]

    for bad in (0, 101, "x"):
        assert_error(
            await client.get("/api/v1/usage/history", params={"limit": bad}, headers=live_headers),
            400,
            "VALIDATION_ERROR",
        )

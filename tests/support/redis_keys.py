"""Each test gets key prefixes of its own on the shared Redis and deletes them afterwards."""

from __future__ import annotations

import secrets

from redis.asyncio import Redis


def new_prefix() -> str:
    return f"uk_test:{secrets.token_hex(6)}:"


async def prefixed_keys(url: str, prefix: str) -> list[bytes]:
    client = Redis.from_url(url)
    try:
        return [key async for key in client.scan_iter(match=f"{prefix}*")]
    finally:
        await client.aclose()


async def delete_prefixed(url: str, prefix: str) -> None:
    keys = await prefixed_keys(url, prefix)
    if not keys:
        return
    client = Redis.from_url(url)
    try:
        await client.delete(*keys)
    finally:
        await client.aclose()

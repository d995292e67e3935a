"""Helpers for image transform tests: asking for a variant URL and looking at what is stored."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select

from uploadkit_server.db.models import File, TransformVariant
from uploadkit_server.runtime import Runtime


async def transform(
    client: httpx.AsyncClient, headers: dict[str, str], key: str, **fields: Any
) -> httpx.Response:
    return await client.post(
        "/api/v1/transforms/image", json={"key": key, **fields}, headers=headers
    )


async def variant_url(
    client: httpx.AsyncClient, headers: dict[str, str], key: str, **fields: Any
) -> str:
    """The path and query of a new variant URL (the app is reached through ASGI)."""
    response = await transform(client, headers, key, **fields)
    assert response.status_code == 200, response.text
    parts = urlsplit(response.json()["url"])
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def variants_of(runtime: Runtime, key: str) -> list[TransformVariant]:
    async with runtime.sessionmaker() as session:
        result = await session.scalars(
            select(TransformVariant)
            .join(File, File.pk == TransformVariant.file_pk)
            .where(File.key == key)
            .order_by(TransformVariant.pk)
        )
        return list(result)

"""The long-lived objects a running server holds, built once at start-up and handed down."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from uploadkit_server.ratelimit.base import RateLimiter
from uploadkit_server.settings import Settings
from uploadkit_server.storage.base import StorageBackend


@dataclass
class Runtime:
    settings: Settings
    secret_key: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    storage: StorageBackend
    rate_limiter: RateLimiter | None = None

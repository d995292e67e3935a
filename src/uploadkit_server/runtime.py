"""The long-lived objects a running server holds, built once at start-up and handed down."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from uploadkit_server.core.auth.rate_limit import KnownLimits
from uploadkit_server.core.keys.last_used import LastUsedRecorder
from uploadkit_server.core.transforms.delivery import Transformer
from uploadkit_server.core.tus.store import TusStore
from uploadkit_server.core.usage.served import ServedBytesRecorder
from uploadkit_server.core.webhooks.wakeup import DeliveryWakeup
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
    #: Counts each API key's requests (``ratelimit/``); every runtime has one.
    rate_limiter: RateLimiter
    #: Wakes this runtime's dispatchers when its sessions commit a delivery (``sessionmaker``
    #: is configured with it).
    delivery_wakeup: DeliveryWakeup
    #: Where tus uploads keep their bytes until complete; ``None`` where tus is unavailable.
    tus_store: TusStore | None = None
    #: Rate limits of recently authenticated keys, so they are counted before the database.
    known_limits: KnownLimits = field(default_factory=KnownLimits)
    #: When each API key was last used, written to the database by a periodic job.
    key_usage: LastUsedRecorder = field(default_factory=LastUsedRecorder)
    #: Bytes the CDN served, added to the monthly usage by a periodic job.
    served_bytes: ServedBytesRecorder = field(default_factory=ServedBytesRecorder)
    #: Image transformations: engine, worker limit, generations in flight (``core/transforms``).
    transformer: Transformer | None = None

"""Idempotency keys with Stripe's semantics, kept in the database so that every process agrees.

The first request with a key (per API key) runs and its response is kept for 24 hours; a retry
with the same key and the same request (method, path, query, body) gets that response again
without running; the same key with another request is ``422 IDEMPOTENCY_KEY_REUSED``; a retry
while the first is still running is ``409 IDEMPOTENCY_KEY_IN_USE``. Responses that say the
request did not run (``401``, ``409`` of this check, ``429``, any ``5xx``) are not kept, so a
retry runs again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from uploadkit_server.clock import utcnow
from uploadkit_server.core.idempotency import repository
from uploadkit_server.errors import UploadKitError

RETENTION = timedelta(hours=24)
#: A first request still unfinished after this long is taken as lost (its process died).
ABANDONED_AFTER = timedelta(minutes=5)
MAX_KEY_LENGTH = 255
NOT_KEPT = {401, 409, 429}


class IdempotencyKeyReused(UploadKitError):
    code, status = "IDEMPOTENCY_KEY_REUSED", 422


class IdempotencyKeyInUse(UploadKitError):
    code, status = "IDEMPOTENCY_KEY_IN_USE", 409


@dataclass(frozen=True)
class Replay:
    status: int
    content_type: str | None
    body: bytes


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def keeps(status: int) -> bool:
    return status < 500 and status not in NOT_KEPT


async def begin(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    scope: str,
    key: str,
    fingerprint: str,
    now: datetime | None = None,
) -> Replay | None:
    """``None``: this request is the first and runs. A ``Replay``: send that instead. Raises
    ``IdempotencyKeyReused`` or ``IdempotencyKeyInUse``."""
    now = now or utcnow()
    for _ in range(2):
        async with sessionmaker() as session, session.begin():
            row = await repository.claim(
                session, scope=scope, key=key, fingerprint=fingerprint, now=now
            )
            if row is None:
                return None
            stale = row.created_at < now - RETENTION or (
                row.status is None and row.created_at < now - ABANDONED_AFTER
            )
            if stale:
                await repository.forget(session, scope=scope, key=key)
                continue
            if row.fingerprint != fingerprint:
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was used with another request",
                    suggestion="Use a new key for a new request",
                )
            if row.status is None:
                raise IdempotencyKeyInUse(
                    "A request with this Idempotency-Key is still being processed",
                    suggestion="Retry after it has finished",
                )
            return Replay(
                status=row.status,
                content_type=row.content_type,
                body=(row.body or "").encode(),
            )
    raise IdempotencyKeyInUse("This Idempotency-Key is being claimed by another request")


async def finish(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    scope: str,
    key: str,
    status: int,
    content_type: str | None,
    body: bytes,
) -> None:
    """Keep the response for the retries, or forget the key if the request did not run."""
    async with sessionmaker() as session, session.begin():
        if keeps(status):
            await repository.store(
                session,
                scope=scope,
                key=key,
                status=status,
                content_type=content_type,
                body=body.decode("utf-8", errors="replace"),
            )
        else:
            await repository.forget(session, scope=scope, key=key)


async def purge_expired(session: AsyncSession, *, now: datetime | None = None) -> None:
    await repository.purge_before(session, (now or utcnow()) - RETENTION)

"""The dispatcher: claims due deliveries, sends them, records every attempt, schedules retries.

Runs inside ``uploadkit serve`` (unless ``webhook_dispatcher`` is off) and in ``uploadkit
worker``; any number of dispatchers may share one database. A claim is a lease on the row
(``locked_until``): no other dispatcher touches the row until it runs out, so an attempt is sent
once. The lease outlives the longest possible attempt (``webhook_timeout``) by a margin; if a
process dies mid-attempt, the row becomes due again when its lease runs out, so every queued
delivery is sent at least once after a crash.

Batches: while busy, a dispatcher claims many due rows in one statement, and writes the results
of every attempt that finished meanwhile in one statement on PostgreSQL, one transaction on
SQLite (``repository.record_attempts``), so the database costs a few statements per batch, not
two transactions per delivery. One task does all of a dispatcher's database work, so its claims
and writes never wait on each other (on SQLite: never in the busy handler). A result waiting to
be written still holds its lease; if the process dies first, the row is sent again after the
lease (at least once).

Claimed ahead: besides the attempts in flight, a dispatcher holds up to ``PREFETCH`` times
``webhook_concurrency`` claimed rows ready to send, and a finished attempt's slot is refilled
from them at once, so sending never waits for the database task's next claim (where a round
trip costs milliseconds, PostgreSQL, that wait was what bounded throughput). A ready row whose
lease no longer covers a whole attempt is not sent but left to lapse and be claimed again.

Wake-ups: a commit through the runtime's sessionmaker that queued a delivery wakes the
dispatcher at once (``wakeup.py``: the runtime's ``DeliveryWakeup``, handed in); rows queued by
other processes are found by polling every ``webhook_poll_interval`` seconds.

Example::

    dispatcher = WebhookDispatcher(
        settings=settings, sessionmaker=runtime.sessionmaker, wakeup=runtime.delivery_wakeup
    )
    dispatcher.start()
    ...
    await dispatcher.stop()
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from uploadkit_server.clock import utcnow
from uploadkit_server.core.webhooks import repository
from uploadkit_server.core.webhooks.repository import AttemptRecord, ClaimedDelivery
from uploadkit_server.core.webhooks.sender import (
    AttemptResult,
    OutgoingWebhook,
    create_http_client,
    send_webhook,
)
from uploadkit_server.core.webhooks.wakeup import DeliveryWakeup
from uploadkit_server.db.models import DeliveryStatus
from uploadkit_server.db.session import statement_session
from uploadkit_server.settings import Settings

logger = logging.getLogger("uploadkit.webhooks")

#: Seconds a lease outlives the longest attempt, to write the result back.
LEASE_MARGIN_SECONDS = 5.0
#: Claimed rows held ready to send, as a multiple of ``webhook_concurrency``.
PREFETCH = 2


def next_state(
    attempt_count: int, result: AttemptResult, *, retry_delays: list[int]
) -> tuple[DeliveryStatus, timedelta | None]:
    """After attempt number ``attempt_count + 1``: delivered, failed with a retry after the
    returned delay, or dead once the schedule is used up."""
    if result.succeeded:
        return DeliveryStatus.DELIVERED, None
    if attempt_count < len(retry_delays):
        return DeliveryStatus.FAILED, timedelta(seconds=retry_delays[attempt_count])
    return DeliveryStatus.DEAD, None


class WebhookDispatcher:
    def __init__(
        self,
        *,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        wakeup: DeliveryWakeup | None = None,
        on_attempt: Callable[[DeliveryStatus], None] | None = None,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        #: Rings when a delivery is committed in this runtime; without one, only polls find work.
        self.wakeup = wakeup if wakeup is not None else DeliveryWakeup()
        #: Told the state each written attempt led to (the server's metrics count them).
        self.on_attempt = on_attempt
        self.concurrency = settings.webhook_concurrency
        self.lease_seconds = settings.webhook_timeout + LEASE_MARGIN_SECONDS
        self._client: aiohttp.ClientSession | None = None  # made in the loop, on first use
        self._task: asyncio.Task[None] | None = None
        self._in_flight: dict[asyncio.Task[None], ClaimedDelivery] = {}
        self._ready: collections.deque[ClaimedDelivery] = collections.deque()
        self._capacity = self.concurrency * (1 + PREFETCH)
        self._stopping = False
        self._finished: list[AttemptRecord] = []
        self._claim_batch = max(1, self.concurrency // 4)
        self._wake = asyncio.Event()
        #: Claims ``run`` made that found nothing due while none of its attempts was in flight:
        #: everything due when such a claim began had been sent (or leased by another
        #: dispatcher). Counted so that a caller can tell the dispatcher has caught up, for
        #: checks that nothing more is sent, instead of sleeping.
        self.idle_claims = 0

    async def claim(self, limit: int) -> list[ClaimedDelivery]:
        now = utcnow()
        lease = now + timedelta(seconds=self.lease_seconds)
        async with statement_session(self.sessionmaker) as session:
            return await repository.claim_due(session, now=now, lease=lease, limit=limit)

    async def send(self, claimed: ClaimedDelivery) -> AttemptRecord:
        """Send one attempt of a claimed delivery; the result is not written yet."""
        if self._client is None:
            self._client = create_http_client(
                timeout=self.settings.webhook_timeout, max_connections=self.concurrency
            )
        result = await send_webhook(
            self._client,
            OutgoingWebhook(
                message_id=claimed.id,
                url=claimed.url,
                body=claimed.payload.encode(),
                signing_key=claimed.signing_key,
                secrets=claimed.secrets,
            ),
            time_limit=self.settings.webhook_timeout,
            allow_private=self.settings.webhook_allow_private,
        )
        status, delay = next_state(
            claimed.attempt_count, result, retry_delays=self.settings.webhook_retry_delays
        )
        return AttemptRecord(
            claimed=claimed,
            attempted_at=result.attempted_at,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
            response_excerpt=result.response_excerpt,
            status=status,
            next_attempt_at=utcnow() + delay if delay is not None else None,
        )

    async def record(self, records: list[AttemptRecord]) -> None:
        """Write finished attempts, all in one transaction."""
        if not records:
            return
        async with statement_session(self.sessionmaker) as session:
            written = await repository.record_attempts(session, records)
        for record in records:
            if self.on_attempt is not None and record.claimed.pk in written:
                self.on_attempt(record.status)
            if record.claimed.pk not in written:
                logger.info(
                    "delivery %s was redelivered or deleted while being sent", record.claimed.id
                )
            elif record.status is not DeliveryStatus.DELIVERED:
                logger.info(
                    "delivery %s attempt failed (%s): %s",
                    record.claimed.id,
                    record.status,
                    record.error or record.status_code,
                )

    async def deliver(self, claimed: ClaimedDelivery) -> AttemptRecord:
        """Send one claimed delivery and record the attempt at once."""
        record = await self.send(claimed)
        await self.record([record])
        return record

    async def dispatch_due(self) -> int:
        """Claim what is due now (up to ``webhook_concurrency``), send it all, record the
        results in one transaction. Returns how many were sent. For tests and one-shot runs;
        ``run`` pipelines."""
        claimed = await self.claim(self.concurrency)
        await self.record(list(await asyncio.gather(*(self.send(item) for item in claimed))))
        return len(claimed)

    def _fill_slots(self) -> None:
        """Start ready rows while slots are free; skip those whose lease would lapse before an
        attempt could finish (they are claimed again once it has)."""
        if not self._ready or self._stopping:
            return
        needed = timedelta(seconds=self.settings.webhook_timeout)
        now = utcnow()
        while self._ready and len(self._in_flight) < self.concurrency:
            claimed = self._ready.popleft()
            if claimed.lease - now < needed:
                logger.info("delivery %s waited past its lease; it is claimed again", claimed.id)
                continue
            self._spawn(claimed)

    def _spawn(self, claimed: ClaimedDelivery) -> None:
        task = asyncio.create_task(self._send_one(claimed), name=f"webhook-{claimed.id}")
        self._in_flight[task] = claimed

        def _done(finished: asyncio.Task[None]) -> None:
            self._in_flight.pop(finished, None)
            if not finished.cancelled():
                self._fill_slots()  # refill the slot now, not after the next database turn
            self._wake.set()  # a result to write and room to claim: look for more work

        task.add_done_callback(_done)

    async def _send_one(self, claimed: ClaimedDelivery) -> None:
        try:
            record = await self.send(claimed)
        except asyncio.CancelledError:
            raise  # shutting down: ``run`` hands the row back
        except Exception:
            logger.exception(
                "delivery %s failed to send; it is retried after its lease", claimed.id
            )
            return
        self._finished.append(record)

    async def _record_finished(self) -> None:
        """Write every result collected so far (one transaction). Shielded: a stop waits for a
        write that has begun rather than throwing its results away."""
        batch, self._finished = self._finished, []
        if not batch:
            return
        writing = asyncio.ensure_future(self.record(batch))
        try:
            await asyncio.shield(writing)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await writing
            raise
        except Exception:
            logger.exception(
                "%d webhook attempts could not be recorded; they are retried after their lease",
                len(batch),
            )

    async def _release(self, claimed: list[ClaimedDelivery]) -> None:
        if not claimed:
            return
        try:
            async with self.sessionmaker() as session, session.begin():
                await repository.release_leases(session, claimed)
        except Exception:
            logger.warning("could not release %d deliveries; their leases will lapse", len(claimed))

    async def run(self) -> None:
        """Dispatch until cancelled."""
        subscription = self.wakeup.subscribe(self._wake)
        try:
            polled = True
            while True:
                self._wake.clear()
                await self._record_finished()
                free = self._capacity - len(self._in_flight) - len(self._ready)
                busy = bool(self._in_flight or self._ready)
                claimed: list[ClaimedDelivery] = []
                # Claim in batches while busy: a claim per freed slot would cost a transaction
                # per delivery. A poll (at most webhook_poll_interval later) claims regardless.
                if free > 0 and (polled or free >= self._claim_batch or not busy):
                    try:
                        claimed = await self.claim(free)
                    except Exception:
                        logger.exception("claiming webhook deliveries failed")
                    else:
                        if not claimed and not busy:
                            self.idle_claims += 1
                self._ready.extend(claimed)
                self._fill_slots()
                if claimed and len(claimed) == free:
                    continue  # a full batch: there may be more due already
                polled = False
                if self._finished:
                    continue  # attempts finished while claiming: write them first
                try:
                    async with asyncio.timeout(self.settings.webhook_poll_interval):
                        await self._wake.wait()
                except TimeoutError:
                    polled = True
        finally:
            self.wakeup.unsubscribe(subscription)
            # Shutting down: attempts still in flight are abandoned and their rows handed back
            # now rather than when the lease lapses (the receiver may have got them; at least
            # once either way); results already in are written.
            self._stopping = True  # no ready row is started from here on
            abandoned = dict(self._in_flight)
            for task in abandoned:
                task.cancel()
            await asyncio.gather(*abandoned, return_exceptions=True)
            unsent = [claimed for task, claimed in abandoned.items() if task.cancelled()]
            unsent += self._ready
            self._ready.clear()
            await asyncio.shield(self._shutdown_writes(unsent))

    async def _shutdown_writes(self, unsent: list[ClaimedDelivery]) -> None:
        await self._record_finished()
        await self._release(unsent)

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self.run(), name="uploadkit-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.close()
            self._client = None

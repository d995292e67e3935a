"""Webhook delivery and attempt rows, and the project's signing keys.

Claiming is the one delicate query: a dispatcher takes due rows by setting a lease
(``locked_until``) in one statement. On PostgreSQL the inner ``SELECT … FOR UPDATE SKIP LOCKED``
lets concurrent dispatchers pass over each other's rows instead of queueing on them, and the
re-check of the ``WHERE`` after a lock wait keeps a row leased by a just-committed claim out of a
second claim. On SQLite (``FOR UPDATE`` is not rendered there) ``BEGIN IMMEDIATE`` serialises
the statement. Results are written back only while the lease is still the claimer's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.core.pagination import PageRequest
from uploadkit_server.db.models import (
    DeliveryStatus,
    Project,
    WebhookAttempt,
    WebhookDelivery,
)
from uploadkit_server.db.session import dialect_name, upsert_insert

RETRYABLE = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)
FINISHED = (DeliveryStatus.DELIVERED, DeliveryStatus.DEAD)

_deliveries = cast(Table, WebhookDelivery.__table__)
_attempts = cast(Table, WebhookAttempt.__table__)


async def insert_once(session: AsyncSession, delivery: WebhookDelivery) -> WebhookDelivery:
    """Insert unless this file already has this event; return the row that exists either way.

    ``ON CONFLICT DO NOTHING`` on the (file_id, event) unique constraint: a second transaction
    racing the first waits for it and then inserts nothing, instead of failing.
    """
    values = {
        "id": delivery.id,
        "project_id": delivery.project_id,
        "is_test": delivery.is_test,
        "file_id": delivery.file_id,
        "event": delivery.event,
        "url": delivery.url,
        "payload": delivery.payload,
        "status": delivery.status,
        "attempt_count": 0,
        "next_attempt_at": delivery.next_attempt_at,
        "created_at": delivery.created_at,
        "updated_at": delivery.updated_at,
    }
    statement = (
        upsert_insert(session)(WebhookDelivery)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["file_id", "event"])
    )
    await session.execute(statement)
    row = await session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.file_id == delivery.file_id, WebhookDelivery.event == delivery.event)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def get_delivery(
    session: AsyncSession, *, project_id: str, is_test: bool, delivery_id: str
) -> WebhookDelivery | None:
    return await session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.project_id == project_id,
            WebhookDelivery.is_test == is_test,
        )
    )


async def list_deliveries(
    session: AsyncSession,
    *,
    project_id: str,
    is_test: bool,
    status: DeliveryStatus | None,
    page: PageRequest,
) -> Sequence[WebhookDelivery]:
    """One more row than the page holds, newest first, so the caller knows if there are more."""
    query = select(WebhookDelivery).where(
        WebhookDelivery.project_id == project_id, WebhookDelivery.is_test == is_test
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if page.before_pk is not None:
        query = query.where(WebhookDelivery.pk < page.before_pk)
    query = query.order_by(WebhookDelivery.pk.desc()).limit(page.limit + 1)
    return (await session.scalars(query)).all()


async def list_attempts(session: AsyncSession, delivery_pk: int) -> Sequence[WebhookAttempt]:
    return (
        await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_pk == delivery_pk)
            .order_by(WebhookAttempt.pk)
        )
    ).all()


async def delete_delivery(session: AsyncSession, delivery_pk: int) -> None:
    await session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_pk == delivery_pk))
    await session.execute(delete(WebhookDelivery).where(WebhookDelivery.pk == delivery_pk))


async def _delete_with_attempts(session: AsyncSession, pks: Sequence[int]) -> None:
    if pks:
        await session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_pk.in_(pks)))
        await session.execute(delete(WebhookDelivery).where(WebhookDelivery.pk.in_(pks)))


async def purge_test_deliveries(
    session: AsyncSession, *, created_before: datetime, limit: int
) -> int:
    """Delete up to ``limit`` test-mode deliveries (and their attempts) created before then."""
    pks = (
        await session.scalars(
            select(WebhookDelivery.pk)
            .where(WebhookDelivery.is_test.is_(True), WebhookDelivery.created_at < created_before)
            .order_by(WebhookDelivery.pk)
            .limit(limit)
        )
    ).all()
    await _delete_with_attempts(session, pks)
    return len(pks)


async def purge_finished_deliveries(
    session: AsyncSession, *, finished_before: datetime, limit: int
) -> int:
    """Delete up to ``limit`` finished deliveries (delivered or dead, in either mode) whose last
    change was before then, with their attempts. Pending and failed ones (a retry is scheduled)
    are never touched, however old."""
    pks = (
        await session.scalars(
            select(WebhookDelivery.pk)
            .where(
                WebhookDelivery.status.in_(FINISHED),
                WebhookDelivery.updated_at < finished_before,
            )
            .order_by(WebhookDelivery.pk)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    await _delete_with_attempts(session, pks)
    return len(pks)


async def requeue(session: AsyncSession, delivery: WebhookDelivery, *, now: datetime) -> None:
    """Due at once with a fresh retry schedule; past attempts stay listed. An attempt in
    flight loses its lease: its result is kept as history but does not end the new run."""
    delivery.status = DeliveryStatus.PENDING
    delivery.attempt_count = 0
    delivery.next_attempt_at = now
    delivery.delivered_at = None
    delivery.locked_until = None
    await session.flush()


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """What a dispatcher needs to send one attempt, read while claiming."""

    pk: int
    id: str
    url: str
    payload: str
    attempt_count: int
    lease: datetime
    signing_key: str
    #: The project's ``whsec_`` secrets to sign with: the current one, then, during a rotation's
    #: grace period, the previous one.
    secrets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One finished attempt of a claimed delivery and the state it leads to."""

    claimed: ClaimedDelivery
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    response_excerpt: str | None
    status: DeliveryStatus
    next_attempt_at: datetime | None


_PROJECT_KEYS = (
    Project.current_signing_key,
    Project.webhook_secret,
    Project.previous_webhook_secret,
    Project.previous_webhook_secret_expires_at,
)


async def _claim_status(
    session: AsyncSession,
    status: DeliveryStatus,
    *,
    now: datetime,
    lease: datetime,
    limit: int,
    with_keys: bool,
) -> list[Any]:
    """Lease up to ``limit`` due rows of one status, earliest due first, and return what
    sending them needs. One status at a time so that the (status, next_attempt_at) index yields
    rows already in order: a claim reads about ``limit`` index entries however long the queue
    is. ``with_keys`` (PostgreSQL) joins the project to return its signing keys as well, one
    round trip fewer; SQLite's ``RETURNING`` cannot name a joined table."""
    due = (
        WebhookDelivery.status == status,
        WebhookDelivery.next_attempt_at <= now,
        or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now),
    )
    # A materialised CTE is evaluated once: PostgreSQL may rescan an ``IN (subquery)`` with
    # LIMIT for each outer row, and then leases more rows than ``limit``.
    candidates = (
        select(WebhookDelivery.pk)
        .where(*due)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("candidates")
        .prefix_with("MATERIALIZED")
    )
    statement: Any = (
        update(WebhookDelivery)
        .where(WebhookDelivery.pk.in_(select(candidates.c.pk)), *due)
        .values(locked_until=lease)
        .returning(
            WebhookDelivery.pk,
            WebhookDelivery.id,
            WebhookDelivery.project_id,
            WebhookDelivery.url,
            WebhookDelivery.payload,
            WebhookDelivery.attempt_count,
            WebhookDelivery.next_attempt_at,
        )
        .execution_options(synchronize_session=False)
    )
    if with_keys:
        statement = statement.where(WebhookDelivery.project_id == Project.id).returning(
            *_PROJECT_KEYS
        )
    return list((await session.execute(statement)).all())


async def claim_due(
    session: AsyncSession, *, now: datetime, lease: datetime, limit: int
) -> list[ClaimedDelivery]:
    """Lease up to ``limit`` due deliveries (first attempts, then retries) and read what
    sending them needs: one ``UPDATE … RETURNING`` per status (the second only if the first
    did not fill ``limit``), on SQLite one read of the projects' keys."""
    with_keys = dialect_name(session) == "postgresql"
    claimed: list[Any] = []
    for status in RETRYABLE:
        if len(claimed) < limit:
            claimed += await _claim_status(
                session,
                status,
                now=now,
                lease=lease,
                limit=limit - len(claimed),
                with_keys=with_keys,
            )
    if not claimed:
        return []
    if with_keys:
        keys: dict[str, Any] = {row.project_id: row for row in claimed}
    else:
        keys = {
            row.id: row
            for row in await session.execute(
                select(Project.id, *_PROJECT_KEYS).where(
                    Project.id.in_({row.project_id for row in claimed})
                )
            )
        }
    deliveries = []
    for row in sorted(claimed, key=lambda row: (row.next_attempt_at, row.pk)):
        project = keys.get(row.project_id)
        if project is None:  # deleted with its project in the meantime
            continue
        deliveries.append(
            ClaimedDelivery(
                pk=row.pk,
                id=row.id,
                url=row.url,
                payload=row.payload,
                attempt_count=row.attempt_count,
                lease=lease,
                signing_key=project.current_signing_key,
                secrets=signing_secrets(
                    project.webhook_secret,
                    project.previous_webhook_secret,
                    project.previous_webhook_secret_expires_at,
                    now=now,
                ),
            )
        )
    return deliveries


def signing_secrets(
    current: str, previous: str | None, previous_expires_at: datetime | None, *, now: datetime
) -> tuple[str, ...]:
    """The secrets an attempt made ``now`` is signed with."""
    if previous and previous_expires_at is not None and previous_expires_at > now:
        return (current, previous)
    return (current,)


_lease_held = (
    _deliveries.update()
    .where(
        _deliveries.c.pk == bindparam("b_pk"),
        _deliveries.c.locked_until == bindparam("b_lease"),
    )
    .values(
        status=bindparam("b_status"),
        attempt_count=_deliveries.c.attempt_count + 1,
        next_attempt_at=bindparam("b_next_attempt_at"),
        delivered_at=bindparam("b_delivered_at"),
        locked_until=None,
        updated_at=bindparam("b_updated_at"),
    )
)


#: PostgreSQL: n results in one statement, one round trip whatever n. The arrays are unnested
#: into rows; ``locked`` takes the row locks (in pk order, as every writer of these rows does)
#: and reads the lease each row holds now; the state is written where the lease is still the
#: claimer's, the attempt inserted wherever the delivery still exists (locked, so no delete can
#: slip in between).
_RECORD_ATTEMPTS_PG = text(
    """
WITH data AS (
    SELECT * FROM unnest(
        CAST(:pk AS bigint[]), CAST(:lease AS timestamptz[]), CAST(:status AS varchar[]),
        CAST(:next_attempt_at AS timestamptz[]), CAST(:delivered_at AS timestamptz[]),
        CAST(:attempted_at AS timestamptz[]), CAST(:status_code AS integer[]),
        CAST(:error AS text[]), CAST(:duration_ms AS integer[]),
        CAST(:response_excerpt AS text[])
    ) AS data(pk, lease, status, next_attempt_at, delivered_at, attempted_at, status_code,
              error, duration_ms, response_excerpt)
),
locked AS (
    SELECT d.pk, d.locked_until FROM webhook_deliveries d
    WHERE d.pk IN (SELECT pk FROM data) ORDER BY d.pk FOR UPDATE
),
written AS (
    UPDATE webhook_deliveries d
    SET status = data.status, attempt_count = d.attempt_count + 1,
        next_attempt_at = data.next_attempt_at, delivered_at = data.delivered_at,
        locked_until = NULL, updated_at = data.attempted_at
    FROM data JOIN locked ON locked.pk = data.pk AND locked.locked_until = data.lease
    WHERE d.pk = data.pk
    RETURNING d.pk
),
attempts AS (
    INSERT INTO webhook_attempts
        (delivery_pk, attempted_at, status_code, error, duration_ms, response_excerpt)
    SELECT data.pk, data.attempted_at, data.status_code, data.error, data.duration_ms,
           data.response_excerpt
    FROM data JOIN locked ON locked.pk = data.pk
)
SELECT pk FROM written
"""
)


async def _record_attempts_postgresql(
    session: AsyncSession, records: Sequence[AttemptRecord]
) -> set[int]:
    connection = await session.connection()
    result = await connection.execute(
        _RECORD_ATTEMPTS_PG,
        {
            "pk": [r.claimed.pk for r in records],
            "lease": [r.claimed.lease for r in records],
            "status": [str(r.status) for r in records],
            "next_attempt_at": [r.next_attempt_at for r in records],
            "delivered_at": [
                r.attempted_at if r.status is DeliveryStatus.DELIVERED else None for r in records
            ],
            "attempted_at": [r.attempted_at for r in records],
            "status_code": [r.status_code for r in records],
            "error": [r.error for r in records],
            "duration_ms": [r.duration_ms for r in records],
            "response_excerpt": [r.response_excerpt for r in records],
        },
    )
    return {int(pk) for pk in result.scalars()}


async def record_attempts(session: AsyncSession, records: Sequence[AttemptRecord]) -> set[int]:
    """Write n finished attempts, whatever n, in one statement on PostgreSQL (each round trip
    costs there) and in one transaction of three on SQLite: read (and lock) the rows, update
    those whose lease the claimer still holds, insert every attempt whose delivery still
    exists. Returns the pks whose state was written.

    A lease is lost when the delivery was redelivered (its new run must not be overwritten by
    an older attempt: the attempt joins the history only) or deleted (nothing is written)."""
    if not records:
        return set()
    distinct = len({record.claimed.pk for record in records}) == len(records)
    if distinct and dialect_name(session) == "postgresql":
        # (Two results for one row in a batch, never seen in practice, take the general path:
        # a joined UPDATE would apply only one of them.)
        return await _record_attempts_postgresql(session, records)
    pks = sorted({record.claimed.pk for record in records})
    current = {
        row.pk: row.locked_until
        for row in await session.execute(
            select(WebhookDelivery.pk, WebhookDelivery.locked_until)
            .where(WebhookDelivery.pk.in_(pks))
            .order_by(WebhookDelivery.pk)
            .with_for_update()
        )
    }
    held = [r for r in records if current.get(r.claimed.pk, False) == r.claimed.lease]
    connection = await session.connection()
    if held:
        await connection.execute(
            _lease_held,
            [
                {
                    "b_pk": r.claimed.pk,
                    "b_lease": r.claimed.lease,
                    "b_status": r.status,
                    "b_next_attempt_at": r.next_attempt_at,
                    "b_delivered_at": (
                        r.attempted_at if r.status is DeliveryStatus.DELIVERED else None
                    ),
                    "b_updated_at": r.attempted_at,
                }
                for r in held
            ],
        )
    kept = [r for r in records if r.claimed.pk in current]
    if kept:
        await connection.execute(
            insert(_attempts),
            [
                {
                    "delivery_pk": r.claimed.pk,
                    "attempted_at": r.attempted_at,
                    "status_code": r.status_code,
                    "error": r.error,
                    "duration_ms": r.duration_ms,
                    "response_excerpt": r.response_excerpt,
                }
                for r in kept
            ],
        )
    return {r.claimed.pk for r in held}


async def release_leases(session: AsyncSession, claimed: Sequence[ClaimedDelivery]) -> None:
    """Give claimed rows back unattempted, those the claimer still holds, in one statement."""
    if not claimed:
        return
    connection = await session.connection()
    await connection.execute(
        _deliveries.update()
        .where(
            _deliveries.c.pk == bindparam("b_pk"),
            _deliveries.c.locked_until == bindparam("b_lease"),
        )
        .values(locked_until=None),
        [{"b_pk": item.pk, "b_lease": item.lease} for item in claimed],
    )


async def get_project(session: AsyncSession, project_id: str) -> Project | None:
    return await session.scalar(select(Project).where(Project.id == project_id))


async def rotate_webhook_secret(
    session: AsyncSession, project_id: str, *, new_secret: str, previous_expires_at: datetime
) -> None:
    """The current secret becomes the previous one (signing alongside until then) and
    ``new_secret`` current, in one statement; a previous secret still in its grace is dropped."""
    await session.execute(
        update(Project)
        .where(Project.id == project_id)
        .values(
            previous_webhook_secret=Project.webhook_secret,
            previous_webhook_secret_expires_at=previous_expires_at,
            webhook_secret=new_secret,
        )
        .execution_options(synchronize_session=False)
    )


async def rotate_signing_keys(session: AsyncSession, project_id: str, *, new_next: str) -> None:
    """Next becomes current in one statement, so two rotations at once cannot lose a key."""
    await session.execute(
        update(Project)
        .where(Project.id == project_id)
        .values(current_signing_key=Project.next_signing_key, next_signing_key=new_next)
        .execution_options(synchronize_session=False)
    )


async def queue_snapshot(session: AsyncSession, *, now: datetime) -> tuple[int, datetime | None]:
    """How many deliveries are waiting (pending, or failed with a retry scheduled), and since
    when the oldest of those already due has been due (``None`` if none is due)."""
    waiting = WebhookDelivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.FAILED])
    depth = await session.scalar(select(func.count()).select_from(WebhookDelivery).where(waiting))
    oldest = await session.scalar(
        select(func.min(WebhookDelivery.next_attempt_at)).where(
            waiting, WebhookDelivery.next_attempt_at <= now
        )
    )
    return int(depth or 0), oldest

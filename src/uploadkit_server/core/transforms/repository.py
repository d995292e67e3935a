"""All SQL of image transformations.

``transform_variants`` holds one row per generated variant (file, concrete recipe); inserting
it is how a process claims the generation (the unique constraint lets one insert win across
processes and databases), a lease lets another process take over from one that died, and only
the claim's holder may mark it ready. ``transform_charges`` remembers which recipes of which
files were charged in a month, and ``usage_months.transform_units`` adds the units up under a
conditional update, so concurrent requests cannot spend past the tier's limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.core.usage.repository import ensure_usage_month
from uploadkit_server.db.models import (
    File,
    FileStatus,
    TransformCharge,
    TransformVariant,
    UsageMonth,
)
from uploadkit_server.db.session import affected_rows, upsert_insert

PENDING = "pending"
READY = "ready"


@dataclass(frozen=True, slots=True)
class SourceFile:
    """The facts about an original that transforming and serving it need."""

    pk: int
    id: str
    key: str
    account_id: str
    project_id: str
    is_test: bool
    content_type: str
    file_size: int


_SOURCE_COLUMNS = (
    File.pk,
    File.id,
    File.key,
    File.account_id,
    File.project_id,
    File.is_test,
    File.content_type,
    File.file_size,
)


async def find_source(
    session: AsyncSession, *, key: str, project_id: str | None = None
) -> SourceFile | None:
    """The live, uploaded file at ``key`` (in ``project_id``, when given)."""
    query = select(*_SOURCE_COLUMNS).where(
        File.key == key, File.status == FileStatus.UPLOADED, File.is_test.is_(False)
    )
    if project_id is not None:
        query = query.where(File.project_id == project_id)
    row = (await session.execute(query)).first()
    return SourceFile(*row) if row is not None else None


# -- charges -----------------------------------------------------------------------------------


async def record_charge(
    session: AsyncSession, *, account_id: str, month: str, file_id: str, recipe: str, units: int
) -> bool:
    """True if this recipe of this file was not charged yet this month (and now is)."""
    statement = (
        upsert_insert(session)(TransformCharge)
        .values(account_id=account_id, month=month, file_id=file_id, recipe=recipe, units=units)
        .on_conflict_do_nothing()
        .returning(TransformCharge.units)
    )
    return (await session.execute(statement)).first() is not None


async def add_units(
    session: AsyncSession, *, account_id: str, month: str, units: int, limit: int | None
) -> bool:
    """Add ``units`` to the month's counter unless that would pass ``limit``."""
    await ensure_usage_month(session, account_id=account_id, is_test=False, month=month)
    statement = update(UsageMonth).where(
        UsageMonth.account_id == account_id,
        UsageMonth.is_test.is_(False),
        UsageMonth.month == month,
    )
    if limit is not None:
        statement = statement.where(UsageMonth.transform_units + units <= limit)
    result = await session.execute(
        statement.values(transform_units=UsageMonth.transform_units + units),
        execution_options={"synchronize_session": False},
    )
    return affected_rows(result) == 1


async def units_used(session: AsyncSession, *, account_id: str, month: str) -> int:
    used = await session.scalar(
        select(UsageMonth.transform_units).where(
            UsageMonth.account_id == account_id,
            UsageMonth.is_test.is_(False),
            UsageMonth.month == month,
        )
    )
    return int(used or 0)


# -- variants ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VariantRow:
    pk: int
    recipe: str
    object_key: str
    status: str
    content_type: str
    size: int
    etag: str
    ready_at: datetime | None
    lease_until: datetime | None


_VARIANT_COLUMNS = (
    TransformVariant.pk,
    TransformVariant.recipe,
    TransformVariant.object_key,
    TransformVariant.status,
    TransformVariant.content_type,
    TransformVariant.size,
    TransformVariant.etag,
    TransformVariant.ready_at,
    TransformVariant.lease_until,
)


async def find_variant(session: AsyncSession, *, file_pk: int, recipe: str) -> VariantRow | None:
    row = (
        await session.execute(
            select(*_VARIANT_COLUMNS).where(
                TransformVariant.file_pk == file_pk, TransformVariant.recipe == recipe
            )
        )
    ).first()
    return VariantRow(*row) if row is not None else None


async def find_source_with_variants(
    session: AsyncSession, *, key: str, recipes: Sequence[str]
) -> tuple[SourceFile | None, dict[str, VariantRow]]:
    """The live, uploaded file at ``key`` and those of its variants with one of ``recipes``,
    in one query: the whole database cost of serving a stored variant."""
    query = (
        select(*_SOURCE_COLUMNS, *_VARIANT_COLUMNS)
        .select_from(File)
        .outerjoin(
            TransformVariant,
            and_(TransformVariant.file_pk == File.pk, TransformVariant.recipe.in_(list(recipes))),
        )
        .where(File.key == key, File.status == FileStatus.UPLOADED, File.is_test.is_(False))
    )
    rows: list[tuple[Any, ...]] = [tuple(row) for row in (await session.execute(query)).all()]
    if not rows:
        return None, {}
    width = len(_SOURCE_COLUMNS)
    source = SourceFile(*rows[0][:width])
    variants: dict[str, VariantRow] = {}
    for row in rows:
        if row[width] is not None:
            variant = VariantRow(*row[width:])
            variants[variant.recipe] = variant
    return source, variants


async def claim_variant(
    session: AsyncSession,
    *,
    file_pk: int,
    recipe: str,
    object_key: str,
    token: str,
    lease_until: datetime,
) -> int | None:
    """Insert the pending row; its pk if this call won, ``None`` if the row already existed."""
    statement = (
        upsert_insert(session)(TransformVariant)
        .values(
            file_pk=file_pk,
            recipe=recipe,
            object_key=object_key,
            status=PENDING,
            claim_token=token,
            lease_until=lease_until,
            content_type="",
            size=0,
            etag="",
            width=0,
            height=0,
        )
        .on_conflict_do_nothing()
        .returning(TransformVariant.pk)
    )
    pk = (await session.execute(statement)).scalar()
    return int(pk) if pk is not None else None


async def take_over_claim(
    session: AsyncSession, *, pk: int, token: str, lease_until: datetime, now: datetime
) -> bool:
    """Claim a pending row whose holder's lease ran out."""
    result = await session.execute(
        update(TransformVariant)
        .where(
            TransformVariant.pk == pk,
            TransformVariant.status == PENDING,
            TransformVariant.lease_until < now,
        )
        .values(claim_token=token, lease_until=lease_until),
        execution_options={"synchronize_session": False},
    )
    return affected_rows(result) == 1


async def mark_ready(
    session: AsyncSession,
    *,
    pk: int,
    token: str,
    content_type: str,
    size: int,
    etag: str,
    width: int,
    height: int,
    now: datetime,
) -> bool:
    """Publish the stored variant; False if the claim was lost (taken over, or the file and
    its variants deleted meanwhile)."""
    result = await session.execute(
        update(TransformVariant)
        .where(TransformVariant.pk == pk, TransformVariant.claim_token == token)
        .values(
            status=READY,
            claim_token=None,
            lease_until=None,
            content_type=content_type,
            size=size,
            etag=etag,
            width=width,
            height=height,
            ready_at=now,
        ),
        execution_options={"synchronize_session": False},
    )
    return affected_rows(result) == 1


async def drop_claim(session: AsyncSession, *, pk: int, token: str) -> None:
    await session.execute(
        delete(TransformVariant).where(
            TransformVariant.pk == pk, TransformVariant.claim_token == token
        )
    )


async def drop_variant(session: AsyncSession, *, pk: int) -> None:
    await session.execute(delete(TransformVariant).where(TransformVariant.pk == pk))


async def take_variants_of(session: AsyncSession, file_pks: Sequence[int]) -> list[str]:
    """Delete the variant rows of these files; the object keys they pointed at."""
    if not file_pks:
        return []
    keys = list(
        await session.scalars(
            delete(TransformVariant)
            .where(TransformVariant.file_pk.in_(list(file_pks)))
            .returning(TransformVariant.object_key)
        )
    )
    return keys

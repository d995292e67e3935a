"""Creating transform URLs (``POST /transforms/image``) and removing variants with their original.

Order of checks on create: plan (Free has no transforms) → live key → the file (this project,
live, uploaded) → an image type this server transforms → source size → units. Units are charged
in the request's transaction: a recipe of a file already charged this month costs nothing again
(``counted: false``), a new one costs ``Recipe.units`` or is refused with ``429`` when the month's
units would pass the tier's limit. Generation happens later, when the URL is first fetched.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.clock import month_of, utcnow
from uploadkit_server.core.auth.context import AuthContext
from uploadkit_server.core.tiers import transform_units_for
from uploadkit_server.core.transforms import repository
from uploadkit_server.core.transforms.errors import (
    TransformLimitExceeded,
    TransformSourceTooLarge,
    TransformsRequireLiveKey,
    TransformsRequirePaidPlan,
    UnsupportedTransformType,
)
from uploadkit_server.core.transforms.schemas import (
    TransformCreate,
    TransformParams,
    TransformRead,
    TransformUsage,
)
from uploadkit_server.core.transforms.signing import Delivery, VariantSigner
from uploadkit_server.errors import NotFound, upgrade_hint
from uploadkit_server.settings import Settings
from uploadkit_server.storage.base import StorageBackend

#: Types of originals this server transforms (what the engine decodes).
TRANSFORMABLE_TYPES = frozenset(
    {
        "image/jpeg",
        "image/jpg",
        "image/pjpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "image/avif",
        "image/heic",
        "image/heif",
        "image/tiff",
    }
)
#: Variant rows deleted per statement when many files go at once.
CASCADE_BATCH = 500


async def create_transform(
    session: AsyncSession,
    auth: AuthContext,
    *,
    body: TransformCreate,
    settings: Settings,
    signer: VariantSigner,
    now: datetime | None = None,
) -> TransformRead:
    now = now or utcnow()
    limit = transform_units_for(auth.tier)
    if limit == 0:
        raise TransformsRequirePaidPlan(
            f"Image transformations are not available on the {auth.tier} plan",
            suggestion=upgrade_hint(settings.billing_url),
        )
    if auth.is_test:
        raise TransformsRequireLiveKey(
            "Image transformations need a live API key",
            suggestion="Use a uk_live_ key; test mode files cannot be transformed",
        )
    source = await repository.find_source(session, key=body.key, project_id=auth.project_id)
    if source is None:
        raise NotFound(f"No file with key {body.key!r}")
    if source.content_type.split(";", 1)[0].strip().lower() not in TRANSFORMABLE_TYPES:
        raise UnsupportedTransformType(
            f"Files of type {source.content_type!r} cannot be transformed",
            suggestion="Transform JPEG, PNG, WebP, GIF, AVIF, HEIF or TIFF images",
        )
    if source.file_size > settings.transform_max_source_bytes:
        raise TransformSourceTooLarge(
            f"The file is {source.file_size} bytes; this server transforms images of at most "
            f"{settings.transform_max_source_bytes} bytes"
        )
    recipe = body.recipe()
    text = recipe.canonical()
    month = month_of(now)
    counted = await repository.record_charge(
        session,
        account_id=source.account_id,
        month=month,
        file_id=source.id,
        recipe=text,
        units=recipe.units,
    )
    if counted and not await repository.add_units(
        session, account_id=source.account_id, month=month, units=recipe.units, limit=limit
    ):
        raise TransformLimitExceeded(
            f"Monthly image transform limit of {limit} units reached for the {auth.tier} plan",
            suggestion=upgrade_hint(settings.billing_url),
        )
    used = await repository.units_used(session, account_id=source.account_id, month=month)
    expires_at: datetime | None = None
    expires: int | None = None
    if body.delivery is Delivery.SIGNED:
        expires = int(now.timestamp()) + settings.transform_url_ttl
        expires_at = datetime.fromtimestamp(expires, now.tzinfo)
    path = signer.path(body.delivery, text, source.key, expires)
    return TransformRead(
        url=f"{settings.public_url}{path}",
        expires_at=expires_at,
        delivery=body.delivery,
        transform=TransformParams(
            width=recipe.width,
            height=recipe.height,
            fit=recipe.fit,
            quality=recipe.quality,
            format=recipe.format,
            recipe=text,
        ),
        usage=TransformUsage(
            period=month, used=used, limit=limit, units=recipe.units, counted=counted
        ),
    )


async def remove_variants(
    session: AsyncSession, storage: StorageBackend, file_pks: Sequence[int]
) -> None:
    """Delete the variants of these files, rows and objects: called wherever originals are
    deleted (file delete, bulk delete, project delete, test-mode purge), in their transaction,
    before the originals' own objects go."""
    keys: list[str] = []
    pks = list(file_pks)
    for start in range(0, len(pks), CASCADE_BATCH):
        keys += await repository.take_variants_of(session, pks[start : start + CASCADE_BATCH])
    if keys:
        await storage.delete_many(keys)


def lease_for(settings: Settings, now: datetime) -> datetime:
    """How long a generation claim holds: the time limit, plus room to store the result."""
    return now + timedelta(seconds=settings.transform_timeout + 30)

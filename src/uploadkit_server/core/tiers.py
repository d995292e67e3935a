"""What each tier allows (SPEC section 3). ``None`` means unlimited."""

from __future__ import annotations

from dataclasses import dataclass

from uploadkit_server.db.models import Tier

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
TIB = 1024 * GIB


@dataclass(frozen=True, slots=True)
class TierLimits:
    requests_per_minute: int | None  # None: the account's custom figure
    max_file_size: int
    storage_bytes: int | None
    uploads_per_month: int | None
    projects: int | None
    keys_per_project: int | None


TIER_LIMITS: dict[str, TierLimits] = {
    Tier.FREE: TierLimits(60, 4 * MIB, 5 * GIB, 1_000, 2, 2),
    Tier.PRO: TierLimits(300, 512 * MIB, 100 * GIB, 50_000, 10, 10),
    Tier.TEAM: TierLimits(1000, 5 * GIB, 1 * TIB, 500_000, 50, 50),
    Tier.ENTERPRISE: TierLimits(None, 10 * GIB, None, None, None, None),
}

#: Enterprise accounts without a configured figure get this many requests a minute.
DEFAULT_ENTERPRISE_RATE_LIMIT = 10_000


def limits_for(tier: str) -> TierLimits:
    return TIER_LIMITS[Tier(tier)]


def rate_limit_for(tier: str, custom: int | None) -> int:
    """Requests per rolling minute: the tier's figure, or the account's custom one (Enterprise)."""
    if Tier(tier) is Tier.ENTERPRISE:
        return custom or DEFAULT_ENTERPRISE_RATE_LIMIT
    figure = limits_for(tier).requests_per_minute
    assert figure is not None
    return figure


# -- image transformations (core/transforms) ---------------------------------------------------

#: Transform units a month per tier: 0 means the tier has no transforms, ``None`` unlimited.
TRANSFORM_UNITS_PER_MONTH: dict[str, int | None] = {
    Tier.FREE: 0,
    Tier.PRO: 5_000,
    Tier.TEAM: 50_000,
    Tier.ENTERPRISE: None,
}


def transform_units_for(tier: str) -> int | None:
    return TRANSFORM_UNITS_PER_MONTH[Tier(tier)]

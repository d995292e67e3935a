"""``GET /usage`` and ``GET /usage/history``."""

from __future__ import annotations

from uploadkit_server.core.schemas import CamelModel


class TierLimitsRead(CamelModel):
    """The tier's limits; ``null`` means unlimited."""

    requests_per_minute: int
    max_file_size: int
    storage_bytes: int | None
    uploads_per_month: int | None
    projects: int | None
    keys_per_project: int | None
    #: Image transform units a month (0: the plan has no transforms).
    transform_units_per_month: int | None


class UsageRead(CamelModel):
    mode: str  # "live" or "test"
    tier: str
    month: str  # "YYYY-MM", UTC
    #: Uploads completed this month, and uploads requested but not yet completed.
    uploads: int
    uploads_in_flight: int
    bytes_uploaded: int
    #: Bytes the CDN sent this month.
    bytes_served: int
    #: Image transform units charged this month.
    transform_units: int
    #: Bytes held now: stored files plus reservations of uploads in flight.
    storage_bytes: int
    projects: int
    #: Test mode counts against no quota: its figures are informational.
    quota_applies: bool
    limits: TierLimitsRead


class UsageMonthRead(CamelModel):
    month: str
    uploads: int
    bytes_uploaded: int
    bytes_served: int
    transform_units: int = 0

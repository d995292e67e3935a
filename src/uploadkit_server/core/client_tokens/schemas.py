"""Shapes of ``POST /api/v1/client-tokens``."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from uploadkit_server.core.schemas import CamelModel, StrictCamelModel, Timestamp

DEFAULT_LIFETIME_SECONDS = 10 * 60
MAX_LIFETIME_SECONDS = 60 * 60
MAX_FILES_PER_TOKEN = 1000


class ClientTokenCreate(StrictCamelModel):
    route_slug: str = Field(min_length=1, max_length=100)
    #: Fixed metadata every file gets; what the browser sends cannot override these keys.
    metadata: dict[str, Any] | None = None
    max_file_count: int = Field(default=1, ge=1, le=MAX_FILES_PER_TOKEN)
    #: Bytes per file, at most the route's own limit (the smaller one applies).
    max_file_size: int | None = Field(default=None, gt=0)
    expires_in: int = Field(default=DEFAULT_LIFETIME_SECONDS, ge=10, le=MAX_LIFETIME_SECONDS)


class ClientTokenRead(CamelModel):
    id: str
    token: str
    route_slug: str
    metadata: dict[str, Any] | None
    max_file_count: int
    max_file_size: int | None
    expires_at: Timestamp

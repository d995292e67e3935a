"""``GET /logs``: upload events for polling."""

from __future__ import annotations

from uploadkit_server.core.schemas import CamelModel, Timestamp


class UploadEventRead(CamelModel):
    event: str  # "uploaded", "failed" or "deleted"
    file_id: str
    key: str
    detail: str | None
    created_at: Timestamp


class EventPage(CamelModel):
    """``nextCursor`` is where the next poll starts: after the last event returned, or where the
    caller already was when nothing new happened. It is ``null`` only before the first event."""

    items: list[UploadEventRead]
    next_cursor: str | None
    has_more: bool

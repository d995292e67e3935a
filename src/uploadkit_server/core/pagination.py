"""Keyset pagination over a table's auto-incrementing ``pk`` (newest first).

A cursor is base64url of ``{"pk": n}``: the last row of the previous page. Rows added or deleted
between pages shift nothing, and a page costs one index range scan at any depth.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from uploadkit_server.core.schemas import MAX_INT64
from uploadkit_server.errors import ValidationFailed

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    before_pk: int | None = None


def encode_cursor(pk: int) -> str:
    raw = json.dumps({"pk": pk}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        pk = position["pk"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError):
        raise ValidationFailed(
            "The cursor is not valid", details={"cursor": ["not a cursor returned by this API"]}
        ) from None
    if not isinstance(pk, int) or isinstance(pk, bool) or not 1 <= pk <= MAX_INT64:
        raise ValidationFailed("The cursor is not valid", details={"cursor": ["bad position"]})
    return pk


def page_request(*, limit: int | None, cursor: str | None) -> PageRequest:
    if limit is None:
        limit = DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_LIMIT}",
            details={"limit": [f"must be between 1 and {MAX_LIMIT}"]},
        )
    return PageRequest(limit=limit, before_pk=decode_cursor(cursor) if cursor else None)

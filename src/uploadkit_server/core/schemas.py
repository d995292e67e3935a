"""Schema building blocks shared by every domain: camelCase JSON, API timestamps, pages, and
the error envelope."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator
from pydantic.alias_generators import to_camel

from uploadkit_server.clock import isoformat
from uploadkit_server.errors import UploadKitError

#: The largest integer both databases store (a signed 64-bit ``BIGINT``): any integer from a
#: request that reaches a query is bounded by it, so an oversized one is a ``400``, not an
#: ``OverflowError`` in the driver.
MAX_INT64 = 2**63 - 1

#: A datetime written the way the API writes every timestamp: ``2026-04-08T12:00:00.000Z``.
Timestamp = Annotated[datetime, PlainSerializer(isoformat, return_type=str)]


class CamelModel(BaseModel):
    """Fields are snake_case in Python and camelCase on the wire."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        from_attributes=True,
    )


class StrictCamelModel(CamelModel):
    """Request bodies: unknown fields are an error, not silently dropped, and no text may hold
    a NUL character (PostgreSQL cannot store one; better a 400 than a 500)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


ItemT = TypeVar("ItemT")


class Items(CamelModel, Generic[ItemT]):
    """Lists that are not paginated: ``{"items": [...]}``."""

    items: list[ItemT]


class Page(CamelModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None
    has_more: bool


class Deleted(CamelModel):
    deleted: bool = True


class ErrorDetail(BaseModel):
    """One error as ``UploadKitError.to_body`` writes it: in an error response, and per item in
    results that report failures one by one (``DELETE /files``)."""

    code: str = Field(description="Stable machine code, UPPER_SNAKE", examples=["NOT_FOUND"])
    message: str = Field(description="What went wrong, for people", examples=["File not found"])
    suggestion: str | None = Field(default=None, description="What to do about it")
    details: dict[str, list[str]] | None = Field(
        default=None, description="Per-field messages of a VALIDATION_ERROR"
    )

    @classmethod
    def of(cls, error: UploadKitError) -> ErrorDetail:
        return cls(
            code=error.code,
            message=error.message,
            suggestion=error.suggestion,
            details=error.details,
        )


class ErrorResponse(BaseModel):
    """Every error response: ``{"error": {code, message, suggestion?, details?}}``."""

    error: ErrorDetail

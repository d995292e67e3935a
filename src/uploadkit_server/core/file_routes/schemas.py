"""File route shapes: ``FileRouteCreate``, ``FileRouteUpdate``, ``FileRouteRead``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BeforeValidator, Field, field_validator

from uploadkit_server.core.mime import normalise_pattern
from uploadkit_server.core.schemas import CamelModel, StrictCamelModel, Timestamp
from uploadkit_server.core.sizes import parse_size

SLUG_PATTERN = r"^[a-zA-Z][a-zA-Z0-9]*$"
DEFAULT_MAX_FILE_SIZE = 4 * 1024 * 1024

Size = Annotated[int, BeforeValidator(parse_size)]
Slug = Annotated[str, Field(min_length=1, max_length=100, pattern=SLUG_PATTERN)]


class TypeCheck(StrEnum):
    """How the type sniffed from a file's first bytes must agree with its declared type."""

    OFF = "off"
    #: Refuse only a known mismatch (an executable or HTML declared as ``image/png``).
    LENIENT = "lenient"
    #: The detected type must be known and allowed by the route.
    STRICT = "strict"


def _patterns(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("allowedTypes needs at least one type; use ['*/*'] for any")
    return list(dict.fromkeys(normalise_pattern(item) for item in value))


class FileRouteCreate(StrictCamelModel):
    slug: Slug
    max_file_size: Size = DEFAULT_MAX_FILE_SIZE
    max_file_count: int = Field(default=1, ge=1, le=10_000)
    allowed_types: list[str] = Field(default_factory=lambda: ["*/*"], max_length=100)
    webhook_url: str | None = Field(default=None, max_length=2048)
    type_check: TypeCheck = TypeCheck.LENIENT

    @field_validator("allowed_types")
    @classmethod
    def _check_types(cls, value: list[str]) -> list[str]:
        return _patterns(value)


class FileRouteUpdate(StrictCamelModel):
    slug: Slug | None = None
    max_file_size: Size | None = None
    max_file_count: int | None = Field(default=None, ge=1, le=10_000)
    allowed_types: list[str] | None = Field(default=None, max_length=100)
    webhook_url: str | None = Field(default=None, max_length=2048)
    type_check: TypeCheck | None = None

    @field_validator("allowed_types")
    @classmethod
    def _check_types(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _patterns(value)


class FileRouteRead(CamelModel):
    id: str
    project_id: str
    slug: str
    max_file_size: int
    max_file_count: int
    allowed_types: list[str]
    webhook_url: str | None
    type_check: TypeCheck
    created_at: Timestamp
    updated_at: Timestamp

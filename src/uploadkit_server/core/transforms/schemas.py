"""``POST /api/v1/transforms/image``: request and response, as UploadKit's hosted API has them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from uploadkit_server.core.schemas import CamelModel, StrictCamelModel, Timestamp
from uploadkit_server.core.transforms.recipe import (
    DEFAULT_QUALITY,
    MAX_DIMENSION,
    Fit,
    OutputFormat,
    Recipe,
)
from uploadkit_server.core.transforms.signing import Delivery

Dimension = Annotated[int, Field(ge=1, le=MAX_DIMENSION)]


class TransformCreate(StrictCamelModel):
    key: Annotated[str, Field(min_length=1, max_length=1024)]
    width: Dimension | None = None
    height: Dimension | None = None
    fit: Fit = Fit.SCALE_DOWN
    quality: Annotated[int, Field(ge=1, le=100)] = DEFAULT_QUALITY
    format: OutputFormat = OutputFormat.AUTO
    delivery: Delivery = Delivery.SIGNED

    @model_validator(mode="after")
    def _a_dimension(self) -> TransformCreate:
        if self.width is None and self.height is None:
            raise ValueError("width or height is required")
        return self

    def recipe(self) -> Recipe:
        return Recipe(
            width=self.width,
            height=self.height,
            fit=self.fit,
            quality=self.quality,
            format=self.format,
        )


class TransformParams(CamelModel):
    width: int | None
    height: int | None
    fit: Fit
    quality: int
    format: OutputFormat
    #: The canonical recipe the URL carries, e.g. ``w_800,h_600,fit_cover,q_80,f_auto``.
    recipe: str


class TransformUsage(CamelModel):
    period: str  # "YYYY-MM", UTC
    used: int
    limit: int | None  # null: unlimited
    units: int  # what this variant costs
    counted: bool  # false when the variant was already charged this period


class TransformRead(CamelModel):
    url: str
    expires_at: Timestamp | None
    delivery: Delivery
    transform: TransformParams
    usage: TransformUsage

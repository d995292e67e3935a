"""The transform recipe: what a variant is, written as ``w_800,h_600,fit_cover,q_80,f_auto``.

The canonical text is what URLs carry and what signatures cover, so one set of parameters has
exactly one spelling: parts in the order ``w, h, fit, q, f``, absent dimensions left out, every
other part always written. ``parse_recipe`` accepts only canonical text.

``f_auto`` is resolved per request from the ``Accept`` header (``negotiate_format``): AVIF, then
WebP, then PNG for sources that may carry transparency (PNG, GIF, WebP, AVIF) and JPEG otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

MAX_DIMENSION = 4096
DEFAULT_QUALITY = 85


class Fit(StrEnum):
    SCALE_DOWN = "scale-down"
    CONTAIN = "contain"
    COVER = "cover"
    CROP = "crop"
    PAD = "pad"


class OutputFormat(StrEnum):
    AUTO = "auto"
    AVIF = "avif"
    WEBP = "webp"
    JPEG = "jpeg"
    PNG = "png"


CONTENT_TYPES = {
    OutputFormat.AVIF: "image/avif",
    OutputFormat.WEBP: "image/webp",
    OutputFormat.JPEG: "image/jpeg",
    OutputFormat.PNG: "image/png",
}
EXTENSIONS = {
    OutputFormat.AVIF: "avif",
    OutputFormat.WEBP: "webp",
    OutputFormat.JPEG: "jpg",
    OutputFormat.PNG: "png",
}
#: Source types that may hold an alpha channel: ``f_auto`` falls back to PNG for them.
ALPHA_SOURCES = frozenset({"image/png", "image/gif", "image/webp", "image/avif"})

_CANONICAL = re.compile(
    r"(?:w_(?P<w>[1-9][0-9]{0,3}),)?(?:h_(?P<h>[1-9][0-9]{0,3}),)?"
    r"fit_(?P<fit>[a-z-]+),q_(?P<q>[1-9][0-9]{0,2}),f_(?P<f>[a-z]+)"
)


class InvalidRecipe(ValueError):
    """Text that is not a canonical recipe."""


@dataclass(frozen=True, slots=True)
class Recipe:
    width: int | None
    height: int | None
    fit: Fit = Fit.SCALE_DOWN
    quality: int = DEFAULT_QUALITY
    format: OutputFormat = OutputFormat.AUTO

    def __post_init__(self) -> None:
        if self.width is None and self.height is None:
            raise InvalidRecipe("width or height is required")
        for name, value in (("width", self.width), ("height", self.height)):
            if value is not None and not 1 <= value <= MAX_DIMENSION:
                raise InvalidRecipe(f"{name} must be between 1 and {MAX_DIMENSION}")
        if not 1 <= self.quality <= 100:
            raise InvalidRecipe("quality must be between 1 and 100")

    def canonical(self) -> str:
        parts = []
        if self.width is not None:
            parts.append(f"w_{self.width}")
        if self.height is not None:
            parts.append(f"h_{self.height}")
        parts += [f"fit_{self.fit.value}", f"q_{self.quality}", f"f_{self.format.value}"]
        return ",".join(parts)

    def with_format(self, output: OutputFormat) -> Recipe:
        return replace(self, format=output)

    @property
    def units(self) -> int:
        """What a new variant of this recipe costs: 3 for ``f_auto`` (up to three encodings
        may be made and stored), 1 for an explicit format."""
        return 3 if self.format is OutputFormat.AUTO else 1


def parse_recipe(text: str) -> Recipe:
    match = _CANONICAL.fullmatch(text)
    if match is None:
        raise InvalidRecipe(f"not a canonical recipe: {text!r}")
    try:
        recipe = Recipe(
            width=int(match["w"]) if match["w"] else None,
            height=int(match["h"]) if match["h"] else None,
            fit=Fit(match["fit"]),
            quality=int(match["q"]),
            format=OutputFormat(match["f"]),
        )
    except ValueError as error:
        raise InvalidRecipe(str(error)) from error
    if recipe.canonical() != text:
        raise InvalidRecipe(f"not a canonical recipe: {text!r}")
    return recipe


def _accepted(accept: str) -> set[str]:
    """Media types the client accepts with a non-zero quality."""
    types: set[str] = set()
    for item in accept.split(","):
        media, *params = (piece.strip() for piece in item.split(";"))
        refused = any(
            param.replace(" ", "") in {"q=0", "q=0.0", "q=0.00", "q=0.000"} for param in params
        )
        if media and not refused:
            types.add(media.lower())
    return types


def negotiate_format(accept: str | None, *, source_type: str) -> OutputFormat:
    """The concrete format ``f_auto`` means for this request (explicit ones are kept as is).

    Only an explicit ``image/avif`` or ``image/webp`` selects those formats: ``*/*`` is sent
    by clients that cannot decode either.
    """
    accepted = _accepted(accept or "")
    if "image/avif" in accepted:
        return OutputFormat.AVIF
    if "image/webp" in accepted:
        return OutputFormat.WEBP
    return OutputFormat.PNG if source_type.lower() in ALPHA_SOURCES else OutputFormat.JPEG

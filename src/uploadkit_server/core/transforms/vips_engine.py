"""``TransformEngine`` on libvips through pyvips (the ``pyvips-binary`` wheel bundles libvips,
so no system package is needed).

The header is read first (``new_from_buffer`` is lazy) and its pixel count checked; only then
does ``thumbnail_buffer`` decode, with shrink-on-load (JPEG and WebP decode at a fraction of
their size), EXIF auto-rotation and import of an embedded colour profile, exporting sRGB.
Animated GIF and WebP sources give their first frame. The deadline is enforced inside libvips:
an ``eval`` callback on the output image kills the pipeline once it has passed, so a slow
encode stops within one tile of work instead of holding its worker thread to the end.
"""

from __future__ import annotations

import time
from typing import Any

import pyvips

from uploadkit_server.core.transforms.engine import (
    Rendered,
    SourceTooLarge,
    TransformTimedOut,
    UnsupportedImage,
)
from uploadkit_server.core.transforms.recipe import CONTENT_TYPES, Fit, OutputFormat, Recipe

#: Loaders of raster formats we accept as sources; vips' other loaders (matrix, CSV, raw
#: ``.v`` files, …) are refused even though libvips could read them.
ACCEPTED_LOADERS = frozenset(
    {
        "jpegload_buffer",
        "pngload_buffer",
        "webpload_buffer",
        "gifload_buffer",
        "heifload_buffer",
        "tiffload_buffer",
    }
)
#: Stands in for "no limit" along a dimension the recipe leaves out.
_UNBOUNDED = 10_000_000
_WHITE = [255, 255, 255]


class VipsEngine:
    """Thread-safe: every call builds its own pipeline."""

    def __init__(self, *, avif_effort: int = 2, webp_effort: int = 4) -> None:
        self._avif_effort = avif_effort
        self._webp_effort = webp_effort

    def render(
        self, source: bytes, recipe: Recipe, *, max_pixels: int, deadline: float
    ) -> Rendered:
        if recipe.format is OutputFormat.AUTO:
            raise ValueError("resolve f_auto to a concrete format before rendering")
        header = self._header(source)
        if header.width * header.height > max_pixels:
            raise SourceTooLarge(header.width, header.height, max_pixels)
        if time.monotonic() > deadline:
            raise TransformTimedOut("the time limit passed before decoding started")
        image = self._resize(source, recipe, header)
        image = self._finish(image, recipe)
        image.set_progress(True)

        def on_eval(target: Any, _progress: Any) -> None:
            if time.monotonic() > deadline:
                target.set_kill(True)

        image.signal_connect("eval", on_eval)
        try:
            data = self._encode(image, recipe)
        except pyvips.Error as error:
            if time.monotonic() > deadline:
                raise TransformTimedOut("the time limit passed while encoding") from error
            raise UnsupportedImage(f"undecodable image: {_first_line(error)}") from error
        return Rendered(
            data=data,
            content_type=CONTENT_TYPES[recipe.format],
            width=image.width,
            height=image.height,
        )

    # -- steps -------------------------------------------------------------------------------

    @staticmethod
    def _header(source: bytes) -> Any:
        """The lazily opened image: only its header has been read."""
        try:
            header = pyvips.Image.new_from_buffer(source, "", access="sequential")
            loader = header.get("vips-loader")
        except pyvips.Error as error:
            raise UnsupportedImage(f"not a readable image: {_first_line(error)}") from error
        if loader not in ACCEPTED_LOADERS:
            raise UnsupportedImage("not a JPEG, PNG, WebP, GIF, AVIF/HEIF or TIFF image")
        return header

    @staticmethod
    def _resize(source: bytes, recipe: Recipe, header: Any) -> Any:
        width = recipe.width or _UNBOUNDED
        height = recipe.height or _UNBOUNDED
        both = recipe.width is not None and recipe.height is not None
        options: dict[str, Any] = {"height": height, "size": "both"}
        fit = recipe.fit
        if fit is Fit.SCALE_DOWN or (fit is Fit.CROP and not both):
            options["size"] = "down"
        elif fit is Fit.COVER and both:
            options["crop"] = "centre"
        elif fit is Fit.CROP:
            # The box shrinks to the source, so the crop never enlarges. Orientation matters:
            # the box is compared with the image as displayed, after auto-rotation.
            shown_w, shown_h = header.width, header.height
            if _swaps_axes(header):
                shown_w, shown_h = shown_h, shown_w
            width, options["height"] = min(width, shown_w), min(height, shown_h)
            options["crop"] = "centre"
        try:
            return pyvips.Image.thumbnail_buffer(source, width, **options)
        except pyvips.Error as error:
            raise UnsupportedImage(f"undecodable image: {_first_line(error)}") from error

    @staticmethod
    def _finish(image: Any, recipe: Recipe) -> Any:
        has_alpha = bool(image.hasalpha())
        if recipe.format is OutputFormat.JPEG and has_alpha:
            image = image.flatten(background=_WHITE)
            has_alpha = False
        if recipe.fit is Fit.PAD and recipe.width is not None and recipe.height is not None:
            if recipe.format is not OutputFormat.JPEG and not has_alpha:
                image = image.bandjoin(255)  # transparent padding
                has_alpha = True
            background = [0] * image.bands if has_alpha else _WHITE[: image.bands]
            image = image.gravity(
                "centre", recipe.width, recipe.height, extend="background", background=background
            )
        return image

    def _encode(self, image: Any, recipe: Recipe) -> bytes:
        quality = recipe.quality
        data: bytes
        if recipe.format is OutputFormat.JPEG:
            data = image.jpegsave_buffer(Q=quality, keep="none", optimize_coding=True)
        elif recipe.format is OutputFormat.PNG:
            data = image.pngsave_buffer(compression=6, keep="none")
        elif recipe.format is OutputFormat.WEBP:
            data = image.webpsave_buffer(Q=quality, keep="none", effort=self._webp_effort)
        else:
            data = image.heifsave_buffer(
                Q=quality, compression="av1", keep="none", effort=self._avif_effort
            )
        return data


def _swaps_axes(header: Any) -> bool:
    """EXIF orientations 5-8 turn the image a quarter: width and height trade places."""
    try:
        orientation = int(header.get("orientation"))
    except (pyvips.Error, TypeError, ValueError):
        return False
    return orientation >= 5


def _first_line(error: pyvips.Error) -> str:
    return str(error).strip().splitlines()[-1].strip() if str(error).strip() else "unknown error"

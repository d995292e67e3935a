"""Small test images, made with libvips itself (so no binary fixtures live in the repository)."""

from __future__ import annotations

from functools import cache

import pyvips


def _gradient(width: int, height: int, bands: int = 3) -> pyvips.Image:
    """A picture with structure (so encoders do real work), not a flat colour."""
    x = pyvips.Image.xyz(width, height)
    red = (x[0] * 255 / max(width - 1, 1)).cast("uchar")
    green = (x[1] * 255 / max(height - 1, 1)).cast("uchar")
    blue = ((x[0] + x[1]) % 256).cast("uchar")
    image = red.bandjoin([green, blue]).copy(interpretation="srgb")
    if bands == 4:
        image = image.bandjoin(200)
    return image


@cache
def jpeg(width: int, height: int, *, orientation: int | None = None) -> bytes:
    image = _gradient(width, height)
    if orientation is not None:
        image = image.copy()
        image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
        return bytes(image.jpegsave_buffer(Q=90, keep="exif"))
    return bytes(image.jpegsave_buffer(Q=90))


@cache
def png(width: int, height: int, *, alpha: bool = False) -> bytes:
    return bytes(_gradient(width, height, 4 if alpha else 3).pngsave_buffer(compression=1))


@cache
def animated_gif(width: int, height: int, frames: int) -> bytes:
    pages = [
        _gradient(width, height).linear(1, index * 20).cast("uchar") for index in range(frames)
    ]
    strip = pyvips.Image.arrayjoin(pages, across=1).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", height)
    strip.set_type(pyvips.GValue.array_int_type, "delay", [100] * frames)
    return bytes(strip.gifsave_buffer())


@cache
def bomb_png(side: int = 12_000) -> bytes:
    """A small file that declares ``side`` x ``side`` pixels: 144 MP at the default side, more
    than the default limit, in a few kilobytes of 1-bit PNG."""
    return bytes(pyvips.Image.black(side, side).pngsave_buffer(bitdepth=1, compression=9))


def dimensions(data: bytes) -> tuple[int, int, str]:
    """Width, height and loader of encoded image bytes."""
    image = pyvips.Image.new_from_buffer(data, "")
    return image.width, image.height, str(image.get("vips-loader"))

"""The contract every ``TransformEngine`` keeps (see ``core/transforms/engine.py``)."""

from __future__ import annotations

import time

import pytest

from tests.support import images
from uploadkit_server.core.transforms.engine import (
    SourceTooLarge,
    TransformEngine,
    TransformTimedOut,
    UnsupportedImage,
)
from uploadkit_server.core.transforms.recipe import Fit, OutputFormat, Recipe

LIMIT = 100_000_000
LOADERS = {
    OutputFormat.JPEG: "jpegload_buffer",
    OutputFormat.PNG: "pngload_buffer",
    OutputFormat.WEBP: "webpload_buffer",
    OutputFormat.AVIF: "heifload_buffer",
}


def render(engine: TransformEngine, source: bytes, recipe: Recipe) -> tuple[int, int, str]:
    out = engine.render(source, recipe, max_pixels=LIMIT, deadline=time.monotonic() + 30)
    width, height, loader = images.dimensions(out.data)
    assert (width, height) == (out.width, out.height)
    return width, height, loader


# Source 400x200 (2:1). Boxes and the exact output each fit mode must give.
FIT_CASES = [
    (Fit.SCALE_DOWN, 100, 100, (100, 50)),
    (Fit.SCALE_DOWN, 800, 800, (400, 200)),  # never enlarged
    (Fit.CONTAIN, 100, 100, (100, 50)),
    (Fit.CONTAIN, 800, 800, (800, 400)),  # enlarged to fit
    (Fit.COVER, 100, 100, (100, 100)),
    (Fit.COVER, 800, 800, (800, 800)),
    (Fit.CROP, 100, 100, (100, 100)),
    (Fit.CROP, 800, 100, (400, 100)),  # the box shrinks to the source: no enlargement
    (Fit.CROP, 800, 800, (400, 200)),
    (Fit.PAD, 100, 100, (100, 100)),
    (Fit.PAD, 300, 50, (300, 50)),
    (Fit.SCALE_DOWN, 200, None, (200, 100)),
    (Fit.SCALE_DOWN, None, 50, (100, 50)),
    (Fit.COVER, 200, None, (200, 100)),  # one dimension: as contain
    (Fit.PAD, None, 400, (800, 400)),
    (Fit.CROP, 800, None, (400, 200)),  # one dimension: as scale-down
]


@pytest.mark.parametrize(("fit", "width", "height", "expected"), FIT_CASES)
def test_fit_modes_give_exact_dimensions(
    engine: TransformEngine,
    fit: Fit,
    width: int | None,
    height: int | None,
    expected: tuple[int, int],
) -> None:
    recipe = Recipe(width=width, height=height, fit=fit, format=OutputFormat.PNG)
    assert render(engine, images.jpeg(400, 200), recipe)[:2] == expected


@pytest.mark.parametrize("output", list(LOADERS))
def test_each_format_is_encoded_as_itself(engine: TransformEngine, output: OutputFormat) -> None:
    recipe = Recipe(width=64, height=None, format=output)
    out = engine.render(
        images.png(128, 64, alpha=True), recipe, max_pixels=LIMIT, deadline=time.monotonic() + 30
    )
    assert images.dimensions(out.data) == (64, 32, LOADERS[output])
    assert out.content_type == f"image/{output.value}"


def test_exif_orientation_is_applied(engine: TransformEngine) -> None:
    # Stored 400x300 with orientation 6 (rotate 90°): displayed 300x400.
    source = images.jpeg(400, 300, orientation=6)
    recipe = Recipe(width=150, height=None, fit=Fit.SCALE_DOWN, format=OutputFormat.JPEG)
    assert render(engine, source, recipe)[:2] == (150, 200)


def test_animated_sources_give_their_first_frame(engine: TransformEngine) -> None:
    source = images.animated_gif(60, 40, frames=3)
    recipe = Recipe(width=30, height=None, format=OutputFormat.WEBP)
    assert render(engine, source, recipe)[:2] == (30, 20)


def test_pixel_limit_is_checked_from_the_header(engine: TransformEngine) -> None:
    recipe = Recipe(width=100, height=None, format=OutputFormat.JPEG)
    with pytest.raises(SourceTooLarge) as refused:
        engine.render(images.bomb_png(), recipe, max_pixels=LIMIT, deadline=time.monotonic() + 30)
    assert (refused.value.width, refused.value.height) == (12_000, 12_000)


def test_pixel_limit_is_inclusive(engine: TransformEngine) -> None:
    recipe = Recipe(width=10, height=None, format=OutputFormat.JPEG)
    out = engine.render(
        images.jpeg(40, 25), recipe, max_pixels=40 * 25, deadline=time.monotonic() + 30
    )
    assert (out.width, out.height) == (10, 6) or (out.width, out.height) == (10, 7)
    with pytest.raises(SourceTooLarge):
        engine.render(
            images.jpeg(40, 25), recipe, max_pixels=40 * 25 - 1, deadline=time.monotonic() + 30
        )


@pytest.mark.parametrize("source", [b"", b"plain text, not an image", b"\xff\xd8\xff\xe0broken"])
def test_what_is_not_an_image_is_refused(engine: TransformEngine, source: bytes) -> None:
    recipe = Recipe(width=10, height=None, format=OutputFormat.JPEG)
    with pytest.raises(UnsupportedImage):
        engine.render(source, recipe, max_pixels=LIMIT, deadline=time.monotonic() + 30)


def test_a_passed_deadline_stops_the_work(engine: TransformEngine) -> None:
    recipe = Recipe(width=500, height=None, format=OutputFormat.AVIF)
    with pytest.raises(TransformTimedOut):
        engine.render(
            images.jpeg(1000, 800), recipe, max_pixels=LIMIT, deadline=time.monotonic() - 1
        )

"""The canonical recipe text and ``f_auto`` negotiation (pure functions; the HTTP behaviour is
in ``tests/api/test_transforms.py``)."""

from __future__ import annotations

import pytest

from uploadkit_server.core.transforms.recipe import (
    Fit,
    InvalidRecipe,
    OutputFormat,
    Recipe,
    negotiate_format,
    parse_recipe,
)


@pytest.mark.parametrize(
    ("recipe", "text"),
    [
        (Recipe(800, 600, Fit.COVER, 80, OutputFormat.AUTO), "w_800,h_600,fit_cover,q_80,f_auto"),
        (Recipe(800, None), "w_800,fit_scale-down,q_85,f_auto"),
        (Recipe(None, 4096, Fit.PAD, 1, OutputFormat.PNG), "h_4096,fit_pad,q_1,f_png"),
    ],
)
def test_canonical_text_round_trips(recipe: Recipe, text: str) -> None:
    assert recipe.canonical() == text
    assert parse_recipe(text) == recipe


@pytest.mark.parametrize(
    "text",
    [
        "h_600,w_800,fit_cover,q_80,f_auto",  # order
        "w_0800,fit_cover,q_80,f_auto",  # leading zero
        "w_4097,fit_cover,q_80,f_auto",
        "w_800,fit_stretch,q_80,f_auto",
        "w_800,fit_cover,q_101,f_auto",
        "w_800,fit_cover,q_80,f_gif",
        "fit_cover,q_80,f_auto",  # no dimension
        "w_800,fit_cover,q_80,f_auto,",
        "w_800,fit_cover,f_auto",
    ],
)
def test_anything_but_canonical_text_is_refused(text: str) -> None:
    with pytest.raises(InvalidRecipe):
        parse_recipe(text)


@pytest.mark.parametrize(
    ("accept", "source", "expected"),
    [
        ("image/avif,image/webp,*/*", "image/jpeg", OutputFormat.AVIF),
        ("image/webp,*/*;q=0.8", "image/png", OutputFormat.WEBP),
        ("IMAGE/AVIF", "image/jpeg", OutputFormat.AVIF),
        ("image/avif;q=0, image/webp", "image/jpeg", OutputFormat.WEBP),
        ("*/*", "image/jpeg", OutputFormat.JPEG),
        ("image/*", "image/png", OutputFormat.PNG),
        (None, "image/gif", OutputFormat.PNG),
        (None, "image/tiff", OutputFormat.JPEG),
    ],
)
def test_auto_format_negotiation(accept: str | None, source: str, expected: OutputFormat) -> None:
    assert negotiate_format(accept, source_type=source) is expected


def test_units() -> None:
    assert Recipe(10, None).units == 3
    assert Recipe(10, None, format=OutputFormat.WEBP).units == 1

"""The transform engine interface: bytes of a source image in, one encoded variant out.

An engine is synchronous and CPU-bound; the service runs it in a worker thread, a bounded
number at a time (``service.Transformer``). Each implementation lives in its own module
(``vips_engine.py``) and passes ``tests/core/transforms/test_engine_contract.py``.

What every engine must do with a ``Recipe`` whose format is concrete (never ``auto``):

- refuse a source whose header declares more than ``max_pixels`` pixels (width x height of
  the first frame) *before* decoding it: ``SourceTooLarge``;
- refuse what is not a raster image it can decode: ``UnsupportedImage``;
- give up once ``deadline`` (``time.monotonic()``) has passed: ``TransformTimedOut``;
- apply EXIF orientation, convert to sRGB, strip metadata, keep only the first frame of an
  animation, and produce exactly the dimensions of the fit modes:

  ============ ===================================================================
  scale-down   fit inside the box keeping the aspect ratio; never enlarged
  contain      fit inside the box keeping the aspect ratio; enlarged if smaller
  cover        fill the box exactly, centre-cropping the overflow (box needs w and h)
  crop         as cover, but never enlarged: the box shrinks to the source's size
  pad          as contain, then centred on a canvas of exactly the box (w and h);
               transparent where the format has alpha, white otherwise
  ============ ===================================================================

  With only one of width and height, cover and pad behave as contain, crop as scale-down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from uploadkit_server.core.transforms.recipe import Recipe


class EngineError(Exception):
    """Base of what an engine raises."""


class UnsupportedImage(EngineError):
    """The source is not an image this engine decodes."""


class SourceTooLarge(EngineError):
    """The source's header declares more pixels than allowed (a decompression bomb)."""

    def __init__(self, width: int, height: int, max_pixels: int) -> None:
        super().__init__(f"{width}x{height} pixels is over the limit of {max_pixels}")
        self.width, self.height, self.max_pixels = width, height, max_pixels


class TransformTimedOut(EngineError):
    """The deadline passed before the variant was encoded."""


@dataclass(frozen=True, slots=True)
class Rendered:
    data: bytes
    content_type: str
    width: int
    height: int


class TransformEngine(Protocol):
    def render(
        self, source: bytes, recipe: Recipe, *, max_pixels: int, deadline: float
    ) -> Rendered:
        """Encode one variant of ``source``; see the module docstring for the rules."""
        ...

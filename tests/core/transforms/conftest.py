"""``engine``: every ``TransformEngine`` under the same contract tests.

Each engine is an entry of ``ENGINES``: a name and a factory. To add an engine (say one on
Pillow), write its module in ``core/transforms/`` and add it here:

    ENGINES["pillow"] = PillowEngine
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from uploadkit_server.core.transforms.engine import TransformEngine
from uploadkit_server.core.transforms.vips_engine import VipsEngine

ENGINES: dict[str, Callable[[], TransformEngine]] = {"vips": VipsEngine}


@pytest.fixture(params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest) -> TransformEngine:
    return ENGINES[request.param]()

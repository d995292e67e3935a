"""Sizes written with binary units: ``"512KB"`` is 512 * 1024 bytes, ``"4MB"`` 4 * 1024**2."""

from __future__ import annotations

import re
from decimal import Decimal

from uploadkit_server.core.schemas import MAX_INT64

_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?I?B?)\s*$", re.IGNORECASE)


def parse_size(value: object) -> int:
    """Bytes from an int or a text like ``"4MB"``, ``"512 KiB"``, ``"1.5GB"``.

    Raises ``ValueError`` for anything else, and for sizes past a signed 64-bit integer (the
    widest the databases store): decimal arithmetic, so no float overflow on the way.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        # A JSON object, list or float: a validation error (400), not a TypeError (500).
        raise ValueError("size must be a number of bytes or a text like '4MB'")
    if isinstance(value, int):
        return _in_range(value)
    if not isinstance(value, str):  # JSON may send anything; only ValueError is a 400
        raise ValueError("size must be a number of bytes or a text like '4MB'")
    match = _SIZE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a size: use bytes or a text like '512KB', '4MB', '1GB'")
    number, unit = match.groups()
    unit = unit.upper().replace("I", "")
    if unit and not unit.endswith("B"):
        unit += "B"
    return _in_range(int(Decimal(number) * _UNITS[unit]))


def _in_range(size: int) -> int:
    if size <= 0:
        raise ValueError("size must be greater than 0")
    if size > MAX_INT64:
        raise ValueError(f"size must be at most {MAX_INT64} bytes")
    return size

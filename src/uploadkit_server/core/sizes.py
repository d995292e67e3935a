"""Sizes written with binary units: ``"512KB"`` is 512 * 1024 bytes, ``"4MB"`` 4 * 1024**2."""

from __future__ import annotations

import re

_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?I?B?)\s*$", re.IGNORECASE)


def parse_size(value: int | str) -> int:
    """Bytes from an int or a text like ``"4MB"``, ``"512 KiB"``, ``"1.5GB"``.

    Raises ``ValueError`` for anything else.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        # A JSON object, list or float: a validation error (400), not a TypeError (500).
        raise ValueError("size must be a number of bytes or a text like '4MB'")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("size must be greater than 0")
        return value
    match = _SIZE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a size: use bytes or a text like '512KB', '4MB', '1GB'")
    number, unit = match.groups()
    unit = unit.upper().replace("I", "")
    if unit and not unit.endswith("B"):
        unit += "B"
    size = int(float(number) * _UNITS[unit])
    if size <= 0:
        raise ValueError("size must be greater than 0")
    return size

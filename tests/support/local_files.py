"""Looking at what a local backend left in its data directory."""

from __future__ import annotations

from pathlib import Path


def files_in(directory: Path) -> list[Path]:
    """Every file below ``directory`` (objects, sidecars, temporary files), sorted."""
    return sorted(path for path in directory.rglob("*") if not path.is_dir())

"""The examples in the source's docstrings run, so they stay true.

Every module under ``src/uploadkit_server`` is imported (which also proves none of them fails to
import or builds anything at import time) and its doctests are run, one test per module. The
migrations are scripts Alembic loads by path, not modules, and are skipped; ``__main__`` runs
the CLI when imported.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import uploadkit_server


def _module_names() -> list[str]:
    names = [uploadkit_server.__name__]
    for module in pkgutil.walk_packages(uploadkit_server.__path__, f"{uploadkit_server.__name__}."):
        if module.name.rsplit(".", 1)[-1] != "__main__":
            names.append(module.name)
    return sorted(names)


@pytest.mark.parametrize("module_name", _module_names())
def test_docstring_examples(module_name: str) -> None:
    module = importlib.import_module(module_name)
    results = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False, report=True)
    assert results.failed == 0, f"{results.failed} of {results.attempted} examples failed"

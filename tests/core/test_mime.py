"""``type_allowed``: a content type against a route's ``allowedTypes`` globs."""

from __future__ import annotations

import pytest

from uploadkit_server.core.mime import type_allowed


@pytest.mark.parametrize(
    ("content_type", "patterns", "allowed"),
    [
        ("image/png", ["image/*"], True),
        ("image/png", ["image/png"], True),
        ("image/png", ["*/*"], True),
        ("image/png", ["video/*", "image/*"], True),  # any pattern will do
        ("image/png", ["video/*"], False),
        ("image/png", [], False),  # no patterns: nothing matches
        ("IMAGE/PNG", ["image/png"], True),  # types compare case-insensitively
        ("image/png; charset=binary", ["image/png"], True),  # parameters are ignored
        ("  text/plain ; charset=utf-8", ["text/plain"], True),
        ("application/vnd.ms-excel", ["application/vnd.*"], True),
        ("application/vnd.ms-excel", ["application/vnd.ms-excel*"], True),
        ("application/json", ["application/js"], False),  # whole type, not a prefix
        ("imagex/png", ["image/*"], False),
        ("image/png", ["image"], False),  # patterns arrive normalised: "image" is no glob
        ("", ["*/*"], False),  # an empty type has no slash
        ("text/plain", ["text/[pq]lain"], True),  # fnmatch rules, case-sensitive after lowering
    ],
)
def test_type_allowed(content_type: str, patterns: list[str], allowed: bool) -> None:
    assert type_allowed(content_type, patterns) is allowed

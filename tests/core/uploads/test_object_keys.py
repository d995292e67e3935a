"""``sanitize_file_name``: one safe path segment, at most ``MAX_NAME_BYTES`` bytes, never empty."""

from __future__ import annotations

import unicodedata

import pytest

from uploadkit_server.core.uploads.object_keys import MAX_NAME_BYTES, sanitize_file_name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("photo.jpg", "photo.jpg"),
        ("my photo (1).JPG", "my_photo_1_.JPG"),
        ("report-2026_final.v2.pdf", "report-2026_final.v2.pdf"),
        # Only the last path segment survives, whichever separator the client used.
        ("../../etc/passwd", "passwd"),
        ("/absolute/path/file.txt", "file.txt"),
        ("C:\\Users\\me\\file.txt", "file.txt"),
        ("dir/", "file"),
        # Nothing harmless left: a fixed name rather than an empty segment.
        ("", "file"),
        ("..", "file"),
        (".", "file"),
        ("...", "file"),
        ("   ", "file"),
        ("///", "file"),
        # Leading dots (hidden files) and trailing dots, spaces and underscores go.
        (".bashrc", "bashrc"),
        ("name.", "name"),
        ("_name_", "name"),
        # Control characters are dropped, not replaced.
        ("a\x00b\nc\td.txt", "abcd.txt"),
        ("evil\u202etxt.exe", "eviltxt.exe"),  # right-to-left override (a format character)
        # Letters of any script are kept, in NFC form.
        ("résumé.pdf", "résumé.pdf"),
        ("cafe\u0301.txt", "caf\u00e9.txt"),
        ("日本語.txt", "日本語.txt"),
        ("a;b|c&d$e.txt", "a_b_c_d_e.txt"),
        ("quote\"s'.txt", "quote_s_.txt"),
    ],
)
def test_sanitize_file_name(name: str, expected: str) -> None:
    assert sanitize_file_name(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a" * 300 + ".jpg", "a" * (MAX_NAME_BYTES - 4) + ".jpg"),  # the extension is kept
        ("a" * 300, "a" * MAX_NAME_BYTES),
        # An extension of 20 characters or more is cut from the end until it is short enough to
        # keep; from there on the stem gives way.
        ("a" * 300 + "." + "b" * 30, "a" * 180 + "." + "b" * 19),
        ("é" * 150 + ".png", "é" * ((MAX_NAME_BYTES - 4) // 2) + ".png"),  # bytes, not chars
    ],
)
def test_long_names_are_cut_to_the_byte_limit(name: str, expected: str) -> None:
    sanitized = sanitize_file_name(name)
    assert sanitized == expected
    assert len(sanitized.encode()) <= MAX_NAME_BYTES


@pytest.mark.parametrize(
    "name", ["../x", "a/../../b", "\\\\server\\share\\x", "x\x00/../y", "." * 500, "日" * 500]
)
def test_the_result_is_always_one_safe_segment(name: str) -> None:
    sanitized = sanitize_file_name(name)
    assert sanitized and "/" not in sanitized and "\\" not in sanitized
    assert sanitized not in (".", "..") and not sanitized.startswith(".")
    assert len(sanitized.encode()) <= MAX_NAME_BYTES
    assert all(unicodedata.category(ch)[0] != "C" for ch in sanitized)

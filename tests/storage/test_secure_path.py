"""``resolve_key``: the one function that turns an object key into a path, against hostile keys."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from uploadkit_server.storage.base import StorageError
from uploadkit_server.storage.secure_path import UnsafeKey, key_segments, resolve_key


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "objects"
    directory.mkdir()
    return directory


@pytest.mark.parametrize(
    "key",
    [
        "photo.jpg",
        "proj_x/imageUploader/Q3kabc/photo.jpg",
        "proj_x/route/abc/résumé final.pdf",
        "proj_x/route/abc/写真.png",
        "a/b/..c/d..",  # dots inside a name are fine
        "a/.hidden",
        "name with spaces & symbols (1) %2F #?.txt",
        "x" * 255,
    ],
)
def test_safe_keys_resolve_under_root(root: Path, key: str) -> None:
    path = resolve_key(root, key)
    assert path == root.joinpath(*key.split("/"))
    assert os.path.commonpath([root, path]) == str(root)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "empty"),
        ("..", "'..'"),
        ("../secret", "'..'"),
        ("a/../../etc/passwd", "'..'"),
        ("a/./b", "'.'"),
        (".", "'.'"),
        ("/etc/passwd", "absolute"),
        ("//server/share", "absolute"),
        ("a//b", "empty segment"),
        ("a/b/", "empty segment"),
        ("a\\..\\..\\windows", "backslash"),
        ("C:\\boot.ini", "backslash"),
        ("a\x00.jpg", "control character"),
        ("a\nb", "control character"),
        ("a\rb", "control character"),
        ("a\tb", "control character"),
        ("esc\x1b[31m", "control character"),
        ("del\x7f", "control character"),
        ("c1\x85", "control character"),
        ("lone\ud800surrogate", "control character"),
        ("x" * 256, "segment longer"),
        ("a/" * 600 + "b", "longer than 1024"),
    ],
)
def test_hostile_keys_are_refused(root: Path, key: str, reason: str) -> None:
    with pytest.raises(UnsafeKey, match=reason):
        resolve_key(root, key)


def test_unsafe_key_is_a_storage_error() -> None:
    assert issubclass(UnsafeKey, StorageError)


def test_symlink_inside_root_pointing_outside_is_refused(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    with pytest.raises(UnsafeKey, match="outside"):
        resolve_key(root, "escape/file.txt")
    with pytest.raises(UnsafeKey, match="outside"):
        resolve_key(root, "escape")


def test_symlinked_file_pointing_outside_is_refused(root: Path, tmp_path: Path) -> None:
    target = tmp_path / "passwd"
    target.write_text("secret")
    (root / "innocent.txt").symlink_to(target)
    with pytest.raises(UnsafeKey, match="outside"):
        resolve_key(root, "innocent.txt")


def test_symlink_staying_inside_root_is_allowed(root: Path) -> None:
    (root / "real").mkdir()
    (root / "alias").symlink_to(root / "real")
    assert resolve_key(root, "alias/file.txt") == root / "alias" / "file.txt"


def test_root_itself_reached_through_a_symlink_still_works(tmp_path: Path) -> None:
    real = tmp_path / "real-root"
    real.mkdir()
    link = tmp_path / "link-root"
    link.symlink_to(real)
    assert resolve_key(link, "a/b.txt") == link / "a" / "b.txt"


def test_segments_are_the_key_split_on_slashes() -> None:
    assert key_segments("proj/route/abc/photo.jpg") == ["proj", "route", "abc", "photo.jpg"]

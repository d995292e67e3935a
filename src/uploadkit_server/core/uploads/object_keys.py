"""Object keys: unique, unguessable, and never built from unsanitised user input.

``proj_x/imageUploader/q3k…/photo.jpg``; test-mode files live under ``proj_x/_test/…`` (route
slugs cannot start with ``_``, so the two never meet).
"""

from __future__ import annotations

import re
import unicodedata

from uploadkit_server.security import random_token

MAX_NAME_BYTES = 200
_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)


def sanitize_file_name(name: str) -> str:
    """A single safe path segment that keeps as much of the name as is harmless.

    >>> sanitize_file_name("../../etc/passwd")
    'passwd'
    >>> sanitize_file_name("my photo (1).JPG")
    'my_photo_1_.JPG'
    """
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip("._ ") or "file"
    while len(name.encode()) > MAX_NAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:-1] + dot + ext) if stem and len(ext) < 20 else name[:-1]
    return name


def build_object_key(*, project_id: str, route_slug: str, is_test: bool, file_name: str) -> str:
    mode = "_test/" if is_test else ""
    return f"{project_id}/{mode}{route_slug}/{random_token(16)}/{sanitize_file_name(file_name)}"

"""uvicorn's access log without the secrets in URLs.

A presigned URL is a bearer credential until it expires: whoever reads it from a log can PUT
to it. The filter rewrites the logged path so that the signature parts of our own signed URLs
(``signature=``, the ``/t/<signature>/`` of a signed variant) and of S3 presigned URLs
(``X-Amz-Signature``, ``X-Amz-Credential``, ``X-Amz-Security-Token``) read ``REDACTED``; the
rest of the line (method, key, expiry, status) stays for debugging.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

REDACTED = "REDACTED"

#: Query parameters that carry a signature or a credential, matched case-insensitively.
SECRET_PARAMS = ("signature", "x-amz-signature", "x-amz-credential", "x-amz-security-token")

_SECRET_QUERY = re.compile(
    r"(?P<name>(?:^|[?&;])(?:" + "|".join(re.escape(p) for p in SECRET_PARAMS) + r"))=[^&;#\s]*",
    re.IGNORECASE,
)
_SIGNED_VARIANT = re.compile(r"^/t/[^/?]+/")


def redact_url(path: str) -> str:
    """``/storage/k?expires=1&signature=abc`` → ``/storage/k?expires=1&signature=REDACTED``."""
    path = _SIGNED_VARIANT.sub(f"/t/{REDACTED}/", path)
    return _SECRET_QUERY.sub(lambda match: f"{match.group('name')}={REDACTED}", path)


class RedactSignatures(logging.Filter):
    """For the ``uvicorn.access`` logger: its records carry the path as the third argument
    (``client, method, path, http version, status``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_url(args[2]), *args[3:])
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's default logging, with the filter on the access log handler."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_signatures"] = {"()": RedactSignatures}
    config["handlers"]["access"].setdefault("filters", []).append("redact_signatures")
    return config

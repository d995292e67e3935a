"""Signatures out of logged URLs.

A presigned URL is a bearer credential until it expires: whoever reads it from a log can PUT
to it. ``redact_url`` rewrites a path so that the signature parts of our own signed URLs
(``signature=``, the ``/t/<signature>/`` of a signed variant) and of S3 presigned URLs
(``X-Amz-Signature``, ``X-Amz-Credential``, ``X-Amz-Security-Token``) read ``REDACTED``; the
rest (method, key, expiry, status) stays for debugging. Used by both log formats.
"""

from __future__ import annotations

import re

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

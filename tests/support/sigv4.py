"""Check an S3 presigned URL the way S3 does, written from the AWS SigV4 documentation.

moto does not check presigned signatures, so this is how the tests show that a URL is a real
SigV4 URL and what it binds: a request passes only with the method, key, query and the values of
every signed header that the URL was made for, before it expires.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, urlsplit


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def presigned_request_is_valid(
    url: str,
    *,
    method: str,
    headers: dict[str, str],
    secret_key: str,
    now: datetime | None = None,
) -> bool:
    """Would S3 accept ``method url`` sent with ``headers`` (``host`` is taken from the URL)?"""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    params = dict(query)
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
        return False
    signed_at = datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if (now or datetime.now(UTC)) > signed_at + timedelta(seconds=int(params["X-Amz-Expires"])):
        return False

    sent = {name.lower(): value.strip() for name, value in headers.items()}
    sent.setdefault("host", parts.netloc)
    signed_names = params["X-Amz-SignedHeaders"].split(";")
    if any(name not in sent for name in signed_names):
        return False
    canonical_query = "&".join(
        f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}"
        for name, value in sorted(query)
        if name != "X-Amz-Signature"
    )
    canonical_request = "\n".join(
        [
            method,
            parts.path,  # S3 signs the path exactly as sent, encoded once
            canonical_query,
            "".join(f"{name}:{sent[name]}\n" for name in signed_names),
            ";".join(signed_names),
            "UNSIGNED-PAYLOAD",
        ]
    )
    _access_key, scope = params["X-Amz-Credential"].split("/", 1)
    date, region, service, terminator = scope.split("/")
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            params["X-Amz-Date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = _hmac(("AWS4" + secret_key).encode(), date)
    for part in (region, service, terminator):
        key = _hmac(key, part)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, params.get("X-Amz-Signature", ""))

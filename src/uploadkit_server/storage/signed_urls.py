"""Presigned PUT URLs for the local backend: made and checked here, served by the storage endpoint.

    PUT {public_url}/storage/objects/{key}?expires=…&length=…&type=…[&checksum=…]&signature=…
    PUT {public_url}/storage/parts/{uploadId}/{partNumber}/{key}?expires=…&length=…&signature=…

``signature`` is an HMAC-SHA256 (``security.sign``) of the server's secret over the method, the
kind, the key, the upload id and part number, the content type, the length and the expiry, so
changing any of them, in the path or the query, breaks it. A URL made for a checksummed upload
also signs ``checksum`` (``sha256:<base64 digest>``): the body must hash to it to be stored.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote, urlencode

from uploadkit_server.security import sign, signatures_match
from uploadkit_server.storage.base import ContentChecksum, StorageError

MAX_EXPIRES_IN = 7 * 24 * 3600

_DIGITS = re.compile(r"[0-9]{1,19}")
_SIGNATURE_VERSION = "uploadkit-storage-v1"


class UrlRefused(StorageError):
    """The request does not match its signed URL: tampered, another key, type or length."""


class UrlExpired(UrlRefused):
    """The signed URL was genuine but its time is up."""


class PutKind(StrEnum):
    OBJECT = "objects"
    PART = "parts"


@dataclass(frozen=True, slots=True)
class PutGrant:
    """What a presigned PUT may store."""

    kind: PutKind
    key: str
    content_length: int
    content_type: str | None = None  # locked for objects; parts take any type, as on S3
    upload_id: str | None = None
    part_number: int | None = None
    #: What the body must hash to (objects only); ``None`` when the upload was not checksummed.
    checksum: ContentChecksum | None = None


def _checksum_param(checksum: ContentChecksum) -> str:
    return f"{checksum.algorithm}:{checksum.base64}"


def _parse_checksum(value: str) -> ContentChecksum:
    algorithm, _, encoded = value.partition(":")
    try:
        digest = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise UrlRefused("The URL's signed checksum is malformed") from None
    return ContentChecksum(algorithm=algorithm, digest=digest)


class UrlSigner:
    def __init__(
        self, secret_key: str, public_url: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._secret_key = secret_key
        self._public_url = public_url.rstrip("/")
        self._clock = clock

    def signature(self, grant: PutGrant, expires: int) -> str:
        # JSON keeps the fields unambiguous whatever characters a key or content type holds.
        fields: list[object] = [
            "PUT",
            grant.kind.value,
            grant.key,
            grant.upload_id or "",
            grant.part_number or 0,
            grant.content_type or "",
            grant.content_length,
            expires,
        ]
        if grant.checksum is not None:  # appended only when present: older URLs stay valid
            fields.append(_checksum_param(grant.checksum))
        payload = json.dumps(fields)
        return sign(self._secret_key, _SIGNATURE_VERSION, payload)

    def url(self, grant: PutGrant, expires_in: int) -> str:
        if not 1 <= expires_in <= MAX_EXPIRES_IN:
            raise ValueError(f"expires_in must be 1..{MAX_EXPIRES_IN} seconds")
        if grant.content_length < 0:
            raise ValueError("content_length must not be negative")
        expires = int(self._clock()) + expires_in
        params = {"expires": str(expires), "length": str(grant.content_length)}
        if grant.content_type is not None:
            params["type"] = grant.content_type
        if grant.checksum is not None:
            params["checksum"] = _checksum_param(grant.checksum)
        params["signature"] = self.signature(grant, expires)
        path = f"/storage/{grant.kind.value}/"
        if grant.kind is PutKind.PART:
            path += f"{grant.upload_id}/{grant.part_number}/"
        return f"{self._public_url}{path}{quote(grant.key, safe='/')}?{urlencode(params)}"

    def verify(
        self,
        kind: PutKind,
        key: str,
        query: Mapping[str, str],
        *,
        upload_id: str | None = None,
        part_number: int | None = None,
        content_type: str | None,
        content_length: str | None,
    ) -> PutGrant:
        """Check a PUT against its signed URL: signature first, then expiry, then the headers.

        ``content_type`` and ``content_length`` are the request's headers (``None`` if absent;
        a chunked body has no length and is held to the signed one while it streams).
        """
        length, expires = query.get("length", ""), query.get("expires", "")
        if not (_DIGITS.fullmatch(length) and _DIGITS.fullmatch(expires)):
            raise UrlRefused("The URL is missing its signed length or expiry")
        signed_type = query.get("type") if kind is PutKind.OBJECT else None
        if kind is PutKind.OBJECT and signed_type is None:
            raise UrlRefused("The URL is missing its signed content type")
        checksum = query.get("checksum")
        grant = PutGrant(
            kind=kind,
            key=key,
            content_length=int(length),
            content_type=signed_type,
            upload_id=upload_id if kind is PutKind.PART else None,
            part_number=part_number if kind is PutKind.PART else None,
            checksum=_parse_checksum(checksum) if checksum is not None else None,
        )
        if not signatures_match(self.signature(grant, int(expires)), query.get("signature", "")):
            raise UrlRefused("The URL's signature does not match this request")
        if self._clock() >= int(expires):
            raise UrlExpired("The upload URL has expired")
        if signed_type is not None and (content_type or "").strip() != signed_type:
            raise UrlRefused(f"Content-Type must be {signed_type!r}, as signed")
        if content_length is not None and content_length.strip() != length:
            raise UrlRefused(f"Content-Length must be {length}, as signed")
        return grant

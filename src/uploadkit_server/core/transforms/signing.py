"""Delivery URLs of variants and their signatures.

``/t/<sig>/<recipe>/<key>?exp=<unix seconds>`` (signed, expiring) and ``/p/<sig>/<recipe>/<key>``
(public, stable). The signature is an HMAC-SHA256 of the delivery kind, the exact canonical
recipe, the exact file key and (signed URLs) the expiry, under a key derived from the server's
secret for this purpose alone; changing any of them gives a different signature, so an edited
URL is refused before anything is looked up.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum
from urllib.parse import quote

from uploadkit_server.security import sign, signatures_match


class Delivery(StrEnum):
    SIGNED = "signed"
    PUBLIC = "public"


PATH_PREFIX = {Delivery.SIGNED: "t", Delivery.PUBLIC: "p"}


class SignatureRefused(Exception):
    """The URL's signature does not match, or its expiry is missing or malformed."""


class UrlExpired(SignatureRefused):
    """A signed URL past its ``exp``."""


class VariantSigner:
    """Signs and checks delivery URLs. ``secret`` is the server's secret key."""

    def __init__(self, secret: str) -> None:
        # Derived once: every variant request checks a signature with it.
        purpose = b"uploadkit transforms v1"
        self._key = hmac.new(secret.encode(), purpose, hashlib.sha256).hexdigest()

    def signature(self, delivery: Delivery, recipe: str, key: str, expires: int | None) -> str:
        return sign(self._key, PATH_PREFIX[delivery], recipe, key, str(expires or ""))

    def path(self, delivery: Delivery, recipe: str, key: str, expires: int | None) -> str:
        """The URL path (and query) of a variant, ready to append to the public URL."""
        sig = self.signature(delivery, recipe, key, expires)
        path = f"/{PATH_PREFIX[delivery]}/{sig}/{recipe}/{quote(key, safe='/')}"
        return f"{path}?exp={expires}" if delivery is Delivery.SIGNED else path

    def verify(
        self, delivery: Delivery, sig: str, recipe: str, key: str, exp: str | None, *, now: float
    ) -> None:
        """Raise ``SignatureRefused`` (``UrlExpired``) unless the URL is one this server made
        and, if signed, has not expired."""
        expires: int | None = None
        if delivery is Delivery.SIGNED:
            if exp is None or not exp.isdigit() or len(exp) > 12:
                raise SignatureRefused("the URL has no valid exp parameter")
            expires = int(exp)
        elif exp is not None:
            raise SignatureRefused("public URLs carry no exp parameter")
        if not signatures_match(self.signature(delivery, recipe, key, expires), sig):
            raise SignatureRefused("the signature does not match the URL")
        if expires is not None and now > expires:
            raise UrlExpired("the URL has expired")

"""Identifiers, API keys, client tokens, webhook secrets and HMAC signatures: the one module
where secrets are made or compared."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

API_KEY_PREFIXES = ("uk_live_", "uk_test_")
CLIENT_TOKEN_PREFIX = "ukct_"


def new_id(prefix: str) -> str:
    """An opaque, unguessable identifier with a type prefix: ``new_id("file") -> "file_3kQ…"``."""
    return f"{prefix}_{secrets.token_urlsafe(16).replace('-', 'a').replace('_', 'b')}"


def random_token(nbytes: int = 16) -> str:
    """URL- and path-safe random text (letters and digits only)."""
    return base64.b32encode(secrets.token_bytes(nbytes)).decode().rstrip("=").lower()


def generate_api_key(*, is_test: bool) -> str:
    return ("uk_test_" if is_test else "uk_live_") + secrets.token_urlsafe(32)


def generate_client_token() -> str:
    """A browser's upload token (``core/client_tokens``): stored, like API keys, as a hash."""
    return CLIENT_TOKEN_PREFIX + secrets.token_urlsafe(32)


def looks_like_client_token(value: str) -> bool:
    return value.startswith(CLIENT_TOKEN_PREFIX) and 20 <= len(value) <= 200 and value.isascii()


def generate_signing_key() -> str:
    """A project's Upstash-compatible webhook signing key (``sig_…``)."""
    return "sig_" + random_token(24)


def generate_webhook_secret() -> str:
    """A project's Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def hash_api_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def mask_api_key(plaintext: str) -> str:
    """What lists show: the mode prefix, four characters, and the last four."""
    prefix = plaintext[:8]
    return f"{prefix}{plaintext[8:12]}…{plaintext[-4:]}"


def looks_like_api_key(value: str) -> bool:
    return value.startswith(API_KEY_PREFIXES) and 16 <= len(value) <= 200 and value.isascii()


def sign(secret: str, *parts: str) -> str:
    """HMAC-SHA256 of the parts joined by newlines, base64url without padding."""
    message = "\n".join(parts).encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def signatures_match(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())

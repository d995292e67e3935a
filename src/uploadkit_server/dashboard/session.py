"""Dashboard sign-in state: a signed cookie, and CSRF tokens bound to a per-browser nonce.

The session cookie holds the account id, an expiry and a fingerprint of the password hash,
HMAC-signed with the server secret. It is ``HttpOnly`` and ``SameSite=Lax`` (``Secure`` when the
request came over HTTPS). Nothing is stored server-side: signing out deletes the cookie;
setting a new password (``uploadkit admin set-password``) ends every session of the account,
because the fingerprint no longer matches; otherwise a session ends after ``SESSION_LIFETIME``.

CSRF: every browser gets a random ``uk_csrf`` cookie; each form carries
``HMAC(secret, nonce)`` and a POST is accepted only when the two agree. Another site can make
the browser send the cookie but cannot read it, so it cannot forge the form field.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass

from uploadkit_server.security import sign, signatures_match

SESSION_COOKIE = "uk_session"
CSRF_COOKIE = "uk_csrf"
MODE_COOKIE = "uk_mode"
SESSION_LIFETIME = 12 * 3600


@dataclass(frozen=True, slots=True)
class SessionClaims:
    account_id: str
    password_fingerprint: str
    expires_at: int


def password_fingerprint(secret: str, password_hash: str | None) -> str:
    return sign(secret, "dashboard-password", password_hash or "")[:22]


def encode_session(secret: str, *, account_id: str, password_hash: str | None) -> str:
    claims = {
        "a": account_id,
        "p": password_fingerprint(secret, password_hash),
        "e": int(time.time()) + SESSION_LIFETIME,
    }
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{payload}.{sign(secret, 'dashboard-session', payload)}"


def decode_session(secret: str, cookie: str | None) -> SessionClaims | None:
    """The claims of a cookie this server signed and that has not expired, else None."""
    if not cookie or "." not in cookie or len(cookie) > 1000:
        return None
    payload, _, signature = cookie.rpartition(".")
    if not signatures_match(sign(secret, "dashboard-session", payload), signature):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        session = SessionClaims(
            account_id=str(claims["a"]),
            password_fingerprint=str(claims["p"]),
            expires_at=int(claims["e"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
    return session if session.expires_at > time.time() else None


def new_csrf_nonce() -> str:
    return secrets.token_urlsafe(24)


def csrf_token(secret: str, nonce: str) -> str:
    return sign(secret, "dashboard-csrf", nonce)


def csrf_ok(secret: str, nonce: str | None, token: str | None) -> bool:
    if not nonce or not token:
        return False
    return signatures_match(csrf_token(secret, nonce), token)

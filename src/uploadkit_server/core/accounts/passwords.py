"""Dashboard passwords: Argon2id hashes (argon2-cffi's defaults, RFC 9106 low-memory profile).

A wrong email and a wrong password cost the same (a hash is verified either way), so the
sign-in form does not reveal which accounts exist. Hashes made with older parameters are
upgraded on the next successful sign-in.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.core.accounts import repository
from uploadkit_server.db.models import Account
from uploadkit_server.errors import NotFound, Unauthorized, ValidationFailed

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024

_hasher = PasswordHasher()
#: Verified when the email is unknown, so both failures take as long.
_DUMMY_HASH = _hasher.hash("not a real password, only here to spend the same time")


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"Passwords need at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(f"Passwords are at most {MAX_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    check_password_rules(password)
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def set_password(session: AsyncSession, *, account: Account, password: str) -> None:
    """Set (or replace) the password; sessions signed for the old one stop working."""
    await repository.set_password_hash(session, account, hash_password(password))


async def set_password_by_email(session: AsyncSession, *, email: str, password: str) -> Account:
    account = await repository.find_by_email(session, email)
    if account is None:
        raise NotFound(f"No account with email {email}")
    await set_password(session, account=account, password=password)
    return account


async def verify_sign_in(session: AsyncSession, *, email: str, password: str) -> Account:
    """The account whose email and password these are; ``Unauthorized`` otherwise."""
    account = await repository.find_by_email(session, email.strip())
    if account is None or account.password_hash is None:
        _verify(_DUMMY_HASH, password)
        raise Unauthorized("Wrong email or password")
    if not _verify(account.password_hash, password):
        raise Unauthorized("Wrong email or password")
    if _hasher.check_needs_rehash(account.password_hash):
        await repository.set_password_hash(session, account, _hasher.hash(password))
    return account

"""Who is calling: the facts every service needs about the authenticated API key."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AuthContext:
    key_id: str
    key_hash: str
    account_id: str
    tier: str
    custom_rate_limit: int | None
    project_id: str
    is_test: bool

    @property
    def mode(self) -> str:
        return "test" if self.is_test else "live"

"""API key bodies and objects. Lists show the masked prefix only; the plaintext appears once, in
the response that created the key."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from uploadkit_server.core.schemas import CamelModel, StrictCamelModel, Timestamp


class ApiKeyCreate(StrictCamelModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    is_test: bool = False


class ApiKeyRead(CamelModel):
    id: str
    name: str
    key_prefix: str
    is_test: bool
    created_at: Timestamp
    last_used_at: Timestamp | None


class ApiKeyCreated(CamelModel):
    api_key: ApiKeyRead
    key: str


class Revoked(CamelModel):
    revoked: bool = True

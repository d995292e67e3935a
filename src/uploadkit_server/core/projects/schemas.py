"""Project bodies and the project object. Signing keys are never part of it: they have their own
endpoint (``GET /webhooks/signing-keys``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from uploadkit_server.core.schemas import CamelModel, StrictCamelModel, Timestamp

ProjectName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class ProjectCreate(StrictCamelModel):
    name: ProjectName


class ProjectUpdate(StrictCamelModel):
    name: ProjectName


class ProjectRead(CamelModel):
    id: str
    name: str
    slug: str
    created_at: Timestamp
    updated_at: Timestamp

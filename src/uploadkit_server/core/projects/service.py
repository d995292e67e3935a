"""Project rules: slug derived from the name and unique per account, tier project limit, and
deletion that leaves nothing behind (objects, files, keys, routes, deliveries).

A project belongs to one account; any key of that account may manage it. Another account's
project is ``NotFound``, exactly like a project that does not exist.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.core.auth.context import AuthContext
from uploadkit_server.core.auth.sandbox import LiveOnly, require_live
from uploadkit_server.core.files.repository import lock_files_of_project
from uploadkit_server.core.files.service import discard_files
from uploadkit_server.core.projects import repository
from uploadkit_server.core.tiers import limits_for
from uploadkit_server.db.models import Project
from uploadkit_server.errors import NotFound, TierLimitExceeded, upgrade_hint
from uploadkit_server.security import generate_signing_key, generate_webhook_secret, new_id
from uploadkit_server.storage.base import StorageBackend


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:80] or "project"


async def create_project(
    session: AsyncSession,
    *,
    account_id: str,
    name: str,
    billing_url: str | None = None,
    caller: AuthContext | None = None,
) -> Project:
    """``caller`` is the API key asking; ``None`` is the operator (``uploadkit admin``)."""
    if caller is not None:
        require_live(caller, LiveOnly.CREATE_PROJECT)
    account = await repository.lock_account(session, account_id)
    if account is None:
        raise NotFound("Account not found")
    limit = limits_for(account.tier).projects
    if limit is not None and await repository.count_projects(session, account_id) >= limit:
        raise TierLimitExceeded(
            f"Your {account.tier} plan allows {limit} projects",
            suggestion=upgrade_hint(billing_url),
        )
    base = slugify(name)
    slug, n = base, 1
    while await repository.slug_taken(session, account_id, slug):
        n += 1
        slug = f"{base}-{n}"
    project = Project(
        id=new_id("proj"),
        account_id=account_id,
        name=name,
        slug=slug,
        current_signing_key=generate_signing_key(),
        next_signing_key=generate_signing_key(),
        webhook_secret=generate_webhook_secret(),
    )
    await repository.add_project(session, project)
    return project


async def list_projects(session: AsyncSession, *, account_id: str) -> list[Project]:
    return await repository.list_projects(session, account_id)


async def get_project(session: AsyncSession, *, account_id: str, project_id: str) -> Project:
    project = await repository.get_project(session, account_id, project_id)
    if project is None:
        raise NotFound(f"No project {project_id}")
    return project


async def rename_project(
    session: AsyncSession, auth: AuthContext, *, project_id: str, name: str
) -> Project:
    """The slug stays: it was derived from the first name, and may be in use as an identifier."""
    project = await get_project(session, account_id=auth.account_id, project_id=project_id)
    require_live(auth, LiveOnly.UPDATE_PROJECT)
    await repository.rename_project(session, project, name)
    return project


async def delete_project(
    session: AsyncSession, auth: AuthContext, *, storage: StorageBackend, project_id: str
) -> None:
    """Delete the project and everything it owns.

    The account row is locked first, so no upload of this account can reserve storage while the
    project's files are released; then each file's object (and open multipart upload) is removed
    and its reservation given back, and the project row goes, cascading in the database to keys,
    routes, file records, upload events and webhook deliveries.
    """
    account_id = auth.account_id
    await get_project(session, account_id=account_id, project_id=project_id)  # 404 before 403
    require_live(auth, LiveOnly.DELETE_PROJECT)
    await repository.lock_account(session, account_id)
    project = await get_project(session, account_id=account_id, project_id=project_id)
    files = await lock_files_of_project(session, project.id)
    await discard_files(session, storage, files, delete_rows=False)  # the cascade deletes them
    await repository.delete_project_row(session, project.id)

"""What every dashboard page needs: the signed-in viewer, CSRF, rendering and redirects.

Pages act for the signed-in account only: every service call gets an ``AuthContext`` built
here from the account, one of *its* projects and the chosen mode, so the services' own
ownership checks apply exactly as they do for an API key of that project.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.api.deps import RuntimeDep, SessionDep
from uploadkit_server.core.accounts import repository as accounts_repository
from uploadkit_server.core.auth.context import AuthContext
from uploadkit_server.core.projects.service import get_project, list_projects
from uploadkit_server.dashboard.session import (
    CSRF_COOKIE,
    MODE_COOKIE,
    SESSION_COOKIE,
    csrf_ok,
    csrf_token,
    decode_session,
    new_csrf_nonce,
    password_fingerprint,
)
from uploadkit_server.db.models import Account, Project
from uploadkit_server.errors import Forbidden, UploadKitError
from uploadkit_server.runtime import Runtime
from uploadkit_server.security import signatures_match

templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")


def format_size(value: int | None) -> str:
    """``1536 -> "1.5 KB"``, with the binary units the API reads (``core/sizes.py``)."""
    if value is None:
        return "unlimited"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover - the loop returns at GB


templates.env.filters["size"] = format_size


class SignInRequired(Exception):
    """Raised by ``Viewer`` on a page that needs a signed-in account; becomes a redirect."""


async def redirect_to_sign_in(request: Request, exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/dashboard/signin?{urlencode({'next': target})}", status_code=303)


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def csrf_nonce(request: Request) -> str:
    """This browser's CSRF nonce; a new one (set on the response by ``render``) if it has none."""
    nonce = request.cookies.get(CSRF_COOKIE)
    if not nonce or len(nonce) > 100:
        nonce = getattr(request.state, "new_csrf_nonce", None) or new_csrf_nonce()
        request.state.new_csrf_nonce = nonce
    return nonce


def check_csrf(request: Request, secret: str, token: str | None) -> None:
    if not csrf_ok(secret, request.cookies.get(CSRF_COOKIE), token):
        raise Forbidden("The form expired or came from another site: reload the page and retry")


@dataclass
class Viewer:
    account: Account
    projects: list[Project]
    is_test: bool
    csrf: str

    @property
    def mode(self) -> str:
        return "test" if self.is_test else "live"

    def auth(self, project: Project) -> AuthContext:
        """The identity a service sees: this account, this project, the chosen mode."""
        return AuthContext(
            key_id="dashboard",
            key_hash="",
            account_id=self.account.id,
            tier=self.account.tier,
            custom_rate_limit=self.account.rate_limit,
            project_id=project.id,
            is_test=self.is_test,
        )

    def owner(self, project: Project) -> AuthContext:
        """The identity for changes to the account itself: the signed-in owner acts as a live
        key whatever the mode toggle shows, since the sandbox's limits are for test keys."""
        return replace(self.auth(project), is_test=False)

    async def project(self, session: AsyncSession, project_id: str) -> Project:
        return await get_project(session, account_id=self.account.id, project_id=project_id)


async def get_viewer(request: Request, runtime: RuntimeDep, session: SessionDep) -> Viewer:
    claims = decode_session(runtime.secret_key, request.cookies.get(SESSION_COOKIE))
    if claims is None:
        raise SignInRequired
    account = await accounts_repository.get_account(session, claims.account_id)
    if account is None or not signatures_match(
        password_fingerprint(runtime.secret_key, account.password_hash),
        claims.password_fingerprint,
    ):
        raise SignInRequired
    return Viewer(
        account=account,
        projects=await list_projects(session, account_id=account.id),
        is_test=request.cookies.get(MODE_COOKIE) == "test",
        csrf=csrf_token(runtime.secret_key, csrf_nonce(request)),
    )


ViewerDep = Annotated[Viewer, Depends(get_viewer)]

#: The CSRF token every dashboard form carries (``check_csrf``).
CsrfField = Annotated[str | None, Form(alias="csrf")]


@dataclass(frozen=True)
class ProjectPost:
    """A form posted on one of the viewer's projects, its CSRF token already checked: what
    every POST handler of a project page starts from."""

    viewer: Viewer
    project: Project
    session: AsyncSession
    runtime: Runtime

    @property
    def auth(self) -> AuthContext:
        return self.viewer.auth(self.project)

    @property
    def owner(self) -> AuthContext:
        return self.viewer.owner(self.project)

    def page(self, path: str) -> str:
        """A page of this project: ``post.page("routes")``."""
        return f"/dashboard/projects/{self.project.id}/{path}"


async def project_post(
    project_id: str,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    viewer: ViewerDep,
    csrf: CsrfField = None,
) -> ProjectPost:
    check_csrf(request, runtime.secret_key, csrf)
    project = await viewer.project(session, project_id)
    return ProjectPost(viewer=viewer, project=project, session=session, runtime=runtime)


ProjectPostDep = Annotated[ProjectPost, Depends(project_post)]


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
) -> HTMLResponse:
    values = {
        "notice": request.query_params.get("notice"),
        "error": request.query_params.get("error"),
        **context,
    }
    response = templates.TemplateResponse(request, template, values, status_code=status_code)
    new_nonce = getattr(request.state, "new_csrf_nonce", None)
    if new_nonce:
        response.set_cookie(
            CSRF_COOKIE, new_nonce, httponly=True, samesite="lax", secure=is_https(request)
        )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def back(url: str, *, notice: str | None = None, error: str | None = None) -> RedirectResponse:
    """Post/redirect/get: back to a page, with a message for it to show."""
    params = {k: v for k, v in (("notice", notice), ("error", error)) if v}
    return RedirectResponse(f"{url}?{urlencode(params)}" if params else url, status_code=303)


async def submit_form(
    session: AsyncSession, action: Awaitable[Response], *, refused: str
) -> Response:
    """Post/redirect/get for a form that calls a service.

    ``action`` validates the form with the API's schema, calls the service and answers with
    where the result shows (a redirect, or the page itself when it shows something only once).
    If the schema or a service rule refuses the form, nothing of it is kept and the browser goes
    back to ``refused`` with the reason.
    """
    try:
        return await action
    except ValidationError as error:
        await session.rollback()
        return back(refused, error=validation_message(error))
    except UploadKitError as error:
        await session.rollback()
        return back(refused, error=error.message)


def validation_message(error: ValidationError) -> str:
    """The first problems of a form, in words: "maxFileSize: must be like '4MB'"."""
    parts = []
    for item in error.errors()[:3]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
        message = str(item.get("msg", "is invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)

"""Dashboard pages about the account: sign-in and sign-out, the mode toggle, and projects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from uploadkit_server.api.deps import RequestRoute, RuntimeDep, SessionDep, StorageDep
from uploadkit_server.core.accounts.passwords import verify_sign_in
from uploadkit_server.core.projects import service as projects
from uploadkit_server.core.projects.schemas import ProjectCreate, ProjectUpdate
from uploadkit_server.dashboard.context import (
    CsrfField,
    ProjectPostDep,
    ViewerDep,
    back,
    check_csrf,
    csrf_nonce,
    is_https,
    render,
    submit_form,
)
from uploadkit_server.dashboard.session import (
    MODE_COOKIE,
    SESSION_COOKIE,
    SESSION_LIFETIME,
    csrf_token,
    encode_session,
)
from uploadkit_server.errors import UploadKitError

router = APIRouter(route_class=RequestRoute, prefix="/dashboard", include_in_schema=False)

#: Sign-in attempts per minute, per client address and per email (the limiter's window).
SIGN_IN_ATTEMPTS_PER_MINUTE = 10


def safe_next(target: str | None) -> str:
    """Only a dashboard path: a sign-in link must not send anyone to another site."""
    if target and target.startswith("/dashboard") and not target.startswith("//"):
        return target
    return "/dashboard/projects"


@router.get("")
async def home() -> RedirectResponse:
    return RedirectResponse("/dashboard/projects", status_code=303)


@router.get("/signin")
async def sign_in_form(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    return render(
        request,
        "signin.html",
        {
            "csrf": csrf_token(runtime.secret_key, csrf_nonce(request)),
            "next": safe_next(request.query_params.get("next")),
            "email": "",
        },
    )


@router.post("/signin")
async def sign_in(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: CsrfField = None,
    next_url: Annotated[str | None, Form(alias="next")] = None,
) -> Response:
    def again(message: str, status_code: int) -> HTMLResponse:
        context = {
            "csrf": csrf_token(runtime.secret_key, csrf_nonce(request)),
            "next": safe_next(next_url),
            "email": email,
            "error": message,
        }
        return render(request, "signin.html", context, status_code=status_code)

    try:
        check_csrf(request, runtime.secret_key, csrf)
    except UploadKitError as error:
        return again(error.message, error.status)
    client = request.client.host if request.client else "unknown"
    for bucket in (f"dashboard-signin:ip:{client}", f"dashboard-signin:email:{email.lower()}"):
        decision = await runtime.rate_limiter.hit(bucket, limit=SIGN_IN_ATTEMPTS_PER_MINUTE)
        if not decision.allowed:
            return again(f"Too many sign-in attempts. Retry in {decision.retry_after} seconds", 429)
    try:
        account = await verify_sign_in(session, email=email, password=password)
    except UploadKitError as error:
        return again(error.message, error.status)
    response = RedirectResponse(safe_next(next_url), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        encode_session(
            runtime.secret_key, account_id=account.id, password_hash=account.password_hash
        ),
        max_age=SESSION_LIFETIME,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/dashboard",
    )
    return response


@router.post("/signout")
async def sign_out(request: Request, runtime: RuntimeDep, csrf: CsrfField = None) -> Response:
    check_csrf(request, runtime.secret_key, csrf)
    response = RedirectResponse("/dashboard/signin?notice=Signed+out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/dashboard")
    return response


@router.post("/mode")
async def toggle_mode(
    request: Request,
    runtime: RuntimeDep,
    viewer: ViewerDep,
    csrf: CsrfField = None,
    back_to: Annotated[str | None, Form(alias="back")] = None,
) -> Response:
    """Switch between the live data and the sandbox (test-mode) data of every page."""
    check_csrf(request, runtime.secret_key, csrf)
    response = RedirectResponse(safe_next(back_to), status_code=303)
    response.set_cookie(
        MODE_COOKIE,
        "live" if viewer.is_test else "test",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/dashboard",
    )
    return response


@router.get("/projects")
async def project_list(request: Request, viewer: ViewerDep) -> HTMLResponse:
    return render(request, "projects.html", {"viewer": viewer, "page": "projects"})


@router.post("/projects")
async def project_create(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    viewer: ViewerDep,
    name: Annotated[str, Form()] = "",
    csrf: CsrfField = None,
) -> Response:
    check_csrf(request, runtime.secret_key, csrf)

    async def create() -> RedirectResponse:
        data = ProjectCreate.model_validate({"name": name})
        project = await projects.create_project(
            session,
            account_id=viewer.account.id,
            name=data.name,
            billing_url=runtime.settings.billing_url,
        )
        files = f"/dashboard/projects/{project.id}/files"
        return back(files, notice=f"Project {data.name} created")

    return await submit_form(session, create(), refused="/dashboard/projects")


@router.post("/projects/{project_id}/rename")
async def project_rename(post: ProjectPostDep, name: Annotated[str, Form()] = "") -> Response:
    async def rename() -> RedirectResponse:
        data = ProjectUpdate.model_validate({"name": name})
        await projects.rename_project(
            post.session, post.owner, project_id=post.project.id, name=data.name
        )
        return back("/dashboard/projects", notice=f"Renamed to {data.name}")

    return await submit_form(post.session, rename(), refused="/dashboard/projects")


@router.get("/projects/{project_id}/delete")
async def project_delete_confirm(
    project_id: str, request: Request, session: SessionDep, viewer: ViewerDep
) -> HTMLResponse:
    project = await viewer.project(session, project_id)
    context = {"viewer": viewer, "project": project, "page": "projects"}
    return render(request, "project_delete.html", context)


@router.post("/projects/{project_id}/delete")
async def project_delete(
    post: ProjectPostDep, storage: StorageDep, confirm: Annotated[str, Form()] = ""
) -> Response:
    project = post.project
    if confirm.strip() != project.name:
        return back(post.page("delete"), error="Type the project's name exactly to delete it")
    await projects.delete_project(post.session, post.owner, storage=storage, project_id=project.id)
    return back("/dashboard/projects", notice=f"Project {project.name} deleted")

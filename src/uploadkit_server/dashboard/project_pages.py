"""Dashboard pages of one project: file routes, files, API keys, webhooks, usage and logs.

Each handler is a thin translation of a form into a call of the same core service the API
endpoint calls; rules (validation, tiers, quotas, ownership) live only there.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from uploadkit_server.api.deps import RequestRoute, SessionDep, SettingsDep, StorageDep
from uploadkit_server.clock import utcnow
from uploadkit_server.core.client_tokens.schemas import ClientTokenCreate
from uploadkit_server.core.client_tokens.service import issue_token
from uploadkit_server.core.file_routes import service as file_routes
from uploadkit_server.core.file_routes.schemas import FileRouteCreate, FileRouteUpdate
from uploadkit_server.core.files import service as files
from uploadkit_server.core.files.schemas import file_read
from uploadkit_server.core.keys import service as keys
from uploadkit_server.core.logs.service import poll_events
from uploadkit_server.core.pagination import page_request
from uploadkit_server.core.usage.service import current_usage, usage_history
from uploadkit_server.core.webhooks import service as webhooks
from uploadkit_server.dashboard.context import (
    ProjectPostDep,
    ViewerDep,
    back,
    render,
    submit_form,
)

router = APIRouter(
    route_class=RequestRoute, prefix="/dashboard/projects/{project_id}", include_in_schema=False
)

FILES_PER_PAGE = 25
#: Files one dashboard upload token allows (the page mints a fresh one on every load).
DASHBOARD_TOKEN_FILES = 50


async def route_form(
    slug: Annotated[str, Form()] = "",
    max_file_size: Annotated[str, Form()] = "",
    max_file_count: Annotated[str, Form()] = "",
    allowed_types: Annotated[str, Form()] = "",
    webhook_url: Annotated[str, Form()] = "",
    type_check: Annotated[str, Form()] = "",
) -> dict[str, Any]:
    """The route form under the API's field names, for ``FileRouteCreate``/``FileRouteUpdate``.

    An empty field is left out: a new route gets the schema's default, an edited one keeps its
    value. An empty webhook URL is sent as ``None``, which removes the webhook.
    """
    types = [part.strip() for part in allowed_types.replace("\n", ",").split(",") if part.strip()]
    fields: dict[str, Any] = {
        "slug": slug.strip(),
        "maxFileSize": max_file_size.strip(),
        "maxFileCount": max_file_count.strip(),
        "allowedTypes": types,
        "typeCheck": type_check.strip(),
    }
    return {name: value for name, value in fields.items() if value} | {
        "webhookUrl": webhook_url.strip() or None
    }


RouteFormDep = Annotated[dict[str, Any], Depends(route_form)]


@router.get("/routes")
async def route_list(
    project_id: str, request: Request, session: SessionDep, viewer: ViewerDep
) -> HTMLResponse:
    project = await viewer.project(session, project_id)
    routes = await file_routes.list_routes(session, viewer.auth(project), project_id=project.id)
    context = {"viewer": viewer, "project": project, "routes": routes, "page": "routes"}
    return render(request, "routes.html", context)


@router.post("/routes")
async def route_create(post: ProjectPostDep, form: RouteFormDep) -> Response:
    async def create() -> RedirectResponse:
        data = FileRouteCreate.model_validate(form)
        await file_routes.create_route(
            post.session,
            post.owner,
            project_id=post.project.id,
            data=data,
            settings=post.runtime.settings,
        )
        return back(post.page("routes"), notice=f"Route {data.slug} created")

    return await submit_form(post.session, create(), refused=post.page("routes"))


@router.get("/routes/{route_id}/edit")
async def route_edit_form(
    project_id: str, route_id: str, request: Request, session: SessionDep, viewer: ViewerDep
) -> HTMLResponse:
    project = await viewer.project(session, project_id)
    route = await file_routes.get_route(
        session, viewer.auth(project), route_id=route_id, project_id=project.id
    )
    context = {"viewer": viewer, "project": project, "route": route, "page": "routes"}
    return render(request, "route_edit.html", context)


@router.post("/routes/{route_id}")
async def route_update(route_id: str, post: ProjectPostDep, form: RouteFormDep) -> Response:
    async def update() -> RedirectResponse:
        data = FileRouteUpdate.model_validate(form)
        route = await file_routes.update_route(
            post.session,
            post.owner,
            route_id=route_id,
            data=data,
            settings=post.runtime.settings,
            project_id=post.project.id,
        )
        return back(post.page("routes"), notice=f"Route {route.slug} saved")

    return await submit_form(post.session, update(), refused=post.page(f"routes/{route_id}/edit"))


@router.post("/routes/{route_id}/delete")
async def route_delete(route_id: str, post: ProjectPostDep) -> Response:
    await file_routes.delete_route(post.session, post.owner, route_id=route_id)
    return back(post.page("routes"), notice="Route deleted")


@router.get("/files")
async def file_list(
    project_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    viewer: ViewerDep,
    route: str | None = None,
    status: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    project = await viewer.project(session, project_id)
    auth = viewer.auth(project)
    routes = await file_routes.list_routes(session, auth, project_id=project.id)
    page = await files.list_files(
        session,
        auth,
        page=page_request(limit=FILES_PER_PAGE, cursor=cursor or None),
        status=status or None,
        route_slug=route or None,
    )
    shown = [file_read(file, cdn_base=settings.effective_cdn_url) for file in page.files]
    if q:  # a name filter over the page shown (the API has no name search)
        shown = [file for file in shown if q.lower() in file.file_name.lower()]
    upload_route = route or (routes[0].slug if routes else None)
    token = None
    if upload_route is not None:
        token = await issue_token(
            session,
            auth,
            body=ClientTokenCreate(route_slug=upload_route, max_file_count=DASHBOARD_TOKEN_FILES),
            with_key=False,
        )
    context: dict[str, Any] = {
        "viewer": viewer,
        "project": project,
        "page": "files",
        "routes": routes,
        "files": shown,
        "next_cursor": page.next_cursor,
        "filters": {"route": route or "", "status": status or "", "q": q or ""},
        "upload_route": upload_route,
        "upload_token": token.token if token else None,
    }
    return render(request, "files.html", context)


@router.post("/files/delete")
async def file_delete(
    post: ProjectPostDep,
    storage: StorageDep,
    key: Annotated[list[str] | None, Form()] = None,
) -> Response:
    if not key:
        return back(post.page("files"), error="Choose the files to delete")
    results = await files.delete_files(post.session, post.auth, storage=storage, keys=key[:100])
    deleted = sum(result.deleted for result in results)
    return back(post.page("files"), notice=f"Deleted {deleted} of {len(results)} files")


@router.get("/keys")
async def key_list(
    project_id: str, request: Request, session: SessionDep, viewer: ViewerDep
) -> HTMLResponse:
    project = await viewer.project(session, project_id)
    context = {
        "viewer": viewer,
        "project": project,
        "page": "keys",
        "keys": await keys.list_keys(session, viewer.auth(project), project_id=project.id),
        "created": None,
    }
    return render(request, "keys.html", context)


@router.post("/keys")
async def key_create(
    request: Request,
    post: ProjectPostDep,
    name: Annotated[str, Form(max_length=100)] = "",
    test: Annotated[str | None, Form()] = None,
) -> Response:
    """The new key is shown on this response only: it is stored as a hash."""

    async def create() -> Response:
        created = await keys.create_key(
            post.session,
            post.owner,
            project_id=post.project.id,
            name=name.strip(),
            is_test=test is not None,
            billing_url=post.runtime.settings.billing_url,
        )
        context = {
            "viewer": post.viewer,
            "project": post.project,
            "page": "keys",
            "keys": await keys.list_keys(post.session, post.auth, project_id=post.project.id),
            "created": created,
        }
        return render(request, "keys.html", context)

    return await submit_form(post.session, create(), refused=post.page("keys"))


@router.post("/keys/{key_id}/revoke")
async def key_revoke(key_id: str, post: ProjectPostDep) -> Response:
    revoked = await keys.revoke_key(post.session, post.owner, key_id=key_id)
    post.runtime.known_limits.forget(revoked.key_hash)
    return back(post.page("keys"), notice=f"Key {revoked.name} revoked")


@router.get("/webhooks")
async def webhook_list(
    project_id: str,
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    status: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    project = await viewer.project(session, project_id)
    auth = viewer.auth(project)
    context = {
        "viewer": viewer,
        "project": project,
        "page": "webhooks",
        "deliveries": await webhooks.list_deliveries(
            session, auth, status=status or None, limit=FILES_PER_PAGE, cursor=cursor or None
        ),
        "signing": await webhooks.signing_keys(session, auth),
        "status": status or "",
    }
    return render(request, "webhooks.html", context)


@router.get("/webhooks/{delivery_id}")
async def webhook_detail(
    project_id: str, delivery_id: str, request: Request, session: SessionDep, viewer: ViewerDep
) -> HTMLResponse:
    project = await viewer.project(session, project_id)
    delivery = await webhooks.get_delivery(session, viewer.auth(project), delivery_id=delivery_id)
    context = {"viewer": viewer, "project": project, "page": "webhooks", "delivery": delivery}
    return render(request, "webhook_detail.html", context)


@router.post("/webhooks/{delivery_id}/redeliver")
async def webhook_redeliver(delivery_id: str, post: ProjectPostDep) -> Response:
    await webhooks.redeliver(post.session, post.auth, delivery_id=delivery_id)
    return back(post.page(f"webhooks/{delivery_id}"), notice="Queued again")


@router.post("/webhooks/rotate/{what}")
async def webhook_rotate(what: str, post: ProjectPostDep) -> Response:
    here = post.page("webhooks")
    if what == "signing-keys":
        await webhooks.rotate_signing_keys(post.session, post.owner)
        return back(here, notice="Signing keys rotated")
    if what == "secret":
        await webhooks.rotate_webhook_secret(post.session, post.owner)
        return back(here, notice="Webhook secret rotated; the old one signs too for a while")
    return back(here, error="Nothing to rotate by that name")


@router.get("/usage")
async def usage_page(
    project_id: str, request: Request, session: SessionDep, viewer: ViewerDep
) -> HTMLResponse:
    project = await viewer.project(session, project_id)
    auth = viewer.auth(project)
    history = await usage_history(session, auth, months=12)
    peak = max([month.bytes_uploaded for month in history] + [1])
    context = {
        "viewer": viewer,
        "project": project,
        "page": "usage",
        "usage": await current_usage(session, auth),
        "history": history,
        "peak": peak,
    }
    return render(request, "usage.html", context)


@router.get("/logs")
async def logs_page(
    project_id: str,
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    cursor: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    project = await viewer.project(session, project_id)
    events = await poll_events(
        session,
        viewer.auth(project),
        since=utcnow() - timedelta(days=30),
        limit=100,
        cursor=cursor or None,
    )
    context = {"viewer": viewer, "project": project, "page": "logs", "events": events}
    return render(request, "logs.html", context)

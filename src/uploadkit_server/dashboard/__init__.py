"""The dashboard at ``/dashboard``: server-rendered pages over the same core services as the API.

``install_dashboard(app)`` mounts it with the public static files (``/static/uploadkit.js``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.staticfiles import StaticFiles

from uploadkit_server.api.error_handlers import error_response
from uploadkit_server.dashboard import account_pages, project_pages
from uploadkit_server.dashboard.context import SignInRequired, redirect_to_sign_in, render
from uploadkit_server.errors import UploadKitError

PUBLIC_STATIC = Path(__file__).resolve().parent.parent / "static"
DASHBOARD_STATIC = Path(__file__).resolve().parent / "static"
DASHBOARD_PREFIX = "/dashboard"


def install_dashboard(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=PUBLIC_STATIC), name="static")
    app.mount(
        f"{DASHBOARD_PREFIX}/static",
        StaticFiles(directory=DASHBOARD_STATIC),
        name="dashboard-static",
    )
    app.include_router(account_pages.router)
    app.include_router(project_pages.router)
    app.add_exception_handler(SignInRequired, redirect_to_sign_in)

    # Errors of dashboard pages are pages for people; the API's stay the SPEC's JSON envelope,
    # rendered by whatever handler the API installed.
    api_handler = app.exception_handlers.get(UploadKitError)

    async def on_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, UploadKitError)
        if request.url.path.startswith(f"{DASHBOARD_PREFIX}/"):
            context = {"error_code": exc.code, "message": exc.message, "hint": exc.suggestion}
            return render(request, "error.html", context, status_code=exc.status)
        if api_handler is None:
            return error_response(exc)
        response: Response = await api_handler(request, exc)  # type: ignore[misc]
        return response

    app.add_exception_handler(UploadKitError, on_error)

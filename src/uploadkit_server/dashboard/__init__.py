"""The dashboard at ``/dashboard``: server-rendered pages over the same core services as the API.

``install_dashboard(app)`` mounts it with the public static files (``/static/uploadkit.js``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from uploadkit_server.dashboard import account_pages, project_pages
from uploadkit_server.dashboard.context import SignInRequired, redirect_to_sign_in

PUBLIC_STATIC = Path(__file__).resolve().parent.parent / "static"
DASHBOARD_STATIC = Path(__file__).resolve().parent / "static"


def install_dashboard(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=PUBLIC_STATIC), name="static")
    app.mount("/dashboard/static", StaticFiles(directory=DASHBOARD_STATIC), name="dashboard-static")
    app.include_router(account_pages.router)
    app.include_router(project_pages.router)
    app.add_exception_handler(SignInRequired, redirect_to_sign_in)

"""Every route of the application runs its request in a unit of work of its own
(``api/deps.RequestRoute``): a router declared without that route class would give its
endpoints no request transaction, and ``SessionDep`` would refuse them."""

from __future__ import annotations

from fastapi.routing import APIRoute, iter_route_contexts

from uploadkit_server.api.deps import RequestRoute
from uploadkit_server.app import create_app
from uploadkit_server.settings import Settings


def test_every_route_runs_in_a_request_unit_of_work(tmp_path: object) -> None:
    app = create_app(Settings(data_dir=str(tmp_path)))
    routes = [
        context.original_route
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    ]
    assert len(routes) > 50
    outside = sorted(
        f"{sorted(route.methods or ())} {route.path}"
        for route in routes
        if not isinstance(route, RequestRoute)
    )
    # FastAPI's own: the root document serving the OpenAPI schema touches no database.
    assert outside == ["['GET'] /openapi.json"]

"""Every endpoint module, mounted in one place: the API under ``/api/v1``, and the public
storage and CDN endpoints (no API key) at the root."""

from __future__ import annotations

from uploadkit_server.api import (
    client_tokens,
    file_routes,
    files,
    health,
    keys,
    logs,
    metrics,
    projects,
    storage_endpoint,
    transforms,
    tus,
    upload,
    usage,
    webhooks,
)

# Requests are matched against the routers in this order, one route after another (a miss
# costs a few dozen function calls per route), so the busiest endpoints come first. Each is
# included into the app itself rather than under one ``/api/v1`` router: FastAPI checks the
# routes of every router on the way down on each request, and one level fewer is a whole
# walk of the API's routes fewer.
API_ROUTERS = (
    upload.router,
    files.router,
    client_tokens.router,
    file_routes.router,
    projects.router,
    keys.router,
    usage.router,
    logs.router,
    webhooks.router,
    transforms.router,
    tus.router,
)
PUBLIC_ROUTERS = (
    health.router,
    metrics.router,
    storage_endpoint.router,
    transforms.public_router,
)

"""Every endpoint module, mounted in one place: the API under ``/api/v1``, and the public
storage and CDN endpoints (no API key) at the root."""

from __future__ import annotations

from fastapi import APIRouter

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

# Requests are matched against the routes in this order, one after another (a miss costs a few
# dozen function calls per route), so the busiest endpoints come first.
api_router = APIRouter()
api_router.include_router(upload.router)
api_router.include_router(files.router)
api_router.include_router(client_tokens.router)
api_router.include_router(file_routes.router)
api_router.include_router(projects.router)
api_router.include_router(keys.router)
api_router.include_router(usage.router)
api_router.include_router(logs.router)
api_router.include_router(webhooks.router)
api_router.include_router(transforms.router)
api_router.include_router(tus.router)

public_router = APIRouter()
public_router.include_router(health.router)
public_router.include_router(metrics.router)
public_router.include_router(storage_endpoint.router)
public_router.include_router(transforms.public_router)

"""Every endpoint module, mounted in one place: the API under ``/api/v1``, and the public
storage and CDN endpoints (no API key) at the root."""

from __future__ import annotations

from fastapi import APIRouter

from uploadkit_server.api import file_routes, health, storage_endpoint, upload

api_router = APIRouter()
api_router.include_router(upload.router)
api_router.include_router(file_routes.router)

public_router = APIRouter()
public_router.include_router(health.router)
public_router.include_router(storage_endpoint.router)

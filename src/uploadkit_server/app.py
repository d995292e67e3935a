"""``create_app(settings)``: the ASGI application and the lifespan that builds its runtime."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from uploadkit_server.api.error_handlers import install_error_handlers
from uploadkit_server.api.idempotency import IdempotencyMiddleware
from uploadkit_server.api.middleware import (
    ApiBodyLimitMiddleware,
    HttpsRuleMiddleware,
    RejectNulMiddleware,
)
from uploadkit_server.api.observability import ObservabilityMiddleware, RouteTemplates
from uploadkit_server.api.openapi import install_openapi
from uploadkit_server.api.rate_limit_headers import RateLimitHeadersMiddleware
from uploadkit_server.api.router import API_ROUTERS, PUBLIC_ROUTERS
from uploadkit_server.api.tus import TUS_EXPOSED_HEADERS
from uploadkit_server.background import BackgroundWork
from uploadkit_server.core.transforms.delivery import create_transformer
from uploadkit_server.core.tus.factory import create_tus_store
from uploadkit_server.core.webhooks.wakeup import DeliveryWakeup
from uploadkit_server.dashboard import install_dashboard
from uploadkit_server.db.migrate import migrate
from uploadkit_server.db.session import create_engine, create_sessionmaker
from uploadkit_server.jobs.key_usage import flush_key_usage
from uploadkit_server.jobs.served_bytes import flush_served_bytes
from uploadkit_server.observability.metrics import Metrics
from uploadkit_server.ratelimit.factory import create_rate_limiter
from uploadkit_server.runtime import Runtime
from uploadkit_server.settings import LogFormat, Settings
from uploadkit_server.storage.factory import create_storage

API_PREFIX = "/api/v1"


async def build_runtime(settings: Settings) -> Runtime:
    """Open the database (migrating it), storage and rate limiter that a server needs."""
    settings.ensure_data_dir()
    secret_key = settings.resolved_secret_key()
    engine = create_engine(settings.effective_database_url)
    await migrate(engine)
    storage = create_storage(settings, secret_key=secret_key)
    delivery_wakeup = DeliveryWakeup()
    runtime = Runtime(
        settings=settings,
        secret_key=secret_key,
        engine=engine,
        sessionmaker=delivery_wakeup.wake_on_commit(create_sessionmaker(engine)),
        storage=storage,
        rate_limiter=create_rate_limiter(settings),
        delivery_wakeup=delivery_wakeup,
        tus_store=create_tus_store(settings, storage),
    )
    runtime.transformer = create_transformer(
        settings, secret_key=secret_key, sessionmaker=runtime.sessionmaker, storage=runtime.storage
    )
    return runtime


async def close_runtime(runtime: Runtime) -> None:
    with contextlib.suppress(Exception):  # best effort: lastUsedAt must not block a shutdown
        await flush_key_usage(runtime)
    with contextlib.suppress(Exception):
        await flush_served_bytes(runtime)
    await runtime.rate_limiter.close()
    if runtime.tus_store is not None:
        await runtime.tus_store.close()
    await runtime.storage.close()
    await runtime.engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await build_runtime(settings)
        app.state.runtime = runtime
        try:
            background = BackgroundWork.for_server(
                runtime, on_attempt=metrics.webhook_attempts_counted
            )
            app.state.background = background  # the tests wait on its dispatcher's claims
            async with background:
                yield
        finally:
            await close_runtime(runtime)

    metrics = Metrics()

    app = FastAPI(
        title="UploadKit server",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    install_error_handlers(app)
    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    for router in PUBLIC_ROUTERS:
        app.include_router(router)
    install_dashboard(app)  # /dashboard and /static (uploadkit.js)
    install_openapi(app)
    app.state.metrics = metrics
    # Middleware, innermost first: each ``add_middleware`` wraps everything added before it,
    # so the last one added sees a request first and its response last. A request passes
    # Observability → HTTPS rule → CORS → NUL check → body cap → idempotency → rate-limit
    # headers → the endpoint.
    # Innermost: sees the responses the error handlers render, adds X-RateLimit-* to them.
    app.add_middleware(RateLimitHeadersMiddleware)
    # Inside the body cap: replays a POST's kept response (with its X-RateLimit-* headers not
    # kept: a replay is not counted), tus uploads excepted.
    app.add_middleware(
        IdempotencyMiddleware, prefix=f"{API_PREFIX}/", exempt=(f"{API_PREFIX}/tus",)
    )
    # Caps API bodies before anything inside reads one; tus PATCH bodies are upload bytes,
    # capped by the upload's length instead.
    app.add_middleware(ApiBodyLimitMiddleware, exempt=(f"{API_PREFIX}/tus",))
    # Refuses a NUL in the path or query before any endpoint (or the database) sees it.
    app.add_middleware(RejectNulMiddleware)
    # Outside the checks above, so their refusals carry CORS headers a browser can read.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=[
            "ETag",
            "Content-Length",
            "Content-Range",
            "Accept-Ranges",
            "Last-Modified",
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "Retry-After",
            "X-Request-Id",
            *TUS_EXPOSED_HEADERS,
        ],
        max_age=600,
    )
    # Before everything but the metrics: plain HTTP is refused before any other work.
    app.add_middleware(
        HttpsRuleMiddleware, rule=settings.require_https, trusted_proxies=settings.trusted_proxies
    )
    # Outermost: times and counts every answer, the HTTPS rule's refusals included.
    app.add_middleware(
        ObservabilityMiddleware,
        metrics=metrics,
        templates=RouteTemplates(app),
        trusted_proxies=settings.trusted_proxies,
        access_log=settings.log_format is LogFormat.JSON,
    )
    return app

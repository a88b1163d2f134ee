"""Builds the FastAPI app: settings, database, services and routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Optional

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError
from threadpoolctl import threadpool_limits

from api.body_limit import BodySizeLimitMiddleware
from api.config import Settings, get_settings
from api.db import Database, run_migrations
from api.openapi_responses import document_common_responses
from api.routes import (
    agent_socket,
    agents,
    analytics,
    auth,
    chat,
    handoffs,
    health,
    webhook,
    widget,
)
from api.routes import canned as canned_routes
from api.routes import console as console_routes
from api.routes import customers as customer_routes
from api.routes import goodwill as goodwill_routes
from api.routes import outages as outage_routes
from api.routes import parts as part_routes
from api.routes import tickets as ticket_routes
from api.routes import visits as visit_routes
from api.security_headers import SecurityHeadersMiddleware
from api.services.errors import ServiceError
from api.services.seed import load_seed
from api.wiring import start_services

logger = logging.getLogger(__name__)


async def _load_demo_data(database: Database) -> None:
    # Several workers may start at once; the loser of that race finds the rows there.
    try:
        async with database.session() as session:
            await load_seed(session=session)
    except IntegrityError:
        logger.info("Demo data was loaded by another process.")


def validation_detail(message: str) -> list[dict[str, Any]]:
    """A 422's `detail` in the one shape every 422 has (FastAPI's validation errors)."""
    return [{"type": "value_error", "loc": ["body"], "msg": message}]


def create_app(settings: Optional[Settings] = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # NumPy's work in this process (the sentence encoder) is one short message
        # at a time; a second BLAS thread only spins between messages and takes
        # CPU from the event loop (docs/performance.md).
        threadpool_limits(limits=1, user_api="blas")
        await asyncio.to_thread(run_migrations, settings)
        services = await start_services(settings)
        if settings.environment != "production":
            await _load_demo_data(services.database)
        app.state.services = services
        app.state.executor = webhook.build_action_executor(services)
        watcher = asyncio.create_task(services.desk.watch_waits())
        recovering = asyncio.create_task(services.recovery.watch())
        logger.info("Support assistant API ready on %s:%s", settings.host, settings.port)
        try:
            yield
        finally:
            # The watchers end (and roll back what they were writing) before the
            # database they use is closed: a rollback on a closed engine never returns.
            watcher.cancel()
            recovering.cancel()
            await asyncio.gather(watcher, recovering, return_exceptions=True)
            await services.close()

    app = FastAPI(
        title="Support assistant API",
        summary="Chat gateway, action webhook and service operations of the support assistant.",
        version="0.1.0",
        lifespan=lifespan,
    )

    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_request_bytes,
        webhook_max_bytes=settings.max_webhook_bytes,
    )
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: on every answer, 413s too

    app.include_router(health.router)
    app.include_router(webhook.router)
    app.include_router(chat.router)
    app.include_router(auth.router)
    app.include_router(agents.router)
    app.include_router(handoffs.router)
    app.include_router(agent_socket.router)
    app.include_router(canned_routes.router)
    app.include_router(console_routes.router)
    app.include_router(widget.router)
    app.include_router(analytics.router)
    app.include_router(analytics.page_router)
    for operations in (
        customer_routes,
        ticket_routes,
        part_routes,
        visit_routes,
        outage_routes,
        goodwill_routes,
    ):
        app.include_router(operations.router)

    @app.exception_handler(ServiceError)
    async def refused(request: Request, error: ServiceError) -> JSONResponse:
        detail: Any = error.reason
        if error.status_code == 422:
            detail = validation_detail(error.reason)
        return JSONResponse(
            status_code=error.status_code, content={"detail": detail, **error.extra}
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if error.status_code == 422 and isinstance(error.detail, str):
            return JSONResponse(
                status_code=422,
                content={"detail": validation_detail(error.detail)},
                headers=error.headers,
            )
        return await http_exception_handler(request, error)

    @app.exception_handler(IntegrityError)
    async def conflicting(request: Request, error: IntegrityError) -> JSONResponse:
        # Two requests raced for the same row (e.g. the same Idempotency-Key at once):
        # the loser is told to retry, and a retry finds the winner's result.
        logger.info("Conflicting concurrent write on %s", request.url.path)
        return JSONResponse(
            status_code=409,
            content={
                "detail": "This request conflicted with another one made at the same "
                "time. Please retry it."
            },
        )

    document_common_responses(app)
    app.mount("/widget", StaticFiles(directory=settings.widget_dir), name="widget")
    return app


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory api.main:app_factory`."""
    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return create_app(settings)

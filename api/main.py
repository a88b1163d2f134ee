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
from rasa_sdk.executor import ActionExecutor
from sqlalchemy.exc import IntegrityError
from threadpoolctl import threadpool_limits

from api.body_limit import BodySizeLimitMiddleware
from api.config import Settings, get_settings
from api.db import database, run_migrations
from api.openapi_responses import document_common_responses
from api.routes import agent_socket, agents, auth, chat, handoffs, health, webhook, widget
from api.routes import customers as customer_routes
from api.routes import goodwill as goodwill_routes
from api.routes import outages as outage_routes
from api.routes import parts as part_routes
from api.routes import tickets as ticket_routes
from api.routes import visits as visit_routes
from api.runtime import runtime
from api.security_headers import SecurityHeadersMiddleware
from api.services import agents as agent_accounts
from api.services.chat_gateway import ChatGateway
from api.services.diagnosis import DiagnosisService
from api.services.errors import ServiceError
from api.services.handoff_desk import HandoffDesk
from api.services.handoffs import staff_for
from api.services.hub import ConversationHub, RedisHub
from api.services.limits import Limits
from api.services.presence import AgentPresence, RedisPresence
from api.services.rasa_client import RasaClient
from api.services.recovery import UnansweredMessages
from api.services.seed import load_seed

logger = logging.getLogger(__name__)


def build_action_executor() -> ActionExecutor:
    # register_package exits the process on an import error: doing it at
    # start-up makes a broken action fail loudly, once.
    executor = ActionExecutor()
    executor.register_package("actions")
    return executor


async def resolve_staff(token: str):  # type: ignore[no-untyped-def]
    """The staff member signed in with this console session token, if any."""
    async with database.session() as session:
        agent = await agent_accounts.agent_for_token(session=session, token=token)
        return staff_for(agent) if agent is not None else None


async def _load_demo_data() -> None:
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
        database.connect(settings)
        if settings.environment != "production":
            await _load_demo_data()
        rasa = RasaClient(
            base_url=settings.rasa_url,
            jwt_secret=settings.rasa_jwt_secret,
            timeout_seconds=settings.rasa_timeout_seconds,
            max_in_flight=settings.rasa_max_in_flight,
        )
        hub: ConversationHub
        presence: AgentPresence
        if settings.redis_url:
            # Several API workers: frames and presence travel through Redis.
            hub = RedisHub(settings.redis_url)
            presence = RedisPresence(settings.redis_url, worker_id=hub.worker_id)
        else:
            hub, presence = ConversationHub(), AgentPresence()
        await hub.start()
        await presence.start(hub)
        desk = HandoffDesk(
            database=database,
            hub=hub,
            presence=presence,
            rasa=rasa,
            wait_limit_seconds=settings.handoff_wait_limit_seconds,
        )
        diagnosis = DiagnosisService(settings)
        app.state.settings = settings
        app.state.rasa = rasa
        app.state.hub = hub
        app.state.presence = presence
        app.state.desk = desk
        app.state.diagnosis = diagnosis
        app.state.gateway = ChatGateway(
            database=database,
            rasa=rasa,
            hub=hub,
            desk=desk,
            lease_seconds=settings.answer_lease,
            max_age_seconds=settings.unanswered_max_age_seconds,
        )
        app.state.recovery = UnansweredMessages(
            database=database,
            gateway=app.state.gateway,
            rasa=rasa,
            check_seconds=settings.recovery_check_seconds,
        )
        app.state.limits = Limits(settings)
        app.state.executor = build_action_executor()
        app.state.staff_resolver = resolve_staff
        runtime.settings = settings
        runtime.diagnosis = diagnosis
        runtime.rasa = rasa
        runtime.desk = desk
        watcher = asyncio.create_task(desk.watch_waits())
        recovering = asyncio.create_task(app.state.recovery.watch())
        logger.info("Support assistant API ready on %s:%s", settings.host, settings.port)
        try:
            yield
        finally:
            watcher.cancel()
            recovering.cancel()
            await app.state.recovery.stop()
            await app.state.limits.close()
            await presence.stop()
            await hub.stop()
            await rasa.close()
            await database.disconnect()

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
    app.include_router(widget.router)
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

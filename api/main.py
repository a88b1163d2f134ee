"""Builds the FastAPI app: settings, database, services and routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Optional

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from rasa_sdk.executor import ActionExecutor

from api.config import Settings, get_settings
from api.db import database, run_migrations
from api.routes import chat, health, webhook, widget
from api.runtime import runtime
from api.services.chat_gateway import ChatGateway
from api.services.diagnosis import DiagnosisService
from api.services.hub import ConversationHub
from api.services.rasa_client import RasaClient

logger = logging.getLogger(__name__)


def build_action_executor() -> ActionExecutor:
    # register_package exits the process on an import error: doing it at
    # start-up makes a broken action fail loudly, once.
    executor = ActionExecutor()
    executor.register_package("actions")
    return executor


def create_app(settings: Optional[Settings] = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(run_migrations, settings)
        database.connect(settings)
        rasa = RasaClient(
            base_url=settings.rasa_url,
            jwt_secret=settings.rasa_jwt_secret,
            timeout_seconds=settings.rasa_timeout_seconds,
        )
        diagnosis = DiagnosisService(settings)
        hub = ConversationHub()
        app.state.settings = settings
        app.state.rasa = rasa
        app.state.hub = hub
        app.state.diagnosis = diagnosis
        app.state.gateway = ChatGateway(database=database, rasa=rasa, hub=hub)
        app.state.executor = build_action_executor()
        runtime.settings = settings
        runtime.diagnosis = diagnosis
        runtime.rasa = rasa
        logger.info("Support assistant API ready on %s:%s", settings.host, settings.port)
        try:
            yield
        finally:
            await rasa.close()
            await database.disconnect()

    app = FastAPI(
        title="Support assistant API",
        summary="Chat gateway, action webhook and service operations of the support assistant.",
        version="0.1.0",
        lifespan=lifespan,
    )

    @app.middleware("http")
    async def security_headers(request: Request, call_next) -> Response:  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    app.include_router(health.router)
    app.include_router(webhook.router)
    app.include_router(chat.router)
    app.include_router(widget.router)
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

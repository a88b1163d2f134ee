"""`GET /health`: is the database reachable, is Rasa up, is a model loaded?"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.runtime import runtime

router = APIRouter()


@router.get(
    "/health",
    summary="Readiness of the assistant and its dependencies",
    responses={503: {"description": "The database, Rasa or its model is not ready (same body)."}},
)
async def health(request: Request) -> JSONResponse:
    database_ok = await runtime.database.is_reachable()
    rasa_status = await request.app.state.rasa.status()
    library = request.app.state.diagnosis.library
    body = {
        "status": "ok",
        "database": database_ok,
        "rasa": rasa_status.reachable,
        "model_loaded": rasa_status.model_loaded,
        "flows": len(library.flows()),
        "flows_error": library.last_error,
        # This worker's messages with Rasa and waiting for a turn (RASA_MAX_IN_FLIGHT).
        "assistant_queue": request.app.state.rasa.queue(),
    }
    healthy = database_ok and rasa_status.reachable and rasa_status.model_loaded
    if not healthy:
        body["status"] = "unavailable"
    return JSONResponse(body, status_code=200 if healthy else 503)

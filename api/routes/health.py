"""`GET /health`: is the database reachable, is Rasa up, is a model loaded?"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ServicesDep

router = APIRouter()


@router.get(
    "/health",
    summary="Readiness of the assistant and its dependencies",
    responses={503: {"description": "The database, Rasa or its model is not ready (same body)."}},
)
async def health(services: ServicesDep) -> JSONResponse:
    database_ok = await services.database.is_reachable()
    rasa_status = await services.rasa.status()
    library = services.diagnosis.library
    body = {
        "status": "ok",
        "database": database_ok,
        "rasa": rasa_status.reachable,
        "model_loaded": rasa_status.model_loaded,
        "flows": len(library.flows()),
        # An edit that `make validate` rejects is not loaded: the first error
        # with file:line, then all of them. The last good flows stay live.
        "flows_error": library.last_error,
        "flows_errors": library.errors,
        # This worker's messages with Rasa and waiting for a turn (RASA_MAX_IN_FLIGHT).
        "assistant_queue": services.rasa.queue(),
    }
    healthy = database_ok and rasa_status.reachable and rasa_status.model_loaded
    if not healthy:
        body["status"] = "unavailable"
    return JSONResponse(body, status_code=200 if healthy else 503)

"""`POST /webhook`: Rasa's action endpoint, served by rasa_sdk's ActionExecutor.

Errors use rasa_sdk's own shape (`{"error", "action_name"}`) because Rasa
reads `action_name` from it.
"""

from __future__ import annotations

import hmac
import json
import logging
import zlib
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException

from actions import register_actions
from api.config import Settings
from api.deps import SettingsDep
from api.wiring import Services

logger = logging.getLogger(__name__)
router = APIRouter()


def build_action_executor(services: Services) -> ActionExecutor:
    """The executor with every action in `actions/`, each given the app's services.

    Built at start-up (api/main.py), so a broken action fails loudly, once.
    """
    executor = ActionExecutor()
    register_actions(executor, services)
    return executor


def _executor(request: Request) -> ActionExecutor:
    return request.app.state.executor


ExecutorDep = Annotated[ActionExecutor, Depends(_executor)]


def _authorised(request: Request, settings: Settings) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if not token or not settings.action_token:
        return False  # an empty token never authorises anything
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.encode(), settings.action_token.encode()
    )


async def _read_limited(request: Request, limit: int) -> bytes | None:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)


@router.post("/webhook", include_in_schema=False)
async def run_action(
    request: Request, settings: SettingsDep, executor: ExecutorDep
) -> JSONResponse:
    if not _authorised(request, settings):
        return JSONResponse({"error": "Not authorised to run actions."}, status_code=401)
    raw = await _read_limited(request, settings.max_webhook_bytes)
    if raw is None:
        return JSONResponse({"error": "Request body too large."}, status_code=413)
    try:
        if request.headers.get("content-encoding") == "deflate":
            inflater = zlib.decompressobj()
            raw = inflater.decompress(raw, settings.max_webhook_bytes * 10)
            if inflater.unconsumed_tail:
                return JSONResponse({"error": "Request body too large."}, status_code=413)
        action_call = json.loads(raw)
    except (zlib.error, ValueError):
        return JSONResponse({"error": "Invalid body request"}, status_code=400)
    if not isinstance(action_call, dict) or not isinstance(action_call.get("tracker"), dict):
        return JSONResponse({"error": "Invalid body request"}, status_code=400)
    try:
        result = await executor.run(action_call)
    except ActionExecutionRejection as error:
        return JSONResponse(
            {"error": error.message, "action_name": error.action_name}, status_code=400
        )
    except ActionNotFoundException as error:
        logger.error("Rasa asked for an unknown action: %s", error.action_name)
        return JSONResponse(
            {"error": error.message, "action_name": error.action_name}, status_code=404
        )
    return JSONResponse(result or {"events": [], "responses": []})

"""Rasa input channel for the API gateway: the REST channel behind a JWT.

Rasa's stock REST channel accepts anyone who can reach the port. The gateway is
the only client we want, so this channel refuses requests without a JWT signed
with the same secret that protects Rasa's HTTP API (`--jwt-secret`).
Imported by the Rasa server only (see bot/credentials.yml).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Optional

import jwt
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.rasa import rasa_tuning

logger = logging.getLogger(__name__)

rasa_tuning.apply()


class GatewayInput(RestInput):
    """REST channel that only answers the API gateway."""

    @classmethod
    def name(cls) -> str:
        return "gateway"

    @classmethod
    def from_credentials(cls, credentials: Optional[dict[str, Any]]) -> GatewayInput:
        secret = (credentials or {}).get("jwt_secret") or ""
        if not secret:
            raise ValueError("The gateway channel needs a JWT secret (RASA_JWT_SECRET).")
        return cls(jwt_secret=secret)

    def __init__(self, jwt_secret: str) -> None:
        self.jwt_secret = jwt_secret

    def _is_authorised(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, supplied = header.partition(" ")
        if scheme.lower() != "bearer" or not supplied:
            return False
        try:
            claims = jwt.decode(supplied, self.jwt_secret, algorithms=["HS256"])
        except jwt.PyJWTError:
            return False
        return claims.get("user", {}).get("role") == "admin"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook = Blueprint("gateway_webhook", __name__)

        @webhook.listener("after_server_start")
        async def settle(_app: Any, _loop: Any) -> None:
            # The model was loaded by Rasa's `before_server_start` listener.
            rasa_tuning.settle_after_loading()

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self._is_authorised(request):
                return response.json({"error": "unauthorised"}, status=401)
            body = request.json if isinstance(request.json, dict) else {}
            sender_id = body.get("sender")
            text = body.get("message")
            if not isinstance(sender_id, str) or not isinstance(text, str):
                return response.json({"error": "sender and message are required"}, status=400)
            collector = CollectingOutputChannel()
            try:
                await on_new_message(
                    UserMessage(
                        text,
                        collector,
                        sender_id,
                        input_channel=self.name(),
                        metadata=body.get("metadata"),
                    )
                )
            except Exception:  # noqa: BLE001 - reported to the gateway as a 500
                logger.exception("The message of conversation %s failed.", sender_id)
                return response.json({"error": "processing failed"}, status=500)
            return response.json(collector.messages)

        return webhook

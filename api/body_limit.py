"""Refuses request bodies over the size limit before they are read (413).

A declared `Content-Length` over the limit is refused at once, without
reading a byte of the body; a body sent in chunks is counted as it arrives
and refused as soon as it passes the limit. Either way at most the limit is
ever held in memory. A plain ASGI middleware, like api/security_headers.py.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOO_LARGE = "The request body is too large: at most {limit} bytes."


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, webhook_max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Rasa's action calls carry the conversation's tracker (MAX_WEBHOOK_BYTES).
        self.webhook_max_bytes = webhook_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.webhook_max_bytes if scope["path"] == "/webhook" else self.max_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return

        received = 0
        responded = False

        async def counted_receive() -> Message:
            nonlocal received, responded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not responded:
                        responded = True
                        await _refuse(send, limit)
                    # The app stops reading, as if the client had gone.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal responded
            if message["type"] == "http.response.start":
                if responded:
                    return
                responded = True
            elif received > limit:
                return  # the 413 went out instead
            await send(message)

        await self.app(scope, counted_receive, guarded_send)


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"detail": TOO_LARGE.format(limit=limit)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

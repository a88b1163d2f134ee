"""Adds the browser security headers to every HTTP response of the API.

A plain ASGI middleware: it only touches the `http.response.start` message.
FastAPI's `@app.middleware("http")` would run every request, the action calls
from Rasa included, through a task group and in-memory streams, which cost
about a millisecond of CPU per request on this workload.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

# Staff pages: only our own scripts, styles and connections, and never inside a frame
# (a framed console could be clicked through by another site).
STAFF_PAGE_POLICY = (
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
STAFF_PAGES = ("/console", "/analytics")
# The API's own documentation pages load FastAPI's Swagger and ReDoc bundles, so only
# framing is forbidden there.
DOCS_PAGES = ("/docs", "/redoc")
NOT_IN_FRAMES = "frame-ancestors 'none'"


def page_headers(path: str) -> dict[str, str]:
    """The headers a page at `path` gets besides SECURITY_HEADERS.

    The demo page and the widget are meant for customers' own sites, whose
    policy decides (docs/widget.md says what it must allow)."""
    if path in STAFF_PAGES:
        return {"Content-Security-Policy": STAFF_PAGE_POLICY, "X-Frame-Options": "DENY"}
    if path in DOCS_PAGES:
        return {"Content-Security-Policy": NOT_IN_FRAMES, "X-Frame-Options": "DENY"}
    return {}


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        extra = page_headers(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                for name, value in extra.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)

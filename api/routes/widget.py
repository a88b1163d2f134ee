"""Pages: the demo support page at `/`, the agent console at `/console`, files under `/widget/`."""

from __future__ import annotations

from typing import Union

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse

from api.deps import SESSION_COOKIE

router = APIRouter()


@router.get("/", include_in_schema=False)
async def demo_page(request: Request) -> FileResponse:
    page = request.app.state.settings.widget_dir / "index.html"
    if not page.is_file():
        raise HTTPException(status_code=404, detail="The demo page is missing.")
    return FileResponse(page, media_type="text/html")


@router.get("/console", include_in_schema=False, response_model=None)
async def agent_console(request: Request) -> Union[FileResponse, RedirectResponse]:
    token = request.cookies.get(SESSION_COOKIE)
    resolver = getattr(request.app.state, "staff_resolver", None)
    if token and resolver is not None:
        staff = await resolver(token)
        if staff is not None and not staff.sees_customers:
            # Trainers have no chats: their page is the analytics page.
            return RedirectResponse("/analytics", status_code=303)
    page = request.app.state.settings.widget_dir / "console.html"
    if not page.is_file():
        raise HTTPException(status_code=404, detail="The agent console is missing.")
    return FileResponse(page, media_type="text/html")

"""Pages: the demo support page at `/`, the agent console at `/console`, files under `/widget/`."""

from __future__ import annotations

from typing import Optional, Union

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse

from api.deps import SESSION_COOKIE, ServicesDep, SettingsDep, resolve_staff
from bot.language import normalise

router = APIRouter()

# The demo page in each language: `/` (English text; the widget follows the browser's
# language) and `/?lang=de` (German text and a German widget).
DEMO_PAGES = {"en": "index.html", "de": "index.de.html"}


@router.get("/", include_in_schema=False)
async def demo_page(settings: SettingsDep, lang: Optional[str] = None) -> FileResponse:
    name = DEMO_PAGES.get(normalise(lang) or "en", DEMO_PAGES["en"])
    page = settings.widget_dir / name
    if not page.is_file():
        raise HTTPException(status_code=404, detail="The demo page is missing.")
    return FileResponse(page, media_type="text/html")


@router.get("/console", include_in_schema=False, response_model=None)
async def agent_console(
    request: Request, services: ServicesDep
) -> Union[FileResponse, RedirectResponse]:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        staff = await resolve_staff(services, token)
        if staff is not None and not staff.sees_customers:
            # Trainers have no chats: their page is the analytics page.
            return RedirectResponse("/analytics", status_code=303)
    page = services.settings.widget_dir / "console.html"
    if not page.is_file():
        raise HTTPException(status_code=404, detail="The agent console is missing.")
    return FileResponse(page, media_type="text/html")

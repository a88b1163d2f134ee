"""Pages: the demo support page at `/`, the agent console at `/console`, files under `/widget/`."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from api.deps import SettingsDep
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


@router.get("/console", include_in_schema=False)
async def agent_console(settings: SettingsDep) -> FileResponse:
    page = settings.widget_dir / "console.html"
    if not page.is_file():
        raise HTTPException(status_code=404, detail="The agent console is missing.")
    return FileResponse(page, media_type="text/html")

"""Pages: the demo support page at `/`, the agent console at `/console`, files under `/widget/`."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from api.deps import SettingsDep

router = APIRouter()


@router.get("/", include_in_schema=False)
async def demo_page(settings: SettingsDep) -> FileResponse:
    page = settings.widget_dir / "index.html"
    if not page.is_file():
        raise HTTPException(status_code=404, detail="The demo page is missing.")
    return FileResponse(page, media_type="text/html")


@router.get("/console", include_in_schema=False)
async def agent_console(settings: SettingsDep) -> FileResponse:
    page = settings.widget_dir / "console.html"
    if not page.is_file():
        raise HTTPException(status_code=404, detail="The agent console is missing.")
    return FileResponse(page, media_type="text/html")

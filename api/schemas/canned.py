"""Canned responses for the console."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field

from bot.vocabulary import Language


class CannedWrite(BaseModel):
    shortcut: str = Field(min_length=1, max_length=41)
    title: str = Field(min_length=1, max_length=120)
    text_en: str = Field(min_length=1, max_length=4000)
    text_de: str = Field(min_length=1, max_length=4000)


class CannedPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    shortcut: str
    title: str
    text_en: str
    text_de: str
    created_by: str
    updated_at: datetime


class CannedRender(BaseModel):
    conversation_id: Optional[str] = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    language: Optional[Language] = None


class CannedRendered(BaseModel):
    text: str
    language: str

"""Canned responses: ready replies agents insert in the console by typing `/shortcut`.

Supervisors manage them, in English and German. Placeholders are filled in for
the chat at hand: `{customer_name}` (the identified customer's name),
`{ticket}` (the chat's newest ticket number) and `{agent_name}`.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import CannedResponse, Conversation, Ticket
from api.services import customers
from api.services.errors import Conflict, Invalid, NotFound
from bot.wording import language_of

PLACEHOLDERS = ("customer_name", "ticket", "agent_name")
SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


@dataclass
class CannedFields:
    shortcut: str
    title: str
    text_en: str
    text_de: str


def check_placeholders(text: str, language: str) -> None:
    """Only the known placeholders, with balanced braces; a clear reason otherwise."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError:
        raise Invalid(
            f"The {language} text has an unmatched brace; write placeholders as {{agent_name}}."
        ) from None
    unknown = sorted({n for n in names if n not in PLACEHOLDERS})
    if unknown:
        raise Invalid(
            f"Unknown placeholder {{{unknown[0]}}} in the {language} text; use "
            + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            + "."
        )


def _checked(fields: CannedFields) -> CannedFields:
    shortcut = fields.shortcut.strip().lstrip("/").lower()
    if not SHORTCUT.match(shortcut):
        raise Invalid("A shortcut is 1-40 of a-z, 0-9, - and _, starting with a letter or digit.")
    title = fields.title.strip()
    if not title:
        raise Invalid("A canned response needs a title.")
    texts = {"en": fields.text_en.strip(), "de": fields.text_de.strip()}
    for language, text in texts.items():
        if not text:
            raise Invalid(f"The {language} text is missing: write the reply in both languages.")
        check_placeholders(text, language)
    return CannedFields(shortcut, title[:120], texts["en"], texts["de"])


async def list_responses(*, session: AsyncSession) -> list[CannedResponse]:
    result = await session.execute(select(CannedResponse).order_by(CannedResponse.shortcut))
    return list(result.scalars().all())


async def get_response(*, session: AsyncSession, response_id: int) -> CannedResponse:
    response = await session.get(CannedResponse, response_id)
    if response is None:
        raise NotFound(f"There is no canned response {response_id}.")
    return response


async def create_response(
    *, session: AsyncSession, fields: CannedFields, author: str
) -> CannedResponse:
    fields = _checked(fields)
    response = CannedResponse(
        shortcut=fields.shortcut,
        title=fields.title,
        text_en=fields.text_en,
        text_de=fields.text_de,
        created_by=author[:80],
    )
    try:
        async with session.begin_nested():
            session.add(response)
            await session.flush()
    except IntegrityError:
        raise Conflict(f"The shortcut /{fields.shortcut} is taken.") from None
    return response


async def update_response(
    *, session: AsyncSession, response_id: int, fields: CannedFields
) -> CannedResponse:
    fields = _checked(fields)
    response = await get_response(session=session, response_id=response_id)
    clash = await session.execute(
        select(CannedResponse.id).where(
            CannedResponse.shortcut == fields.shortcut, CannedResponse.id != response_id
        )
    )
    if clash.scalar_one_or_none() is not None:
        raise Conflict(f"The shortcut /{fields.shortcut} is taken.")
    response.shortcut, response.title = fields.shortcut, fields.title
    response.text_en, response.text_de = fields.text_en, fields.text_de
    await session.flush()
    return response


async def delete_response(*, session: AsyncSession, response_id: int) -> None:
    await session.delete(await get_response(session=session, response_id=response_id))
    await session.flush()


async def render(
    *,
    session: AsyncSession,
    response: CannedResponse,
    conversation_id: Optional[str],
    agent_name: str,
    language: Optional[str] = None,
) -> tuple[str, str]:
    """The reply, placeholders filled in, in the language asked for or else the chat's.

    Returns the text and its language. A value the chat does not have (an
    unidentified customer, no ticket) is left out, and the punctuation around it
    tidied ("Hello {customer_name}," -> "Hello,").
    """
    if language is None and conversation_id:
        conversation = await session.get(Conversation, conversation_id)
        language = conversation.language if conversation is not None else None
    language = language_of(language)
    text = response.text_de if language == "de" else response.text_en
    values = {"agent_name": agent_name, "customer_name": "", "ticket": ""}
    if conversation_id:
        customer = await customers.customer_for_conversation(
            session=session, conversation_id=conversation_id
        )
        if customer is not None:
            values["customer_name"] = customer.name
        newest = await session.execute(
            select(Ticket)
            .where(Ticket.conversation_id == conversation_id)
            .order_by(Ticket.id.desc())
            .limit(1)
        )
        ticket = newest.scalar_one_or_none()
        if ticket is not None:
            values["ticket"] = ticket.number
    filled = text.format(**values)
    filled = re.sub(r"[ \t]+([,.!?;:])", r"\1", filled)
    return re.sub(r"[ \t]{2,}", " ", filled).strip(), language

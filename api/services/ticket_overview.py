"""How a ticket's state is told to the customer: its status, its part orders and its
visits, one line each. Shared by the status question in the chat
(api/services/chat_requests.py) and the lookup of a customer's tickets
(api/services/checks.py)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Ticket
from api.services import catalog, parts, visits
from bot.flows.model import in_language
from bot.vocabulary import DOMAINS
from bot.wording import catalogue, has, say

# Ticket titles the assistant writes from the wording catalogue ("Technician visit"),
# besides the flows' own; "{domain} problem reported in chat" once per domain.
_WORDING_TITLES = ("record.visit_title", "record.callback_title")
_WORDING_TITLE_GROUPS = ("record.request_title.",)


def title_in(title: str, language: str, flow_titles: Mapping[str, str]) -> str:
    """A ticket's title in the customer's language: tickets store the English that staff
    read; the flows (`flow_titles`, by English text) and the wording catalogue hold the
    other languages. As stored when neither knows it."""
    if title in flow_titles:
        return in_language(flow_titles[title], language)
    keys = [*_WORDING_TITLES, *(k for k in catalogue() if k.startswith(_WORDING_TITLE_GROUPS))]
    for key in keys:
        if has(key) and say(key) == title:
            return say(key, language)
    part_prefix = say("record.part_title", part="")
    if title.startswith(part_prefix):
        name = title[len(part_prefix) :]
        part = next((p for p in catalog.parts().values() if p.name == name), None)
        return say("record.part_title", language, part=part.name_in(language) if part else name)
    for domain in DOMAINS:
        if say("record.no_flow_title", domain=domain.capitalize()) == title:
            return say("record.no_flow_title", language, domain=domain.capitalize())
    return title


def status_words(prefix: str, status: str, language: str) -> str:
    """A status in the customer's words ("in progress"), or as stored if unknown."""
    key = f"{prefix}.{status}"
    return say(key, language) if has(key) else status


def _part_name(part_number: str, recorded: str, language: str) -> str:
    """The part's name in the customer's language; as recorded on the order when the
    catalogue no longer holds it."""
    part = catalog.find_part(part_number)
    return part.name_in(language) if part is not None else recorded


async def ticket_lines(
    session: AsyncSession,
    ticket: Ticket,
    language: str,
    flow_titles: Mapping[str, str],
) -> list[str]:
    """The ticket's status line, then one line per part order and per booked visit."""
    lines = [
        say(
            "ticket.status_line",
            language,
            ticket=ticket.number,
            title=title_in(ticket.title, language, flow_titles),
            status=status_words("ticket.status", ticket.status, language),
        )
    ]
    orders, _ = await parts.list_orders(session=session, ticket_id=ticket.id, limit=5)
    for order in orders:
        lines.append(
            say(
                "ticket.order_line",
                language,
                order=order.number,
                part=_part_name(order.part_number, order.part_name, language),
                status=status_words("order.status", order.status, language),
            )
        )
    for booking in await visits.booked_visits(session=session, ticket_id=ticket.id):
        tz = await visits.booking_timezone(session=session, booking=booking)
        when = visits.describe_time(booking.starts_at, tz, booking.ends_at, language)
        lines.append(say("ticket.visit_line", language, when=when))
    return lines

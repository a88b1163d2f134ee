"""Support tickets: opening, the status lifecycle, the audit trail, and repeat contacts."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import (
    Ticket,
    TicketEvent,
    TicketStatus,
    format_ticket_number,
    parse_ticket_number,
)
from api.services import access
from api.services.errors import Conflict, Invalid, NotFound
from api.services.staff import Staff
from bot.vocabulary import DOMAINS, TIERS
from bot.wording import say

__all__ = ["Ticket", "format_ticket_number"]

PRIORITIES = ("low", "normal", "high", "urgent")
OPEN_STATUSES = (
    TicketStatus.new.value,
    TicketStatus.open.value,
    TicketStatus.pending_customer.value,
    TicketStatus.pending_part.value,
    TicketStatus.visit_scheduled.value,
)
_WORKING = ("pending_customer", "pending_part", "visit_scheduled")
# The lifecycle: new → open → pending_* / visit_scheduled → resolved → closed.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"open", "closed"}),
    "open": frozenset({*_WORKING, "resolved", "closed"}),
    "pending_customer": frozenset({"open", "pending_part", "visit_scheduled", "resolved"}),
    "pending_part": frozenset({"open", "pending_customer", "visit_scheduled", "resolved"}),
    "visit_scheduled": frozenset({"open", "pending_customer", "pending_part", "resolved"}),
    "resolved": frozenset({"closed", "open"}),
    "closed": frozenset(),
}


_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+?\(?\d[\d ()./-]{4,22}\d")
# An account number typed where contact details were asked for.
_ACCOUNT_NUMBER = re.compile(r"\bACC-?\d{3,}\b", re.IGNORECASE)
# What customers say when they would rather not leave contact details (English and German).
_NO_CONTACT = re.compile(
    r"^\W*(no|nope|nah|none|neither|skip|no thanks?|no thank you|rather not|i'?d rather not|"
    r"don'?t|do not|not now|not needed|no need|"
    r"nein|nee|nö|kein[e]?|lieber nicht|nicht nötig|nicht jetzt|kein bedarf|überspringen|"
    r"möchte ich nicht|will ich nicht|danke,? nein)\b",
    re.IGNORECASE,
)


# "Please close my ticket", „Das Ticket kann geschlossen werden“: the customer asks
# for a ticket to be closed (not a story about one that was closed).
_CASE = (
    r"(ticket|case|request|report|complaint|tck-?\d+"
    r"|fall|meldung|störungsmeldung|auftrag|anfrage|vorgang|reklamation)\w*"
)
_CLOSE_REQUEST = re.compile(
    rf"\b(close|cancel|withdraw)\s+((out|my|the|this|that|our)\s+)?(\w+\s+)?{_CASE}\b"
    rf"|\b{_CASE}\s+(can|could|may)\s+(now\s+)?be\s+closed\b"
    rf"|\b(you\s+can|please|pls)\s+close\s+it\b"
    rf"|\bmark\s+(it|(my|the|this)\s+{_CASE})\s+(as\s+)?(solved|resolved|done|closed)\b"
    rf"|\b{_CASE}\s+(\w+\s+){{0,3}}(schließen|schliessen|zumachen|stornieren|zurückziehen)\b"
    rf"|\b(schließen|schliessen|stornieren)\s+sie\s+(\w+\s+){{0,3}}{_CASE}"
    rf"|\b(kann|können|darf|dürfen)\s+(\w+\s+){{0,4}}geschlossen\s+werden\b"
    rf"|\bals\s+erledigt\s+markieren\b",
    re.IGNORECASE,
)


_TICKET_NUMBER = re.compile(r"\bTCK-?(\d{1,12})\b", re.IGNORECASE)


def number_in(text: str) -> Optional[str]:
    """The first ticket number written in a message ("close TCK-000030, it's fixed"),
    for when the language model did not mark it."""
    found = _TICKET_NUMBER.search(text or "")
    return format_ticket_number(int(found.group(1))) if found else None


# What a question about a ticket's progress names: the ticket or case, an order or a
# part, a visit, its status („Wie ist der Stand?“).
_ABOUT_PROGRESS = re.compile(
    rf"\b({_CASE}|orders?|ordered|parts?|deliver\w*|shipp\w*|technician|engineer|visit"
    r"|appointment|status|progress|update|news|any word|heard back|tracking|repair\w*|fixed"
    r"|bestell\w*|ersatzteil\w*|liefer\w*|paket|techniker\w*|termin\w*|besuch|stand|reparatur\w*"
    r"|fortschritt|neuigkeiten|nachricht|rückmeldung)\b",
    re.IGNORECASE,
)


def asks_about_progress(text: str) -> bool:
    """The message names something whose progress can be asked about ("any news on my
    ticket?", „Wo bleibt mein Ersatzteil?“); "yes updated it yesterday" does not."""
    return bool(_ABOUT_PROGRESS.search(text or "")) or number_in(text) is not None


def asks_to_close(text: str) -> bool:
    """The customer asks us to close a ticket ("you can close my ticket, it works")."""
    return bool(_CLOSE_REQUEST.search(text or ""))


async def open_tickets_of(*, session: AsyncSession, customer_id: int) -> list[Ticket]:
    """The customer's tickets that are still open, newest first."""
    query = (
        select(Ticket)
        .where(Ticket.customer_id == customer_id, Ticket.status.in_(OPEN_STATUSES))
        .order_by(Ticket.id.desc())
    )
    return list((await session.execute(query)).scalars().all())


# How many unreadable answers to "how can we reach you?" before we stop asking.
MAX_CONTACT_ATTEMPTS = 3


def parse_email(text: str) -> Optional[str]:
    """The e-mail address in what the customer typed (a name, an @ and a domain with a
    dot), lower case, or None."""
    found = _EMAIL.search(text or "")
    return found.group(0).strip(".").lower() if found else None


def parse_phone(text: str) -> Optional[str]:
    """The phone number in what the customer typed, or None.

    7 to 15 digits; spaces, dashes, dots, slashes, brackets and a leading + are
    allowed between them. Digits inside an e-mail address are not a phone number.
    """
    outside_addresses = _EMAIL.sub(" ", text or "")
    for candidate in _PHONE.finditer(outside_addresses):
        digits = re.sub(r"\D", "", candidate.group(0))
        if 7 <= len(digits) <= 15:
            return re.sub(r"\s+", " ", candidate.group(0)).strip()
    return None


def phone_ending(phone: str) -> str:
    """The last two digits of a phone number: enough to recognise it, too few to misuse."""
    return re.sub(r"\D", "", phone or "")[-2:]


def parse_contact(text: str) -> Optional[str]:
    """The e-mail address or phone number in what the customer typed, or None."""
    return parse_email(text) or parse_phone(text)


def names_an_account(text: str) -> bool:
    """Whether the customer typed an account number ("ACC-1002") rather than contact details."""
    return parse_contact(text) is None and bool(_ACCOUNT_NUMBER.search(text or ""))


def declines_contact(text: str) -> bool:
    """Whether the customer said they'd rather not leave contact details."""
    return parse_contact(text) is None and bool(_NO_CONTACT.match(text or ""))


def reachable(ticket: Ticket) -> bool:
    """Whether staff can contact the customer about the ticket (an account or given details)."""
    return ticket.customer_id is not None or bool(ticket.contact)


async def set_contact(*, session: AsyncSession, ticket: Ticket, contact: str, actor: str) -> Ticket:
    """Store how to reach the customer about the ticket (validated with `parse_contact`)."""
    parsed = parse_contact(contact)
    if parsed is None:
        raise Invalid("That is neither an e-mail address nor a phone number.")
    if parsed != ticket.contact:
        ticket.contact = parsed
        await record_event(
            session=session, ticket=ticket, kind="update", actor=actor, detail=f"contact: {parsed}"
        )
    return ticket


async def set_customer(
    *, session: AsyncSession, ticket: Ticket, customer_id: int, account_number: str, actor: str
) -> Ticket:
    """Put the ticket on a verified customer's account: staff reach them by the details on file."""
    if ticket.customer_id != customer_id:
        ticket.customer_id = customer_id
        await record_event(
            session=session,
            ticket=ticket,
            kind="update",
            actor=actor,
            detail=f"customer: {account_number}",
        )
    return ticket


def _check_fields(domain: str, priority: str, tier: int) -> None:
    if domain not in DOMAINS:
        raise Invalid(f"Unknown domain {domain!r}; expected one of {', '.join(DOMAINS)}.")
    if priority not in PRIORITIES:
        raise Invalid(f"Unknown priority {priority!r}; expected one of {', '.join(PRIORITIES)}.")
    if tier not in TIERS:
        raise Invalid("Tier must be 1, 2 or 3.")


async def record_event(
    *,
    session: AsyncSession,
    ticket: Ticket,
    kind: str,
    actor: str,
    detail: str = "",
    from_status: Optional[str] = None,
    to_status: Optional[str] = None,
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id,
        kind=kind,
        actor=actor,
        detail=detail,
        from_status=from_status,
        to_status=to_status,
    )
    session.add(event)
    await session.flush()
    return event


async def open_ticket(
    *,
    session: AsyncSession,
    conversation_id: Optional[str],
    domain: str,
    title: str,
    summary: str = "",
    tier: int = 1,
    priority: str = "normal",
    customer_id: Optional[int] = None,
    status: str = TicketStatus.open.value,
    actor: str = "bot",
    idempotency_key: Optional[str] = None,
) -> Ticket:
    """Open a ticket; the diagnostic summary says what was already tried.

    With an idempotency key, a retry returns the ticket the first call opened.
    """
    _check_fields(domain, priority, tier)
    if status not in (TicketStatus.new.value, TicketStatus.open.value):
        raise Invalid("A ticket starts as new or open.")
    if idempotency_key:
        found = await session.execute(
            select(Ticket).where(Ticket.idempotency_key == idempotency_key)
        )
        existing = found.scalar_one_or_none()
        if existing is not None:
            return existing
    ticket = Ticket(
        conversation_id=conversation_id,
        customer_id=customer_id,
        status=status,
        domain=domain,
        title=title.strip()[:200] or "Support request",
        summary=summary,
        tier=tier,
        priority=priority,
        idempotency_key=idempotency_key,
    )
    session.add(ticket)
    await session.flush()
    await record_event(
        session=session, ticket=ticket, kind="created", actor=actor, to_status=status
    )
    return ticket


async def find_open_duplicate(
    *,
    session: AsyncSession,
    conversation_id: Optional[str],
    customer_id: Optional[int],
    domain: str,
    title: str,
) -> Optional[Ticket]:
    """The open ticket a new report really belongs to, if any.

    A repeat contact (same customer, same domain, ticket still open, from
    another conversation) belongs to the existing ticket. In the same
    conversation only the very same problem (same title) does: a second
    problem in one chat gets its own ticket.
    """
    if customer_id is not None:
        query = (
            select(Ticket)
            .where(
                Ticket.customer_id == customer_id,
                Ticket.domain == domain,
                Ticket.status.in_(OPEN_STATUSES),
            )
            .order_by(Ticket.id.desc())
        )
        for ticket in (await session.execute(query)).scalars():
            if ticket.conversation_id != conversation_id or ticket.title == title:
                return ticket
    if conversation_id is not None:
        query = select(Ticket).where(
            Ticket.conversation_id == conversation_id,
            Ticket.title == title,
            Ticket.status.in_(OPEN_STATUSES),
        )
        return (await session.execute(query.order_by(Ticket.id.desc()))).scalars().first()
    return None


async def open_or_update(
    *,
    session: AsyncSession,
    conversation_id: Optional[str],
    customer_id: Optional[int],
    domain: str,
    title: str,
    summary: str = "",
    tier: int = 1,
    priority: str = "normal",
    actor: str = "bot",
) -> tuple[Ticket, bool]:
    """Open a ticket, or add this contact to the open one it repeats. Returns (ticket, created)."""
    existing = await find_open_duplicate(
        session=session,
        conversation_id=conversation_id,
        customer_id=customer_id,
        domain=domain,
        title=title,
    )
    if existing is None:
        ticket = await open_ticket(
            session=session,
            conversation_id=conversation_id,
            customer_id=customer_id,
            domain=domain,
            title=title,
            summary=summary,
            tier=tier,
            priority=priority,
            actor=actor,
        )
        return ticket, True
    note = say("record.ticket.contact_again", conversation=conversation_id, title=title)
    if summary:
        note += f"\n{summary}"
    if PRIORITIES.index(priority) > PRIORITIES.index(existing.priority):
        existing.priority = priority
    if existing.customer_id is None:
        existing.customer_id = customer_id
    await record_event(
        session=session, ticket=existing, kind="repeat_contact", actor=actor, detail=note
    )
    return existing, False


async def change_status(
    *, session: AsyncSession, ticket: Ticket, to: str, actor: str, note: str = ""
) -> Ticket:
    """Move the ticket along its lifecycle, or refuse with the reason (409)."""
    if to not in TRANSITIONS:
        raise Invalid(f"Unknown status {to!r}; expected one of {', '.join(TRANSITIONS)}.")
    if to == ticket.status:
        return ticket
    if ticket.status == TicketStatus.new.value and to != "closed" and to != "open":
        # Work starting on a new ticket opens it first; the history shows both steps.
        await change_status(session=session, ticket=ticket, to="open", actor=actor)
    if to not in TRANSITIONS[ticket.status]:
        raise Conflict(f"invalid transition from {ticket.status} to {to}")
    before = ticket.status
    ticket.status = to
    await record_event(
        session=session,
        ticket=ticket,
        kind="status",
        actor=actor,
        detail=note,
        from_status=before,
        to_status=to,
    )
    return ticket


async def update_ticket(
    *, session: AsyncSession, ticket: Ticket, changes: dict[str, Any], actor: str
) -> Ticket:
    """Change status, priority, tier, domain or summary; each change is recorded.

    A field given as None is left as it is, like a field not given.
    """
    changes = {key: value for key, value in changes.items() if value is not None}
    note = changes.pop("note", None) or ""
    status = changes.pop("status", None)
    _check_fields(
        changes.get("domain", ticket.domain),
        changes.get("priority", ticket.priority),
        changes.get("tier", ticket.tier),
    )
    described = []
    for key in ("priority", "tier", "domain", "summary", "title"):
        if key in changes and changes[key] != getattr(ticket, key):
            described.append(f"{key}: {getattr(ticket, key)!s:.60} → {changes[key]!s:.60}")
            setattr(ticket, key, changes[key])
    if described:
        await record_event(
            session=session, ticket=ticket, kind="update", actor=actor, detail="; ".join(described)
        )
    if status:
        await change_status(session=session, ticket=ticket, to=status, actor=actor, note=note)
    elif note:
        await record_event(session=session, ticket=ticket, kind="note", actor=actor, detail=note)
    return ticket


async def get_ticket(*, session: AsyncSession, number: str) -> Optional[Ticket]:
    ticket_id = parse_ticket_number(number)
    if ticket_id is None:
        return None
    return await session.get(Ticket, ticket_id)


async def require_ticket(*, session: AsyncSession, number: str) -> Ticket:
    ticket = await get_ticket(session=session, number=number)
    if ticket is None:
        raise NotFound(f"No ticket {number}.")
    return ticket


def visible_to(
    ticket: Ticket, *, conversation_id: Optional[str], customer_id: Optional[int]
) -> bool:
    """A customer sees tickets from their own chat, or of their own verified account."""
    if conversation_id is not None and ticket.conversation_id == conversation_id:
        return True
    return customer_id is not None and ticket.customer_id == customer_id


async def ticket_events(*, session: AsyncSession, ticket_id: int) -> list[TicketEvent]:
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    return list((await session.execute(query)).scalars().all())


async def list_tickets(
    *,
    session: AsyncSession,
    conversation_id: Optional[str] = None,
    customer_id: Optional[int] = None,
    status: Optional[str] = None,
    limit: int = 50,
    offset: int = 0,
    readable_by: Optional[Staff] = None,
) -> tuple[list[Ticket], int]:
    """A page of tickets, newest first, and the total count (only those `readable_by` may
    read, when given)."""
    conditions = []
    if readable_by is not None:
        conditions.append(access.ticket_condition(readable_by))
    if conversation_id is not None:
        conditions.append(Ticket.conversation_id == conversation_id)
    if customer_id is not None:
        conditions.append(Ticket.customer_id == customer_id)
    if status is not None:
        conditions.append(Ticket.status == status)
    query = select(Ticket).where(*conditions)
    count = select(func.count()).select_from(Ticket).where(*conditions)
    result = await session.execute(query.order_by(Ticket.id.desc()).limit(limit).offset(offset))
    total = (await session.execute(count)).scalar_one()
    return list(result.scalars().all()), total


async def recent_in_domain(
    *, session: AsyncSession, customer_id: int, since: datetime, domain: Optional[str] = None
) -> int:
    """How many tickets (and repeat contacts) the customer raised since a time."""
    conditions = [Ticket.customer_id == customer_id, Ticket.created_at >= since]
    if domain:
        conditions.append(Ticket.domain == domain)
    tickets = (
        await session.execute(select(func.count()).select_from(Ticket).where(*conditions))
    ).scalar_one()
    repeats = (
        await session.execute(
            select(func.count())
            .select_from(TicketEvent)
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(
                Ticket.customer_id == customer_id,
                TicketEvent.kind == "repeat_contact",
                TicketEvent.created_at >= since,
                *([Ticket.domain == domain] if domain else []),
            )
        )
    ).scalar_one()
    return int(tickets) + int(repeats)

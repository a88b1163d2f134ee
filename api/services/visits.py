"""Technician visits: free slots per service area, booking, rescheduling, cancelling.

Two customers may pick the same last slot at the same moment. The database
decides: the unique constraint on (technician_id, slot_start) lets exactly one
insert through, in any number of API processes; the other gets `SlotTaken`
with the next free slots to offer instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Optional
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Customer, ServiceArea, Technician, Ticket, VisitBooking, VisitStatus, utcnow
from api.schemas.types import INT64_MAX
from api.services import tickets
from api.services.errors import Conflict, Invalid, NotFound
from bot.wording import say

LEAD_TIME = timedelta(hours=2)  # the earliest a technician can be on the way
SEARCH_DAYS = 14


@dataclass(frozen=True)
class Slot:
    technician_id: int
    technician_name: str
    starts_at: datetime
    ends_at: datetime
    timezone: str = "Europe/Berlin"

    @property
    def ref(self) -> str:
        return slot_ref(self.technician_id, self.starts_at)

    @property
    def label(self) -> str:
        return self.describe()

    def describe(self, language: str = "en") -> str:
        return describe_time(self.starts_at, self.timezone, self.ends_at, language)


class SlotTaken(Conflict):
    """Someone else booked this slot first."""

    def __init__(self, next_slots: list[Slot]) -> None:
        super().__init__(
            say("record.visit.slot_taken"),
            next_slots=[s.ref for s in next_slots],
        )
        self.next_slots = next_slots


# "Where is my technician?", "Wann kommt der Techniker?": a question about a visit.
_ABOUT_A_VISIT = re.compile(
    r"\b(technician|tech|engineer|installer|repairman|repair man|appointment|visit|"
    r"\w*techniker\w*|monteur\w*|termin\w*|handwerker)\b",
    re.IGNORECASE,
)


_VISIT_MISSED = re.compile(
    r"\b(didn'?t|did not|never|has ?n'?t|has not|not)\s+"
    r"(show(ed)?( up)?|turn(ed)? up|come|came|arrive[ds]?)\b"
    r"|\bno[- ]show\b"
    r"|\b(nobody|no one|no-one)\s+(came|showed|turned up|called)\b"
    r"|\bsupposed to (come|be here)\b"
    r"|\bnicht (gekommen|erschienen|aufgetaucht|da)\b"
    r"|\b(niemand|keiner|kein mensch)\s+(gekommen|erschienen|da|hat sich gemeldet)\b"
    r"|\bkam (nicht|niemand|keiner)\b"
    r"|\bsollte\b.*\bkommen\b|\bkommen sollen\b",
    re.IGNORECASE,
)


def says_visit_missed(text: str) -> bool:
    """A technician visit that did not happen: "the tech never showed up", „Der
    Techniker ist nicht gekommen“, "was supposed to come between 12 and 4"."""
    return asks_about_visit(text) and bool(_VISIT_MISSED.search(text or ""))


def asks_about_visit(text: str) -> bool:
    """The message is about a technician visit (a status question without a ticket
    number, "Where is my technician? He was due between 8 and 12")."""
    return bool(_ABOUT_A_VISIT.search(text or ""))


def slot_ref(technician_id: int, starts_at: datetime) -> str:
    """`3@2026-12-01T09:00Z`: what a slot button sends back."""
    return f"{technician_id}@{starts_at.astimezone(timezone.utc):%Y-%m-%dT%H:%M}Z"


def parse_slot_ref(ref: str) -> tuple[int, datetime]:
    try:
        technician, _, when = ref.strip().partition("@")
        starts = datetime.strptime(when, "%Y-%m-%dT%H:%MZ").replace(tzinfo=timezone.utc)
        technician_id = int(technician)
        if not 0 < technician_id <= INT64_MAX:  # no such technician; too big for the database
            raise ValueError(technician)
        return technician_id, starts
    except ValueError as error:
        raise Invalid(f"{ref!r} is not a visit slot; expected e.g. 3@2026-12-01T09:00Z.") from error


def describe_time(
    starts_at: datetime, tz: str, ends_at: Optional[datetime] = None, language: str = "en"
) -> str:
    """ "Mon 07 Dec, 09:00–11:00" in the area's time zone, in the customer's language."""
    zone = _zone(tz)
    start = starts_at.astimezone(zone)
    parts = {
        "weekday": say("time.weekdays", language).split()[start.weekday()],
        "day": f"{start:%d}",
        "month": say("time.months", language).split()[start.month - 1],
        "start": f"{start:%H:%M}",
    }
    if ends_at is None:
        return say("time.at", language, **parts)
    return say("time.between", language, **parts, end=f"{ends_at.astimezone(zone):%H:%M}")


def describe_date(day: date, language: str = "en") -> str:
    """ "10 May 2023", „10. Mai 2023“."""
    month = say("time.months_long", language).split()[day.month - 1]
    return say("time.date", language, day=str(day.day), month=month, year=str(day.year))


def _zone(name: str) -> ZoneInfo | timezone:
    try:
        return ZoneInfo(name)
    except Exception:  # noqa: BLE001 - no tz database: fall back to UTC
        return timezone.utc


def _schedule(technician: Technician, tz: str, start: datetime, days: int) -> list[Slot]:
    zone = _zone(tz)
    local_day = start.astimezone(zone).date()
    found = []
    for offset in range(days):
        day = local_day + timedelta(days=offset)
        if day.isoweekday() not in (technician.weekdays or []):
            continue
        minute = technician.day_start_hour * 60
        while minute + technician.slot_minutes <= technician.day_end_hour * 60:
            local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)
            begins = local.astimezone(timezone.utc)
            found.append(
                Slot(
                    technician.id,
                    technician.name,
                    begins,
                    begins + timedelta(minutes=technician.slot_minutes),
                    tz,
                )
            )
            minute += technician.slot_minutes
    return found


async def _area(session: AsyncSession, code: str) -> ServiceArea:
    area = await session.get(ServiceArea, code)
    if area is None:
        raise NotFound(f"No service area {code!r}.")
    return area


async def free_slots(
    *,
    session: AsyncSession,
    service_area: str,
    limit: int = 5,
    now: Optional[datetime] = None,
    days: int = SEARCH_DAYS,
) -> list[Slot]:
    """The next free slots of the area's technicians, earliest first."""
    now = now or utcnow()
    area = await _area(session, service_area)
    staff = (
        (
            await session.execute(
                select(Technician)
                .where(Technician.service_area == area.code, Technician.active.is_(True))
                .order_by(Technician.id)
            )
        )
        .scalars()
        .all()
    )
    if not staff:
        return []
    taken = set(
        (
            await session.execute(
                select(VisitBooking.technician_id, VisitBooking.slot_start).where(
                    VisitBooking.technician_id.in_([t.id for t in staff]),
                    VisitBooking.slot_start.is_not(None),
                    VisitBooking.slot_start >= now,
                )
            )
        ).all()
    )
    candidates = [
        slot
        for technician in staff
        for slot in _schedule(technician, area.timezone, now, days)
        if slot.starts_at >= now + LEAD_TIME and (slot.technician_id, slot.starts_at) not in taken
    ]
    candidates.sort(key=lambda s: (s.starts_at, s.technician_id))
    return candidates[:limit]


async def _valid_slot(
    session: AsyncSession, technician_id: int, starts_at: datetime, now: datetime
) -> tuple[Technician, Slot]:
    technician = await session.get(Technician, technician_id)
    if technician is None or not technician.active:
        raise NotFound(f"No technician {technician_id}.")
    area = await _area(session, technician.service_area)
    if starts_at < now + LEAD_TIME:
        raise Invalid("That time is too soon or in the past; pick one of the offered slots.")
    days = (starts_at - now).days + 2
    for slot in _schedule(technician, area.timezone, now, days):
        if slot.starts_at == starts_at:
            return technician, slot
    raise Invalid(f"{technician.name} does not work at {slot_ref(technician_id, starts_at)}.")


async def book_visit(
    *,
    session: AsyncSession,
    customer: Customer,
    technician_id: int,
    starts_at: datetime,
    ticket: Optional[Ticket] = None,
    conversation_id: Optional[str] = None,
    actor: str = "bot",
    idempotency_key: Optional[str] = None,
    now: Optional[datetime] = None,
) -> VisitBooking:
    """Book the slot for the customer, or raise `SlotTaken` with the next free slots."""
    now = now or utcnow()
    if idempotency_key:
        existing = await _by_key(session, idempotency_key)
        if existing is not None:
            return existing
    technician, slot = await _valid_slot(session, technician_id, starts_at, now)
    if technician.service_area != customer.service_area:
        raise Invalid(f"{technician.name} does not work in the customer's service area.")
    booking = VisitBooking(
        technician_id=technician.id,
        customer_id=customer.id,
        ticket_id=ticket.id if ticket else None,
        conversation_id=conversation_id,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        slot_start=slot.starts_at,
        idempotency_key=idempotency_key,
        created_by=actor,
    )
    # The insert comes first in the transaction, so on SQLite a second writer
    # waits for the first to commit and then hits the unique constraint.
    area = technician.service_area  # read now: a rollback expires loaded rows
    session.add(booking)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        if idempotency_key:
            existing = await _by_key(session, idempotency_key)
            if existing is not None:
                return existing
        raise SlotTaken(await free_slots(session=session, service_area=area, now=now)) from None
    if ticket is not None:
        await tickets.record_event(
            session=session,
            ticket=ticket,
            kind="visit",
            actor=actor,
            detail=say(
                "record.visit.booked", visit=booking.id, technician=technician.name, when=slot.label
            ),
        )
        await tickets.change_status(
            session=session, ticket=ticket, to="visit_scheduled", actor=actor
        )
    return booking


async def _by_key(session: AsyncSession, key: str) -> Optional[VisitBooking]:
    found = await session.execute(select(VisitBooking).where(VisitBooking.idempotency_key == key))
    return found.scalar_one_or_none()


async def get_booking(*, session: AsyncSession, booking_id: int) -> VisitBooking:
    booking = await session.get(VisitBooking, booking_id)
    if booking is None:
        raise NotFound(f"No visit {booking_id}.")
    return booking


async def _next_booked(session: AsyncSession, *where: Any) -> Optional[VisitBooking]:
    """The earliest upcoming booked visit that matches `where`."""
    query = (
        select(VisitBooking)
        .where(*where, VisitBooking.status == VisitStatus.booked.value)
        .where(VisitBooking.starts_at >= utcnow())
        .order_by(VisitBooking.starts_at)
    )
    return (await session.execute(query)).scalars().first()


async def active_booking(*, session: AsyncSession, customer_id: int) -> Optional[VisitBooking]:
    return await _next_booked(session, VisitBooking.customer_id == customer_id)


async def booking_on_ticket(*, session: AsyncSession, ticket_id: int) -> Optional[VisitBooking]:
    """The upcoming visit booked for a ticket, if any."""
    return await _next_booked(session, VisitBooking.ticket_id == ticket_id)


async def cancel_visit(
    *, session: AsyncSession, booking: VisitBooking, actor: str, reopen_ticket: bool = True
) -> VisitBooking:
    """Cancel and free the slot; the ticket goes back to open."""
    if booking.status != VisitStatus.booked.value:
        raise Conflict(f"invalid transition from {booking.status} to cancelled")
    booking.status = VisitStatus.cancelled.value
    booking.slot_start = None  # frees the slot for the unique constraint
    await session.flush()
    ticket = await session.get(Ticket, booking.ticket_id) if booking.ticket_id else None
    if ticket is not None:
        await tickets.record_event(
            session=session, ticket=ticket, kind="visit", actor=actor,
            detail=f"Visit {booking.id} cancelled",
        )  # fmt: skip
        if reopen_ticket and ticket.status == "visit_scheduled":
            await tickets.change_status(session=session, ticket=ticket, to="open", actor=actor)
    return booking


async def reschedule_visit(
    *,
    session: AsyncSession,
    booking: VisitBooking,
    technician_id: int,
    starts_at: datetime,
    actor: str,
    idempotency_key: Optional[str] = None,
) -> VisitBooking:
    """Book the new slot first (it may be taken), then release the old one."""
    if booking.status != VisitStatus.booked.value:
        raise Conflict(f"Visit {booking.id} is {booking.status}; book a new one instead.")
    customer = await session.get(Customer, booking.customer_id)
    ticket = await session.get(Ticket, booking.ticket_id) if booking.ticket_id else None
    old_id = booking.id
    assert customer is not None
    new = await book_visit(
        session=session,
        customer=customer,
        technician_id=technician_id,
        starts_at=starts_at,
        conversation_id=booking.conversation_id,
        actor=actor,
        idempotency_key=idempotency_key,
    )
    old = await get_booking(session=session, booking_id=old_id)
    if new.id == old.id:
        return new
    new.ticket_id = old.ticket_id
    await cancel_visit(session=session, booking=old, actor=actor, reopen_ticket=False)
    ticket = await session.get(Ticket, new.ticket_id) if new.ticket_id else None
    if ticket is not None:
        await tickets.record_event(
            session=session, ticket=ticket, kind="visit", actor=actor,
            detail=say("record.visit.moved", old=old.id, new=new.id),
        )  # fmt: skip
    return new


async def list_bookings(
    *,
    session: AsyncSession,
    customer_id: Optional[int] = None,
    technician_id: Optional[int] = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[VisitBooking], int]:
    conditions = []
    if customer_id is not None:
        conditions.append(VisitBooking.customer_id == customer_id)
    if technician_id is not None:
        conditions.append(VisitBooking.technician_id == technician_id)
    rows = await session.execute(
        select(VisitBooking)
        .where(*conditions)
        .order_by(VisitBooking.starts_at)
        .limit(limit)
        .offset(offset)
    )
    total = await session.execute(select(func.count()).select_from(VisitBooking).where(*conditions))
    return list(rows.scalars().all()), int(total.scalar_one())


async def technician_name(*, session: AsyncSession, technician_id: int) -> str:
    technician = await session.get(Technician, technician_id)
    return technician.name if technician else "a technician"


async def area_timezone(*, session: AsyncSession, code: str) -> str:
    area = await session.get(ServiceArea, code)
    return area.timezone if area else "UTC"


def slot_button(slot: Slot, *, reschedule: bool = False, language: str = "en") -> dict[str, str]:
    intent = "reschedule_visit" if reschedule else "book_visit"
    return {
        "title": f"{slot.describe(language)} ({slot.technician_name})",
        "payload": f'/{intent}{{"visit_slot":"{slot.ref}"}}',
    }


# Free slots looked at for a customer who said when suits them ("on Thursday").
WISH_SEARCH = 60
OFFERED = 5


async def slot_offer(
    *,
    session: AsyncSession,
    service_area: str,
    reschedule: bool = False,
    lead: str = "",
    language: str = "en",
    wish: str = "",
    not_on: Sequence[datetime] = (),
) -> tuple[str, list[dict[str, str]]]:
    """The next free slots as a question with one button each.

    `wish`: what the customer said about when ("auf Donnerstag", "Saturday
    morning"); the free times that fit it come first, or the customer hears that
    none does and gets the next ones. `not_on`: the start of the visit being moved,
    or of the times already offered, whose days "another day" leaves out.
    """
    wanted = TimeWish.read(wish)
    found = await free_slots(
        session=session, service_area=service_area, limit=WISH_SEARCH if wanted else OFFERED
    )
    if wanted is not None and wanted.other_day and not_on and found:
        # "Can I move it to another day?": not the day of the visit being moved, nor
        # those of the times just offered.
        zone = ZoneInfo(found[0].timezone)
        days = {moment.astimezone(zone).date() for moment in not_on}
        found = [s for s in found if s.starts_at.astimezone(zone).date() not in days]
    if not found:
        return lead + say("visit.no_slots", language), []
    buttons = [slot_button(s, reschedule=reschedule, language=language) for s in found]
    if wanted is None:
        return lead + say("visit.choose", language), buttons[:OFFERED]
    names = say("time.weekdays", language).lower().split()
    fitting = [b for b in buttons if wanted.fits(b["title"], names)]
    if fitting:
        return lead + say("visit.choose_as_wished", language), fitting[:OFFERED]
    return lead + say("visit.none_as_wished", language), buttons[:OFFERED]


# Typed answers to "which time suits you?": the day, the hour, the part of the day,
# or which of the offered times.
_WEEKDAYS = (
    ("monday", "mon", "montag", "montags"),
    ("tuesday", "tue", "tues", "dienstag", "dienstags"),
    ("wednesday", "wed", "mittwoch", "mittwochs"),
    ("thursday", "thu", "thur", "thurs", "donnerstag", "donnerstags"),
    ("friday", "fri", "freitag", "freitags"),
    ("saturday", "samstag", "samstags", "sonnabend"),
    ("sunday", "sonntag", "sonntags"),
)
_ORDINALS = {
    0: ("first", "earliest", "erste", "ersten", "erster", "frühesten", "frühestmöglich"),
    1: ("second", "zweite", "zweiten", "zweiter"),
    2: ("third", "dritte", "dritten", "dritter"),
    -1: ("last", "latest", "letzte", "letzten", "letzter"),
}
# Words before a weekday that is not the one wished for.
_AWAY_FROM = {"from", "of", "not", "vom", "von", "statt", "anstatt", "nicht"}
_MORNING = ("morning", "vormittag", "vormittags", "morgens", "früh")
_AFTERNOON = ("afternoon", "nachmittag", "nachmittags", "mittag", "mittags")
# "Can I move it to another day?", „auf einen anderen Tag“: any day but the visit's.
_OTHER_DAY = re.compile(
    r"\b(?:another|different|other|later) day\b|\banderen? tag\b|\banderer tag\b",
    re.IGNORECASE,
)
_HOUR = re.compile(
    r"(?:\b(?:at|um|ab|from)\s+(\d{1,2})(?::\d{2})?)|(?:\b(\d{1,2}):\d{2})"
    r"|(?:\b(\d{1,2})\s*(uhr|am|pm|h)\b)",
    re.IGNORECASE,
)
_TIMES = re.compile(r"(\d{2}):(\d{2})")


@dataclass(frozen=True)
class TimeWish:
    """When a customer said a visit suits them: a weekday, an hour, a part of the day."""

    day: Optional[int] = None  # 0 is Monday
    hour: Optional[int] = None
    part: Optional[str] = None  # morning | afternoon
    other_day: bool = False  # not the day of the visit being moved

    @classmethod
    def read(cls, text: str) -> Optional[TimeWish]:
        """The wish in the text, or None when it names no day, hour or part of the day."""
        sequence = re.findall(r"\w+", (text or "").lower())
        words = set(sequence)
        day = cls._day(sequence)
        hour = None
        found = _HOUR.search(text or "")
        if found:
            number = next(g for g in found.groups()[:3] if g)
            hour = int(number) % 24
            if (found.group(4) or "").lower() == "pm" and hour < 12:
                hour += 12
        part = "morning" if set(_MORNING) & words else None
        part = "afternoon" if set(_AFTERNOON) & words else part
        other_day = bool(_OTHER_DAY.search(text or ""))
        if day is None and hour is None and part is None and not other_day:
            return None
        return cls(day, hour, part, other_day)

    @staticmethod
    def _day(words: list[str]) -> Optional[int]:
        """The weekday wished for: the last one named, not one that is moved away from
        ("move my Tuesday visit to Thursday", „vom Dienstag auf Donnerstag“, "Thursday
        instead of Tuesday")."""
        named = []
        for position, word in enumerate(words):
            day = next((i for i, forms in enumerate(_WEEKDAYS) if word in forms), None)
            if day is not None and not set(words[max(0, position - 2) : position]) & _AWAY_FROM:
                named.append(day)
        return named[-1] if named else None

    def fits(self, title: str, weekday_names: list[str]) -> bool:
        """Whether a slot button's title ("Thu 10 Dec, 08:00–10:00 (…)") fits the wish."""
        title = title.lower()
        times = [int(h) for h, _ in _TIMES.findall(title)]
        start, end = (times + [0, 24])[:2] if times else (0, 24)
        if self.day is not None and title.split()[0].strip(",") != weekday_names[self.day]:
            return False
        if self.hour is not None and not start <= self.hour < end:
            return False
        if self.part == "morning" and start >= 12:
            return False
        return not (self.part == "afternoon" and start < 12)


def pick_offered_slot(
    text: str, offered: list[dict[str, str]], *, affirmed: bool = False, language: str = "en"
) -> Optional[dict[str, str]]:
    """The offered slot button a typed answer picks: "Tuesday morning", "Montag um 10",
    "the second one"; with nothing more than a yes, the earliest. None when the answer
    names no offered time."""
    words = re.findall(r"\w+", text.lower())
    names = say("time.weekdays", language).lower().split()
    wish = TimeWish.read(text)
    if wish == TimeWish(other_day=True):
        return None  # "another day, please" picks none of the times offered
    ordinal = next((i for i, forms in _ORDINALS.items() if set(forms) & set(words)), None)
    candidates = [slot for slot in offered if wish is None or wish.fits(slot["title"], names)]
    if not candidates:
        return None
    if ordinal is not None:
        return candidates[ordinal] if -len(candidates) <= ordinal < len(candidates) else None
    if wish is not None or affirmed:
        return candidates[0]
    return None


def visit_domain(customer: Customer) -> str:
    """The support domain of a visit booked without a diagnosis: the customer's line."""
    return "internet" if "internet" in customer.services else "cable"


async def booked_visits(*, session: AsyncSession, ticket_id: int) -> list[VisitBooking]:
    """The ticket's visits still to come."""
    result = await session.execute(
        select(VisitBooking).where(
            VisitBooking.ticket_id == ticket_id, VisitBooking.status == VisitStatus.booked.value
        )
    )
    return list(result.scalars())


async def booking_timezone(*, session: AsyncSession, booking: VisitBooking) -> str:
    """The time zone of the area the booking's technician works in."""
    technician = await session.get(Technician, booking.technician_id)
    return await area_timezone(session=session, code=technician.service_area if technician else "")

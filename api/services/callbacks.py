"""A call back for a customer waiting in the queue: never promised without a number.

When a waiting customer asks to be called back, the handoff keeps where that
stands (`Handoff.callback_step`):

- an identified customer with a phone number on record is told which number
  we will call (only its last digits) and may give another one: `confirming`,
  then `arranged`;
- otherwise we ask for a number (`asking`), check it as a ticket's contact
  details are checked (`tickets.parse_phone`), open the callback ticket with it
  stored as the ticket's contact, and only then say "we'll call you on …"
  (`arranged`). An unreadable answer is asked again with an example, three
  times at most; "no" (or "I'll wait") stores nothing and says honestly that
  nobody can call (`declined`).

The customer's messages meanwhile are stored and shown to agents like every
message in the queue (api/services/chat_gateway.py); this module only decides
what the queue answers. No sentence is written here: every text is a `queue.*`
key of data/wording.yml.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Optional

from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Customer, Handoff, Ticket
from api.services import customers, tickets
from bot.vocabulary import DOMAINS, OTHER
from bot.wording import button, say

CALLBACK_PAYLOAD = "/request_callback"
KEEP_WAITING_PAYLOAD = "/keep_waiting"
OTHER_NUMBER_PAYLOAD = "/callback_other_number"
# The customer leaves the queue and goes on with the assistant (api/services/handoff_desk.py).
BACK_TO_ASSISTANT_PAYLOAD = "/back_to_assistant"
PAYLOADS = (CALLBACK_PAYLOAD, KEEP_WAITING_PAYLOAD, OTHER_NUMBER_PAYLOAD, BACK_TO_ASSISTANT_PAYLOAD)


class CallbackStep(str, enum.Enum):
    asking = "asking"  # waiting for the phone number to call
    confirming = "confirming"  # told the number on record; the next message may give another
    arranged = "arranged"  # the callback ticket has the number to call
    declined = "declined"  # no number, so nobody can call


@dataclass
class CallbackReply:
    """What the queue answers; `ticket_opened` when the callback ticket is new."""

    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    ticket_opened: bool = False


def other_number_button(language: str) -> dict[str, str]:
    return button("button.other_number", language, OTHER_NUMBER_PAYLOAD)


def wait_instead_button(language: str) -> dict[str, str]:
    return button("button.keep_waiting", language, KEEP_WAITING_PAYLOAD)


def keep_number_button(language: str) -> dict[str, str]:
    """Asked for another number, the customer may keep the one arranged (answered as "no")."""
    return button("button.keep_number", language, KEEP_WAITING_PAYLOAD)


async def callback_ticket(session: AsyncSession, handoff: Handoff) -> Optional[Ticket]:
    if handoff.callback_ticket_id is None:
        return None
    return await session.get(Ticket, handoff.callback_ticket_id)


def number_to_call(ticket: Ticket, customer: Optional[Customer], language: str) -> str:
    """The number as the customer hears it: the one on record by its last digits only."""
    number = ticket.contact or ""
    if customer is not None and customer.phone and customer.phone == number:
        return say("queue.callback_number_ending", language, ending=tickets.phone_ending(number))
    return number


class CallbackDesk:
    """One waiting customer's call back, in the handoff's unit of work."""

    def __init__(self, session: AsyncSession, handoff: Handoff, language: str) -> None:
        self.session = session
        self.handoff = handoff
        self.language = language

    @property
    def step(self) -> Optional[str]:
        return self.handoff.callback_step

    async def answer(self, payload: Optional[str], text: str) -> Optional[CallbackReply]:
        """The answer to a button or a typed message; None when the call back has nothing
        to say about it (the message is then simply kept for the agent)."""
        if payload == CALLBACK_PAYLOAD:
            return await self._requested()
        if payload == OTHER_NUMBER_PAYLOAD:
            return self._ask(other=True)
        if payload == KEEP_WAITING_PAYLOAD:
            if self.step == CallbackStep.asking.value:
                return await self._declined()
            if self.step is None:
                # "I'll wait" to the queue's buttons: no call back, and waiting on purpose.
                self.handoff.callback_step = CallbackStep.declined.value
            return CallbackReply(say("queue.keep_waiting", self.language))
        if payload is not None:
            return None
        if self.step == CallbackStep.asking.value:
            return await self._number_given(text)
        if self.step == CallbackStep.confirming.value:
            # Told the number on record; another number may follow at once. Anything
            # else is for the agent, and the number on record stands.
            self.handoff.callback_step = CallbackStep.arranged.value
            if tickets.parse_phone(text) is not None:
                return await self._number_given(text)
        return None

    async def arranged_reminder(self) -> Optional[str]:
        """For a message while the call back is arranged: which number, which ticket."""
        if self.step not in (CallbackStep.arranged.value, CallbackStep.confirming.value):
            return None
        ticket = await callback_ticket(self.session, self.handoff)
        if ticket is None or not ticket.contact:
            return None
        return say(
            "queue.message_kept_callback",
            self.language,
            number=number_to_call(ticket, await self._customer(), self.language),
            ticket=ticket.number,
        )

    # ------------------------------------------------------------ steps

    async def _requested(self) -> CallbackReply:
        ticket = await callback_ticket(self.session, self.handoff)
        if ticket is not None and ticket.contact and self.step != CallbackStep.asking.value:
            # Asked twice: one ticket, one promise.
            return CallbackReply(
                say(
                    "queue.callback_already",
                    self.language,
                    number=number_to_call(ticket, await self._customer(), self.language),
                    ticket=ticket.number,
                ),
                [other_number_button(self.language)],
            )
        customer = await self._customer()
        if customer is not None and customer.phone and tickets.parse_phone(customer.phone):
            ticket, opened = await self._ticket(customer)
            await tickets.set_contact(
                session=self.session, ticket=ticket, contact=customer.phone, actor="bot"
            )
            self.handoff.callback_step = CallbackStep.confirming.value
            self.handoff.callback_attempts = 0
            return CallbackReply(
                say(
                    "queue.callback_on_record",
                    self.language,
                    ticket=ticket.number,
                    number=number_to_call(ticket, customer, self.language),
                ),
                [other_number_button(self.language)],
                ticket_opened=opened,
            )
        return self._ask(other=False)

    def _ask(self, *, other: bool) -> CallbackReply:
        """Ask for the number to call; "I'll wait" declines."""
        changing = other and self.handoff.callback_ticket_id is not None
        self.handoff.callback_step = CallbackStep.asking.value
        self.handoff.callback_attempts = 0
        if changing:
            return CallbackReply(
                say("queue.callback_ask_other", self.language),
                [keep_number_button(self.language)],
            )
        return CallbackReply(
            say("queue.callback_ask", self.language), [wait_instead_button(self.language)]
        )

    async def _number_given(self, text: str) -> CallbackReply:
        if tickets.declines_contact(text):
            return await self._declined()
        phone = tickets.parse_phone(text)
        if phone is None:
            self.handoff.callback_attempts = (self.handoff.callback_attempts or 0) + 1
            if self.handoff.callback_attempts >= tickets.MAX_CONTACT_ATTEMPTS:
                return await self._declined(unreadable=True)
            return CallbackReply(
                say("queue.callback_invalid", self.language), [wait_instead_button(self.language)]
            )
        ticket, opened = await self._ticket(await self._customer())
        await tickets.set_contact(
            session=self.session, ticket=ticket, contact=phone, actor="customer via bot"
        )
        self.handoff.callback_step = CallbackStep.arranged.value
        self.handoff.callback_attempts = 0
        return CallbackReply(
            say("queue.callback_arranged", self.language, number=phone, ticket=ticket.number),
            [other_number_button(self.language)],
            ticket_opened=opened,
        )

    async def _declined(self, *, unreadable: bool = False) -> CallbackReply:
        """No (new) number: a number already arranged stands; without one, nobody can call."""
        self.handoff.callback_attempts = 0
        ticket = await callback_ticket(self.session, self.handoff)
        if ticket is not None and ticket.contact:
            self.handoff.callback_step = CallbackStep.arranged.value
            return CallbackReply(
                say(
                    "queue.callback_number_kept",
                    self.language,
                    number=number_to_call(ticket, await self._customer(), self.language),
                    ticket=ticket.number,
                )
            )
        self.handoff.callback_step = CallbackStep.declined.value
        key = "queue.callback_unreadable" if unreadable else "queue.callback_declined"
        return CallbackReply(say(key, self.language))

    # ---------------------------------------------------------- records

    async def _customer(self) -> Optional[Customer]:
        return await customers.customer_for_conversation(
            session=self.session, conversation_id=self.handoff.conversation_id
        )

    async def _ticket(self, customer: Optional[Customer]) -> tuple[Ticket, bool]:
        """The handoff's callback ticket, opened now if there is none yet."""
        existing = await callback_ticket(self.session, self.handoff)
        if existing is not None:
            return existing, False
        handoff = self.handoff
        ticket = await tickets.open_ticket(
            session=self.session,
            conversation_id=handoff.conversation_id,
            customer_id=customer.id if customer else None,
            domain=handoff.skill if handoff.skill in DOMAINS else OTHER,
            title=say("record.callback_title"),
            summary=handoff.summary or "",
            tier=2,
            priority="high",
        )
        handoff.callback_ticket_id = ticket.id
        return ticket, True

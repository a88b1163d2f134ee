"""A call back is promised only with a number to call (api/services/callbacks.py).

The real handoff desk and chat gateway on a real database; only the Rasa server
is replaced, by one that records what it is sent (it must be sent nothing while
the customer waits in the queue).
"""

from __future__ import annotations

from typing import Any, Optional

import pytest
from sqlalchemy import select

from api.db import Database
from api.models import Customer, Handoff, Message, Sender, ServiceArea, Ticket, TicketEvent
from api.services import conversations, customers, tickets
from api.services.callbacks import CALLBACK_PAYLOAD, KEEP_WAITING_PAYLOAD, OTHER_NUMBER_PAYLOAD
from api.services.chat_gateway import ChatGateway
from api.services.conversations import ConversationStore
from api.services.errors import Invalid
from api.services.handoff_desk import HandoffDesk
from api.services.hub import ConversationHub
from api.services.presence import AgentPresence
from api.services.rasa_client import BotReply, RasaClient
from bot.wording import say


class SilentRasa(RasaClient):
    """Records what it is sent; a queued customer's messages must never reach it."""

    def __init__(self) -> None:
        super().__init__(base_url="http://127.0.0.1:9", jwt_secret="x", timeout_seconds=1)
        self.received: list[str] = []
        # What the language model reads in a text; small talk unless a test says so.
        self.intents: dict[str, tuple[str, float]] = {}

    async def intent_of(self, *, sender_id: str, text: str) -> tuple[str, float]:
        return self.intents.get(text, ("greet", 0.9))

    async def send_message(
        self, *, sender_id: str, text: str, metadata: Optional[dict[str, Any]] = None
    ) -> list[BotReply]:
        self.received.append(text)
        return [BotReply("ok")]


class Chat:
    """One customer waiting in the queue with nobody online, talking through the gateway."""

    def __init__(self, database: Database, conversation_id: str) -> None:
        self.database = database
        self.conversation_id = conversation_id
        self.hub = ConversationHub()
        self.rasa = SilentRasa()
        self.desk = HandoffDesk(
            database=database,
            conversations=ConversationStore(database),
            hub=self.hub,
            presence=AgentPresence(),
            rasa=self.rasa,
            wait_limit_seconds=60,
        )
        self.gateway = ChatGateway(
            conversations=self.desk.conversations, rasa=self.rasa, hub=self.hub, desk=self.desk
        )
        self.seen: list[dict[str, Any]] = []
        self.sent = 0

        async def listen(frame: dict[str, Any]) -> None:
            self.seen.append(frame)

        self.hub.subscribe(conversation_id, listen)

    async def say(self, text: str, payload: Optional[str] = None) -> list[dict[str, Any]]:
        """The system messages the queue answered with."""
        start = len(self.seen)
        self.sent += 1

        async def nowhere(frame: dict[str, Any]) -> None:
            pass

        await self.gateway.handle_customer_message(
            conversation_id=self.conversation_id,
            client_id=f"c{self.sent}",
            text=text,
            payload=payload,
            reply_to=nowhere,
        )
        return [f for f in self.seen[start:] if f["type"] == "message" and f["sender"] == "system"]


async def queued_chat(
    database: Database, language: str = "en", customer: Optional[dict[str, Any]] = None
) -> Chat:
    async with database.session() as session:
        conversation_id = (
            await conversations.start_conversation(session=session, language_hint=language)
        ).conversation.id
        if customer is not None:
            await customers.import_customers(session=session, records=[customer])
            found = await session.scalar(
                select(Customer).where(Customer.account_number == customer["account_number"])
            )
            await customers.link_conversation(
                session=session, conversation_id=conversation_id, customer_id=found.id
            )
    chat = Chat(database, conversation_id)
    notice = await chat.desk.request(
        conversation_id=conversation_id, reason="asked for a person", skill="internet"
    )
    assert CALLBACK_PAYLOAD in [b["payload"] for b in notice.buttons]
    return chat


def maria(phone: Optional[str] = "+49 30 5550142") -> dict[str, Any]:
    return {
        "account_number": "ACC-9001",
        "email": "maria@example.com",
        "phone": phone,
        "name": "Maria Schneider",
        "postcode": "10115",
        "address": "Invalidenstraße 12, 10115 Berlin",
        "service_area": "berlin-mitte",
    }


async def seed_area(database: Database) -> None:
    async with database.session() as session:
        session.add(ServiceArea(code="berlin-mitte", name="Berlin Mitte"))


async def callback_tickets(database: Database, conversation_id: str) -> list[Ticket]:
    async with database.session() as session:
        found = await session.execute(
            select(Ticket).where(Ticket.conversation_id == conversation_id).order_by(Ticket.id)
        )
        return list(found.scalars().all())


async def handoff_of(database: Database, conversation_id: str) -> Handoff:
    async with database.session() as session:
        handoff = await session.scalar(
            select(Handoff).where(Handoff.conversation_id == conversation_id)
        )
        assert handoff is not None
        return handoff


def texts(frames: list[dict[str, Any]]) -> str:
    return " ".join(f["text"] for f in frames)


# -------------------------------------------------------------- the number


def test_the_phone_check_is_the_ticket_contact_check() -> None:
    assert tickets.parse_phone("call me on +49 (30) 123-4567 please") == "+49 (30) 123-4567"
    assert tickets.parse_phone("030 1234567") == "030 1234567"
    assert tickets.parse_phone("12345") is None  # too short
    assert tickets.parse_phone("anna1234567@example.com") is None  # an e-mail address
    assert tickets.parse_contact("anna1234567@example.com") == "anna1234567@example.com"
    assert tickets.parse_contact("030 1234567") == "030 1234567"
    assert tickets.phone_ending("+49 30 5550142") == "42"


def test_no_is_understood_in_german_too() -> None:
    for typed in ("no", "rather not", "Nein", "nein danke", "lieber nicht", "Keine Nummer"):
        assert tickets.declines_contact(typed), typed
    for typed in ("030 1234567", "my number is 030 1234567", "noon works for me: 030 1234567"):
        assert not tickets.declines_contact(typed), typed


# ------------------------------------------------------ asked for a number


async def test_a_callback_asks_for_a_number_before_any_promise(database: Database) -> None:
    chat = await queued_chat(database)
    asked = await chat.say("Call me back instead", CALLBACK_PAYLOAD)
    assert len(asked) == 1
    assert "Which phone number should we call you on?" in asked[0]["text"]
    assert "+49 30 1234567" in asked[0]["text"]  # an example
    assert KEEP_WAITING_PAYLOAD in [b["payload"] for b in asked[0]["buttons"]]
    assert "TCK-" not in asked[0]["text"] and "will call" not in asked[0]["text"]
    assert await callback_tickets(database, chat.conversation_id) == []

    unreadable = await chat.say("my phone is the usual one")
    assert "doesn't look like a phone number" in texts(unreadable)
    assert "+49 30 1234567" in texts(unreadable)
    assert await callback_tickets(database, chat.conversation_id) == []

    confirmed = await chat.say("sure, it's 030 555 0199")
    [ticket] = await callback_tickets(database, chat.conversation_id)
    assert ticket.contact == "030 555 0199"
    assert ticket.title == say("record.callback_title") and ticket.priority == "high"
    assert texts(confirmed) == say(
        "queue.callback_arranged", "en", number="030 555 0199", ticket=ticket.number
    )
    assert OTHER_NUMBER_PAYLOAD in [b["payload"] for b in confirmed[0]["buttons"]]
    async with database.session() as session:
        events = await session.execute(
            select(TicketEvent.detail).where(TicketEvent.ticket_id == ticket.id)
        )
        assert "contact: 030 555 0199" in list(events.scalars())
    handoff = await handoff_of(database, chat.conversation_id)
    assert handoff.status == "waiting"  # a person may still take the chat
    assert (handoff.callback_step, handoff.callback_ticket_id) == ("arranged", ticket.id)


async def test_every_message_meanwhile_is_kept_for_the_agent(database: Database) -> None:
    chat = await queued_chat(database)
    await chat.say("Call me back instead", CALLBACK_PAYLOAD)
    await chat.say("how long will this take?")
    await chat.say("+49 30 5550199")
    later = await chat.say("also, the router light is red")
    [ticket] = await callback_tickets(database, chat.conversation_id)
    assert texts(later) == say(
        "queue.message_kept_callback", "en", number="+49 30 5550199", ticket=ticket.number
    )
    assert chat.rasa.received == []  # the assistant stays out of a queued chat
    async with database.session() as session:
        stored = await session.execute(
            select(Message.text).where(
                Message.conversation_id == chat.conversation_id,
                Message.sender == Sender.customer.value,
            )
        )
        assert list(stored.scalars()) == [
            "Call me back instead",
            "how long will this take?",
            "+49 30 5550199",
            "also, the router light is red",
        ]
    # Each one reached the hub, where the agents' console listens.
    published = [f["text"] for f in chat.seen if f.get("sender") == "customer"]
    assert published == [
        "Call me back instead",
        "how long will this take?",
        "+49 30 5550199",
        "also, the router light is red",
    ]


async def test_three_unreadable_numbers_and_nobody_is_promised_a_call(
    database: Database,
) -> None:
    chat = await queued_chat(database)
    await chat.say("Call me back instead", CALLBACK_PAYLOAD)
    assert "doesn't look like" in texts(await chat.say("soon please"))
    assert "doesn't look like" in texts(await chat.say("the one you have"))
    gave_up = await chat.say("12 34")
    assert texts(gave_up) == say("queue.callback_unreadable", "en")
    assert await callback_tickets(database, chat.conversation_id) == []
    assert (await handoff_of(database, chat.conversation_id)).callback_step == "declined"
    # What follows is for the agent again, with the call back still on offer.
    kept = await chat.say("ok I'll just wait")
    assert texts(kept) == say("queue.message_kept_nobody_online", "en")
    assert CALLBACK_PAYLOAD in [b["payload"] for b in kept[0]["buttons"]]


async def test_the_customer_may_decline_and_keep_waiting(database: Database) -> None:
    chat = await queued_chat(database)
    await chat.say("Call me back instead", CALLBACK_PAYLOAD)
    declined = await chat.say("no thanks")
    assert texts(declined) == say("queue.callback_declined", "en")
    assert "nobody can call you" in texts(declined) and "chat stays open" in texts(declined)
    assert await callback_tickets(database, chat.conversation_id) == []

    # Changed their mind: asked again, and the "I'll wait" button declines as well.
    assert "Which phone number" in texts(await chat.say("Call me back", CALLBACK_PAYLOAD))
    waited = await chat.say("I'll wait", KEEP_WAITING_PAYLOAD)
    assert texts(waited) == say("queue.callback_declined", "en")
    assert await callback_tickets(database, chat.conversation_id) == []


async def test_in_german(database: Database) -> None:
    chat = await queued_chat(database, "de")
    asked = await chat.say("Lieber Rückruf", CALLBACK_PAYLOAD)
    assert texts(asked) == say("queue.callback_ask", "de")
    assert asked[0]["buttons"][0]["title"] == say("button.keep_waiting", "de")
    assert texts(await chat.say("weiß ich nicht")) == say("queue.callback_invalid", "de")
    confirmed = await chat.say("Meine Nummer ist 0171 5550123")
    [ticket] = await callback_tickets(database, chat.conversation_id)
    assert ticket.contact == "0171 5550123"
    assert texts(confirmed) == say(
        "queue.callback_arranged", "de", number="0171 5550123", ticket=ticket.number
    )
    declined = await queued_chat(database, "de")
    await declined.say("Lieber Rückruf", CALLBACK_PAYLOAD)
    assert texts(await declined.say("Nein danke")) == say("queue.callback_declined", "de")


async def test_asked_twice_one_ticket_one_promise(database: Database) -> None:
    chat = await queued_chat(database)
    await chat.say("Call me back instead", CALLBACK_PAYLOAD)
    await chat.say("030 5550199")
    again = await chat.say("Call me back instead", CALLBACK_PAYLOAD)
    [ticket] = await callback_tickets(database, chat.conversation_id)
    assert texts(again) == say(
        "queue.callback_already", "en", number="030 5550199", ticket=ticket.number
    )


async def test_another_number_replaces_the_first(database: Database) -> None:
    chat = await queued_chat(database)
    await chat.say("Call me back instead", CALLBACK_PAYLOAD)
    await chat.say("030 5550199")
    asked = await chat.say("Use another number", OTHER_NUMBER_PAYLOAD)
    assert texts(asked) == say("queue.callback_ask_other", "en")
    # Its way out keeps the number arranged, and says so.
    assert asked[0]["buttons"] == [
        {"title": say("button.keep_number", "en"), "payload": KEEP_WAITING_PAYLOAD}
    ]
    await chat.say("0171 5550123")
    [ticket] = await callback_tickets(database, chat.conversation_id)
    assert ticket.contact == "0171 5550123"
    # Asked for another and then said no: the number given before stands.
    await chat.say("Use another number", OTHER_NUMBER_PAYLOAD)
    kept = await chat.say("no")
    assert texts(kept) == say(
        "queue.callback_number_kept", "en", number="0171 5550123", ticket=ticket.number
    )
    [ticket] = await callback_tickets(database, chat.conversation_id)
    assert ticket.contact == "0171 5550123"
    await chat.say("Use another number", OTHER_NUMBER_PAYLOAD)
    kept = await chat.say("Keep the current number", KEEP_WAITING_PAYLOAD)
    assert texts(kept) == say(
        "queue.callback_number_kept", "en", number="0171 5550123", ticket=ticket.number
    )


async def test_no_long_wait_offer_once_a_call_back_is_asked_for(database: Database) -> None:
    chat = await queued_chat(database)
    await chat.say("Call me back instead", CALLBACK_PAYLOAD)
    async with database.session() as session:
        handoff = await session.get(Handoff, (await handoff_of(database, chat.conversation_id)).id)
        handoff.callback_offered = False
    chat.desk.wait_limit_seconds = -1
    assert await chat.desk.offer_callbacks_to_long_waits() == 0


# ------------------------------------------------------- number on record


async def test_an_identified_customer_hears_the_number_on_record(database: Database) -> None:
    await seed_area(database)
    chat = await queued_chat(database, customer=maria())
    told = await chat.say("Call me back instead", CALLBACK_PAYLOAD)
    [ticket] = await callback_tickets(database, chat.conversation_id)
    assert ticket.contact == "+49 30 5550142" and ticket.customer_id is not None
    number = say("queue.callback_number_ending", "en", ending="42")
    assert texts(told) == say("queue.callback_on_record", "en", ticket=ticket.number, number=number)
    assert "ending in 42" in texts(told) and "5550142" not in texts(told)
    assert OTHER_NUMBER_PAYLOAD in [b["payload"] for b in told[0]["buttons"]]

    # Another number, typed at once, replaces it.
    changed = await chat.say("please call my mobile instead: 0171 5550123")
    [ticket] = await callback_tickets(database, chat.conversation_id)
    assert ticket.contact == "0171 5550123"
    assert texts(changed) == say(
        "queue.callback_arranged", "en", number="0171 5550123", ticket=ticket.number
    )


async def test_the_number_on_record_stands_when_the_customer_writes_about_something_else(
    database: Database,
) -> None:
    await seed_area(database)
    chat = await queued_chat(database, "de", customer=maria())
    told = await chat.say("Lieber Rückruf", CALLBACK_PAYLOAD)
    assert "Ihrer Nummer mit der Endung 42" in texts(told)
    other = await chat.say("Der Fehler ist E-404, der Router blinkt")
    [ticket] = await callback_tickets(database, chat.conversation_id)
    assert ticket.contact == "+49 30 5550142"
    assert texts(other) == say(
        "queue.message_kept_callback",
        "de",
        number=say("queue.callback_number_ending", "de", ending="42"),
        ticket=ticket.number,
    )


async def test_an_identified_customer_without_a_number_is_asked(database: Database) -> None:
    await seed_area(database)
    chat = await queued_chat(database, customer=maria(phone=None))
    asked = await chat.say("Call me back instead", CALLBACK_PAYLOAD)
    assert texts(asked) == say("queue.callback_ask", "en")
    await chat.say("030 5550199")
    [ticket] = await callback_tickets(database, chat.conversation_id)
    assert ticket.contact == "030 5550199" and ticket.customer_id is not None


async def test_a_customer_import_checks_the_phone_number(database: Database) -> None:
    await seed_area(database)
    async with database.session() as session:
        await customers.import_customers(session=session, records=[maria("030 / 555 01 42 ")])
        stored = await session.scalar(select(Customer.phone))
    assert stored == "030 / 555 01 42"
    with pytest.raises(Invalid, match="not a phone number"):
        async with database.session() as session:
            await customers.import_customers(session=session, records=[maria("call me")])

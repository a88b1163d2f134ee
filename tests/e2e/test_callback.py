"""A call back with nobody online: asked for a number, checked, stored, and only then promised.

Real Rasa with the real model, the real API, the real websocket; in English and German.
"""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from api.models import format_ticket_number
from tests.chat_client import ChatClient
from tests.e2e.helpers import button, execute, query

pytestmark = pytest.mark.e2e

TICKET = re.compile(r"TCK-\d+")


def operator(stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.settings.operator_token}"}


async def staff_sees(stack, conversation_id: str, number: str) -> tuple[dict, dict]:
    """The ticket as staff get it, and the chat as the console opens it."""
    async with httpx.AsyncClient(base_url=stack.base_url, headers=operator(stack)) as http:
        ticket = await http.get(f"/tickets/{number}")
        view = await http.get(f"/conversations/{conversation_id}")
    assert ticket.status_code == 200 and view.status_code == 200, (ticket.text, view.text)
    return ticket.json(), view.json()


async def test_a_call_back_asks_for_the_number_and_promises_only_with_it(stack) -> None:
    customer = ChatClient(stack.ws_url)
    welcome = await customer.connect(language="en")
    conversation_id = welcome["conversation_id"]
    try:
        await asyncio.sleep(0.5)  # let earlier tests' agents disconnect
        await customer.say("my internet is not working")
        queued = await customer.say("I want to talk to a real person")  # free text, real NLU
        assert "No agent is online" in queued.text, queued.text
        callback = button(queued, "Call me back")

        asked = await customer.say(callback["title"], payload=callback["payload"])
        assert "Which phone number should we call you on?" in asked.text, asked.frames
        assert "+49 30 1234567" in asked.text
        assert "TCK-" not in asked.text and "will call" not in asked.text
        assert (
            query(stack, "SELECT 1 FROM tickets WHERE conversation_id = :c", c=conversation_id)
            == []
        )

        bad = await customer.say("tomorrow morning is best")
        assert "doesn't look like a phone number" in bad.text, bad.frames
        assert "030 1234567" in bad.text  # an example
        assert (
            query(stack, "SELECT 1 FROM tickets WHERE conversation_id = :c", c=conversation_id)
            == []
        )

        good = await customer.say("you can reach me on +49 30 5550199")
        assert "We'll call you on +49 30 5550199 about ticket TCK-" in good.text, good.frames
        number = TICKET.search(good.text).group(0)

        later = await customer.say("the modem light is blinking orange, by the way")
        assert "+49 30 5550199" in later.text and number in later.text, later.frames
    finally:
        await customer.close()

    rows = query(
        stack,
        "SELECT id, title, contact, priority FROM tickets WHERE conversation_id = :c",
        c=conversation_id,
    )
    assert [(format_ticket_number(row[0]), *row[1:]) for row in rows] == [
        (number, "Callback requested from chat", "+49 30 5550199", "high")
    ]
    handoff = query(
        stack,
        "SELECT status, callback_step FROM handoffs WHERE conversation_id = :c",
        c=conversation_id,
    )
    assert handoff == [("waiting", "arranged")]  # still in the queue: nothing is lost
    ticket, view = await staff_sees(stack, conversation_id, number)
    assert ticket["contact"] == "+49 30 5550199"
    assert [(t["number"], t["contact"]) for t in view["tickets"]] == [(number, "+49 30 5550199")]
    customer_said = [m["text"] for m in view["messages"] if m["sender"] == "customer"]
    # What the customer wrote while asked for the number reached the agents' queue too.
    assert "tomorrow morning is best" in customer_said
    assert "the modem light is blinking orange, by the way" in customer_said


async def test_ein_rueckruf_fragt_nach_der_nummer(stack) -> None:
    customer = ChatClient(stack.ws_url)
    welcome = await customer.connect(language="de")
    conversation_id = welcome["conversation_id"]
    try:
        await asyncio.sleep(0.5)  # let earlier tests' agents disconnect
        assert welcome["language"] == "de"
        await customer.say("Mein Internet geht seit heute Morgen nicht mehr")
        queued = await customer.say("Ich möchte bitte mit einem Mitarbeiter sprechen")
        assert "Gerade ist kein Mitarbeiter online." in queued.text, queued.text
        callback = button(queued, "Lieber Rückruf")

        asked = await customer.say(callback["title"], payload=callback["payload"])
        assert "Unter welcher Telefonnummer sollen wir Sie anrufen?" in asked.text, asked.frames
        assert "TCK-" not in asked.text

        bad = await customer.say("am besten morgen früh")
        assert "sieht nicht nach einer Telefonnummer aus" in bad.text, bad.frames
        assert "+49 30 1234567" in bad.text

        good = await customer.say("Meine Handynummer ist 0171 5550123")
        assert "Wir rufen Sie unter 0171 5550123 wegen des Tickets TCK-" in good.text, good.frames
        number = TICKET.search(good.text).group(0)
    finally:
        await customer.close()

    rows = query(
        stack,
        "SELECT id, contact FROM tickets WHERE conversation_id = :c",
        c=conversation_id,
    )
    assert [(format_ticket_number(id_), contact) for id_, contact in rows] == [
        (number, "0171 5550123")
    ]
    language = query(stack, "SELECT language FROM conversations WHERE id = :c", c=conversation_id)
    assert language == [("de",)]
    ticket, view = await staff_sees(stack, conversation_id, number)
    assert ticket["contact"] == "0171 5550123"
    assert "am besten morgen früh" in [m["text"] for m in view["messages"]]


async def test_no_number_means_no_promise(stack) -> None:
    customer = ChatClient(stack.ws_url)
    welcome = await customer.connect(language="en")
    conversation_id = welcome["conversation_id"]
    try:
        await asyncio.sleep(0.5)
        queued = await customer.say("Talk to a person", payload="/request_human")
        callback = button(queued, "Call me back")
        await customer.say(callback["title"], payload=callback["payload"])
        declined = await customer.say("no, I'd rather not give my number")
        assert "nobody can call you" in declined.text, declined.frames
        assert "stays open" in declined.text
    finally:
        await customer.close()
    assert query(stack, "SELECT 1 FROM tickets WHERE conversation_id = :c", c=conversation_id) == []
    assert query(
        stack, "SELECT status FROM handoffs WHERE conversation_id = :c", c=conversation_id
    ) == [("waiting",)]


# ------------------------------------------------------- number on record

ON_RECORD = "+49 30 5550142"


def customer_with_phone(stack, account: str, area: str) -> str:
    """A customer with a phone number on record, in a service area of their own; their postcode."""
    execute(
        stack,
        "INSERT INTO service_areas (code, name, timezone) VALUES (:a, :a, 'Europe/Berlin')",
        a=area,
    )
    postcode = "6" + account[-4:]
    record = {
        "account_number": account,
        "email": f"{account.lower()}@example.com",
        "name": "Maria Keller",
        "phone": ON_RECORD,
        "postcode": postcode,
        "address": f"Ringstraße 4, {postcode} Mainz",
        "service_area": area,
        "services": ["internet"],
    }
    answer = httpx.post(
        f"{stack.base_url}/customers/import",
        json={"customers": [record]},
        headers=operator(stack),
    )
    assert answer.status_code == 200, answer.text
    return postcode


async def identify(customer: ChatClient, account: str, postcode: str, language: str):
    """The customer identifies as the product asks before an operation on their account."""
    asked = "I need a replacement part" if language == "en" else "Ich brauche ein Ersatzteil"
    start = await customer.say(asked, payload="/order_part")
    chosen = button(start, "account number" if language == "en" else "Kundennummer")
    await customer.say(chosen["title"], payload=chosen["payload"])
    await customer.say(account, payload=f'/inform{{"customer_ref":"{account}"}}')
    return await customer.say(postcode, payload=f'/inform{{"postcode":"{postcode}"}}')


def callback_ticket(stack, conversation_id: str) -> list[tuple]:
    return [
        (format_ticket_number(row[0]), *row[1:])
        for row in query(
            stack,
            "SELECT t.id, t.contact, c.account_number FROM tickets t "
            "JOIN customers c ON c.id = t.customer_id WHERE t.conversation_id = :c",
            c=conversation_id,
        )
    ]


def transcript(turns) -> str:
    return "\n---\n".join(t.text for t in turns)


async def test_an_identified_customer_is_called_on_the_number_on_record_or_another(stack) -> None:
    postcode = customer_with_phone(stack, "ACC-8201", "test-callback-en")
    customer = ChatClient(stack.ws_url)
    welcome = await customer.connect(language="en")
    conversation_id = welcome["conversation_id"]
    turns = []
    try:
        await asyncio.sleep(0.5)  # let earlier tests' agents disconnect
        known = await identify(customer, "ACC-8201", postcode, "en")
        turns.append(known)
        assert "Maria" in known.text, known.text
        queued = await customer.say("I want to talk to a real person")  # free text, real NLU
        turns.append(queued)
        assert "No agent is online" in queued.text, transcript(turns)
        callback = button(queued, "Call me back")

        told = await customer.say(callback["title"], payload=callback["payload"])
        turns.append(told)
        # The number on record by its last digits only; no question for a number.
        assert "we'll call you back on your number ending in 42" in told.text, transcript(turns)
        assert "5550142" not in told.text and "Which phone number" not in told.text
        number = TICKET.search(told.text).group(0)
        assert f"I've opened ticket {number}" in told.text
        assert callback_ticket(stack, conversation_id) == [(number, ON_RECORD, "ACC-8201")]

        other = button(told, "Use another number")
        asked = await customer.say(other["title"], payload=other["payload"])
        turns.append(asked)
        assert "Which phone number should we call you on instead?" in asked.text, transcript(turns)
        assert number not in asked.text  # nothing promised before the new number is given
        # The way out keeps the arranged number; "I'll wait" would read as no call back at all.
        assert [b["title"] for b in asked.buttons] == ["Keep the current number"], asked.buttons

        changed = await customer.say("please call my mobile: 0171 5550123")
        turns.append(changed)
        assert f"We'll call you on 0171 5550123 about ticket {number}" in changed.text, transcript(
            turns
        )
        assert "ending in" not in changed.text
    finally:
        await customer.close()
    print(transcript(turns))  # shown with -s: read it as the customer would

    # One ticket, its contact now the new number; the change is in the ticket's history.
    assert callback_ticket(stack, conversation_id) == [(number, "0171 5550123", "ACC-8201")]
    history = query(
        stack,
        "SELECT e.actor, e.detail FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id "
        "WHERE t.conversation_id = :c AND e.detail LIKE 'contact:%' ORDER BY e.id",
        c=conversation_id,
    )
    assert [tuple(row) for row in history] == [
        ("bot", f"contact: {ON_RECORD}"),
        ("customer via bot", "contact: 0171 5550123"),
    ]
    ticket, _ = await staff_sees(stack, conversation_id, number)
    assert ticket["contact"] == "0171 5550123"
    assert query(
        stack,
        "SELECT status, callback_step FROM handoffs WHERE conversation_id = :c",
        c=conversation_id,
    ) == [("waiting", "arranged")]


async def test_ein_identifizierter_kunde_wird_unter_seiner_nummer_zurueckgerufen(stack) -> None:
    postcode = customer_with_phone(stack, "ACC-8202", "test-callback-de")
    customer = ChatClient(stack.ws_url)
    welcome = await customer.connect(language="de")
    conversation_id = welcome["conversation_id"]
    turns = []
    try:
        await asyncio.sleep(0.5)
        assert welcome["language"] == "de"
        known = await identify(customer, "ACC-8202", postcode, "de")
        turns.append(known)
        assert "Maria" in known.text, known.text
        queued = await customer.say("Ich möchte bitte mit einem Mitarbeiter sprechen")
        turns.append(queued)
        assert "Gerade ist kein Mitarbeiter online." in queued.text, transcript(turns)
        callback = button(queued, "Lieber Rückruf")

        told = await customer.say(callback["title"], payload=callback["payload"])
        turns.append(told)
        assert "Wir rufen Sie unter Ihrer Nummer mit der Endung 42 zurück" in told.text, transcript(
            turns
        )
        assert "5550142" not in told.text
        number = TICKET.search(told.text).group(0)
        assert callback_ticket(stack, conversation_id) == [(number, ON_RECORD, "ACC-8202")]

        other = button(told, "Andere Nummer angeben")
        asked = await customer.say(other["title"], payload=other["payload"])
        turns.append(asked)
        assert "Unter welcher Telefonnummer sollen wir Sie stattdessen anrufen?" in asked.text, (
            transcript(turns)
        )
        assert [b["title"] for b in asked.buttons] == ["Bisherige Nummer behalten"], asked.buttons

        changed = await customer.say("Bitte rufen Sie mich auf dem Handy an: 0171 5550123")
        turns.append(changed)
        assert f"Wir rufen Sie unter 0171 5550123 wegen des Tickets {number} an" in changed.text, (
            transcript(turns)
        )

        # Asked for another number once more, the customer keeps the one just given.
        again = await customer.say(other["title"], payload=other["payload"])
        keep = button(again, "Bisherige Nummer behalten")
        kept = await customer.say(keep["title"], payload=keep["payload"])
        turns += [again, kept]
        assert f"wie vereinbart unter 0171 5550123 wegen des Tickets {number} an" in kept.text, (
            transcript(turns)
        )
    finally:
        await customer.close()
    print(transcript(turns))

    assert callback_ticket(stack, conversation_id) == [(number, "0171 5550123", "ACC-8202")]
    ticket, _ = await staff_sees(stack, conversation_id, number)
    assert ticket["contact"] == "0171 5550123"


async def leave_the_queue_then(stack, language: str, ask: str, back: str, then: str):
    """A customer asks for a person while nobody is online, presses `back` to return
    to the assistant and writes `then`: the conversation, the reply to leaving and
    the reply to `then`."""
    customer = ChatClient(stack.ws_url)
    welcome = await customer.connect(language=language)
    turns = []
    try:
        await asyncio.sleep(0.5)  # let earlier tests' agents disconnect
        queued = await customer.say(ask)
        turns.append(queued)
        chosen = button(queued, back)
        left = await customer.say(chosen["title"], payload=chosen["payload"])
        turns.append(left)
        after = await customer.say(then)
        turns.append(after)
    finally:
        await customer.close()
    print("\n---\n".join(t.text for t in turns))
    return welcome["conversation_id"], left, after


@pytest.mark.parametrize(
    ("language", "problem", "ask", "back", "going_on", "diagnosis"),
    [
        (
            "en",
            "my laptop won't turn on",
            "I want to talk to a real person",
            "Back to the assistant",
            "I'm back",
            "Does a charging light come on",
        ),
        (
            "de",
            "Mein Laptop geht nicht mehr an",
            "Ich möchte mit einem Mitarbeiter sprechen",
            "Zurück zum Assistenten",
            "ich bin wieder für Sie da",
            "Ladelämpchen",
        ),
    ],
)
async def test_a_customer_waiting_with_nobody_online_can_go_back_to_the_assistant(
    stack, language, problem, ask, back, going_on, diagnosis
) -> None:
    conversation_id, left, helped = await leave_the_queue_then(stack, language, ask, back, problem)
    assert going_on in left.text, left.text
    # The assistant answers again: the diagnosis starts, not "your message is kept".
    assert diagnosis in helped.text, helped.text
    rows = query(
        stack,
        "SELECT h.status, e.kind FROM handoffs h JOIN handoff_events e ON e.handoff_id = h.id "
        "WHERE h.conversation_id = :c ORDER BY e.id",
        c=conversation_id,
    )
    assert rows[-1] == ("returned", "left_queue"), rows


@pytest.mark.parametrize(
    ("language", "ask", "back", "topic", "still", "diagnosis"),
    [
        (
            "en",
            "My router is dead and I want to talk to a real person",
            "Back to the assistant",
            "If your internet still isn't working",
            "it's still not working",
            "router",
        ),
        (
            "de",
            "Mein Router ist tot, ich möchte mit einem Mitarbeiter sprechen",
            "Zurück zum Assistenten",
            "Falls Ihr Internet noch nicht funktioniert",
            "Es geht immer noch nicht",
            "Router",
        ),
    ],
)
async def test_after_leaving_the_queue_still_not_working_is_about_the_same_topic(
    stack, language, ask, back, topic, still, diagnosis
) -> None:
    _, left, going_on = await leave_the_queue_then(stack, language, ask, back, still)
    assert topic in left.text, left.text
    # The internet diagnosis starts, not "what is the problem about?".
    assert diagnosis in going_on.text, going_on.text

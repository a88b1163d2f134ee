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
from tests.e2e.helpers import button, query

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

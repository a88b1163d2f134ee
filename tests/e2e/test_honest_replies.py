"""The assistant claims nothing that is not so, through the real NLU, Rasa, actions and
websocket: a booked visit is shown instead of a second booking, and a ticket for a
customer we cannot reach asks for contact details before anyone promises to call.

Tom (ACC-1002, hamburg-nord) is used by no other end-to-end test, so his visit
does not change theirs.
"""

from __future__ import annotations

import re

import pytest

from tests.chat_client import ChatClient
from tests.e2e.helpers import button, press, query

pytestmark = pytest.mark.e2e

TICKET = re.compile(r"TCK-\d{6}")
PROMISES = ("in touch", "contact you", "call you", "get back to you")


def transcript(turns) -> str:
    return "\n---\n".join(t.text for t in turns)


async def test_a_booked_visit_is_shown_not_booked_twice(stack) -> None:
    client = ChatClient(stack.ws_url)
    welcome = await client.connect()
    turns = []
    try:
        start = await client.say("I need a technician", payload="/book_visit")
        turns.append(start)
        asked = await press(client, start, "account number")
        await client.say("ACC-1002", payload='/inform{"customer_ref":"ACC-1002"}')
        offer = await client.say("20249", payload='/inform{"postcode":"20249"}')
        turns += [asked, offer]
        assert "Tom" in offer.text and "free times" in offer.text, offer.text
        first_slot, other_slot = offer.buttons[0], offer.buttons[1]
        booked = await client.say(first_slot["title"], payload=first_slot["payload"])
        turns.append(booked)
        assert "Booked!" in booked.text, booked.text
        ticket = TICKET.search(booked.text).group(0)

        # Asking again: the booked visit, and the choice to keep, move or cancel it.
        again = await client.say("I need a technician to come out", payload="/book_visit")
        turns.append(again)
        assert "You already have a technician visit booked with" in again.text, again.text
        assert f"(ticket {ticket})" in again.text
        assert {"Keep it", "Move it to another time", "Cancel it"} <= {
            b["title"] for b in again.buttons
        }
        kept = await press(client, again, "Keep it")
        turns.append(kept)
        assert "stays as it is" in kept.text, kept.text
        assert TICKET.findall(kept.text) == [ticket], kept.text

        # An older time button pressed now books nothing either.
        late = await client.say(other_slot["title"], payload=other_slot["payload"])
        turns.append(late)
        assert "I haven't booked another one" in late.text, late.text
        assert button(late, "Move it to that time")
    finally:
        await client.close()
    print(transcript(turns))  # shown with -s: read it as the customer would
    for turn in turns:
        assert len(set(TICKET.findall(turn.text))) <= 1, transcript(turns)
    rows = query(
        stack,
        "SELECT v.status, v.ticket_id FROM visit_bookings v JOIN customers c "
        "ON c.id = v.customer_id WHERE c.account_number = 'ACC-1002'",
    )
    assert [r[0] for r in rows] == ["booked"], rows
    events = query(
        stack,
        "SELECT kind FROM ticket_events WHERE ticket_id = :t ORDER BY id",
        t=rows[0][1],
    )
    assert "note" in [e[0] for e in events]  # the second request is on the visit's ticket
    assert welcome["conversation_id"]


ANSWERS = (
    ("Which kind of computer", '/inform{"choice":"laptop"}', "laptop"),
    ("Does a charging light come on", "/affirm", "yes"),
    ("Does the laptop start now", "/deny", "no"),
    ("do you hear a fan", "/deny", "no"),
)


async def test_a_ticket_asks_how_to_reach_an_unidentified_customer(stack) -> None:
    client = ChatClient(stack.ws_url)
    welcome = await client.connect()
    turns = []
    try:
        turn = await client.say("my laptop won't turn on, not even a light")
        turns.append(turn)
        for _ in range(6):
            if "e-mail address or phone number" in turn.text:
                break
            answer = next((a for a in ANSWERS if a[0].lower() in turn.text.lower()), None)
            assert answer is not None, transcript(turns)
            turn = await client.say(answer[2], payload=answer[1])
            turns.append(turn)
        opened = turn
        numbers = set(TICKET.findall(opened.text))
        assert len(numbers) == 1, opened.text
        (ticket,) = numbers
        assert f"I've opened ticket {ticket}" in opened.text
        assert not any(p in opened.text.lower() for p in PROMISES), opened.text

        wrong = await client.say("anna at example")
        turns.append(wrong)
        assert "e-mail address or phone number" in wrong.text, wrong.text
        assert not any(p in wrong.text.lower() for p in PROMISES), wrong.text

        saved = await client.say("anna.berg@example.com")
        turns.append(saved)
        assert f"contact you at anna.berg@example.com about ticket {ticket}" in saved.text, (
            transcript(turns)
        )
    finally:
        await client.close()
    print(transcript(turns))  # shown with -s: read it as the customer would
    for earlier in turns[:-1]:
        assert not any(p in earlier.text.lower() for p in PROMISES), transcript(turns)
    rows = query(
        stack,
        "SELECT contact, customer_id FROM tickets WHERE conversation_id = :c",
        c=welcome["conversation_id"],
    )
    assert [tuple(r) for r in rows] == [("anna.berg@example.com", None)], rows


async def test_a_german_customer_who_leaves_no_contact_details_hears_so_in_german(stack) -> None:
    client = ChatClient(stack.ws_url)
    welcome = await client.connect(language="de")
    turns = []
    try:
        asked = await client.say("meine Maus geht nicht mehr")
        turns.append(asked)
        assert "Funktioniert die Maus jetzt richtig?" in asked.text, asked.text
        opened = await client.say("nein")
        turns.append(opened)
        (ticket,) = set(TICKET.findall(opened.text))
        assert f"Ich habe das Ticket {ticket} mit allem eröffnet" in opened.text, opened.text
        assert "Wir melden uns" not in opened.text  # nobody could reach the customer yet
        assert "E-Mail-Adresse oder Telefonnummer" in opened.text
        declined = await client.say("lieber nicht")
        turns.append(declined)
    finally:
        await client.close()
    print(transcript(turns))
    assert "ich habe keine Kontaktdaten gespeichert" in declined.text, transcript(turns)
    assert f"nach dem Ticket {ticket}" in declined.text
    rows = query(
        stack,
        "SELECT contact FROM tickets WHERE conversation_id = :c",
        c=welcome["conversation_id"],
    )
    assert [r[0] for r in rows] == [None], rows


async def test_a_ticket_typed_for_in_a_diagnosis_is_opened_once_with_the_diagnosis(
    stack,
) -> None:
    client = ChatClient(stack.ws_url)
    welcome = await client.connect()
    turns = []
    try:
        turn = await client.say("my laptop won't turn on, not even a light")
        turns.append(turn)
        assert "laptop" in turn.text.lower(), turn.text  # the laptop diagnosis began
        opened = await client.say("honestly I don't have time for this, can you just open a ticket")
        turns.append(opened)
        (ticket,) = set(TICKET.findall(opened.text))
        assert f"I've opened ticket {ticket} for you with what you've told me so far" in (
            opened.text
        ), transcript(turns)
        assert "e-mail address or phone number" in opened.text  # before any promise
        again = await client.say("please log a ticket for this")
        turns.append(again)
        assert f"Ticket {ticket} from this chat is still open" in again.text, transcript(turns)
    finally:
        await client.close()
    print(transcript(turns))  # shown with -s: read it as the customer would
    rows = query(
        stack,
        "SELECT domain, title FROM tickets WHERE conversation_id = :c",
        c=welcome["conversation_id"],
    )
    assert len(rows) == 1 and rows[0][0] == "hardware", rows
    assert rows[0][1].startswith("Ticket requested by the customer"), rows


async def test_a_german_ticket_request_without_a_problem_asks_what_is_wrong(stack) -> None:
    client = ChatClient(stack.ws_url)
    welcome = await client.connect(language="de")
    turns = []
    try:
        asked = await client.say("Können Sie bitte ein Ticket für mich anlegen?")
        turns.append(asked)
        assert "Was funktioniert nicht?" in asked.text, asked.text
        # The answer to "what isn't working?" names only the problem.
        described = await client.say("Mein Router blinkt seit gestern Abend rot")
        turns.append(described)
    finally:
        await client.close()
    print(transcript(turns))
    (ticket,) = set(TICKET.findall(described.text))
    assert f"Ich habe das Ticket {ticket} für Sie eröffnet" in described.text, transcript(turns)
    rows = query(
        stack, "SELECT domain FROM tickets WHERE conversation_id = :c", c=welcome["conversation_id"]
    )
    assert [r[0] for r in rows] == ["internet"], rows

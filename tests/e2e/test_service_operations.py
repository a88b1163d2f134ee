"""Service operations through the real stack: identification, parts, visits, outages, goodwill.

Button payloads (`/order_part`, `/inform{...}`) keep the operations deterministic;
the e-mail address and the ticket-status question are free text through NLU.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timezone

import pytest

from tests.chat_client import ChatClient
from tests.e2e.helpers import execute, new_customer, outage_in, press, query

pytestmark = pytest.mark.e2e

TICKET = re.compile(r"TCK-\d{6}")
ORDER = re.compile(r"ORD-\d{6}")


async def identify(client: ChatClient, first_turn, account: str, postcode: str):
    """Answer the identification sub-flow with the account number and postcode."""
    asked = await press(client, first_turn, "account number")
    assert "account number" in asked.text.lower(), asked.text
    await client.say(account, payload=f'/inform{{"customer_ref":"{account}"}}')
    return await client.say(postcode, payload=f'/inform{{"postcode":"{postcode}"}}')


async def book_a_visit(stack, language: str, account: str, postcode: str) -> dict[str, str]:
    """In a chat of its own, the customer books the first visit offered; its slot."""
    number_button = "account number" if language == "en" else "Kundennummer"
    booking = ChatClient(stack.ws_url)
    await booking.connect(language=language)
    try:
        start = await booking.say("I need a technician", payload="/book_visit")
        await press(booking, start, number_button)
        await booking.say(account, payload=f'/inform{{"customer_ref":"{account}"}}')
        offer = await booking.say(postcode, payload=f'/inform{{"postcode":"{postcode}"}}')
        slot = offer.buttons[0]
        booked = await booking.say(slot["title"], payload=slot["payload"])
        assert TICKET.search(booked.text), booked.text
    finally:
        await booking.close()
    return slot


async def ask_then_identify_by_email(
    client: ChatClient, request_text: str, email_button: str, email: str, postcode: str
) -> list:
    """Ask in free text (through NLU), then identify by e-mail and postcode; the turns."""
    start = await client.say(request_text)
    asked = await press(client, start, email_button)
    typed = await client.say(email)
    found = await client.say(postcode, payload=f'/inform{{"postcode":"{postcode}"}}')
    return [start, asked, typed, found]


def conversation_customer(stack, conversation_id: str):
    rows = query(stack, "SELECT customer_id FROM conversations WHERE id = :c", c=conversation_id)
    return rows[0][0]


async def test_order_a_part_with_an_alternative_and_a_price(stack) -> None:
    client = ChatClient(stack.ws_url)
    welcome = await client.connect()
    try:
        start = await client.say("I need a replacement part", payload="/order_part")
        assert {"My account number", "My e-mail address"} <= {b["title"] for b in start.buttons}
        email = await press(client, start, "e-mail")
        assert "e-mail" in email.text.lower(), email.text
        await client.say("maria.schneider@example.com")  # free text through NLU
        which = await client.say("10115", payload='/inform{"postcode":"10115"}')
        assert "Maria" in which.text and "Which part" in which.text, which.text
        stock = await press(client, which, "remote control")
        assert "out of stock" in stock.text and "Universal remote" in stock.text, stock.text
        price = await client.say("yes", payload="/affirm")
        assert "€17.90" in price.text and "out of warranty" in price.text, price.text
        address = await client.say("yes", payload="/affirm")
        assert "Invalidenstraße 12" in address.text, address.text
        done = await client.say("yes", payload="/affirm")
        order = ORDER.search(done.text)
        ticket = TICKET.search(done.text)
        assert order and ticket, done.text
        status = await client.say(f"what's the status of ticket {ticket.group(0)}?")
        assert "waiting for a replacement part" in status.text, status.text
        assert order.group(0) in status.text and "placed" in status.text, status.text
    finally:
        await client.close()
    conversation_id = welcome["conversation_id"]
    customer_id = conversation_customer(stack, conversation_id)
    assert customer_id is not None
    rows = query(
        stack,
        "SELECT o.part_number, o.price_cents, o.in_warranty, t.status, t.customer_id "
        "FROM part_orders o JOIN tickets t ON t.id = o.ticket_id WHERE o.conversation_id = :c",
        c=conversation_id,
    )
    assert [tuple(r) for r in rows] == [("RMT-STB-UNI", 1790, False, "pending_part", customer_id)]

    # Another conversation, not identified, cannot read that ticket.
    stranger = ChatClient(stack.ws_url)
    await stranger.connect()
    try:
        refused = await stranger.say(
            "status", payload=f'/ticket_status{{"ticket_id":"{ticket.group(0)}"}}'
        )
        # Nothing of Maria's ticket; the way to one's own tickets: identification.
        assert "I can't see a ticket" in refused.text, refused.text
        assert "Maria" not in refused.text and "pending" not in refused.text
        assert [b["title"] for b in refused.buttons] == ["Find my tickets", "Talk to a person"]
    finally:
        await stranger.close()


async def _ready_to_book(stack, account: str, postcode: str):
    client = ChatClient(stack.ws_url)
    welcome = await client.connect()
    start = await client.say("I need a technician", payload="/book_visit")
    offer = await identify(client, start, account, postcode)
    assert offer.buttons and "free times" in offer.text, offer.text
    return client, welcome["conversation_id"], offer


async def test_two_customers_race_for_one_slot_then_reschedule_and_cancel(stack) -> None:
    ali, ali_conversation, ali_offer = await _ready_to_book(stack, "ACC-1004", "10117")
    maria, maria_conversation, maria_offer = await _ready_to_book(stack, "ACC-1001", "10115")
    try:
        contested = ali_offer.buttons[0]
        assert contested in maria_offer.buttons  # same area, same first free slot
        both = await asyncio.gather(
            ali.say(contested["title"], payload=contested["payload"]),
            maria.say(contested["title"], payload=contested["payload"]),
        )
        booked = [t for t in both if "Booked!" in t.text]
        lost = [t for t in both if "someone booked that time" in t.text]
        assert len(booked) == 1 and len(lost) == 1, [t.text for t in both]
        assert contested not in lost[0].buttons and lost[0].buttons
        loser = ali if lost[0] is both[0] else maria
        second = await loser.say(lost[0].buttons[0]["title"], payload=lost[0].buttons[0]["payload"])
        assert "Booked!" in second.text and TICKET.search(second.text), second.text

        move = await ali.say("can we move the appointment", payload="/reschedule_visit")
        assert move.buttons and "new time" in move.text, move.text
        target = move.buttons[-1]
        assert target["payload"].startswith("/reschedule_visit")
        moved = await ali.say(target["title"], payload=target["payload"])
        assert "your visit is now on" in moved.text, moved.text

        cancel = await ali.say("cancel it", payload="/cancel_visit")
        assert "Do you want to cancel it?" in cancel.text, cancel.text
        cancelled = await ali.say("yes", payload="/affirm")
        assert "is cancelled" in cancelled.text, cancelled.text
    finally:
        await ali.close()
        await maria.close()
    ali_id = conversation_customer(stack, ali_conversation)
    visits = query(
        stack,
        "SELECT status, slot_start IS NULL FROM visit_bookings WHERE customer_id = :c ORDER BY id",
        c=ali_id,
    )
    assert [tuple(v) for v in visits][-1] == ("cancelled", True)
    maria_id = conversation_customer(stack, maria_conversation)
    held = query(
        stack,
        "SELECT t.status FROM visit_bookings v JOIN tickets t ON t.id = v.ticket_id "
        "WHERE v.customer_id = :c AND v.status = 'booked'",
        c=maria_id,
    )
    assert [h[0] for h in held] == ["visit_scheduled"]


async def test_an_outage_is_explained_and_a_goodwill_gesture_offered(stack) -> None:
    outage_in(stack, "munich-west", started_hours_ago=10)
    client = ChatClient(stack.ws_url)
    welcome = await client.connect()
    try:
        # Lena identifies herself while asking for a part, then reports her internet.
        start = await client.say("I need a replacement part", payload="/order_part")
        which = await identify(client, start, "ACC-1003", "80687")
        assert "Lena" in which.text, which.text
        outage = await client.say("my internet is not working", payload="/problem_internet")
        assert "known outage" in outage.text and "a damaged fibre cable" in outage.text
        assert "expect it to be fixed by" in outage.text, outage.text
        assert "Unplug" not in outage.text  # no power-cycling during an outage
        assert "€10 credit" in outage.text, outage.text
        accepted = await press(client, outage, "Yes, please")
        assert "it's done" in accepted.text and TICKET.search(accepted.text), accepted.text
    finally:
        await client.close()
    customer_id = conversation_customer(stack, welcome["conversation_id"])
    gestures = query(
        stack,
        "SELECT kind, amount_cents, status, offered_by FROM goodwill_gestures "
        "WHERE customer_id = :c",
        c=customer_id,
    )
    assert [tuple(g) for g in gestures] == [("service_credit", 1000, "accepted", "bot")]
    tickets = query(
        stack, "SELECT title, domain FROM tickets WHERE customer_id = :c", c=customer_id
    )
    assert ("Affected by a known outage", "internet") in [tuple(t) for t in tickets]


@pytest.mark.parametrize(
    ("language", "request_text", "email_button", "taken", "asked"),
    [
        (
            "en",
            "my remote control for the tv box is broken, can you send me a new one?",
            "e-mail",
            "You asked for this part: A remote control.",
            "Which part do you need?",
        ),
        (
            "de",
            "Meine Fernbedienung vom Receiver ist kaputt, können Sie mir eine neue schicken?",
            "E-Mail",
            "Sie haben nach diesem Teil gefragt: Eine Fernbedienung.",
            "Welches Teil brauchen Sie?",
        ),
    ],
)
async def test_the_part_named_in_the_request_is_not_asked_for_again(
    stack, language, request_text, email_button, taken, asked
) -> None:
    client = ChatClient(stack.ws_url)
    await client.connect(language=language)
    try:
        turns = await ask_then_identify_by_email(
            client, request_text, email_button, "maria.schneider@example.com", "10115"
        )
        which = turns[-1]
    finally:
        await client.close()
    print("\n---\n".join(t.text for t in turns))
    assert taken in which.text, which.text
    assert asked not in which.text, which.text
    # Maria's TV box remote is out of stock: the flow went on to the part itself.
    assert "RMT-STB" in which.text or "Universal" in which.text, which.text


@pytest.mark.parametrize(
    ("language", "request_text", "email_button", "both_named", "next_one", "remote"),
    [
        (
            "en",
            "the remote for my TV box is broken and I also need a new HDMI cable for it",
            "e-mail",
            'You asked for "A remote control" and "A cable".',
            "Now the next part you asked for.",
            "Universal remote control",
        ),
        (
            "de",
            "Ich brauche eine neue Fernbedienung und ein HDMI-Kabel für meinen Receiver",
            "E-Mail",
            "Sie haben nach „Eine Fernbedienung“ und „Ein Kabel“ gefragt.",
            "Jetzt zum nächsten Teil, nach dem Sie gefragt haben.",
            "Universalfernbedienung",  # the part's German name
        ),
    ],
)
async def test_two_parts_in_one_message_are_both_ordered_on_one_ticket(
    stack, language, request_text, email_button, both_named, next_one, remote
) -> None:
    client = ChatClient(stack.ws_url)
    welcome = await client.connect(language=language)
    try:
        turns = await ask_then_identify_by_email(
            client, request_text, email_button, "lena.fischer@example.com", "80687"
        )
        address = turns[-1]
        done = await client.say("yes" if language == "en" else "ja", payload="/affirm")
        turns.append(done)
    finally:
        await client.close()
    print("\n---\n".join(t.text for t in turns))
    assert both_named in address.text, address.text
    assert remote in address.text, address.text
    # One "yes" to the address: both placed, the second to the same address.
    assert len(ORDER.findall(done.text)) == 2, done.text
    assert next_one in done.text and "HDMI" in done.text, done.text
    assert len(set(TICKET.findall(done.text))) == 1, done.text
    rows = query(
        stack,
        "SELECT o.part_number, o.ticket_id, o.in_warranty FROM part_orders o "
        "WHERE o.conversation_id = :c ORDER BY o.id",
        c=welcome["conversation_id"],
    )
    assert [r[0] for r in rows] == ["RMT-STB-UNI", "MON-CABLE-HDMI"], rows
    assert len({r[1] for r in rows}) == 1 and all(r[2] for r in rows), rows


@pytest.mark.parametrize(
    ("language", "question", "no_number", "account_button", "reference", "shown"),
    [
        (
            "de",
            "Wo bleibt mein Ersatzreceiver? Der sollte diese Woche kommen",
            None,  # typed: "weiß ich nicht"
            "Kundennummer",
            "ACC-1003",
            "Das sehe ich in Ihrem Kundenkonto:",
        ),
        (
            "en",
            "where is my replacement box?? ordered it last week",
            "don't have the number",
            "e-mail",
            "lena.fischer@example.com",
            "Here is what I can see on your account:",
        ),
    ],
)
async def test_a_customer_without_the_ticket_number_is_shown_their_tickets(
    stack, language, question, no_number, account_button, reference, shown
) -> None:
    # Stored in English for staff, as the black-screen flow writes it; read in the
    # customer's language.
    title = "TV box gets no power; replacement box needed"
    seen = {"en": title, "de": "Receiver bekommt keinen Strom; Ersatzgerät nötig"}[language]
    execute(
        stack,
        "INSERT INTO tickets (status, domain, priority, tier, title, summary, customer_id, "
        "created_at, updated_at) SELECT 'open', 'cable', 'normal', 2, :title, '', id, :now, :now "
        "FROM customers WHERE account_number = 'ACC-1003'",
        title=title,
        now=datetime.now(timezone.utc),
    )
    client = ChatClient(stack.ws_url)
    await client.connect(language=language)
    turns = []
    try:
        asked = await client.say(question)  # free text through NLU
        turns.append(asked)
        if no_number is None:
            identify = await client.say("weiß ich nicht")
        else:
            identify = await press(client, asked, no_number)
        turns.append(identify)
        turns.append(await press(client, identify, account_button))
        turns.append(await client.say(reference))
        found = await client.say("80687", payload='/inform{"postcode":"80687"}')
        turns.append(found)
    finally:
        await client.close()
    print("\n---\n".join(t.text for t in turns))
    assert len(asked.buttons) == 2, asked.buttons  # no number, or a person: no dead end
    assert shown in found.text and seen in found.text, found.text
    assert language == "en" or title not in found.text, found.text


@pytest.mark.parametrize(
    ("language", "account", "request_text", "told"),
    [
        (
            "en",
            "ACC-8201",
            "I want to cancel my technician appointment for tomorrow, the internet works again",
            "there is nothing to cancel",
        ),
        (
            "de",
            "ACC-8202",
            "Ich möchte meinen Techniker-Termin morgen absagen, das Internet geht wieder",
            "es gibt also nichts abzusagen",
        ),
    ],
)
async def test_cancelling_when_no_visit_is_booked_books_nothing(
    stack, language, account, request_text, told
) -> None:
    postcode = "6" + account[-4:]
    new_customer(stack, account, postcode=postcode, name="Kim Berger", services=("internet",))
    client = ChatClient(stack.ws_url)
    welcome = await client.connect(language=language)
    try:
        start = await client.say(request_text)  # free text through NLU
        done = await identify(client, start, account, postcode) if language == "en" else None
        if done is None:
            await press(client, start, "Kundennummer")
            await client.say(account, payload=f'/inform{{"customer_ref":"{account}"}}')
            done = await client.say(postcode, payload=f'/inform{{"postcode":"{postcode}"}}')
    finally:
        await client.close()
    print(start.text, "\n---\n", done.text)
    assert told in done.text, done.text
    assert not done.buttons or "09:00" not in str(done.buttons), done.buttons  # no times offered
    visits = query(
        stack,
        "SELECT count(*) FROM visit_bookings b JOIN customers c ON c.id = b.customer_id "
        "WHERE c.account_number = :a",
        a=account,
    )
    assert visits[0][0] == 0, visits
    assert conversation_customer(stack, welcome["conversation_id"]) is not None


@pytest.mark.parametrize(
    ("language", "account", "hours_down", "request_text", "answer"),
    [
        # A long outage in their area: the policy's €10 credit is offered.
        (
            "en",
            "ACC-8301",
            10,
            "This is the third time this month my internet went down. I'm done. "
            "I want compensation.",
            "€10 credit",
        ),
        # Nothing the policy allows: a colleague decides, on a ticket.
        (
            "de",
            "ACC-8302",
            None,
            "Das ist jetzt schon der dritte Ausfall in diesem Monat. Ich will eine Entschädigung.",
            "gebe ich Ihre Bitte an eine Kollegin oder einen Kollegen weiter",
        ),
    ],
)
async def test_a_customer_who_asks_for_compensation_hears_what_the_policy_allows(
    stack, language, account, hours_down, request_text, answer
) -> None:
    area = f"test-goodwill-{language}"
    postcode = "7" + account[-4:]
    new_customer(
        stack, account, postcode=postcode, area=area, name="Alex Roth", services=("internet",)
    )
    if hours_down:
        outage_in(stack, area, started_hours_ago=hours_down)
    client = ChatClient(stack.ws_url)
    welcome = await client.connect(language=language)
    try:
        start = await client.say(request_text)  # free text through NLU
        await press(client, start, "account number" if language == "en" else "Kundennummer")
        await client.say(account, payload=f'/inform{{"customer_ref":"{account}"}}')
        found = await client.say(postcode, payload=f'/inform{{"postcode":"{postcode}"}}')
    finally:
        await client.close()
    print(start.text, "\n---\n", found.text)
    # Not a pointer to the billing department: what the assistant can do about it.
    assert "Billing section" not in start.text and "Rechnungen" not in start.text, start.text
    assert "offer" in start.text or "anbieten" in start.text, start.text
    assert answer in found.text, found.text
    customer_id = conversation_customer(stack, welcome["conversation_id"])
    tickets = query(stack, "SELECT title FROM tickets WHERE customer_id = :c", c=customer_id)
    if hours_down is None:
        assert [t[0] for t in tickets] == ["Customer asks for compensation"], tickets


@pytest.mark.parametrize(
    ("language", "account", "opener", "ask", "checks", "offered"),
    [
        # Asked for in the middle of the checks.
        (
            "en",
            "ACC-8303",
            "my internet is down since this morning",
            "this is ridiculous, I want a refund for these days",
            ("Orange", "no", "no"),
            "€10 credit",
        ),
        (
            "de",
            "ACC-8304",
            "Seit heute Morgen geht das Internet nicht",
            "Das ist doch lächerlich, ich will eine Entschädigung für die Tage",
            ("Orange", "nein", "nein"),
            "10 €",
        ),
        # Asked for in the first message, with the fault.
        (
            "en",
            "ACC-8305",
            "No internet for 4 days and nobody cares. This is ridiculous, I want compensation",
            None,
            ("Orange", "no", "no"),
            "€10 credit",
        ),
    ],
)
async def test_compensation_asked_for_during_the_checks_is_offered_after_them(
    stack, language, account, opener, ask, checks, offered
) -> None:
    area = f"test-goodwill-late-{account}"
    postcode = "7" + account[-4:]
    new_customer(
        stack, account, postcode=postcode, area=area, name="Kim Vogt", services=("internet",)
    )
    outage_in(stack, area, started_hours_ago=12)
    client = ChatClient(stack.ws_url)
    welcome = await client.connect(language=language)
    transcript = []
    try:
        turn = await client.say(opener)
        transcript.append((opener, turn.text))
        if ask is not None:
            noted = await client.say(ask)
            transcript.append((ask, noted.text))
        else:
            noted = turn
        for answer in checks:
            if answer == "Orange":
                turn = await press(client, turn, "Orange")
            else:
                turn = await client.say(answer)
            transcript.append((answer, turn.text))
        await press(client, turn, "account number" if language == "en" else "Kundennummer")
        await client.say(account, payload=f'/inform{{"customer_ref":"{account}"}}')
        found = await client.say(postcode, payload=f'/inform{{"postcode":"{postcode}"}}')
        transcript.append((postcode, found.text))
        yes = "yes" if language == "en" else "ja"
        accepted = await client.say(yes)
        transcript.append((yes, accepted.text))
    finally:
        await client.close()
    print("\n".join(f"> {said}\n< {heard}" for said, heard in transcript))
    # Noted, not sent to billing; the checks go on where they were.
    assert "compensation" in noted.text or "Entschädigung" in noted.text, transcript
    assert "Billing section" not in noted.text and "Rechnungen" not in noted.text, transcript
    assert noted.buttons, transcript  # the flow's question again
    # After the checks: the goodwill policy, with the outage in the customer's area.
    said_after = " ".join(text for _, text in transcript[-len(checks) - 2 :])
    assert "offer" in said_after or "anbieten" in said_after, transcript
    assert offered in found.text, transcript
    customer_id = conversation_customer(stack, welcome["conversation_id"])
    tickets = query(stack, "SELECT id, title FROM tickets WHERE customer_id = :c", c=customer_id)
    # One ticket: the flow's, with the gesture added to it, announced once.
    assert len(tickets) == 1, tickets
    ticket_id, title = tickets[0]
    assert title == "No internet connection after restart", tickets
    assert accepted.text.count(f"TCK-{ticket_id:06d}") == 1, transcript
    gestures = query(
        stack, "SELECT status FROM goodwill_gestures WHERE customer_id = :c", c=customer_id
    )
    assert [g[0] for g in gestures] == ["accepted"], gestures


@pytest.mark.parametrize(
    ("language", "account", "question", "shown", "answer", "then"),
    [
        (
            "en",
            "ACC-8311",
            "Where's my technician? He was supposed to be here between 8 and 12",
            "Your technician visit with",
            "he still hasn't come",
            "A colleague will check with",
        ),
        (
            "de",
            "ACC-8312",
            "Wo bleibt mein Techniker? Der sollte heute zwischen 8 und 12 kommen",
            "Ihr Technikertermin mit",
            "passt so, danke",
            "bleibt wie geplant",
        ),
    ],
)
async def test_where_is_my_technician_shows_the_booked_visit(
    stack, language, account, question, shown, answer, then
) -> None:
    postcode = "1" + account[-4:]
    new_customer(stack, account, postcode=postcode, name="Jo Brandt")
    number_button = "account number" if language == "en" else "Kundennummer"
    slot = await book_a_visit(stack, language, account, postcode)

    # Later, in a new chat: the question, in the customer's words.
    client = ChatClient(stack.ws_url)
    await client.connect(language=language)
    try:
        asked = await client.say(question)
        await press(client, asked, number_button)
        await client.say(account, payload=f'/inform{{"customer_ref":"{account}"}}')
        found = await client.say(postcode, payload=f'/inform{{"postcode":"{postcode}"}}')
        after = await client.say(answer)
    finally:
        await client.close()
    print(asked.text, "\n---\n", found.text, "\n---\n", after.text)
    # The visit, not "Which ticket do you mean?".
    assert "TCK-000123" not in asked.text, asked.text
    assert shown in found.text and slot["title"].split(",")[0] in found.text, found.text
    assert then in after.text, after.text
    visits = query(
        stack,
        "SELECT b.status FROM visit_bookings b JOIN customers c ON c.id = b.customer_id "
        "WHERE c.account_number = :a",
        a=account,
    )
    assert [v[0] for v in visits] == ["booked"], visits


@pytest.mark.parametrize(
    ("language", "account", "complaint", "sorry", "handed_on"),
    [
        (
            "en",
            "ACC-8313",
            "The technician never showed up and nobody called. Unbelievable.",
            "I'm sorry the technician hasn't come",
            "A colleague will check with",
        ),
        (
            "de",
            "ACC-8314",
            "Der Techniker ist nicht gekommen und keiner hat Bescheid gesagt!",
            "Es tut mir leid, dass der Techniker nicht gekommen ist",
            "fragt bei",
        ),
    ],
)
async def test_a_technician_who_did_not_come_is_chased_not_asked_about(
    stack, language, account, complaint, sorry, handed_on
) -> None:
    """A complaint about a missed visit: the booked visit and a colleague to chase it,
    not "What is the problem about?"."""
    postcode = "1" + account[-4:]
    new_customer(stack, account, postcode=postcode, name="Kim Vogel")
    number_button = "account number" if language == "en" else "Kundennummer"
    slot = await book_a_visit(stack, language, account, postcode)

    client = ChatClient(stack.ws_url)
    await client.connect(language=language)
    try:
        asked = await client.say(complaint)
        await press(client, asked, number_button)
        await client.say(account, payload=f'/inform{{"customer_ref":"{account}"}}')
        found = await client.say(postcode, payload=f'/inform{{"postcode":"{postcode}"}}')
    finally:
        await client.close()
    print(asked.text, "\n---\n", found.text)
    assert sorry in asked.text, asked.text
    assert asked.text.count("sorry" if language == "en" else "leid") == 1, asked.text
    assert slot["title"].split(",")[0] in found.text, found.text
    assert handed_on in found.text, found.text


@pytest.mark.parametrize(
    ("language", "account", "request_text", "with_visit", "yes", "solved"),
    [
        (
            "en",
            "ACC-8321",
            "You can close my ticket, the internet works again",
            "A technician visit is still booked",
            "yes please",
            "is marked as solved",
        ),
        (
            "de",
            "ACC-8322",
            "Bitte schließen Sie mein Ticket, das Internet läuft wieder.",
            "noch ein Technikertermin",
            "ja, bitte",
            "ist als gelöst markiert",
        ),
    ],
)
async def test_closing_a_ticket_cancels_its_booked_visit_once_confirmed(
    stack, language, account, request_text, with_visit, yes, solved
) -> None:
    postcode = "1" + account[-4:]
    new_customer(stack, account, postcode=postcode, name="Ute Lang")
    number_button = "account number" if language == "en" else "Kundennummer"
    await book_a_visit(stack, language, account, postcode)

    # Later, in a new chat: "close my ticket", in the customer's words.
    client = ChatClient(stack.ws_url)
    await client.connect(language=language)
    transcript = []
    try:
        asked = await client.say(request_text)
        transcript.append((request_text, asked.text))
        await press(client, asked, number_button)
        await client.say(account, payload=f'/inform{{"customer_ref":"{account}"}}')
        found = await client.say(postcode, payload=f'/inform{{"postcode":"{postcode}"}}')
        transcript.append((postcode, found.text))
        done = await client.say(yes)
        transcript.append((yes, done.text))
    finally:
        await client.close()
    print("\n".join(f"> {said}\n< {heard}" for said, heard in transcript))
    # Never a new ticket for "close my ticket".
    assert "opened ticket" not in asked.text and "eröffnet" not in asked.text, transcript
    assert with_visit in found.text, transcript
    assert solved in done.text, transcript
    rows = query(
        stack,
        "SELECT t.status, b.status FROM tickets t JOIN customers c ON c.id = t.customer_id "
        "LEFT JOIN visit_bookings b ON b.ticket_id = t.id WHERE c.account_number = :a",
        a=account,
    )
    assert rows == [("resolved", "cancelled")], rows


async def test_the_ticket_of_this_chat_is_closed_without_identification(stack) -> None:
    client = ChatClient(stack.ws_url)
    await client.connect(language="en")
    try:
        opened = await client.say("Please open a ticket, my printer shows offline all the time")
        number = TICKET.search(opened.text).group(0)
        await client.say("sam.printer@example.com")
        asked = await client.say("It works now actually, you can close the ticket")
        kept = await client.say("no, keep it open for now")
        again = await client.say("ok it really works now, please close my ticket")
        done = await client.say("yes")
    finally:
        await client.close()
    print(asked.text, "\n---\n", kept.text, "\n---\n", done.text)
    assert number in asked.text and asked.buttons, asked.text
    assert "stays open" in kept.text, kept.text
    assert number in again.text, again.text
    assert "marked as solved" in done.text, done.text
    status = query(stack, "SELECT status FROM tickets WHERE id = :i", i=int(number[4:]))
    assert status == [("resolved",)], status


async def test_compensation_asked_for_during_checks_follows_a_booked_visit(stack) -> None:
    """The checks end in a technician visit (no charger fits the customer's devices):
    once the visit is booked, the compensation asked for mid-flow is dealt with."""
    account, postcode = "ACC-8331", "18331"
    new_customer(stack, account, postcode=postcode, name="Kai Roth")
    client = ChatClient(stack.ws_url)
    welcome = await client.connect(language="en")
    transcript = []
    try:
        for said in ["my laptop won't turn on at all", "this is ridiculous, I want compensation"]:
            transcript.append((said, (await client.say(said)).text))
        for said in ["no", "no"]:
            transcript.append((said, (await client.say(said)).text))
        plug = await client.say("usb-c")
        transcript.append(("usb-c", plug.text))
        found = await identify(client, plug, account, postcode)
        transcript.append((postcode, found.text))
        offer = await client.say("yes")
        transcript.append(("yes", offer.text))
        slot = offer.buttons[0]
        booked = await client.say(slot["title"], payload=slot["payload"])
        transcript.append((slot["title"], booked.text))
    finally:
        await client.close()
    print("\n".join(f"> {said}\n< {heard}" for said, heard in transcript))
    assert "Booked!" in booked.text, transcript
    assert "what I can offer you" in booked.text, transcript
    number = TICKET.search(booked.text).group(0)
    # One ticket: the visit's, with the request for compensation on it.
    rows = query(
        stack,
        "SELECT id FROM tickets WHERE conversation_id = :c",
        c=welcome["conversation_id"],
    )
    assert [f"TCK-{r[0]:06d}" for r in rows] == [number], rows


async def test_compensation_asked_for_goes_with_the_handoff(stack) -> None:
    """Die Prüfungen enden bei einem Menschen: he or she sees the request in the summary."""
    client = ChatClient(stack.ws_url)
    welcome = await client.connect(language="de")
    transcript = []
    try:
        for said in [
            "Mein Laptop geht nicht mehr an",
            "Das ist eine Frechheit, ich will eine Entschädigung",
            "ja",
            "nein",
            "ja",
            "ja",
        ]:
            transcript.append((said, (await client.say(said)).text))
    finally:
        await client.close()
    print("\n".join(f"> {said}\n< {heard}" for said, heard in transcript))
    assert "Entschädigung" in transcript[-1][1], transcript
    summaries = query(
        stack,
        "SELECT summary FROM handoffs WHERE conversation_id = :c",
        c=welcome["conversation_id"],
    )
    assert len(summaries) == 1 and "asked for compensation" in summaries[0][0], summaries


async def test_a_ticket_of_someone_else_is_not_closed_nor_swapped_for_another(stack) -> None:
    """ "Close TCK-…" for a ticket that is not the customer's: after identification the
    assistant says it finds no such open ticket of theirs; it never offers another one."""
    owner = ChatClient(stack.ws_url)
    await owner.connect(language="en")
    try:
        opened = await owner.say("Please open a ticket, my printer shows offline all the time")
        foreign = TICKET.search(opened.text).group(0)
    finally:
        await owner.close()
    account, postcode = "ACC-8341", "18341"
    new_customer(stack, account, postcode=postcode, name="Lia Berg")
    await book_a_visit(stack, "en", account, postcode)  # an open ticket of their own
    client = ChatClient(stack.ws_url)
    await client.connect(language="en")
    try:
        asked = await client.say(f"please close {foreign}, it's fixed")
        found = await identify(client, asked, account, postcode)
    finally:
        await client.close()
    print(asked.text, "\n---\n", found.text)
    assert "can't find an open ticket of yours" in found.text, found.text
    assert "Shall I" not in found.text, found.text
    status = query(stack, "SELECT status FROM tickets WHERE id = :i", i=int(foreign[4:]))
    assert status and status[0][0] != "resolved", status

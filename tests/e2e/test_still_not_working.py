"""Read as a customer would: after the assistant explains the cause (a known outage, channels
that are not in the package), "still not working" leads to the next useful step (the
outage's estimate, a person, the package check), never to a new diagnosis or a new box.

Real websocket, real Rasa model, real API and database. The customers live in service
areas of their own, so their outages touch no other test.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Optional

import pytest

from tests.chat_client import ChatClient
from tests.e2e.helpers import button, execute, outage_in, press, query
from tests.e2e.helpers import new_customer as import_customer

pytestmark = pytest.mark.e2e

TICKET = re.compile(r"TCK-\d{6}")
# What a new diagnosis or a box replacement would say.
DIAGNOSIS = ("What do its lights show", "Unplug", "What do you see on the TV", "new TV box")


def transcript(turns) -> str:
    return "\n---\n".join(t.text for t in turns)


def new_customer(stack, account: str, area: str, *, ends_in_hours: Optional[float]) -> str:
    """A customer in an area of their own with a known outage there; their postcode."""
    postcode = "5" + account[-4:]
    import_customer(stack, account, postcode=postcode, area=area)
    outage_in(stack, area, started_hours_ago=0.5, ends_in_hours=ends_in_hours or None)
    return postcode


async def identify(client: ChatClient, account: str, postcode: str, language: str = "en"):
    """The customer identifies while asking for a part (an operation that needs it)."""
    asked = "I need a replacement part" if language == "en" else "Ich brauche ein Ersatzteil"
    start = await client.say(asked, payload="/order_part")
    chosen = button(start, "account number" if language == "en" else "Kundennummer")
    await client.say(chosen["title"], payload=chosen["payload"])
    await client.say(account, payload=f'/inform{{"customer_ref":"{account}"}}')
    return await client.say(postcode, payload=f'/inform{{"postcode":"{postcode}"}}')


async def decline_goodwill(client: ChatClient, turn, title: str):
    """A goodwill gesture offered with the outage is declined; the turn that follows."""
    offered = [b for b in turn.buttons if b["title"] == title]
    if not offered:
        return turn
    return await client.say(offered[0]["title"], payload=offered[0]["payload"])


def events(stack, conversation_id: str) -> list[tuple]:
    return [
        tuple(e)
        for e in query(
            stack,
            "SELECT flow_id, step_id, kind FROM flow_events WHERE conversation_id = :c ORDER BY id",
            c=conversation_id,
        )
    ]


async def test_still_not_working_in_an_outage_gives_the_estimate_then_a_person(stack) -> None:
    postcode = new_customer(stack, "ACC-8101", "test-outage-en", ends_in_hours=3)
    client = ChatClient(stack.ws_url)
    welcome = await client.connect()
    turns = []
    try:
        assert "Sam" in (await identify(client, "ACC-8101", postcode)).text
        explained = await client.say("my internet is not working")
        explained = await decline_goodwill(client, explained, "No, thanks")
        turns.append(explained)
        assert "known outage" in transcript(turns), transcript(turns)
        (ticket,) = set(TICKET.findall(explained.text))
        # Nothing was tried during an outage, so the ticket does not claim it was.
        assert f"I've opened ticket {ticket} for this" in explained.text, explained.text

        noted = await client.say("ok")  # an acknowledgment, not a new problem
        turns.append(noted)
        assert "If it still doesn't work later, just write here." in noted.text, noted.text
        assert "What is the problem about?" not in noted.text

        still = await client.say("still not working")
        turns.append(still)
        assert "still being repaired" in still.text, transcript(turns)
        assert "expect it to be fixed by" in still.text, still.text
        assert not any(d in still.text for d in DIAGNOSIS), still.text
        assert not TICKET.findall(still.text)  # no second ticket announced
        assert {"Talk to a person", "I'll wait"} <= {b["title"] for b in still.buttons}

        again = await client.say("it's still not working, what now?")
        turns.append(again)
        assert "A colleague will see the outage" in again.text, transcript(turns)
    finally:
        await client.close()
    print(transcript(turns))  # shown with -s: read it as the customer would
    conversation = welcome["conversation_id"]
    seen = events(stack, conversation)
    assert ("internet_no_connection", "outage_again", "still_broken") in seen, seen
    assert ("outage_follow_up", "still_down", "step") in seen, seen
    assert not [e for e in seen if e[1] in ("lights", "cables", "restart")], seen
    tickets = query(stack, "SELECT id FROM tickets WHERE conversation_id = :c", c=conversation)
    assert len(tickets) == 1, tickets
    handoffs = query(
        stack, "SELECT skill, summary FROM handoffs WHERE conversation_id = :c", c=conversation
    )
    assert len(handoffs) == 1 and handoffs[0][0] == "internet", handoffs
    assert "Told the customer the outage is still being repaired" in handoffs[0][1], handoffs


async def test_still_not_working_once_the_outage_is_repaired_starts_the_diagnosis(stack) -> None:
    postcode = new_customer(stack, "ACC-8102", "test-outage-over", ends_in_hours=1)
    client = ChatClient(stack.ws_url)
    await client.connect()
    try:
        await identify(client, "ACC-8102", postcode)
        explained = await client.say("no internet at all since this morning")
        explained = await decline_goodwill(client, explained, "No, thanks")
        assert "known outage" in explained.text, explained.text
        execute(
            stack,
            "UPDATE outages SET ended_at = :now WHERE service_area = 'test-outage-over'",
            now=datetime.now(timezone.utc),
        )
        still = await client.say("it still doesn't work")
    finally:
        await client.close()
    print(explained.text, "\n---\n", still.text)
    assert "has been repaired in the meantime" in still.text, still.text
    assert "What do its lights show?" in still.text, still.text


async def test_a_german_customer_in_a_tv_outage_hears_it_is_still_repaired(stack) -> None:
    postcode = new_customer(stack, "ACC-8103", "test-outage-de", ends_in_hours=None)
    client = ChatClient(stack.ws_url)
    welcome = await client.connect(language="de")
    turns = []
    try:
        await identify(client, "ACC-8103", postcode, language="de")
        explained = await client.say("Der Fernseher bleibt schwarz, kein Bild")
        turns.append(explained)
        assert "bekannte TV-Störung" in explained.text, explained.text
        (ticket,) = set(TICKET.findall(explained.text))

        still = await client.say("es geht immer noch nicht")
        turns.append(still)
        assert "wird noch behoben" in still.text, transcript(turns)
        assert "lässt sich noch nicht sagen" in still.text, still.text  # no estimate yet
        assert not any(d in still.text for d in ("Was sehen Sie", "Ziehen Sie", "Receiver neu")), (
            still.text
        )
        waiting = await client.say("Ich warte ab", payload=button(still, "warte")["payload"])
        turns.append(waiting)
        assert "Falls es nach der Behebung der Störung immer noch nicht" in waiting.text
        assert TICKET.findall(waiting.text) == [ticket], waiting.text
    finally:
        await client.close()
    print(transcript(turns))
    tickets = query(
        stack, "SELECT id FROM tickets WHERE conversation_id = :c", c=welcome["conversation_id"]
    )
    assert len(tickets) == 1, tickets


async def test_when_will_it_be_fixed_after_an_outage_gives_the_estimate(stack) -> None:
    postcode = new_customer(stack, "ACC-8104", "test-outage-when-en", ends_in_hours=3)
    client = ChatClient(stack.ws_url)
    await client.connect()
    turns = []
    try:
        await identify(client, "ACC-8104", postcode)
        explained = await client.say("my internet is not working")
        explained = await decline_goodwill(client, explained, "No, thanks")
        turns.append(explained)
        assert "known outage" in explained.text, explained.text
        (ticket,) = set(TICKET.findall(explained.text))

        when = await client.say("when will it be fixed?")
        turns.append(when)
        # The outage's estimate, not the status of the ticket opened for it.
        assert "still being repaired: a damaged fibre cable" in when.text, transcript(turns)
        assert "expect it to be fixed by" in when.text, when.text
        assert f"Ticket {ticket}" not in when.text, when.text
        assert not any(d in when.text for d in DIAGNOSIS), when.text

        execute(
            stack,
            "UPDATE outages SET ended_at = :now WHERE service_area = 'test-outage-when-en'",
            now=datetime.now(timezone.utc),
        )
        later = await client.say("when will it be fixed?")
        turns.append(later)
        assert "has been repaired in the meantime" in later.text, transcript(turns)
    finally:
        await client.close()
    print(transcript(turns))


async def test_a_german_customer_asking_when_it_is_fixed_hears_there_is_no_estimate_yet(
    stack,
) -> None:
    postcode = new_customer(stack, "ACC-8105", "test-outage-when-de", ends_in_hours=None)
    client = ChatClient(stack.ws_url)
    await client.connect(language="de")
    turns = []
    try:
        await identify(client, "ACC-8105", postcode, language="de")
        explained = await client.say("Der Fernseher bleibt schwarz, kein Bild")
        turns.append(explained)
        assert "bekannte TV-Störung" in explained.text, explained.text
        (ticket,) = set(TICKET.findall(explained.text))

        when = await client.say("wann ist das behoben?")
        turns.append(when)
        assert "Die Störung in Ihrer Gegend wird noch behoben" in when.text, transcript(turns)
        assert "lässt sich noch nicht sagen" in when.text, when.text  # no estimate yet
        assert f"Ticket {ticket}" not in when.text, when.text
    finally:
        await client.close()
    print(transcript(turns))


async def test_channels_not_in_the_package_still_not_working_offers_a_colleague(stack) -> None:
    client = ChatClient(stack.ws_url)
    welcome = await client.connect()
    turns = []
    try:
        # "channels are missing" answers "Which describes it best?" from the message.
        in_package = await client.say("some channels are missing")
        assert 'So "Some channels are missing"' in in_package.text, in_package.text
        explained = await press(client, in_package, "No")
        assert "aren't part of your current package" in explained.text, explained.text
        offered = await press(client, explained, "No")
        left = await press(client, offered, "No, leave it")
        turns += [explained, offered, left]
        still = await client.say("no, still not working")
        turns.append(still)
        assert "stay locked until they're part of your package" in still.text, transcript(turns)
        titles = {b["title"] for b in still.buttons}
        assert {"Add the channels", "Have my package checked"} <= titles, titles
        checked = await press(client, still, "Have my package checked")
        turns.append(checked)
        assert "check your package and your TV box's channel rights" in checked.text
    finally:
        await client.close()
    print(transcript(turns))
    seen = events(stack, welcome["conversation_id"])
    assert ("cable_channels_missing", "still_missing", "still_broken") in seen, seen
    assert not [e for e in seen if e[1] in ("rescan", "refresh", "stb_power_cycle")], seen


async def test_still_not_working_to_the_offer_of_a_package_check_is_a_yes(stack) -> None:
    client = ChatClient(stack.ws_url)
    await client.connect()
    try:
        # "channels are missing" answers "Which describes it best?" from the message.
        in_package = await client.say("some channels are missing")
        assert 'So "Some channels are missing"' in in_package.text, in_package.text
        explained = await press(client, in_package, "No")
        assert "Would you like to add them to your package?" in explained.text, explained.text
        offered = await client.say("no, still not working")
        assert "Would you like a colleague to check that?" in offered.text, offered.text
        checked = await client.say("still not working")
    finally:
        await client.close()
    assert "check your package and your TV box's channel rights" in checked.text, checked.text
    assert "add the channels any time" not in checked.text


async def test_a_german_customer_whose_channels_are_not_booked_can_add_them(stack) -> None:
    client = ChatClient(stack.ws_url)
    welcome = await client.connect(language="de")
    try:
        in_package = await client.say("Einige Sender fehlen")
        assert "Also „Einige Sender fehlen“" in in_package.text, in_package.text
        explained = await press(client, in_package, "Nein")
        offered = await press(client, explained, "Nein")
        await press(client, offered, "Nein, so lassen")
        still = await client.say("nein, geht immer noch nicht")
        assert "bleiben gesperrt, bis sie zu Ihrem Paket gehören" in still.text, still.text
        added = await press(client, still, "Sender hinzubuchen")
    finally:
        await client.close()
    print(still.text, "\n---\n", added.text)
    assert "hinzubuchen und Ihnen die Kosten nennen" in added.text, added.text
    seen = events(stack, welcome["conversation_id"])
    assert ("cable_channels_missing", "add_channels", "step") in seen, seen


@pytest.mark.parametrize(
    ("language", "opener", "fixed", "still", "going_on", "next_question"),
    [
        (
            "en",
            "the picture on my tv keeps freezing and breaking into blocks",
            "Yes",
            "still the same",
            "Sorry to hear that. Let's keep going.",
            "Does the picture break up on all channels",
        ),
        (
            "de",
            "Das Bild friert ständig ein und zerfällt in Klötzchen",
            "Ja",
            "Nein, es ist immer noch genauso",
            "Schade. Dann machen wir weiter.",
            "Zerfällt das Bild auf allen Sendern",
        ),
    ],
)
async def test_still_not_working_right_after_saying_it_works_goes_on_with_the_diagnosis(
    stack, language, opener, fixed, still, going_on, next_question
) -> None:
    client = ChatClient(stack.ws_url)
    welcome = await client.connect(language=language)
    turns = []
    try:
        asked = await client.say(opener)
        turns.append(asked)
        done = await press(client, asked, fixed)
        turns.append(done)
        again = await client.say(still)
        turns.append(again)
    finally:
        await client.close()
    print(transcript(turns))
    # The "yes" is taken back: the step after "no", not a new diagnosis or the menu.
    assert again.text.startswith(going_on), transcript(turns)
    assert next_question in again.text, transcript(turns)
    assert not any(phrase in again.text for phrase in DIAGNOSIS), transcript(turns)
    seen = events(stack, welcome["conversation_id"])
    assert ("cable_picture_sound", "all_channels", "still_broken") in seen, seen


@pytest.mark.parametrize(
    ("language", "account", "question", "account_button", "told"),
    [
        (
            "en",
            "ACC-8104",
            "do you have any outages in my area? nothing is working since 6am",
            "account number",
            "There is a known outage in your area: a damaged fibre cable.",
        ),
        (
            "de",
            "ACC-8105",
            "Gibt es bei euch eine Störung in der Gegend? Seit heute früh geht gar nichts",
            "Kundennummer",
            "In Ihrer Gegend gibt es eine bekannte Störung: a damaged fibre cable.",
        ),
    ],
)
async def test_a_customer_who_asks_about_an_outage_is_identified_and_told_about_it(
    stack, language, account, question, account_button, told
) -> None:
    postcode = new_customer(stack, account, f"test-outage-asked-{language}", ends_in_hours=2)
    client = ChatClient(stack.ws_url)
    welcome = await client.connect(language=language)
    try:
        turns = [await client.say(question)]  # free text through the NLU
        turns.append(await press(client, turns[-1], account_button))
        turns.append(await client.say(account))
        turns.append(await client.say(postcode, payload=f'/inform{{"postcode":"{postcode}"}}'))
    finally:
        await client.close()
    print(transcript(turns))
    # Not the router lights first: the outage question needs their address.
    assert not any(d in turns[0].text for d in DIAGNOSIS), transcript(turns)
    assert told in turns[-1].text, transcript(turns)
    seen = events(stack, welcome["conversation_id"])
    assert ("internet_no_connection", "asked_outage", "from_message") in seen, seen


async def test_asking_about_an_outage_without_a_ticket_identifies_then_tells_it(stack) -> None:
    # „Wann ist die Störung behoben?" as the first message: no ticket to ask for; the
    # customer's account gives the area, and the outage there is told with its estimate.
    postcode = new_customer(stack, "ACC-8107", "test-outage-ask-de", ends_in_hours=2)
    client = ChatClient(stack.ws_url)
    await client.connect(language="de")
    turns = []
    try:
        asked = await client.say("Guten Tag, können Sie mir sagen, wann die Störung behoben ist?")
        turns.append(asked)
        assert "ob es bei Ihnen eine Störung gibt" in asked.text, transcript(turns)
        assert "TCK-000123" not in asked.text, transcript(turns)  # no ticket number asked for
        chosen = button(asked, "Kundennummer")
        turns.append(await client.say(chosen["title"], payload=chosen["payload"]))
        turns.append(await client.say("ACC-8107"))
        told = await client.say(postcode)
        turns.append(told)
        assert "in Ihrer Gegend gibt es eine Störung" in told.text, transcript(turns)
        assert not any(d in told.text for d in ("Was zeigen die Lämpchen", "Ziehen Sie")), (
            transcript(turns)
        )
    finally:
        await client.close()
    print(transcript(turns))

    # In English, in an area without an outage: said so, and no diagnosis started.
    import_customer(stack, "ACC-8108", postcode="58108", area="test-outage-none-en")
    client = ChatClient(stack.ws_url)
    await client.connect()
    turns = []
    try:
        asked = await client.say("is there an outage in my area? when will it be fixed?")
        turns.append(asked)
        chosen = button(asked, "account number")
        turns.append(await client.say(chosen["title"], payload=chosen["payload"]))
        turns.append(await client.say("my account is ACC-8108"))
        told = await client.say("58108")
        turns.append(told)
        assert "no known outage in your area" in told.text, transcript(turns)
    finally:
        await client.close()
    print(transcript(turns))

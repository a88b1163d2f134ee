"""Read as a customer would: an angry customer is handed over within three misses,
and what the first message already said is not asked again.

Real websocket, real Rasa model, real API and database.
"""

from __future__ import annotations

import pytest

from tests.chat_client import ChatClient
from tests.e2e.helpers import query

pytestmark = pytest.mark.e2e

PERSON = "/request_human"


def person_offers(turn) -> int:
    return sum(1 for b in turn.buttons if b["payload"] == PERSON)


async def test_the_angry_loop_ends_with_a_person_within_three_misses(stack) -> None:
    client = ChatClient(stack.ws_url)
    welcome = await client.connect()
    transcript = []
    try:
        first = await client.say("my internet is not working")
        assert "lights" in first.text.lower(), first.text
        for text in (
            "NO it still doesn't work, this is useless!!",
            "NO. Nothing you say works",
            "this is useless",
        ):
            turn = await client.say(text)
            transcript.append((text, turn.text, person_offers(turn)))
            assert person_offers(turn) <= 1, transcript  # a person offered at most once a turn
            if "person" in turn.text.lower() and "passing you" in turn.text.lower():
                break
    finally:
        await client.close()
    said = [reply for _, reply, _ in transcript]
    # Not read as "No lights at all", no flow switched, no repeated apology.
    assert "power cable" not in " ".join(said).lower(), transcript
    assert "let's look at that problem" not in " ".join(said).lower(), transcript
    assert sum(reply.count("didn't catch") for reply in said) <= 1, transcript
    assert "frustrating, i know" not in " ".join(said).lower(), transcript
    last = said[-1]
    assert "passing you to a person" in last, transcript
    assert "No agent is online" in last or "connecting you with a person" in last, transcript
    assert len(transcript) == 3
    handoffs = query(
        stack,
        "SELECT reason, summary FROM handoffs WHERE conversation_id = :c",
        c=welcome["conversation_id"],
    )
    assert len(handoffs) == 1
    reason, summary = handoffs[0]
    assert reason == "not understood three times" and "No internet connection" in summary


async def test_the_prefilled_opener_skips_the_light_question(stack) -> None:
    client = ChatClient(stack.ws_url)
    welcome = await client.connect()
    try:
        first = await client.say("no internet since last night, the modem light is blinking orange")
        assert "You said the light is blinking orange" in first.text, first.text
        assert "What do its lights show?" not in first.text, first.text
        assert "cable" in first.text.lower() and {"Yes", "No"} <= {
            b["title"] for b in first.buttons
        }, first.text
        corrected = await client.say("that's wrong")
        assert "What do its lights show?" in corrected.text, corrected.text
    finally:
        await client.close()
    events = query(
        stack,
        "SELECT step_id, kind, value FROM flow_events WHERE conversation_id = :c ORDER BY id",
        c=welcome["conversation_id"],
    )
    assert ("lights", "from_message", "warning") in [tuple(e) for e in events]

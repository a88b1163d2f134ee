"""A hand-back continues the conversation (issue: the chat broke after an agent handed back).

Real Rasa, real API, real websockets: a customer in the internet diagnosis asks for a
person, Anna (internet and cable) takes the chat and hands it back; a second agent
(cable only) and a second customer are online too.
"""

from __future__ import annotations

import re

import pytest

from tests.chat_client import ChatClient
from tests.e2e.helpers import query
from tests.e2e.test_handoff import customer_frames_until, signed_in_agent

pytestmark = pytest.mark.e2e

CONFUSED = ("What is the problem about", "still not sure", "misunderstanding", "No agent is online")


async def test_after_a_hand_back_the_assistant_continues_and_a_second_handoff_keeps_all(
    stack,
) -> None:
    anna, _ = await signed_in_agent(stack, name="Anna", skills=["internet", "cable"])
    cleo, _ = await signed_in_agent(stack, name="Cleo", skills=["cable"])
    customer = ChatClient(stack.ws_url)
    other_customer = ChatClient(stack.ws_url)
    conversation_id = (await customer.connect())["conversation_id"]
    await other_customer.connect()
    try:
        await other_customer.say("my TV shows no signal")
        first = await customer.say("my internet is not working")
        assert first.buttons, first.frames
        queued = await customer.say("I want to talk to a real person")
        assert "next in line" in queued.text or "queue" in queued.text, queued.text
        entry = await anna.waiting(conversation_id)
        assert entry["skill"] == "internet"
        assert (await anna.http.post(f"/handoffs/{entry['id']}/claim")).status_code == 200
        await anna.say(conversation_id, "Please switch the router off for ten seconds.")
        await customer_frames_until(
            customer, lambda f: f["type"] == "message" and f["sender"] == "agent"
        )
        await customer.say("done, rebooting now", expect_reply=False)
        assert (await anna.http.post(f"/handoffs/{entry['id']}/hand-back")).status_code == 200
        back = await customer_frames_until(
            customer, lambda f: f["type"] == "owner" and f["owner"] == "bot"
        )
        said = [f["text"] for f in back if f["type"] == "message"]
        assert "Anna handed you back to the assistant" in said[0], said
        # The flow's open question is asked again: the customer is where they were.
        assert said[1:] and said[1:] == [m["text"] for m in first.messages][-len(said[1:]) :]

        still = await customer.say("ok, still no internet though")
        assert still.messages, still.frames  # one turn, one reply
        assert not any(word in still.text for word in CONFUSED), still.text
        owner = query(stack, "SELECT owner FROM conversations WHERE id = :c", c=conversation_id)
        assert owner == [("bot",)]  # not queued again for "not understood three times"

        again = await customer.say("I'd like to talk to a person")
        assert again.messages, again.frames
        assert "No agent is online" not in again.text  # Anna is online and routes to it
        assert "next in line" in again.text or "in the queue" in again.text, again.text
        handoffs = query(
            stack,
            "SELECT reason, skill, tier, summary FROM handoffs WHERE conversation_id = :c "
            "ORDER BY id",
            c=conversation_id,
        )
        assert len(handoffs) == 2
        reason, skill, tier, summary = handoffs[1]
        assert (skill, tier) == (handoffs[0][1], handoffs[0][2]) == ("internet", 2)
        assert summary.startswith(handoffs[0][3])  # the original summary, kept whole
        assert "With Anna (agent" in summary
        assert "Please switch the router off" in summary and "done, rebooting now" in summary
        assert "not understood" not in reason
        waiting = await anna.waiting(conversation_id)
        assert waiting["skill"] == "internet"
        assert all(
            h["conversation_id"] != conversation_id
            for f in cleo.frames
            if f["type"] == "queue"
            for h in f["waiting"]
        )

        # Waiting again: every message still gets an answer.
        meanwhile = await customer.say("are you there?")
        assert "the agent will see your message" in meanwhile.text, meanwhile.frames
    finally:
        await customer.close()
        await other_customer.close()
        await anna.close()
        await cleo.close()


async def test_a_german_customer_is_handed_back_and_kept_informed_in_german(stack) -> None:
    dora, _ = await signed_in_agent(stack, name="Dora", skills=["internet"], languages=["de"])
    customer = ChatClient(stack.ws_url)
    conversation_id = (await customer.connect(language="de-DE"))["conversation_id"]
    try:
        first = await customer.say("Mein Internet geht nicht", payload="/problem_internet")
        assert first.messages, first.frames
        queued = await customer.say("Ich möchte einen Menschen sprechen", payload="/request_human")
        assert queued.messages, queued.frames
        entry = await dora.waiting(conversation_id)
        assert entry["language"] == "de"
        assert (await dora.http.post(f"/handoffs/{entry['id']}/claim")).status_code == 200
        joined = await customer_frames_until(
            customer, lambda f: f["type"] == "owner" and f["owner"] == "agent"
        )
        assert "Dora ist dem Chat beigetreten." in [f.get("text") for f in joined], joined
        assert (await dora.http.post(f"/handoffs/{entry['id']}/hand-back")).status_code == 200
        back = await customer_frames_until(
            customer, lambda f: f["type"] == "owner" and f["owner"] == "bot"
        )
        said = [f["text"] for f in back if f["type"] == "message"]
        assert said[0].startswith("Dora hat Sie an den Assistenten zurückgegeben."), said

        again = await customer.say("Ich möchte einen Menschen sprechen", payload="/request_human")
        assert again.messages, again.frames
        meanwhile = await customer.say("Sind Sie noch da?")
        assert "Danke, unser Team sieht Ihre Nachricht." in meanwhile.text, meanwhile.frames
        place = r"Sie sind (als Nächstes an der Reihe|an Position \d+ der Warteschlange)\."
        assert re.search(place, meanwhile.text), meanwhile.text
    finally:
        await customer.close()
        await dora.close()

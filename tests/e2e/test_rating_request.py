"""After the assistant alone solved the problem, the customer is asked once for a rating.

Real Rasa, real API, real websocket.
"""

from __future__ import annotations

import pytest

from tests.chat_client import ChatClient, Turn
from tests.e2e.helpers import button, query

pytestmark = pytest.mark.e2e


async def fixed_by_restart(client: ChatClient) -> Turn:
    first = await client.say("my internet is not working")
    green = button(first, "green")
    second = await client.say(green["title"], payload=green["payload"])
    assert {"Yes", "No"} <= {b["title"] for b in second.buttons}, second.frames
    return await client.say("it works now")


def rating_requests(turn: Turn) -> list[dict]:
    return [f for f in turn.frames if f["type"] == "rating_request"]


async def test_a_bot_only_conversation_that_ends_resolved_asks_for_a_rating_once(stack) -> None:
    client = ChatClient(stack.ws_url)
    welcome = await client.connect()
    try:
        solved = await fixed_by_restart(client)
        assert "working again" in solved.text.lower(), solved.text
        assert len(rating_requests(solved)) == 1, solved.frames
        # It comes during the turn; the turn's end follows it.
        assert solved.frames[-1] == {"type": "typing", "sender": "bot", "active": False}

        await client.send_frame({"type": "rating", "score": 5, "comment": "quick"})
        saved = await client.receive(kind="rating_saved")
        assert saved["score"] == 5

        # The same problem solved again later in the chat: not asked a second time.
        again = await fixed_by_restart(client)
        assert "working again" in again.text.lower(), again.text
        assert rating_requests(again) == []
    finally:
        await client.close()
    ((score, comment),) = query(
        stack,
        "SELECT score, comment FROM ratings WHERE conversation_id = :c",
        c=welcome["conversation_id"],
    )
    assert (score, comment) == (5, "quick")


async def test_a_conversation_that_ends_in_a_ticket_is_not_asked(stack) -> None:
    client = ChatClient(stack.ws_url)
    await client.connect()
    try:
        await client.say("my internet is not working")
        cables = await client.say("it's blinking orange")
        turns = [cables, await client.say("no"), await client.say("still not working")]
        assert all(rating_requests(turn) == [] for turn in turns)
    finally:
        await client.close()

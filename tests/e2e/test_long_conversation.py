"""A conversation longer than the tracker window: Rasa loads only recent turns, loses nothing.

The end-to-end stack runs with `tracker_max_turns=4` (tests/conftest.py), so every
conversation past four messages is served from a bounded tracker
(bot/rasa/tracker_store.py). A diagnostic flow keeps its place across the window,
and every event still reaches the tracker store.
"""

from __future__ import annotations

import sqlite3

import pytest

from tests.chat_client import ChatClient
from tests.e2e.helpers import button

pytestmark = pytest.mark.e2e


def tracker_events(stack, conversation_id: str) -> list[tuple[str, str | None]]:
    path = stack.settings.tracker_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        return connection.execute(
            "SELECT type_name, action_name FROM events WHERE sender_id = ? ORDER BY id",
            (conversation_id,),
        ).fetchall()


async def test_a_flow_keeps_its_place_beyond_the_tracker_window(stack) -> None:
    assert stack.settings.tracker_max_turns == 4
    client = ChatClient(stack.ws_url)
    welcome = await client.connect()
    sent = 0
    try:
        first = await client.say("my internet is not working")
        sent += 1
        lights = [b["title"] for b in first.buttons]
        assert button(first, "green"), first.frames
        for aside in (
            "why is my bill so high this month",
            "what is a router",
            "why is my bill so high this month",
            "what is a router",
            "why is my bill so high this month",
        ):
            turn = await client.say(aside)
            sent += 1
            # The side question is answered and the same step is asked again.
            assert [b["title"] for b in turn.buttons] == lights, (aside, turn.frames)
        green = button(turn, "green")
        after = await client.say(green["title"], payload=green["payload"])
        sent += 1
        assert {"Yes", "No"} <= {b["title"] for b in after.buttons}, after.frames
    finally:
        await client.close()

    events = tracker_events(stack, welcome["conversation_id"])
    assert sum(1 for type_name, _ in events if type_name == "user") == sent
    assert sent > stack.settings.tracker_max_turns
    # Every turn's actions were stored, including those after the window filled.
    assert [name for type_name, name in events if type_name == "action"].count(
        "action_flow_continue"
    ) >= sent - 1

"""A representative flow per domain, through the real NLU, Rasa, actions and websocket.

Each case replays one of the flow's own sample conversations (data/flows/*.yml)
as typed text and checks the steps recorded in the database against it.
"""

from __future__ import annotations

import pytest

from bot.flows.loader import load_flow_file
from tests.chat_client import ChatClient
from tests.conftest import FLOWS_DIR
from tests.e2e.helpers import query

pytestmark = pytest.mark.e2e

CASES = [
    ("cable_black_screen", "my tv shows a black screen with no signal", 0),
    ("hardware_device_no_power", "my computer won't turn on", 0),
    # An opener that says what the program does would answer the sample's second question.
    ("software_app_crashes", "I have trouble with an app on my laptop", 0),
    ("internet_slow_speed", "my internet is so slow in the evenings", 0),
]


@pytest.mark.parametrize(("flow_id", "opening", "sample"), CASES, ids=[c[0] for c in CASES])
async def test_a_flow_runs_end_to_end(stack, flow_id: str, opening: str, sample: int) -> None:
    flow = load_flow_file(FLOWS_DIR / f"{flow_id}.yml")
    test = flow.tests[sample]
    client = ChatClient(stack.ws_url)
    welcome = await client.connect()
    try:
        first = await client.say(opening)
        assert first.messages, first.frames
        for turn in test["turns"]:
            reply = await client.say(str(turn))
            assert reply.messages, reply.frames
    finally:
        await client.close()
    rows = query(
        stack,
        "SELECT flow_id, step_id, kind, value FROM flow_events WHERE conversation_id = :c "
        "ORDER BY id",
        c=welcome["conversation_id"],
    )
    steps = [step for flow_ran, step, kind, _ in rows if kind == "step" and flow_ran == flow_id]
    assert steps == test["expect_steps"], rows
    outcomes = [value for _, _, kind, value in rows if kind == "outcome"]
    assert outcomes[-1:] == [test["expect_outcome"]], rows

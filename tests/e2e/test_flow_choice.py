"""Read as a customer would: the first message starts the flow that fits it.

Each opener below once started the wrong diagnosis (the router's lights for a
printer, "which program?" for a TV picture). When the assistant is unsure of a
message, it guesses the domain ("Is it about your cable TV?"); pressing that
guess must start the flow the message fits, not the domain's default. Real
websocket, real Rasa model, real API and database; the flow that started is
read from `flow_events`.
"""

from __future__ import annotations

import pytest

from tests.chat_client import ChatClient
from tests.e2e.helpers import query

pytestmark = pytest.mark.e2e

OPENERS = [
    ("printer says offline but it's right next to the router", {"hardware_printer_not_printing"}),
    ("paying for 500mbps and speedtest shows 12", {"internet_slow_speed"}),
    ("everything connects to wifi except my work laptop", {"internet_one_device_cannot_connect"}),
    ("picture keeps freezing and breaking up into blocks", {"cable_picture_sound"}),
    (
        "the photo app closes itself every time I open it since yesterday's update",
        {"software_app_crashes"},
    ),
    # A broken charger: checking the device's power, or straight to a replacement part.
    (
        "charger cable is frayed and stopped charging, need a new one",
        {"hardware_device_no_power", "request_part", "order_part"},
    ),
    ("Mein WLAN bricht seit gestern ständig ab, alle Geräte fliegen raus", {"internet_wifi_drops"}),
]


@pytest.mark.parametrize(("opener", "expected"), OPENERS)
async def test_the_first_message_starts_the_flow_that_fits(stack, opener, expected) -> None:
    client = ChatClient(stack.ws_url)
    welcome = await client.connect()
    try:
        first = await client.say(opener)
        guess = [b for b in first.buttons if b["payload"].startswith("/problem_")]
        if len(guess) == 1 and not flows_started(stack, welcome["conversation_id"]):
            await client.say(guess[0]["title"], payload=guess[0]["payload"])
    finally:
        await client.close()
    started = flows_started(stack, welcome["conversation_id"])
    assert started and started[0] in expected, (opener, started, first.text)
    assert "What do its lights show?" not in first.text or "internet" in started[0], first.text


def flows_started(stack, conversation_id: str) -> list[str]:
    return [
        flow_id
        for (flow_id,) in query(
            stack,
            "SELECT flow_id FROM flow_events WHERE conversation_id = :c AND kind = 'start' "
            "ORDER BY id",
            c=conversation_id,
        )
    ]

"""The first internet conversation through the real stack: websocket → API → Rasa → DB."""

from __future__ import annotations

import asyncio
import json
import re
import time

import httpx
import pytest
import websockets

from tests.chat_client import ChatClient
from tests.e2e.helpers import button, query

pytestmark = pytest.mark.e2e

TICKET = re.compile(r"TCK-\d{6}")


async def test_internet_fault_fixed_by_restart(stack) -> None:
    client = ChatClient(stack.ws_url)
    welcome = await client.connect()
    assert welcome["resumed"] is False and welcome["history"] == []
    try:
        first = await client.say("my internet is not working")
        assert first.ack and first.ack["duplicate"] is False
        assert len(first.buttons) >= 3, first.frames  # the router-lights question
        green = button(first, "green")
        second = await client.say(green["title"], payload=green["payload"])
        assert {"Yes", "No"} <= {b["title"] for b in second.buttons}, second.frames
        third = await client.say("it works now")
        assert "working again" in third.text.lower(), third.text
        assert not TICKET.search(third.text)
    finally:
        await client.close()
    conversation_id = welcome["conversation_id"]
    assert (
        query(stack, "SELECT id FROM tickets WHERE conversation_id = :c", c=conversation_id) == []
    )
    steps = query(
        stack,
        "SELECT step_id, kind FROM flow_events WHERE conversation_id = :c ORDER BY id",
        c=conversation_id,
    )
    assert ("fixed", "outcome") in [(s, k) for s, k in steps]


async def test_internet_fault_ends_in_a_ticket(stack) -> None:
    client = ChatClient(stack.ws_url)
    welcome = await client.connect()
    try:
        await client.say("my internet is not working")
        cables = await client.say("it's blinking orange")  # free text picks the choice
        assert {"Yes", "No"} <= {b["title"] for b in cables.buttons}, cables.frames
        restart = await client.say("no")
        assert "restart" in restart.text.lower(), restart.text
        ending = await client.say("still not working")
        match = TICKET.search(ending.text)
        assert match, ending.text
    finally:
        await client.close()
    rows = query(
        stack,
        "SELECT id, status, domain, summary FROM tickets WHERE conversation_id = :c",
        c=welcome["conversation_id"],
    )
    assert len(rows) == 1
    ticket_id, status, domain, summary = rows[0]
    assert f"TCK-{ticket_id:06d}" == match.group(0)
    assert status == "open" and domain == "internet"
    assert "Router lights → Orange, red or blinking" in summary
    assert "Restarted the router; working again → no" in summary


async def test_reconnect_with_the_token_continues_the_conversation(stack) -> None:
    client = ChatClient(stack.ws_url)
    welcome = await client.connect()
    first = await client.say("my internet is not working")
    await client.close()

    again = ChatClient(stack.ws_url)
    resumed = await again.connect(session_token=client.session_token)
    try:
        assert resumed["resumed"] is True
        assert resumed["conversation_id"] == welcome["conversation_id"]
        texts = [m["text"] for m in resumed["history"]]
        assert texts[0] == "my internet is not working"
        assert first.messages[-1]["text"] in texts
        green = button(first, "green")
        second = await again.say(green["title"], payload=green["payload"])
        assert "restart" in second.text.lower(), second.text  # the flow went on
        only_new = ChatClient(stack.ws_url)
        last_seen = resumed["history"][-1]["id"]
        partial = await only_new.connect(session_token=client.session_token, after_id=last_seen)
        assert [m["id"] for m in partial["history"]] == [m["id"] for m in second.messages] or all(
            m["id"] > last_seen for m in partial["history"]
        )
        await only_new.close()
    finally:
        await again.close()


async def test_a_message_sent_as_the_tab_closes_is_answered_once(stack) -> None:
    """The socket goes away before the ack: the message is answered all the same."""
    client = ChatClient(stack.ws_url)
    await client.connect()
    await client.send_frame(
        {"type": "message", "client_id": "closing-1", "text": "my internet is not working"}
    )
    await client.close()

    history: list[dict] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        again = ChatClient(stack.ws_url)
        history = (await again.connect(session_token=client.session_token))["history"]
        await again.close()
        if any(m["sender"] == "bot" for m in history):
            break
        await asyncio.sleep(0.2)
    assert [m["sender"] for m in history][:2] == ["customer", "bot"], history
    assert history[0]["client_id"] == "closing-1"

    resend = ChatClient(stack.ws_url)
    await resend.connect(session_token=client.session_token)
    try:
        turn = await resend.say("my internet is not working", client_id="closing-1")
        assert turn.ack["duplicate"] is True and turn.messages == []
    finally:
        await resend.close()
    final = ChatClient(stack.ws_url)
    assert (await final.connect(session_token=client.session_token))["history"] == history
    await final.close()


async def test_a_resent_client_id_is_answered_once(stack) -> None:
    client = ChatClient(stack.ws_url)
    welcome = await client.connect()
    try:
        first = await client.say("hello", client_id="same-id-1")
        assert first.ack["duplicate"] is False and first.messages
        again = await client.say("hello", client_id="same-id-1")
        assert again.ack["duplicate"] is True
        assert again.ack["id"] == first.ack["id"]
        assert again.messages == []
    finally:
        await client.close()
    rows = query(
        stack,
        "SELECT id FROM messages WHERE conversation_id = :c AND sender = 'customer'",
        c=welcome["conversation_id"],
    )
    assert len(rows) == 1


async def test_bad_frames_get_clear_errors_and_the_socket_stays_usable(stack) -> None:
    socket = await websockets.connect(stack.ws_url)
    try:

        async def error_for(raw: str) -> str:
            await socket.send(raw)
            frame = json.loads(await socket.recv())
            assert frame["type"] == "error", frame
            return frame["code"]

        assert await error_for("not json") == "invalid_json"
        assert await error_for("[1, 2]") == "invalid_json"
        assert await error_for('{"type": "launch_missiles"}') == "unknown_type"
        assert await error_for('{"type": "message", "client_id": "a", "text": "hi"}') == (
            "hello_required"
        )
        assert await error_for('{"type": "hello", "session_token": "forged-token"}') == (
            "invalid_session"
        )
        await socket.send('{"type": "hello"}')
        welcome = json.loads(await socket.recv())
        assert welcome["type"] == "welcome"
        assert await error_for('{"type": "message", "client_id": "bad id!", "text": "x"}') == (
            "invalid_message"
        )
        assert await error_for('{"type": "message", "client_id": "a1", "text": "   "}') == (
            "invalid_message"
        )
        too_long = json.dumps({"type": "message", "client_id": "a2", "text": "x" * 2001})
        assert await error_for(too_long) == "message_too_large"
        assert await error_for('{"type": "hello"}') == "already_started"
        await socket.send('{"type": "ping"}')
        assert json.loads(await socket.recv()) == {"type": "pong"}
        huge = json.dumps({"type": "message", "client_id": "a3", "text": "y" * 20000})
        assert await error_for(huge) == "frame_too_large"
    finally:
        await socket.close()
    rows = query(stack, "SELECT count(*) FROM messages WHERE client_id IN ('a', 'a1', 'a2', 'a3')")
    assert rows[0][0] == 0


async def test_a_foreign_origin_is_refused(stack) -> None:
    with pytest.raises(websockets.exceptions.InvalidStatusCode) as refused:
        await websockets.connect(stack.ws_url, origin="https://evil.example")
    assert refused.value.status_code == 403


async def test_the_customer_is_told_when_the_assistant_is_down(stack) -> None:
    client = ChatClient(stack.ws_url)
    welcome = await client.connect()
    stack.stop_rasa()
    try:
        async with httpx.AsyncClient() as http:
            health = await http.get(f"{stack.base_url}/health")
        assert health.status_code == 503 and health.json()["rasa"] is False
        started = time.monotonic()
        turn = await client.say("my internet is not working", client_id="while-down")
        elapsed = time.monotonic() - started
        assert elapsed < 6
        assert turn.messages and turn.messages[-1]["sender"] == "system"
        assert "unavailable" in turn.messages[-1]["text"]
    finally:
        await client.close()
        stack.start_rasa()
        stack.wait_until_healthy()
    rows = query(
        stack,
        "SELECT text, status FROM messages WHERE conversation_id = :c AND client_id = 'while-down'",
        c=welcome["conversation_id"],
    )
    assert rows == [("my internet is not working", "failed")]


async def test_the_flow_survives_a_restart_of_rasa_and_the_api(stack) -> None:
    """The customer goes quiet mid-flow; both servers restart; the flow goes on."""
    client = ChatClient(stack.ws_url)
    await client.connect()
    first = await client.say("my internet is not working")
    token = client.session_token
    await client.close()
    stack.stop_rasa()
    stack.restart_api()
    stack.start_rasa()
    stack.wait_until_healthy()
    again = ChatClient(stack.ws_url)
    resumed = await again.connect(session_token=token)
    try:
        assert resumed["resumed"] is True
        green = button(first, "green")
        turn = await again.say(green["title"], payload=green["payload"])
        assert "restart" in turn.text.lower(), turn.text
    finally:
        await again.close()

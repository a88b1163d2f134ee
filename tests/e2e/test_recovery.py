"""A message acknowledged but not answered when the API is killed is answered after the restart.

The real stack: Rasa is frozen (SIGSTOP) so that it is busy with the message,
the API is killed with SIGKILL between the ack and the reply, Rasa goes on,
the API starts again, and the customer reconnects with the token and `after_id`.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.stack import Stack, free_port
from scripts.train import ensure_model
from tests.chat_client import ChatClient
from tests.conftest import make_settings
from tests.e2e.helpers import query

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("recovery")
    settings = make_settings(
        workdir,
        port=free_port(),
        rasa_timeout_seconds=4.0,
        answer_lease_seconds=10.0,
        recovery_check_seconds=1.0,
    )
    model = Path(os.environ["RASA_MODEL"]) if os.environ.get("RASA_MODEL") else ensure_model()
    running = Stack(settings=settings, rasa_port=free_port(), model=model, log_dir=workdir / "log")
    try:
        running.start()
        yield running
    finally:
        if running.rasa is not None:
            os.killpg(running.rasa.pid, signal.SIGCONT)
        running.stop()


async def replies_until_turn_ends(client: ChatClient, timeout: float) -> list[dict]:
    messages = []
    while True:
        frame = await client.receive(timeout=timeout)
        if frame["type"] == "message" and frame["sender"] != "customer":
            messages.append(frame)
        if frame["type"] == "typing" and frame["active"] is False and messages:
            return messages


async def test_the_api_killed_between_ack_and_reply_answers_after_restart(stack: Stack) -> None:
    customer = ChatClient(stack.ws_url)
    await customer.connect()
    greeting = await customer.say("hello")
    assert greeting.messages, greeting.frames
    seen = greeting.messages[-1]["id"]

    assert stack.rasa is not None and stack.api is not None
    os.killpg(stack.rasa.pid, signal.SIGSTOP)  # Rasa is busy
    try:
        await customer.send_frame(
            {"type": "message", "client_id": "lost-1", "text": "my internet is not working"}
        )
        ack = await customer.receive(kind="ack", timeout=10)
        assert ack["client_id"] == "lost-1" and ack["duplicate"] is False
        os.killpg(stack.api.pid, signal.SIGKILL)  # no goodbye, no reply
        stack.api.wait(timeout=10)
        stack.api = None
    finally:
        os.killpg(stack.rasa.pid, signal.SIGCONT)
    await customer.close()

    (status,) = query(stack, "SELECT status FROM messages WHERE id = :id", id=ack["id"])
    assert status[0] == "received"

    stack.start_api()
    again = ChatClient(stack.ws_url)
    welcome = await again.connect(session_token=customer.session_token, after_id=seen)
    assert welcome["resumed"] is True
    replies = [m for m in welcome["history"] if m["sender"] != "customer"]
    if not replies:
        # Answered once the lease of the dead worker runs out (10 s here).
        replies = await replies_until_turn_ends(again, timeout=40)
    assert replies and all(r["sender"] == "bot" for r in replies), replies
    assert "unavailable" not in " ".join(r["text"] for r in replies)

    # Exactly once: one answer stored, and no second one comes later.
    await asyncio.sleep(3)
    await again.close()
    rows = query(
        stack,
        "SELECT id, sender, status FROM messages WHERE conversation_id = :c AND id >= :id "
        "ORDER BY id",
        c=welcome["conversation_id"],
        id=ack["id"],
    )
    assert rows[0].status == "answered"
    assert [r.id for r in rows[1:]] == [r["id"] for r in replies]

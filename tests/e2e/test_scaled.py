"""Scaled out: 2 API workers and 2 Rasa instances on PostgreSQL and Redis.

A customer and an agent on different workers, and a worker killed in the
middle of a conversation.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from api.services.rasa_client import pick_instance
from scripts.run_scaled import ScaledStack
from scripts.stack import free_port
from scripts.train import ensure_model
from tests.agent_client import AgentClient, create_agent
from tests.chat_client import ChatClient
from tests.conftest import POSTGRES_ADMIN_URL, make_settings
from tests.e2e.helpers import query

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledStack]:
    workdir = tmp_path_factory.mktemp("scaled")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    suffix = uuid.uuid4().hex[:8]
    app_db, tracker_db = f"support_scaled_{suffix}", f"support_tracker_{suffix}"
    settings = make_settings(
        workdir,
        database_url=f"{base}/{app_db}",
        tracker_url=f"{base}/{tracker_db}",
        redis_url="redis://127.0.0.1:6379/4",
        rasa_timeout_seconds=8.0,
        answer_lease_seconds=13.0,
        recovery_check_seconds=1.0,
    )
    model = Path(os.environ["RASA_MODEL"]) if os.environ.get("RASA_MODEL") else ensure_model()
    stack = ScaledStack.create(
        settings,
        model=model,
        api_ports=[free_port(), free_port()],
        rasa_ports=[free_port(), free_port()],
        actions_port=free_port(),
        log_dir=workdir / "log",
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
            for name in (app_db, tracker_db):
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_customer_and_agent_on_different_workers(scaled: ScaledStack) -> None:
    first, second = scaled.stacks
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    await create_agent(second.base_url, second.settings.operator_token, email=email, name="Nia")
    agent = AgentClient(second.base_url, second.ws_url)
    await agent.login(email)
    await agent.connect()
    customer = ChatClient(first.ws_url)
    welcome = await customer.connect()
    conversation_id = welcome["conversation_id"]
    try:
        queued = await customer.say("a person please", payload="/request_human")
        assert "queue" in queued.text or "next in line" in queued.text, queued.text
        entry = await agent.waiting(conversation_id)
        assert (await agent.http.post(f"/handoffs/{entry['id']}/claim")).status_code == 200
        await agent.say(conversation_id, "Hello from the other worker")
        while True:
            frame = await customer.receive(timeout=20)
            if frame["type"] == "message" and frame["sender"] == "agent":
                break
        assert frame["text"] == "Hello from the other worker"
        await customer.say("Thanks!", client_id="cross-1", expect_reply=False)
        relayed = await agent.wait_for(lambda f: f.get("client_id") == "cross-1")
        assert relayed["text"] == "Thanks!"
    finally:
        await customer.close()
        await agent.close()


async def test_a_worker_killed_mid_conversation_loses_nothing(scaled: ScaledStack) -> None:
    first, second = scaled.stacks
    customer = ChatClient(first.ws_url)
    await customer.connect()
    first_turn = await customer.say("my internet is not working")
    choice = first_turn.buttons[0]
    os.killpg(first.api.pid, signal.SIGKILL)  # the worker dies without a goodbye
    first.api.wait(timeout=10)
    first.api = None
    try:
        again = ChatClient(second.ws_url)
        resumed = await again.connect(session_token=customer.session_token)
        assert resumed["resumed"] is True
        texts = [m["text"] for m in resumed["history"]]
        assert texts[0] == "my internet is not working"
        assert first_turn.messages[-1]["text"] in texts
        next_turn = await again.say(choice["title"], payload=choice["payload"])
        assert next_turn.messages and next_turn.messages[-1]["sender"] == "bot", next_turn.frames
        assert "unavailable" not in next_turn.text
        await again.close()
    finally:
        first.start_api()


async def test_a_message_left_by_a_killed_worker_is_answered_once(scaled: ScaledStack) -> None:
    """Killed between the ack and the reply while Rasa is busy: both workers look for the
    message (the survivor at once, the restarted one on start-up); one answers it, once."""
    first, second = scaled.stacks
    customer = ChatClient(first.ws_url)
    welcome = await customer.connect()
    conversation_id = welcome["conversation_id"]
    urls = [f"http://127.0.0.1:{s.rasa_port}" for s in scaled.stacks]
    owner = pick_instance(urls, conversation_id)
    busy = next(s for s in scaled.stacks if f"http://127.0.0.1:{s.rasa_port}" == owner)
    assert busy.rasa is not None and first.api is not None
    os.killpg(busy.rasa.pid, signal.SIGSTOP)
    try:
        await customer.send_frame(
            {"type": "message", "client_id": "orphan-1", "text": "my tv box shows no picture"}
        )
        ack = await customer.receive(kind="ack", timeout=10)
        os.killpg(first.api.pid, signal.SIGKILL)
        first.api.wait(timeout=10)
        first.api = None
    finally:
        os.killpg(busy.rasa.pid, signal.SIGCONT)
    await customer.close()
    try:
        again = ChatClient(second.ws_url)
        resumed = await again.connect(session_token=customer.session_token, after_id=ack["id"])
        replies = [m for m in resumed["history"] if m["sender"] != "customer"]
        first.start_api()  # the restarted worker looks for it too
        while not replies:
            frame = await again.receive(timeout=60)
            if frame["type"] == "message" and frame["sender"] != "customer":
                replies.append(frame)
        assert replies[0]["sender"] == "bot", replies
        await asyncio.sleep(5)  # both workers have looked again since
        await again.close()
    finally:
        if first.api is None:
            first.start_api()
    rows = query(
        first,
        "SELECT id, sender, status FROM messages WHERE conversation_id = :c ORDER BY id",
        c=conversation_id,
    )
    assert [r.sender for r in rows].count("customer") == 1
    assert rows[0].status == "answered"
    answers = [r for r in rows if r.sender != "customer"]
    assert answers and all(r.sender == "bot" for r in answers)
    # One turn's replies, not two: a second answer would repeat the first one's texts.
    texts = query(
        first,
        "SELECT text FROM messages WHERE conversation_id = :c AND sender = 'bot' ORDER BY id",
        c=conversation_id,
    )
    assert len(texts) == len({t.text for t in texts}), texts

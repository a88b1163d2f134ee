"""Scaled out: 2 API workers and 2 Rasa instances on PostgreSQL and Redis.

A customer and an agent on different workers, and a worker killed in the
middle of a conversation.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from scripts.run_scaled import ScaledStack
from scripts.stack import free_port
from scripts.train import ensure_model
from tests.agent_client import AgentClient, create_agent
from tests.chat_client import ChatClient
from tests.conftest import POSTGRES_ADMIN_URL, make_settings

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

"""A trainer's broken edit on the running stack: every kind of logic error keeps the
last good flows live and shows at /health with file:line, and customers are still
answered. A flow that fails under a customer gets them a polite reply and a person."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.chat_client import ChatClient
from tests.e2e.helpers import button
from tests.flow_edits import EDITED_QUESTION, EDITS, FLOW_FILE, GOOD_QUESTION, break_flow

pytestmark = pytest.mark.e2e


def saved(path: Path, text: str) -> None:
    """Write the file as an editor would, its timestamp later than any before."""
    path.write_text(text, encoding="utf-8")
    later = time.time() + 2
    os.utime(path, (later, later))


async def health_when(
    stack: Any, condition: Callable[[dict[str, Any]], bool], timeout: float = 15
) -> dict[str, Any]:
    """/health's body once `condition` holds (the API looks at flow files twice a second)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while True:
            body = (await http.get(f"{stack.base_url}/health")).json()
            if condition(body) or time.monotonic() > deadline:
                return body
            await asyncio.sleep(0.3)


@pytest.fixture
async def trainer_file(stack: Any) -> AsyncIterator[Path]:
    """The flow file a test edits on the running stack; put back afterwards."""
    path = Path(stack.settings.flows_dir) / FLOW_FILE
    original = path.read_text(encoding="utf-8")
    yield path
    saved(path, original)
    await asyncio.sleep(0.6)
    restored = await health_when(stack, lambda body: body["flows_error"] is None)
    assert restored["flows_error"] is None, restored


async def first_reply(stack: Any, text: str) -> str:
    client = ChatClient(stack.ws_url)
    await client.connect()
    try:
        turn = await client.say(text)
    finally:
        await client.close()
    assert turn.messages, turn.frames
    return turn.text


@pytest.mark.parametrize("kind", sorted(EDITS))
async def test_a_logic_error_keeps_the_last_good_flows(
    stack: Any, trainer_file: Path, kind: str
) -> None:
    before = await health_when(stack, lambda body: body["flows_error"] is None)
    assert before["flows_error"] is None and before["flows_errors"] == []

    where, words = break_flow(trainer_file.parent, kind)
    os.utime(trainer_file, (time.time() + 2, time.time() + 2))
    after = await health_when(stack, lambda body: body["flows_error"] is not None)

    assert after["flows_error"] is not None and where in after["flows_error"], after
    assert any(where in error and words in error for error in after["flows_errors"]), after
    assert after["flows"] == before["flows"]
    reply = await first_reply(stack, "my internet is not working")
    assert GOOD_QUESTION in reply and EDITED_QUESTION not in reply


async def test_a_step_removed_under_a_customer_still_gets_them_an_answer(
    stack: Any, trainer_file: Path
) -> None:
    customers = {}
    for language, opener in (("en", "my internet is not working"), ("de", "kein Internet")):
        client = ChatClient(stack.ws_url)
        welcome = await client.connect()
        turn = await client.say(opener)
        assert GOOD_QUESTION in turn.text, turn.text
        customers[language] = (client, welcome["conversation_id"])

    # The trainer renames the step both customers are on; the flows stay valid.
    text = trainer_file.read_text(encoding="utf-8")
    saved(
        trainer_file,
        text.replace("id: lights", "id: router_lights")
        .replace("default: lights", "default: router_lights")
        .replace("next: lights", "next: router_lights"),
    )
    await asyncio.sleep(0.6)
    assert (await health_when(stack, lambda body: True))["flows_error"] is None

    try:
        english, english_id = customers["en"]
        answer = await english.say("it is blinking orange")
        assert answer.text.startswith("I'm sorry, something went wrong"), answer.frames
        assert button(answer, "person")["payload"] == "/request_human"

        german, german_id = customers["de"]
        antwort = await german.say("es blinkt orange")
        assert antwort.text.startswith("Entschuldigung, bei mir ist etwas schiefgegangen")
        assert button(antwort, "Mitarbeiter")["payload"] == "/request_human"

        # The person offered is really there: the button reaches the handoff desk.
        handed = await english.say("Talk to a person", payload="/request_human")
        assert handed.messages and "sorry, something went wrong" not in handed.text
    finally:
        for client, _ in customers.values():
            await client.close()

    log = (Path(stack.log_dir) / "api.log").read_text(encoding="utf-8", errors="replace")
    for conversation in (english_id, german_id):
        assert (
            f"flow internet_no_connection failed at step lights in conversation {conversation}"
        ) in log

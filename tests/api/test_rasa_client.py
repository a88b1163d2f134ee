"""Talking to Rasa: JWTs, which instance owns a conversation, and how many messages at a time."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from api.services.rasa_client import (
    RasaClient,
    RasaUnavailable,
    mint_jwt,
    pick_instance,
)


def test_the_jwt_carries_the_admin_role_and_an_expiry() -> None:
    header, payload, signature = mint_jwt("secret").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["user"]["role"] == "admin" and claims["exp"] > 0 and signature


def test_a_conversation_always_goes_to_the_same_instance() -> None:
    urls = ["http://127.0.0.1:5005", "http://127.0.0.1:5006"]
    ids = [uuid.uuid4().hex for _ in range(400)]
    first = [pick_instance(urls, i) for i in ids]
    assert first == [pick_instance(list(reversed(urls)), i) for i in ids]
    spread = Counter(first)
    assert min(spread.values()) > 120  # both instances get a fair share


def test_adding_an_instance_moves_only_its_share() -> None:
    two = ["http://a", "http://b"]
    three = [*two, "http://c"]
    ids = [uuid.uuid4().hex for _ in range(600)]
    moved = [i for i in ids if pick_instance(two, i) != pick_instance(three, i)]
    assert all(pick_instance(three, i) == "http://c" for i in moved)


class _SlowRasa:
    """A loopback HTTP server that answers the gateway channel after a delay."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.inside = 0
        self.most_inside = 0
        self.answered = 0

    async def webhook(self, request: web.Request) -> web.Response:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        try:
            body = await request.json()
            await asyncio.sleep(self.delay)
            self.answered += 1
            return web.json_response([{"text": f"you said {body['message']}"}])
        finally:
            self.inside -= 1


@pytest.fixture
async def slow_rasa() -> AsyncIterator[tuple[_SlowRasa, str]]:
    rasa = _SlowRasa(delay=0.05)
    app = web.Application()
    app.router.add_post("/webhooks/gateway/webhook", rasa.webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield rasa, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_the_client_gives_rasa_at_most_its_limit_and_answers_everyone(
    slow_rasa: tuple[_SlowRasa, str],
) -> None:
    rasa, url = slow_rasa
    client = RasaClient(base_url=url, jwt_secret="x", timeout_seconds=5, max_in_flight=3)
    try:
        replies = await asyncio.gather(
            *(client.send_message(sender_id=f"c{n}", text=str(n)) for n in range(12))
        )
    finally:
        await client.close()
    assert [r[0].text for r in replies] == [f"you said {n}" for n in range(12)]
    assert rasa.most_inside == 3 and rasa.answered == 12
    assert client.queue() == {"in_flight": 0, "waiting": 0}


async def test_a_message_that_waits_past_the_time_limit_is_told_rasa_is_busy(
    slow_rasa: tuple[_SlowRasa, str],
) -> None:
    rasa, url = slow_rasa
    client = RasaClient(base_url=url, jwt_secret="x", timeout_seconds=0.3, max_in_flight=1)
    limit = client.limits[url]
    await limit.acquire()  # another message has Rasa's only slot
    assert client.queue() == {"in_flight": 1, "waiting": 0}
    try:
        with pytest.raises(RasaUnavailable, match="busy"):
            await client.send_message(sender_id="a", text="waits too long")
        assert (limit.in_flight, limit.waiting, rasa.answered) == (1, 0, 0)
        limit.release()
        rasa.delay = 1.0  # now Rasa itself is too slow
        with pytest.raises(RasaUnavailable, match="did not answer"):
            await client.send_message(sender_id="a", text="slow")
        assert limit.in_flight == 0
        rasa.delay = 0.0
        replies = await client.send_message(sender_id="a", text="fine")
        assert replies[0].text == "you said fine"
    finally:
        await client.close()


async def test_replies_given_before_a_crash_are_read_from_the_tracker() -> None:
    """The bot events after the customer message with that id, up to the next message."""
    events = [
        {"event": "user", "text": "hi", "metadata": {"message_id": 6}},
        {"event": "bot", "text": "Hello!"},
        {"event": "user", "text": "my tv is broken", "metadata": {"message_id": 7}},
        {"event": "action", "name": "action_flow_start"},
        {
            "event": "bot",
            "text": "Is it on?",
            "data": {"buttons": [{"title": "Yes", "payload": "/affirm"}]},
        },
        {"event": "bot", "text": "Tell me."},
        {"event": "user", "text": "yes", "metadata": {"message_id": 9}},
        {"event": "action", "name": "action_flow_answer"},
        {"event": "action", "name": "action_listen"},
    ]

    async def tracker(request: web.Request) -> web.Response:
        return web.json_response({"events": events})

    app = web.Application()
    app.router.add_get("/conversations/{sender}/tracker", tracker)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = RasaClient(base_url=f"http://127.0.0.1:{port}", jwt_secret="x", timeout_seconds=5)
    try:
        seven = await client.replies_to(sender_id="c", message_id=7)
        assert seven is not None
        assert [(r.text, r.buttons) for r in seven] == [
            ("Is it on?", [{"title": "Yes", "payload": "/affirm"}]),
            ("Tell me.", []),
        ]
        # Not in the tracker, or handled without a reply (its action failed): not handled.
        assert await client.replies_to(sender_id="c", message_id=8) is None
        assert await client.replies_to(sender_id="c", message_id=9) is None
    finally:
        await client.close()
        await runner.cleanup()

"""A person takes over: queue, claim, live chat, escalate, transfer, hand back, resolve.

Real Rasa, real API, real websockets for the customer and the agents.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
import websockets

from tests.agent_client import AgentClient, create_agent
from tests.chat_client import ChatClient
from tests.e2e.helpers import query

pytestmark = pytest.mark.e2e


async def signed_in_agent(stack, **fields) -> tuple[AgentClient, dict]:
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    profile = await create_agent(
        stack.base_url, stack.settings.operator_token, email=email, **{"name": "Anna", **fields}
    )
    agent = AgentClient(stack.base_url, stack.ws_url)
    await agent.login(email)
    await agent.connect()
    await agent.wait_for(lambda f: f["type"] == "hello")
    return agent, profile


async def customer_frames_until(customer: ChatClient, predicate, timeout: float = 20) -> list:
    seen = []
    while True:
        frame = await customer.receive(timeout=timeout)
        seen.append(frame)
        if predicate(frame):
            return seen


async def test_ask_for_a_person_claim_chat_and_hand_back(stack) -> None:
    agent, profile = await signed_in_agent(stack, skills=["internet", "other"])
    customer = ChatClient(stack.ws_url)
    welcome = await customer.connect()
    conversation_id = welcome["conversation_id"]
    try:
        await customer.say("my internet is not working")
        queued = await customer.say("I want to talk to a real person")  # free text, real NLU
        assert "queue" in queued.text or "next in line" in queued.text, queued.text
        entry = await agent.waiting(conversation_id)
        assert "Steps tried" in entry["summary"] or "Problem:" in entry["summary"]
        assert "No internet connection" in entry["summary"]

        claimed = await agent.http.post(f"/handoffs/{entry['id']}/claim")
        assert claimed.status_code == 200, claimed.text
        joined = await customer_frames_until(
            customer, lambda f: f["type"] == "message" and "joined" in f["text"]
        )
        assert "Anna joined the chat." in [f.get("text") for f in joined]

        await agent.say(conversation_id, "Hi, I'm Anna. I can see you restarted nothing yet.")
        from_agent = await customer_frames_until(
            customer, lambda f: f["type"] == "message" and f["sender"] == "agent"
        )
        assert from_agent[-1]["agent_name"] == "Anna"

        silent = await customer.say(
            "Thanks Anna, the lights are orange", client_id="to-anna", expect_reply=False
        )
        assert silent.ack and not [m for m in silent.messages if m["sender"] == "bot"]
        relayed = await agent.wait_for(
            lambda f: f["type"] == "message" and f.get("client_id") == "to-anna"
        )
        assert relayed["conversation_id"] == conversation_id

        view = (await agent.http.get(f"/conversations/{conversation_id}")).json()
        assert [m["text"] for m in view["messages"]][:1] == ["my internet is not working"]
        note = await agent.http.post(
            f"/conversations/{conversation_id}/notes", json={"text": "Line test shows noise"}
        )
        assert note.status_code == 201

        back = await agent.http.post(f"/handoffs/{entry['id']}/hand-back")
        assert back.status_code == 200, back.text
        await customer_frames_until(
            customer, lambda f: f["type"] == "owner" and f["owner"] == "bot"
        )
        again = await customer.say("my internet is not working")
        assert len(again.buttons) >= 3, again.frames  # the bot answers again, correctly
    finally:
        await customer.close()
        await agent.close()
    texts = [
        row[0]
        for row in query(
            stack, "SELECT text FROM messages WHERE conversation_id = :c", c=conversation_id
        )
    ]
    assert "Line test shows noise" not in texts  # internal notes never reach the customer


async def test_two_agents_claim_at_once_exactly_one_wins(stack) -> None:
    first, _ = await signed_in_agent(stack, name="Ben")
    second, _ = await signed_in_agent(stack, name="Cara")
    customer = ChatClient(stack.ws_url)
    welcome = await customer.connect()
    try:
        await customer.say("person please", payload="/request_human")
        entry = await first.waiting(welcome["conversation_id"])
        results = await asyncio.gather(
            first.http.post(f"/handoffs/{entry['id']}/claim"),
            second.http.post(f"/handoffs/{entry['id']}/claim"),
        )
        assert sorted(r.status_code for r in results) == [200, 409]
    finally:
        await customer.close()
        await first.close()
        await second.close()


async def test_escalate_to_tier_3_and_transfer_to_another_skill(stack) -> None:
    tier2, _ = await signed_in_agent(stack, name="Dana", skills=["internet", "other"])
    tier3, _ = await signed_in_agent(stack, name="Eli", tier=3, skills=["other", "cable"])
    customer = ChatClient(stack.ws_url)
    welcome = await customer.connect()
    conversation_id = welcome["conversation_id"]
    try:
        await customer.say("agent", payload="/request_human")
        entry = await tier2.waiting(conversation_id)
        assert (await tier2.http.post(f"/handoffs/{entry['id']}/claim")).status_code == 200
        escalated = await tier2.http.post(
            f"/handoffs/{entry['id']}/escalate", json={"note": "Needs a line engineer"}
        )
        assert escalated.status_code == 200 and escalated.json()["tier"] == 3
        seen = await tier3.waiting(conversation_id, tier=3)
        assert seen["status"] == "waiting"
        # A tier-2 agent can no longer take it.
        assert (await tier2.http.post(f"/handoffs/{entry['id']}/claim")).status_code == 403
        assert (await tier3.http.post(f"/handoffs/{entry['id']}/claim")).status_code == 200
        view = (await tier3.http.get(f"/conversations/{conversation_id}")).json()
        assert "Needs a line engineer" in view["notes"][0]["text"]
        moved = await tier3.http.post(
            f"/handoffs/{entry['id']}/transfer", json={"skill": "cable", "note": "It is the TV box"}
        )
        assert moved.status_code == 200 and moved.json()["skill"] == "cable"
        assert moved.json()["status"] == "waiting"
        again = await tier3.waiting(conversation_id, skill="cable")
        assert again["tier"] == 3
        texts = [
            f.get("text", "")
            for f in await customer_frames_until(
                customer, lambda f: f["type"] == "message" and "colleague" in f["text"]
            )
        ]
        assert any("specialist" in t for t in texts)
    finally:
        await customer.close()
        await tier2.close()
        await tier3.close()


async def test_resolve_and_rate(stack) -> None:
    agent, _ = await signed_in_agent(stack, name="Finn")
    customer = ChatClient(stack.ws_url)
    welcome = await customer.connect()
    conversation_id = welcome["conversation_id"]
    try:
        await customer.say("agent", payload="/request_human")
        entry = await agent.waiting(conversation_id)
        await agent.http.post(f"/handoffs/{entry['id']}/claim")
        resolved = await agent.http.post(f"/handoffs/{entry['id']}/resolve")
        assert resolved.status_code == 200
        await customer_frames_until(customer, lambda f: f["type"] == "rating_request")
        await customer.send_frame({"type": "rating", "score": 5, "comment": "Quick, thanks"})
        saved = await customer.receive(kind="rating_saved")
        assert saved["score"] == 5
        closed = await customer.say("hello?")
        assert closed.error and closed.error["code"] == "conversation_closed"
    finally:
        await customer.close()
        await agent.close()
    assert query(
        stack, "SELECT score, comment FROM ratings WHERE conversation_id = :c", c=conversation_id
    ) == [(5, "Quick, thanks")]


async def test_who_may_see_what(stack) -> None:
    owner, _ = await signed_in_agent(stack, name="Gina")
    other, _ = await signed_in_agent(stack, name="Hal", skills=["cable"])
    customer = ChatClient(stack.ws_url)
    welcome = await customer.connect()
    conversation_id = welcome["conversation_id"]
    try:
        await customer.say("agent", payload="/request_human")
        entry = await owner.waiting(conversation_id)
        await owner.http.post(f"/handoffs/{entry['id']}/claim")
        async with httpx.AsyncClient(base_url=stack.base_url) as anonymous:
            for path in (
                "/handoffs/queue",
                f"/conversations/{conversation_id}",
                "/agents/overview",
            ):
                assert (await anonymous.get(path)).status_code == 401
            response = await anonymous.get(
                f"/conversations/{conversation_id}",
                headers={"Authorization": "Bearer " + customer.session_token},
            )
            assert response.status_code == 401  # a customer's token is no staff pass
        assert (await other.http.get(f"/conversations/{conversation_id}")).status_code == 404
        assert (await other.http.get("/agents/overview")).status_code == 403
        with pytest.raises(websockets.exceptions.InvalidStatusCode):
            await websockets.connect(stack.ws_url.replace("/ws/chat", "/ws/agent"))
        # Signing out closes the console's socket at once.
        owner_token = owner.session_token
        await owner.http.post("/auth/logout")
        frame = await owner.wait_for(lambda f: f["type"] == "signed_out")
        assert frame["type"] == "signed_out"
        assert (await owner.http.get("/handoffs/queue")).status_code == 401
    finally:
        await customer.close()
        await owner.close()
        await other.close()
    logs = (stack.log_dir / "api.log").read_text()
    assert owner_token not in logs and customer.session_token not in logs


async def test_three_misunderstandings_lead_to_a_person(stack) -> None:
    customer = ChatClient(stack.ws_url)
    welcome = await customer.connect()
    conversation_id = welcome["conversation_id"]
    try:
        # Free text through the real NLU: read as nothing, or as an answer to no question.
        first = await customer.say("qwfp zxcv blorp")
        assert "another way" in first.text or "What is the problem" in first.text, first.frames
        second = await customer.say("vlakh vlakh mrrp")
        assert "still not sure" in second.text, second.frames
        payloads = [b["payload"] for b in second.buttons]
        assert payloads[-1] == "/request_human" and len(payloads) == 5, payloads
        third = await customer.say("grmbl snorf")
        assert "keep misunderstanding" in third.text, third.frames
    finally:
        await customer.close()
    handoff = query(
        stack, "SELECT reason FROM handoffs WHERE conversation_id = :c", c=conversation_id
    )
    assert handoff == [("not understood three times",)]

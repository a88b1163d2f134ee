"""Access follows assignment: an agent with other skills reads none of a chat's routes.

Real stack: an internet chat waits in the queue and has a ticket; Hugo (hardware only)
tries every route that exposes a conversation, a transcript or a ticket, and the
console's websocket; Ines (internet) and a supervisor may.
"""

from __future__ import annotations

import json

import pytest

from tests.chat_client import ChatClient
from tests.e2e.test_handoff import signed_in_agent

pytestmark = pytest.mark.e2e


async def test_every_conversation_and_ticket_route_follows_assignment(stack) -> None:
    hugo, _ = await signed_in_agent(stack, name="Hugo", skills=["hardware"])
    ines, _ = await signed_in_agent(stack, name="Ines", skills=["internet"])
    lead, _ = await signed_in_agent(stack, name="Lena", role="supervisor")
    customer = ChatClient(stack.ws_url)
    conversation_id = (await customer.connect())["conversation_id"]
    try:
        await customer.say("my internet is not working")
        await customer.say("person please", payload="/request_human")
        entry = await ines.waiting(conversation_id)
        assert entry["skill"] == "internet"
        operator = {"Authorization": f"Bearer {stack.settings.operator_token}"}
        opened = await ines.http.post(
            "/tickets",
            json={
                "conversation_id": conversation_id,
                "domain": "internet",
                "title": "Line drops every evening",
                "summary": "Customer reports evening drop-outs",
                "tier": 2,
            },
            headers=operator,
        )
        assert opened.status_code == 201, opened.text
        number = opened.json()["number"]

        denied = {
            "GET conversation": await hugo.http.get(f"/conversations/{conversation_id}"),
            "GET transcript": await hugo.http.get(f"/conversations/{conversation_id}/transcript"),
            "POST note": await hugo.http.post(
                f"/conversations/{conversation_id}/notes", json={"text": "peek"}
            ),
            "GET ticket": await hugo.http.get(f"/tickets/{number}"),
            "PATCH ticket": await hugo.http.patch(f"/tickets/{number}", json={"priority": "high"}),
            "POST ticket note": await hugo.http.post(
                f"/tickets/{number}/notes", json={"text": "peek"}
            ),
            "GET ticket events": await hugo.http.get(f"/tickets/{number}/events"),
            "GET history": await hugo.http.get(f"/conversations/{conversation_id}/history"),
        }
        assert {name: r.status_code for name, r in denied.items()} == dict.fromkeys(denied, 404)
        listed = await hugo.http.get("/tickets", params={"conversation_id": conversation_id})
        assert listed.status_code == 200 and listed.json()["items"] == []
        everything = (await hugo.http.get("/tickets", params={"limit": 200})).json()["items"]
        assert number not in [t["number"] for t in everything]
        found = await hugo.http.get("/search", params={"q": "internet"})
        assert found.status_code == 200
        assert conversation_id not in [r["conversation_id"] for r in found.json()["items"]]
        claim = await hugo.http.post(f"/handoffs/{entry['id']}/claim")
        assert claim.status_code == 403

        # The console's websocket: open, message and typing are refused alike.
        for frame in (
            {"type": "open", "conversation_id": conversation_id},
            {"type": "typing", "conversation_id": conversation_id, "active": True},
            {
                "type": "message",
                "conversation_id": conversation_id,
                "client_id": "x-1",
                "text": "hello",
            },
        ):
            await hugo.socket.send(json.dumps(frame))
            answer = await hugo.wait_for(lambda f: f["type"] in ("error", "opened"))
            assert answer["type"] == "error", answer
            assert answer["code"] == "unknown_conversation", answer
        assert all(
            h["conversation_id"] != conversation_id
            for f in hugo.frames
            if f["type"] == "queue"
            for h in f["waiting"] + f["mine"]
        )

        for reader in (ines, lead):
            for path in (
                f"/conversations/{conversation_id}",
                f"/conversations/{conversation_id}/transcript",
                f"/tickets/{number}",
                f"/tickets/{number}/events",
            ):
                response = await reader.http.get(path)
                assert response.status_code == 200, (path, response.text)

        # Ines takes the chat and hands it back: she took part, so she still reads it;
        # once the handoff is no longer waiting, a supervisor is needed for anyone else.
        await ines.http.post(f"/handoffs/{entry['id']}/claim")
        await ines.http.post(f"/handoffs/{entry['id']}/hand-back")
        assert (await ines.http.get(f"/conversations/{conversation_id}")).status_code == 200
        other_internet, _ = await signed_in_agent(stack, name="Otto", skills=["internet"])
        try:
            view = await other_internet.http.get(f"/conversations/{conversation_id}")
            assert view.status_code == 404  # not queued for him, never his
            # The ticket is routed to his skills, so he reads it and its transcript.
            assert (await other_internet.http.get(f"/tickets/{number}")).status_code == 200
            transcript = await other_internet.http.get(
                f"/conversations/{conversation_id}/transcript"
            )
            assert transcript.status_code == 200
        finally:
            await other_internet.close()
    finally:
        await customer.close()
        for agent in (hugo, ines, lead):
            await agent.close()

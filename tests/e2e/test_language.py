"""The conversation's language on the real stack: detected, stored, sent to Rasa, routed.

Real Rasa, real API, real websockets for the customer and the agents.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from api.services.rasa_client import RasaClient
from tests.agent_client import AgentClient, create_agent
from tests.chat_client import ChatClient
from tests.e2e.helpers import query

pytestmark = pytest.mark.e2e


async def what_rasa_received(stack: Any, conversation_id: str) -> dict[str, Any]:
    """The metadata of the customer's latest message, as Rasa's tracker holds it."""
    rasa = RasaClient(
        base_url=f"http://127.0.0.1:{stack.rasa_port}",
        jwt_secret=stack.settings.rasa_jwt_secret,
        timeout_seconds=10,
    )
    try:
        tracker = await rasa.get_tracker(sender_id=conversation_id)
    finally:
        await rasa.close()
    return tracker["latest_message"].get("metadata") or {}


def stored_language(stack: Any, conversation_id: str) -> str:
    ((language,),) = query(
        stack, "SELECT language FROM conversations WHERE id = :id", id=conversation_id
    )
    return language


async def signed_in_agent(stack: Any, name: str, languages: list[str]) -> AgentClient:
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    profile = await create_agent(
        stack.base_url,
        stack.settings.operator_token,
        email=email,
        name=name,
        languages=languages,
    )
    assert profile["languages"] == languages
    agent = AgentClient(stack.base_url, stack.ws_url)
    await agent.login(email)
    await agent.connect()
    hello = await agent.wait_for(lambda f: f["type"] == "hello")
    assert hello["agent"]["languages"] == languages
    return agent


async def test_a_switch_to_german_mid_conversation_is_stored_and_sent_to_rasa(stack) -> None:
    customer = ChatClient(stack.ws_url)
    welcome = await customer.connect(language="en-GB")
    conversation_id = welcome["conversation_id"]
    try:
        assert welcome["language"] == "en"
        first = await customer.say("my internet is not working")
        assert first.messages, first.frames
        assert stored_language(stack, conversation_id) == "en"
        received = await what_rasa_received(stack, conversation_id)
        assert received["language"] == "en" and received["message_id"] == first.ack["id"]

        switched = await customer.say("Die Lampe am Router blinkt orange, ich habe nichts geändert")
        assert switched.messages, switched.frames
        assert stored_language(stack, conversation_id) == "de"
        received = await what_rasa_received(stack, conversation_id)
        assert received["language"] == "de" and received["message_id"] == switched.ack["id"]

        assert not [f for f in switched.frames if f["type"] == "owner"], switched.text
        await customer.say("ok")  # too short to say anything about the language
        assert stored_language(stack, conversation_id) == "de"
        assert (await what_rasa_received(stack, conversation_id))["language"] == "de"
    finally:
        await customer.close()

    # A returning customer's conversation keeps its language, whatever the widget hints.
    again = ChatClient(stack.ws_url)
    try:
        resumed = await again.connect(session_token=customer.session_token, language="en")
        assert resumed["resumed"] and resumed["language"] == "de"
    finally:
        await again.close()


async def test_asking_for_the_other_language_switches_it_and_asks_the_question_again(
    stack,
) -> None:
    """ "Sorry, can we talk in English?" in the middle of the German checks: no person is
    fetched; the assistant says so in English and asks its open question in English;
    „Können wir auf Deutsch weitermachen?“ switches back the same way."""
    customer = ChatClient(stack.ws_url)
    welcome = await customer.connect(language="de")
    conversation_id = welcome["conversation_id"]
    try:
        asked = await customer.say("Hallo, mein Internet geht nicht")
        assert "Lämpchen" in asked.text, asked.text
        english = await customer.say("sorry, can we talk in english?")
        print(english.text)
        assert not [f for f in english.frames if f["type"] == "owner"], english.text
        assert english.text.startswith("Of course, let's continue in English."), english.text
        assert "lights" in english.text, english.text
        assert stored_language(stack, conversation_id) == "en"
        german = await customer.say("Können wir auf Deutsch weitermachen?")
        print(german.text)
        assert german.text.startswith("Gern, machen wir auf Deutsch weiter."), german.text
        assert "Lämpchen" in german.text, german.text
        assert stored_language(stack, conversation_id) == "de"
    finally:
        await customer.close()


async def test_a_german_handoff_goes_to_the_german_speaking_agent(stack) -> None:
    emma = await signed_in_agent(stack, "Emma", ["en"])
    dora = await signed_in_agent(stack, "Dora", ["de", "en"])
    customer = ChatClient(stack.ws_url)
    later = ChatClient(stack.ws_url)
    try:
        welcome = await customer.connect(language="de-DE")
        conversation_id = welcome["conversation_id"]
        assert welcome["language"] == "de"
        queued = await customer.say(
            "Ich möchte mit einem Menschen sprechen", payload="/request_human"
        )
        assert queued.messages, queued.frames
        # Dora speaks German and is online: the chat is hers, not Emma's.
        entry = await dora.waiting(conversation_id, language="de")
        assert "Language: German" in entry["summary"]
        emma_queue = (await emma.http.get("/handoffs/queue")).json()
        assert conversation_id not in [h["conversation_id"] for h in emma_queue]
        refused = await emma.http.post(f"/handoffs/{entry['id']}/claim")
        assert refused.status_code == 403 and "German" in refused.json()["detail"]

        claimed = await dora.http.post(f"/handoffs/{entry['id']}/claim")
        assert claimed.status_code == 200, claimed.text
        assert claimed.json()["language"] == "de"
        view = (await dora.http.get(f"/conversations/{conversation_id}")).json()
        assert view["language"] == "de"

        # Dora signs off: a German customer is told that nobody who speaks German is
        # free, in German, and Emma sees the chat.
        await dora.close()
        await later.connect(language="de")
        notice = await later.say("Ich möchte mit einem Menschen sprechen", payload="/request_human")
        assert "Gerade ist niemand frei, der Deutsch spricht." in notice.text, notice.text
        assert [b["payload"] for b in notice.buttons] == [
            "/request_callback",
            "/keep_waiting",
            "/back_to_assistant",
        ]
        await emma.waiting(later.welcome["conversation_id"], language="de")
    finally:
        await customer.close()
        await later.close()
        await emma.close()
        await dora.close()


async def test_supervisors_set_an_agents_languages(stack) -> None:
    headers = {"Authorization": f"Bearer {stack.settings.operator_token}"}
    email = f"lang-{uuid.uuid4().hex[:8]}@example.com"
    profile = await create_agent(
        stack.base_url, stack.settings.operator_token, email=email, name="Lena"
    )
    assert profile["languages"] == ["en"]
    agent = AgentClient(stack.base_url, stack.ws_url)
    try:
        changed = await agent.http.patch(
            f"/agents/{profile['id']}", json={"languages": ["de", "en"]}, headers=headers
        )
        assert changed.status_code == 200 and changed.json()["languages"] == ["de", "en"]
        bad = await agent.http.patch(
            f"/agents/{profile['id']}", json={"languages": ["fr"]}, headers=headers
        )
        assert bad.status_code == 422
        empty = await agent.http.patch(
            f"/agents/{profile['id']}", json={"languages": []}, headers=headers
        )
        assert empty.status_code == 422
        missing = await agent.http.patch("/agents/999999", json={"tier": 3}, headers=headers)
        assert missing.status_code == 404
        await agent.login(email)
        not_allowed = await agent.http.patch(f"/agents/{profile['id']}", json={"tier": 3})
        assert not_allowed.status_code == 403
    finally:
        await agent.close()

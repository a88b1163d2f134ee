"""The conversation's language: stored, followed, sent to the assistant, and used in handoffs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.db import Database
from api.main import create_app
from api.models import Conversation
from api.schemas.handoffs import HandoffPublic
from api.services import agents, conversations, handoffs
from api.services.chat_gateway import ChatGateway
from api.services.conversations import ConversationStore
from api.services.handoff_desk import HandoffDesk, staff_channel
from api.services.hub import ConversationHub
from api.services.presence import AgentPresence, ConsoleConnection
from api.services.rasa_client import BotReply, RasaClient
from api.services.staff import Staff
from bot.wording import say
from tests.conftest import make_settings


class RecordingRasa(RasaClient):
    """The Rasa server's side of the gateway: records what it is sent and answers "ok"."""

    def __init__(self) -> None:
        super().__init__(base_url="http://127.0.0.1:9", jwt_secret="x", timeout_seconds=1)
        self.received: list[dict[str, Any]] = []

    async def send_message(
        self, *, sender_id: str, text: str, metadata: Optional[dict[str, Any]] = None
    ) -> list[BotReply]:
        self.received.append({"text": text, "metadata": metadata or {}})
        return [BotReply("ok")]


async def start(database: Database, hint: Optional[str] = None) -> str:
    async with database.session() as session:
        created = await conversations.start_conversation(session=session, language_hint=hint)
        return created.conversation.id


async def language_of(database: Database, conversation_id: str) -> str:
    async with database.session() as session:
        return await session.scalar(
            select(Conversation.language).where(Conversation.id == conversation_id)
        )


async def nothing(frame: dict[str, Any]) -> None:
    """A customer socket that only listens."""


def desk_for(database: Database, hub: ConversationHub, presence: AgentPresence) -> HandoffDesk:
    rasa = RasaClient(base_url="http://127.0.0.1:9", jwt_secret="x", timeout_seconds=1)
    return HandoffDesk(
        database=database,
        conversations=ConversationStore(database),
        hub=hub,
        presence=presence,
        rasa=rasa,
        wait_limit_seconds=60,
    )


async def test_the_hint_sets_the_starting_language(database: Database) -> None:
    assert await language_of(database, await start(database, "de-DE")) == "de"
    assert await language_of(database, await start(database, "en-GB")) == "en"
    assert await language_of(database, await start(database, "fr")) == "en"
    assert await language_of(database, await start(database)) == "en"


async def test_the_gateway_follows_a_switch_and_tells_the_assistant(database: Database) -> None:
    hub, rasa = ConversationHub(), RecordingRasa()
    gateway = ChatGateway(conversations=ConversationStore(database), rasa=rasa, hub=hub)
    conversation_id = await start(database, "en")
    staff_frames: list[dict[str, Any]] = []

    async def staff_listener(frame: dict[str, Any]) -> None:
        staff_frames.append(frame)

    hub.subscribe(staff_channel(conversation_id), staff_listener)

    async def say(client_id: str, text: str, payload: Optional[str] = None) -> None:
        await gateway.handle_customer_message(
            conversation_id=conversation_id,
            client_id=client_id,
            text=text,
            payload=payload,
            reply_to=nothing,
        )

    await say("c1", "my internet is not working")
    await say("c2", "Das Internet geht immer noch nicht")
    await say("c3", "ok")
    # A button's title is the assistant's wording: it never switches the language.
    await say("c4", "Yes, it works now", "/problem_fixed")
    assert [m["metadata"]["language"] for m in rasa.received] == ["en", "de", "de", "de"]
    assert all(isinstance(m["metadata"]["message_id"], int) for m in rasa.received)
    assert await language_of(database, conversation_id) == "de"
    assert staff_frames == [{"type": "language", "language": "de"}]

    await say("c5", "sorry, can we continue in English please?")
    assert rasa.received[-1]["metadata"]["language"] == "en"
    assert await language_of(database, conversation_id) == "en"
    # A resent message is answered once, in the language it was handled in.
    await say("c5", "sorry, can we continue in English please?")
    assert len(rasa.received) == 5


async def test_the_language_is_followed_while_a_person_has_the_chat(database: Database) -> None:
    hub, rasa = ConversationHub(), RecordingRasa()
    desk = desk_for(database, hub, AgentPresence())
    gateway = ChatGateway(conversations=desk.conversations, rasa=rasa, hub=hub, desk=desk)
    conversation_id = await start(database, "en")
    await desk.request(conversation_id=conversation_id, reason="asked")
    await gateway.handle_customer_message(
        conversation_id=conversation_id,
        client_id="c1",
        text="Hallo, ich warte noch auf einen Mitarbeiter",
        payload=None,
        reply_to=nothing,
    )
    assert rasa.received == []  # the bot is silent while queued
    assert await language_of(database, conversation_id) == "de"


async def make_agent(database: Database, name: str, **fields: Any) -> Staff:
    async with database.session() as session:
        agent = await agents.create_agent(
            session=session,
            email=f"{name.lower()}@example.com",
            name=name,
            password="long enough pw",
            skills=["internet"],
            **fields,
        )
        return handoffs.staff_for(agent)


async def queued_in(database: Database, desk: HandoffDesk, language: str) -> handoffs.Handoff:
    conversation_id = await start(database, language)
    notice = await desk.request(conversation_id=conversation_id, reason="asked", skill="internet")
    async with database.session() as session:
        handoff = await session.get(handoffs.Handoff, notice.handoff_id)
        assert handoff is not None and handoff.language == language
        return handoff


def online(presence: AgentPresence, *people: Staff) -> list[ConsoleConnection]:
    """The agents open the console."""

    async def close() -> None:
        pass

    connections = [ConsoleConnection(staff=staff, close=close) for staff in people]
    for connection in connections:
        presence.join(connection)
    return connections


async def test_a_german_chat_is_offered_to_a_german_speaker_first(database: Database) -> None:
    presence = AgentPresence()
    desk = desk_for(database, ConversationHub(), presence)
    emma = await make_agent(database, "Emma")  # English only, the default
    dora = await make_agent(database, "Dora", languages=["de", "en"])
    _, dora_console = online(presence, emma, dora)
    german = await queued_in(database, desk, "de")
    english = await queued_in(database, desk, "en")

    async def queue_of(staff: Staff) -> list[int]:
        async with database.session() as session:
            waiting = await handoffs.waiting_for(
                session=session, staff=staff, online=await presence.online()
            )
            return [h.id for h in waiting]

    assert await queue_of(dora) == [german.id, english.id]
    assert await queue_of(emma) == [english.id]
    emma_agent = await database_agent(database, emma)
    with pytest.raises(handoffs.NotYours, match="German"):
        async with database.session() as session:
            await handoffs.claim(
                session=session,
                handoff_id=german.id,
                agent=emma_agent,
                online=await presence.online(),
            )

    # Dora goes offline: nobody who speaks German is there, so Emma may help.
    presence.leave(dora_console)
    assert await queue_of(emma) == [german.id, english.id]
    # Without presence (a script's REST call) every chat of the skill is listed.
    async with database.session() as session:
        assert len(await handoffs.waiting_for(session=session, staff=emma)) == 2


async def test_a_full_german_speaker_does_not_hold_german_chats(database: Database) -> None:
    presence = AgentPresence()
    desk = desk_for(database, ConversationHub(), presence)
    emma = await make_agent(database, "Emma")
    dora = await make_agent(database, "Dora", languages=["de"], capacity=1)
    online(presence, emma, dora)
    first = await queued_in(database, desk, "de")
    await desk.claim(handoff_id=first.id, agent=await database_agent(database, dora))
    second = await queued_in(database, desk, "de")
    async with database.session() as session:
        waiting = await handoffs.waiting_for(
            session=session, staff=emma, online=await presence.online()
        )
    assert [h.id for h in waiting] == [second.id]


async def database_agent(database: Database, staff: Staff) -> agents.Agent:
    async with database.session() as session:
        agent = await session.get(agents.Agent, staff.id)
        assert agent is not None
        return agent


async def test_the_customer_hears_when_nobody_speaks_their_language(database: Database) -> None:
    presence = AgentPresence()
    desk = desk_for(database, ConversationHub(), presence)
    online(presence, await make_agent(database, "Emma"))
    german = await start(database, "de")
    notice = await desk.request(conversation_id=german, reason="asked", skill="internet")
    assert notice.text.startswith("Gerade ist niemand frei, der Deutsch spricht.")
    assert "jemanden, der Englisch spricht" in notice.text
    assert [b["payload"] for b in notice.buttons] == [
        "/request_callback",
        "/keep_waiting",
        "/back_to_assistant",
    ]
    assert notice.buttons[0]["title"] == say("button.callback", "de")

    online(presence, await make_agent(database, "Dieter", languages=["de"]))
    english = await start(database, "en")
    notice = await desk.request(conversation_id=english, reason="asked", skill="internet")
    assert "No colleague who speaks English" not in notice.text  # Emma speaks English
    assert "queue" in notice.text


async def test_an_english_customer_hears_it_in_english(database: Database) -> None:
    presence = AgentPresence()
    desk = desk_for(database, ConversationHub(), presence)
    online(presence, await make_agent(database, "Dieter", languages=["de"]))
    english = await start(database, "en")
    notice = await desk.request(conversation_id=english, reason="asked", skill="internet")
    assert notice.text.startswith("No colleague who speaks English is free right now.")
    assert "a colleague who speaks German" in notice.text
    async with database.session() as session:
        handoff = await handoffs.open_handoff_for(session=session, conversation_id=english)
        assert handoff is not None and "Language: English" in handoff.summary
        assert handoff.callback_offered


async def test_a_rating_is_requested_once_and_only_for_bot_only_chats(database: Database) -> None:
    bot_only = await start(database)
    with_person = await start(database)
    async with database.session() as session:
        await handoffs.request_handoff(session=session, conversation_id=with_person, reason="x")
    async with database.session() as session:
        first = await handoffs.claim_rating_request(
            session=session, conversation_id=bot_only, bot_only=True
        )
        second = await handoffs.claim_rating_request(
            session=session, conversation_id=bot_only, bot_only=True
        )
        person = await handoffs.claim_rating_request(
            session=session, conversation_id=with_person, bot_only=True
        )
    assert (first, second, person) == (True, False, False)

    rated = await start(database)
    async with database.session() as session:
        await handoffs.record_rating(session=session, conversation_id=rated, score=4, comment="")
    async with database.session() as session:
        assert not await handoffs.claim_rating_request(
            session=session, conversation_id=rated, bot_only=True
        )


async def test_agents_have_languages(database: Database) -> None:
    default = await make_agent(database, "Emma")
    assert default.languages == ("en",)
    async with database.session() as session:
        changed = await agents.update_agent(
            session=session, agent_id=default.id, languages=["de", "en", "de"], tier=3
        )
        assert changed.languages == ["de", "en"] and changed.tier == 3
    for bad in ([], ["fr"]):
        with pytest.raises(ValueError, match="language"):
            async with database.session() as session:
                await agents.update_agent(session=session, agent_id=default.id, languages=bad)


def test_the_demo_page_in_both_languages(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, rasa_url="http://127.0.0.1:9", rasa_timeout_seconds=1.0)
    with TestClient(create_app(settings)) as client:
        english, german = client.get("/"), client.get("/?lang=de")
        austrian, unknown = client.get("/?lang=de-AT"), client.get("/?lang=fr")
        css = client.get("/widget/demo.css")
    assert english.status_code == german.status_code == css.status_code == 200
    assert '<html lang="en">' in english.text and "How can we help?" in english.text
    assert '<html lang="de">' in german.text and "Wie können wir helfen?" in german.text
    assert 'data-lang="de"' in german.text and 'href="/?lang=de"' in english.text
    assert austrian.text == german.text and unknown.text == english.text


async def test_a_handoff_keeps_its_language_through_every_change(database: Database) -> None:
    presence = AgentPresence()
    desk = desk_for(database, ConversationHub(), presence)
    dora = await make_agent(database, "Dora", languages=["de"], tier=3)
    online(presence, dora)
    agent = await database_agent(database, dora)
    handoff = await queued_in(database, desk, "de")
    changed = [
        await desk.claim(handoff_id=handoff.id, agent=agent),
        await desk.escalate(handoff_id=handoff.id, staff=dora, note="line fault"),
        await desk.claim(handoff_id=handoff.id, agent=agent),
        await desk.hand_back(handoff_id=handoff.id, staff=dora),
    ]
    second = await queued_in(database, desk, "de")
    changed += [
        await desk.claim(handoff_id=second.id, agent=agent),
        await desk.resolve(handoff_id=second.id, staff=dora),
    ]
    # As the routes return them, after their sessions have closed.
    assert [HandoffPublic.model_validate(h).language for h in changed] == ["de"] * 6

"""A customer waiting in the queue can go back to the assistant (api/services/handoff_desk.py).

The real handoff desk and chat gateway on a real database; the Rasa server is
replaced by one that records what it is sent, as in test_callbacks.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from api.db import Database
from api.models import Conversation, HandoffEvent, HandoffStatus
from api.services import conversations, handoffs
from api.services.callbacks import BACK_TO_ASSISTANT_PAYLOAD, KEEP_WAITING_PAYLOAD
from tests.api.test_callbacks import Chat, handoff_of, queued_chat


class RecordingChat(Chat):
    """Also records the events the desk appends to the assistant's tracker."""

    def __init__(self, database: Database, conversation_id: str) -> None:
        super().__init__(database, conversation_id)
        self.appended: list[dict[str, Any]] = []

        async def append_events(*, sender_id: str, events: list[dict[str, Any]]) -> None:
            self.appended.extend(events)

        self.rasa.append_events = append_events  # type: ignore[method-assign]


async def waiting_chat(database: Database, language: str = "en") -> RecordingChat:
    queued = await queued_chat(database, language)
    chat = RecordingChat(database, queued.conversation_id)
    return chat


def frames_after(chat: Chat, start: int) -> list[dict[str, Any]]:
    return [f for f in chat.seen[start:] if f["type"] == "message"]


async def test_nobody_online_offers_the_way_back_to_the_assistant(database: Database) -> None:
    chat = await waiting_chat(database)
    told = await chat.say("hello? anyone?")
    offered = [b["payload"] for f in told for b in f.get("buttons") or []]
    assert BACK_TO_ASSISTANT_PAYLOAD in offered


async def test_back_to_the_assistant_leaves_the_queue_and_the_assistant_answers_again(
    database: Database,
) -> None:
    chat = await waiting_chat(database)
    await chat.say("is anyone there")
    assert chat.rasa.received == []  # in the queue, the assistant hears nothing
    start = len(chat.seen)
    await chat.say("Back to the assistant", BACK_TO_ASSISTANT_PAYLOAD)
    said = " ".join(f["text"] for f in frames_after(chat, start))
    assert "you're no longer waiting for an agent, and I'm back" in said
    # The chat was queued for internet: the assistant keeps that topic.
    assert "If your internet still isn't working, tell me what's happening" in said

    handoff = await handoff_of(database, chat.conversation_id)
    assert handoff.status == HandoffStatus.returned.value and handoff.ended_at is not None
    async with database.session() as session:
        events = (
            await session.execute(
                select(HandoffEvent.kind, HandoffEvent.agent_id)
                .where(HandoffEvent.handoff_id == handoff.id)
                .order_by(HandoffEvent.id)
            )
        ).all()
        owner = await session.scalar(
            select(Conversation.owner).where(Conversation.id == chat.conversation_id)
        )
    # Left by the customer, not handed back by an agent.
    assert tuple(events[-1]) == ("left_queue", None) and owner == "bot"
    # The assistant takes the chat back: resumed, with the topic and no flow to go on with.
    assert chat.appended[0] == {"event": "resume"}
    state = next(e["value"] for e in chat.appended if e.get("name") == "flow_state")
    assert set(state) == {"handed_back"}
    assert state["handed_back"]["skill"] == "internet" and state["handed_back"]["left_queue"]
    assert {"event": "slot", "name": "active_flow", "value": None} in chat.appended

    await chat.say("my wifi keeps dropping")
    assert chat.rasa.received == ["my wifi keeps dropping"]


async def test_back_to_the_assistant_in_german(database: Database) -> None:
    chat = await waiting_chat(database, language="de")
    start = len(chat.seen)
    await chat.say("Zurück zum Assistenten", BACK_TO_ASSISTANT_PAYLOAD)
    said = " ".join(f["text"] for f in frames_after(chat, start))
    assert "Sie warten nicht mehr auf einen Mitarbeiter" in said
    assert "Falls Ihr Internet noch nicht funktioniert" in said


@pytest.mark.parametrize(
    ("language", "what_now"),
    [("en", "What can I help you with?"), ("de", "Wobei kann ich Ihnen helfen?")],
)
async def test_back_to_the_assistant_without_a_topic_asks_what_is_wrong(
    database: Database, language: str, what_now: str
) -> None:
    async with database.session() as session:
        conversation_id = (
            await conversations.start_conversation(session=session, language_hint=language)
        ).conversation.id
    chat = RecordingChat(database, conversation_id)
    await chat.desk.request(conversation_id=conversation_id, reason="asked for a person")
    start = len(chat.seen)
    await chat.say("back", BACK_TO_ASSISTANT_PAYLOAD)
    said = " ".join(f["text"] for f in frames_after(chat, start))
    assert what_now in said and "still isn't working" not in said


async def test_a_chat_an_agent_took_meanwhile_stays_with_the_agent(database: Database) -> None:
    chat = await waiting_chat(database)
    handoff = await handoff_of(database, chat.conversation_id)
    async with database.session() as session:
        # The agent's claim lands first (the update `claim` makes).
        taken = await session.get(type(handoff), handoff.id)
        taken.status = HandoffStatus.active.value
    async with database.session() as session:
        assert (
            await handoffs.leave_queue(session=session, conversation_id=chat.conversation_id)
            is None
        )
    await chat.desk.leave_queue(chat.conversation_id)
    assert (await handoff_of(database, chat.conversation_id)).status == "active"
    assert chat.appended == []


@pytest.mark.parametrize(
    ("language", "text", "offer"),
    [
        ("en", "never mind, it works now", "Shall I take you out of the queue?"),
        ("en", "nvm, my outlook keeps crashing", "Shall I take you out of the queue?"),
        ("de", "Hat sich erledigt, danke", "Soll ich Sie aus der Warteschlange nehmen?"),
    ],
)
async def test_never_mind_in_the_queue_offers_the_way_back(
    database: Database, language: str, text: str, offer: str
) -> None:
    chat = await waiting_chat(database, language=language)
    told = await chat.say(text)
    said = " ".join(f["text"] for f in told if f["type"] == "message")
    assert offer in said
    offered = [b["payload"] for f in told for b in f.get("buttons") or []]
    assert offered == [BACK_TO_ASSISTANT_PAYLOAD, KEEP_WAITING_PAYLOAD]
    # Still waiting, and the message is kept for the agent; the assistant heard nothing.
    assert (await handoff_of(database, chat.conversation_id)).status == "waiting"
    assert chat.rasa.received == []


async def test_still_broken_in_the_queue_is_not_taken_for_never_mind(database: Database) -> None:
    chat = await waiting_chat(database, language="de")
    told = await chat.say("Geht wieder nicht, ich warte")
    said = " ".join(f["text"] for f in told if f["type"] == "message")
    assert "Warteschlange nehmen" not in said


async def test_a_problem_told_while_nobody_can_take_the_chat_goes_to_the_assistant(
    database: Database,
) -> None:
    # Nobody online: "hello? anyone?" stays with the queue; the problem told goes to the
    # assistant, which takes the chat back quietly and answers it.
    chat = await waiting_chat(database)
    await chat.say("hello? anyone?")
    assert chat.rasa.received == []
    told = "no thanks, I'll try you first. my internet is slow"
    # Unsure about the whole message; its last sentence is clearly the problem.
    chat.rasa.intents[told] = ("nlu_fallback", 0.4)
    chat.rasa.intents["my internet is slow"] = ("problem_internet", 0.99)
    start = len(chat.seen)
    await chat.say(told)
    assert chat.rasa.received == [told]
    said = [f for f in chat.seen[start:] if f["type"] == "message" and f["sender"] != "customer"]
    assert [f["text"] for f in said] == ["ok"]  # the assistant's answer, no queue notice
    handoff = await handoff_of(database, chat.conversation_id)
    assert handoff.status == HandoffStatus.returned.value
    assert chat.appended[0] == {"event": "resume"}


async def test_a_problem_told_while_waiting_on_purpose_stays_with_the_queue(
    database: Database,
) -> None:
    chat = await waiting_chat(database)
    await chat.say("I'll wait", KEEP_WAITING_PAYLOAD)
    told = "my internet is slow"
    chat.rasa.intents[told] = ("problem_internet", 0.97)
    await chat.say(told)
    assert chat.rasa.received == []
    assert (await handoff_of(database, chat.conversation_id)).status == "waiting"

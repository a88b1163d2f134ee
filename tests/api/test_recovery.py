"""Customer messages a dead worker left unanswered are answered once, in order, by one worker.

Two gateways on one database play two API workers; a scripted assistant
stands in for Rasa (tests/e2e/test_recovery.py does it with the real stack).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, Optional

from sqlalchemy import select, update

from api.db import Database
from api.models import ConversationOwner, DeliveryStatus, Message, Sender
from api.models.base import utcnow
from api.services import conversations
from api.services.chat_gateway import ChatGateway
from api.services.conversations import ConversationStore
from api.services.hub import ConversationHub
from api.services.rasa_client import BotReply, RasaStatus, RasaUnavailable
from api.services.recovery import UnansweredMessages
from bot.wording import say


class ScriptedAssistant:
    """Answers "echo: <text>", slowly enough for two workers to overlap."""

    def __init__(self, *, handled: Optional[dict[int, list[BotReply]]] = None) -> None:
        self.asked: list[tuple[str, str]] = []
        self.languages: list[Optional[str]] = []
        self.handled = handled or {}
        self.reachable = True

    async def send_message(
        self, *, sender_id: str, text: str, metadata: Optional[dict[str, Any]] = None
    ) -> list[BotReply]:
        self.asked.append((sender_id, text))
        self.languages.append((metadata or {}).get("language"))
        await asyncio.sleep(0.05)
        return [BotReply(text=f"echo: {text}")]

    async def replies_to(self, *, sender_id: str, message_id: int) -> Optional[list[BotReply]]:
        if not self.reachable:
            raise RasaUnavailable("Rasa did not answer")
        return self.handled.get(message_id)

    async def status(self) -> RasaStatus:
        return RasaStatus(reachable=self.reachable, model_loaded=self.reachable)


def worker(database: Database, assistant: ScriptedAssistant, **options: float) -> tuple:
    hub = ConversationHub()
    store = ConversationStore(database)
    gateway = ChatGateway(conversations=store, rasa=assistant, hub=hub, **options)  # type: ignore[arg-type]
    recovery = UnansweredMessages(
        conversations=store,
        gateway=gateway,
        rasa=assistant,  # type: ignore[arg-type]
        check_seconds=0.1,
    )
    return gateway, recovery, hub


async def left_unanswered(
    database: Database,
    texts: list[str],
    *,
    age_seconds: float = 5,
    owner: str = "bot",
    language: str = "en",
) -> tuple[str, list[int]]:
    """A conversation whose messages were stored by a worker that then died."""
    async with database.session() as session:
        started = await conversations.start_conversation(session=session, language_hint=language)
        conversation = started.conversation
        conversation.owner = owner
    ids = []
    store = ConversationStore(database)
    for number, text in enumerate(texts):
        stored = await store.store_customer_message(
            conversation_id=conversation.id,
            client_id=f"c{number}",
            text=text,
            payload=None,
            lease_seconds=1,
        )
        assert stored is not None
        ids.append(stored.message.id)
    async with database.connection() as connection:
        # Stored some seconds ago, so their lease has run out.
        await connection.execute(
            update(Message)
            .where(Message.id.in_(ids))
            .values(
                created_at=utcnow() - timedelta(seconds=age_seconds),
                lease_until=utcnow() - timedelta(seconds=age_seconds - 1),
            )
        )
    return conversation.id, ids


async def messages_of(database: Database, conversation_id: str) -> list[Message]:
    async with database.session() as session:
        result = await session.execute(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
        )
        return list(result.scalars())


async def test_two_workers_answer_each_message_once_and_in_order(database: Database) -> None:
    assistant = ScriptedAssistant()
    conversation_id, ids = await left_unanswered(database, ["first", "second", "third"])
    _, one, _ = worker(database, assistant)
    _, other, _ = worker(database, assistant)

    answered = await asyncio.gather(one.answer(), other.answer(), one.answer())

    assert sum(answered) == 3
    assert assistant.asked == [(conversation_id, t) for t in ("first", "second", "third")]
    stored = await messages_of(database, conversation_id)
    assert [(m.sender, m.text) for m in stored] == [
        ("customer", "first"),
        ("customer", "second"),
        ("customer", "third"),
        ("bot", "echo: first"),
        ("bot", "echo: second"),
        ("bot", "echo: third"),
    ]
    assert {m.status for m in stored if m.id in ids} == {DeliveryStatus.answered.value}
    assert await one.answer() == 0  # nothing is left


async def test_a_message_within_its_lease_is_left_to_its_worker(database: Database) -> None:
    assistant = ScriptedAssistant()
    async with database.session() as session:
        conversation_id = (await conversations.start_conversation(session=session)).conversation.id
    await ConversationStore(database).store_customer_message(
        conversation_id=conversation_id,
        client_id="live",
        text="being answered",
        payload=None,
        lease_seconds=30,
    )
    _, recovery, _ = worker(database, assistant)
    assert await recovery.answer() == 0
    assert assistant.asked == []


async def test_replies_rasa_gave_before_the_crash_are_used_not_asked_again(
    database: Database,
) -> None:
    conversation_id, (message_id,) = await left_unanswered(database, ["my tv is broken"])
    given = [BotReply(text="Is the TV box on?", buttons=[{"title": "Yes", "payload": "/affirm"}])]
    assistant = ScriptedAssistant(handled={message_id: given})
    gateway, recovery, hub = worker(database, assistant)
    frames: list[dict[str, Any]] = []

    async def socket(frame: dict[str, Any]) -> None:
        frames.append(frame)

    hub.subscribe(conversation_id, socket)
    assert await recovery.answer() == 1

    assert assistant.asked == []
    reply = (await messages_of(database, conversation_id))[-1]
    assert (reply.sender, reply.text, reply.buttons) == ("bot", given[0].text, given[0].buttons)
    assert [f["type"] for f in frames] == ["typing", "message", "typing"]
    assert frames[1]["text"] == "Is the TV box on?" and frames[-1]["active"] is False


async def test_a_message_too_old_gets_the_polite_system_message(database: Database) -> None:
    assistant = ScriptedAssistant()
    conversation_id, (message_id,) = await left_unanswered(database, ["hello?"], age_seconds=3600)
    _, recovery, _ = worker(database, assistant, max_age_seconds=900)
    assert await recovery.answer() == 1
    stored = await messages_of(database, conversation_id)
    assert assistant.asked == []
    assert [(m.sender, m.text) for m in stored][-1] == (
        Sender.system.value,
        say("system.too_late", "en"),
    )
    assert stored[0].status == DeliveryStatus.failed.value


async def test_a_german_conversation_is_answered_in_german(database: Database) -> None:
    assistant = ScriptedAssistant()
    fresh, _ = await left_unanswered(database, ["mein Internet geht nicht"], language="de")
    old, _ = await left_unanswered(database, ["hallo?"], age_seconds=3600, language="de")
    _, recovery, _ = worker(database, assistant, max_age_seconds=900)
    assert await recovery.answer() == 2
    assert assistant.asked == [(fresh, "mein Internet geht nicht")]
    assert assistant.languages == ["de"]  # Rasa answers in the conversation's language
    stored = await messages_of(database, old)
    assert (stored[-1].sender, stored[-1].text) == (
        Sender.system.value,
        say("system.too_late", "de"),
    )


async def test_in_a_persons_chat_the_message_is_only_marked(database: Database) -> None:
    assistant = ScriptedAssistant()
    conversation_id, _ = await left_unanswered(
        database, ["are you there?"], owner=ConversationOwner.agent.value
    )
    _, recovery, _ = worker(database, assistant)
    assert await recovery.answer() == 1
    stored = await messages_of(database, conversation_id)
    assert assistant.asked == [] and len(stored) == 1
    assert stored[0].status == DeliveryStatus.answered.value


async def test_while_rasa_is_down_the_messages_wait_in_order(database: Database) -> None:
    assistant = ScriptedAssistant()
    assistant.reachable = False
    conversation_id, ids = await left_unanswered(database, ["one", "two"])
    _, recovery, _ = worker(database, assistant, lease_seconds=0.2)
    assert await recovery.answer() == 0
    stored = await messages_of(database, conversation_id)
    assert [m.status for m in stored] == [DeliveryStatus.received.value] * 2
    assistant.reachable = True
    await asyncio.sleep(0.3)  # the lease taken by the failed try runs out
    assert await recovery.answer() == 2
    assert [text for _, text in assistant.asked] == ["one", "two"]


async def test_the_watch_answers_once_rasa_is_reachable(database: Database) -> None:
    assistant = ScriptedAssistant()
    assistant.reachable = False
    conversation_id, _ = await left_unanswered(database, ["anyone?"])
    _, recovery, _ = worker(database, assistant)
    watching = asyncio.create_task(recovery.watch())
    try:
        await asyncio.sleep(0.3)
        assert assistant.asked == []
        assistant.reachable = True
        for _ in range(50):
            if assistant.asked:
                break
            await asyncio.sleep(0.1)
        assert assistant.asked == [(conversation_id, "anyone?")]
    finally:
        watching.cancel()


async def test_a_resend_of_an_orphaned_message_is_answered_once(database: Database) -> None:
    assistant = ScriptedAssistant()
    conversation_id, (message_id,) = await left_unanswered(database, ["resent"])
    gateway, _, _ = worker(database, assistant)
    acks: list[dict[str, Any]] = []

    async def socket(frame: dict[str, Any]) -> None:
        acks.extend([frame] if frame["type"] == "ack" else [])

    for _ in range(2):
        await gateway.handle_customer_message(
            conversation_id=conversation_id,
            client_id="c0",
            text="resent",
            payload=None,
            reply_to=socket,
        )
    assert assistant.asked == [(conversation_id, "resent")]
    assert [(a["id"], a["duplicate"]) for a in acks] == [(message_id, True), (message_id, True)]
    replies = [m.text for m in await messages_of(database, conversation_id) if m.sender == "bot"]
    assert replies == ["echo: resent"]

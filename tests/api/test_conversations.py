"""Conversation and message storage."""

from __future__ import annotations

import asyncio
from typing import Optional

from sqlalchemy import func, select, update

from api.db import Database
from api.models import Conversation, ConversationOwner, DeliveryStatus, Message, Sender
from api.services import conversations
from api.services.conversations import ConversationStore


async def test_a_token_finds_its_conversation_and_only_its_hash_is_stored(
    database: Database,
) -> None:
    async with database.session() as session:
        created = await conversations.start_conversation(session=session)
    token = created.session_token
    assert len(token) >= 40
    async with database.session() as session:
        found = await conversations.find_by_token(session=session, token=token)
        assert found is not None and found.id == created.conversation.id
        assert found.token_hash != token
        assert await conversations.find_by_token(session=session, token=token + "x") is None
        assert await conversations.find_by_token(session=session, token="") is None
        assert await conversations.find_by_token(session=session, token="a" * 5000) is None


async def new_conversation(database: Database) -> str:
    async with database.session() as session:
        return (await conversations.start_conversation(session=session)).conversation.id


async def store(
    database: Database, conversation_id: str, client_id: str, text: str = "hi"
) -> Optional[conversations.StoredCustomerMessage]:
    """One customer message, as the gateway stores it."""
    return await ConversationStore(database).store_customer_message(
        conversation_id=conversation_id, client_id=client_id, text=text, payload=None
    )


async def hand_to(database: Database, conversation_id: str, owner: ConversationOwner) -> None:
    async with database.connection() as connection:
        await connection.execute(
            update(Conversation).where(Conversation.id == conversation_id).values(owner=owner.value)
        )


async def test_the_same_client_id_is_stored_once(database: Database) -> None:
    conversation_id = await new_conversation(database)
    first = await store(database, conversation_id, "c1")
    second = await store(database, conversation_id, "c1")
    assert first is not None and second is not None
    assert first.duplicate is False and second.duplicate is True
    assert first.message.id == second.message.id
    assert first.owner == second.owner == ConversationOwner.bot.value
    async with database.session() as session:
        (stored,) = await conversations.history(session=session, conversation_id=conversation_id)
    assert (stored.id, stored.client_id, stored.text, stored.buttons) == (
        first.message.id,
        "c1",
        "hi",
        [],
    )
    assert stored.created_at == first.message.created_at and stored.status == "received"


async def test_a_message_says_who_answers_the_conversation(database: Database) -> None:
    conversation_id = await new_conversation(database)
    for number, owner in enumerate([ConversationOwner.queued, ConversationOwner.agent]):
        await hand_to(database, conversation_id, owner)
        stored = await store(database, conversation_id, f"m{number}", "are you there?")
        assert stored is not None and stored.duplicate is False
        assert stored.owner == owner.value
        assert stored.message.conversation_id == conversation_id
        assert stored.message.status == "received"


async def test_nothing_is_stored_in_a_closed_or_unknown_conversation(database: Database) -> None:
    conversation_id = await new_conversation(database)
    assert await store(database, conversation_id, "before") is not None
    await hand_to(database, conversation_id, ConversationOwner.closed)
    for target, client_id in [
        (conversation_id, "after"),
        (conversation_id, "before"),
        ("0" * 32, "x"),
    ]:
        assert await store(database, target, client_id, "hello?") is None, (target, client_id)
    async with database.connection() as connection:
        count = (await connection.execute(select(func.count()).select_from(Message))).scalar()
    assert count == 1


async def test_concurrent_resends_store_one_message(database: Database) -> None:
    conversation_id = await new_conversation(database)
    results = await asyncio.gather(*(store(database, conversation_id, "race") for _ in range(5)))
    assert sorted(r.duplicate for r in results if r is not None) == [False, True, True, True, True]


async def test_history_in_order_and_after_an_id(database: Database) -> None:
    async with database.session() as session:
        conversation_id = (await conversations.start_conversation(session=session)).conversation.id
        ids = []
        for index in range(4):
            message = await conversations.store_outbound_message(
                session=session,
                conversation_id=conversation_id,
                sender=Sender.bot,
                text=f"m{index}",
                buttons=[{"title": "Yes", "payload": "/affirm"}],
            )
            ids.append(message.id)
    async with database.session() as session:
        everything = await conversations.history(session=session, conversation_id=conversation_id)
        later = await conversations.history(
            session=session, conversation_id=conversation_id, after_id=ids[1]
        )
    assert [m.text for m in everything] == ["m0", "m1", "m2", "m3"]
    assert [m.id for m in later] == ids[2:]
    frame = conversations.message_frame(everything[0])
    assert frame["buttons"] == [{"title": "Yes", "payload": "/affirm"}]
    assert frame["created_at"].endswith("+00:00")


async def test_a_turns_replies_are_stored_in_order_with_their_buttons(database: Database) -> None:
    conversation_id = await new_conversation(database)
    buttons = [{"title": "Yes", "payload": "/affirm"}, {"title": "No ✗", "payload": "/deny"}]
    turns = [
        [("Is the light on your router on?", buttons)],
        [("Okay.", []), ("Let's restart it: unplug it for 30 s.", buttons), ("Done?", [])],
        [("Thanks!", [])],
    ]
    store = ConversationStore(database)
    stored = []
    for number, replies in enumerate(turns):
        asked = await store.store_customer_message(
            conversation_id=conversation_id, client_id=f"q{number}", text="?", payload=None
        )
        assert asked is not None
        stored += await store.answer(
            conversation_id=conversation_id, message_id=asked.message.id, replies=replies
        )
    asked = await store.store_customer_message(
        conversation_id=conversation_id, client_id="silent", text="?", payload=None
    )
    assert asked is not None
    assert (
        await store.answer(conversation_id=conversation_id, message_id=asked.message.id, replies=[])
        == []
    )
    expected = [reply for replies in turns for reply in replies]
    assert [(m.text, m.buttons) for m in stored] == expected
    assert [m.id for m in stored] == sorted(m.id for m in stored)
    async with database.session() as session:
        history = await conversations.history(session=session, conversation_id=conversation_id)
    bot_messages = [m for m in history if m.sender == Sender.bot.value]
    assert [(m.id, m.text, m.buttons) for m in bot_messages] == [
        (m.id, m.text, m.buttons) for m in stored
    ]
    assert all(m.created_at.tzinfo is not None for m in bot_messages)
    assert [conversations.message_frame(m) for m in bot_messages] == [
        conversations.message_frame(m) for m in stored
    ]


async def test_a_delivery_status_changes_only_its_message(database: Database) -> None:
    conversation_id = await new_conversation(database)
    stored = [await store(database, conversation_id, client_id) for client_id in ("a", "b")]
    first, second = (s.message.id for s in stored if s is not None)
    for status in (DeliveryStatus.failed, DeliveryStatus.answered):
        await ConversationStore(database).set_status(first, status)
        async with database.session() as session:
            messages = await conversations.history(session=session, conversation_id=conversation_id)
        assert [(m.id, m.status) for m in messages] == [(first, status.value), (second, "received")]


async def test_the_status_and_the_replies_of_a_turn_are_stored_together(
    database: Database,
) -> None:
    conversation_id = await new_conversation(database)
    asked = await store(database, conversation_id, "q")
    assert asked is not None
    reply = ("Is the light on your router on?", [{"title": "Yes", "payload": "/affirm"}])
    (answer,) = await ConversationStore(database).answer(
        conversation_id=conversation_id, message_id=asked.message.id, replies=[reply]
    )
    async with database.session() as session:
        messages = await conversations.history(session=session, conversation_id=conversation_id)
    assert [(m.id, m.sender, m.status, m.text) for m in messages] == [
        (asked.message.id, "customer", "answered", "hi"),
        (answer.id, "bot", None, reply[0]),
    ]

"""The handoff desk keeps waiting customers informed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from api.db import Database
from api.models import Handoff, Message
from api.services import conversations
from api.services.conversations import ConversationStore
from api.services.handoff_desk import HandoffDesk, queue_buttons
from api.services.hub import ConversationHub
from api.services.presence import AgentPresence
from api.services.rasa_client import RasaClient

CALLBACK_BUTTON = queue_buttons()[0]


def desk_for(database: Database) -> HandoffDesk:
    rasa = RasaClient(base_url="http://127.0.0.1:9", jwt_secret="x", timeout_seconds=1)
    return HandoffDesk(
        database=database,
        conversations=ConversationStore(database),
        hub=ConversationHub(),
        presence=AgentPresence(),
        rasa=rasa,
        wait_limit_seconds=60,
    )


async def test_no_agent_online_offers_a_callback(database: Database) -> None:
    desk = desk_for(database)
    async with database.session() as session:
        conversation_id = (await conversations.start_conversation(session=session)).conversation.id
    notice = await desk.request(conversation_id=conversation_id, reason="asked")
    assert "No agent is online" in notice.text and CALLBACK_BUTTON in notice.buttons


async def test_a_long_wait_is_offered_a_callback_once(database: Database) -> None:
    desk = desk_for(database)
    async with database.session() as session:
        conversation_id = (await conversations.start_conversation(session=session)).conversation.id
    await desk.request(conversation_id=conversation_id, reason="asked")
    async with database.session() as session:
        # Online agents were expected, so no callback was offered yet; then the wait grew.
        await session.execute(
            update(Handoff).values(
                callback_offered=False,
                waiting_since=datetime.now(timezone.utc) - timedelta(minutes=10),
            )
        )
    assert await desk.offer_callbacks_to_long_waits() == 1
    assert await desk.offer_callbacks_to_long_waits() == 0
    async with database.session() as session:
        result = await session.execute(
            select(Message).where(Message.conversation_id == conversation_id)
        )
        offers = [m for m in result.scalars().all() if CALLBACK_BUTTON in m.buttons]
    assert len(offers) == 1 and "Sorry for the wait" in offers[0].text

"""The handoff queue: routing, claiming under a race, escalation, transfer, hand back."""

from __future__ import annotations

import asyncio

import pytest

from api.db import Database
from api.models import Agent, Conversation
from api.services import agents, conversations, handoffs


async def make_agent(db: Database, name: str, **kwargs) -> Agent:
    async with db.session() as session:
        return await agents.create_agent(
            session=session,
            email=f"{name.lower()}@example.com",
            name=name,
            password="long enough pw",
            **kwargs,
        )


async def queued(db: Database, **kwargs) -> handoffs.Handoff:
    async with db.session() as session:
        conversation_id = (await conversations.start_conversation(session=session)).conversation.id
        handoff, created = await handoffs.request_handoff(
            session=session, conversation_id=conversation_id, reason="asked", **kwargs
        )
        assert created
        return handoff


async def owner_of(db: Database, conversation_id: str) -> str:
    async with db.session() as session:
        return (await session.get(Conversation, conversation_id)).owner


async def test_a_second_request_reuses_the_open_handoff(database: Database) -> None:
    handoff = await queued(database)
    async with database.session() as session:
        again, created = await handoffs.request_handoff(
            session=session, conversation_id=handoff.conversation_id, reason="again"
        )
    assert not created and again.id == handoff.id
    assert await owner_of(database, handoff.conversation_id) == "queued"


async def test_routing_by_tier_and_skill(database: Database) -> None:
    cable = await queued(database, skill="cable")
    specialist = await queued(database, skill="internet", tier=3)
    internet_agent = handoffs.staff_for(await make_agent(database, "Ivan", skills=["internet"]))
    senior = handoffs.staff_for(await make_agent(database, "Tess", tier=3, skills=["internet"]))
    async with database.session() as session:
        assert [
            h.id for h in await handoffs.waiting_for(session=session, staff=internet_agent)
        ] == []
        assert [h.id for h in await handoffs.waiting_for(session=session, staff=senior)] == [
            specialist.id
        ]
    assert cable.id != specialist.id


async def test_of_two_simultaneous_claims_exactly_one_wins(database: Database) -> None:
    handoff = await queued(database, skill="internet")
    anna = await make_agent(database, "Anna")
    ben = await make_agent(database, "Ben")

    async def claim(agent: Agent) -> str:
        try:
            async with database.session() as session:
                await handoffs.claim(session=session, handoff_id=handoff.id, agent=agent)
            return "won"
        except handoffs.HandoffError:
            return "lost"

    results = await asyncio.gather(claim(anna), claim(ben))
    assert sorted(results) == ["lost", "won"]
    assert await owner_of(database, handoff.conversation_id) == "agent"


async def test_capacity_is_respected(database: Database) -> None:
    agent = await make_agent(database, "Cara", capacity=1)
    first, second = await queued(database), await queued(database)
    async with database.session() as session:
        await handoffs.claim(session=session, handoff_id=first.id, agent=agent)
    async with database.session() as session:
        with pytest.raises(handoffs.HandoffError, match="capacity"):
            await handoffs.claim(session=session, handoff_id=second.id, agent=agent)


async def test_escalate_transfer_hand_back_and_resolve(database: Database) -> None:
    anna = await make_agent(database, "Anna")
    ben = await make_agent(database, "Ben")
    tess = await make_agent(database, "Tess", tier=3)
    handoff = await queued(database, skill="internet")
    async with database.session() as session:
        await handoffs.claim(session=session, handoff_id=handoff.id, agent=anna)
    async with database.session() as session:
        with pytest.raises(handoffs.NotYours):
            await handoffs.hand_back(
                session=session, handoff_id=handoff.id, staff=handoffs.staff_for(ben)
            )
    async with database.session() as session:
        escalated = await handoffs.escalate(
            session=session,
            handoff_id=handoff.id,
            staff=handoffs.staff_for(anna),
            note="line fault",
        )
        assert escalated.tier == 3 and escalated.status == "waiting"
        assert escalated.agent_id is None
    async with database.session() as session:
        with pytest.raises(handoffs.NotYours):
            await handoffs.claim(session=session, handoff_id=handoff.id, agent=ben)
        await handoffs.claim(session=session, handoff_id=handoff.id, agent=tess)
    async with database.session() as session:
        moved = await handoffs.transfer(
            session=session,
            handoff_id=handoff.id,
            staff=handoffs.staff_for(tess),
            note="cable box",
            skill="cable",
        )
        assert moved.skill == "cable" and moved.status == "waiting"
        notes = await handoffs.notes_for(session=session, conversation_id=handoff.conversation_id)
        assert [n.text for n in notes] == [
            "Escalated to tier 3: line fault",
            "Transferred to the cable queue: cable box",
        ]
    async with database.session() as session:
        await handoffs.claim(session=session, handoff_id=handoff.id, agent=tess)
        back = await handoffs.hand_back(
            session=session, handoff_id=handoff.id, staff=handoffs.staff_for(tess)
        )
        assert back.status == "returned"
    assert await owner_of(database, handoff.conversation_id) == "bot"
    with pytest.raises(handoffs.HandoffError):
        async with database.session() as session:
            await handoffs.resolve(
                session=session, handoff_id=handoff.id, staff=handoffs.staff_for(tess)
            )


async def test_ratings(database: Database) -> None:
    handoff = await queued(database)
    async with database.session() as session:
        for bad in (0, 6, True, "5"):
            with pytest.raises(handoffs.HandoffError):
                await handoffs.record_rating(
                    session=session, conversation_id=handoff.conversation_id, score=bad, comment=""
                )
        await handoffs.record_rating(
            session=session, conversation_id=handoff.conversation_id, score=4, comment="ok"
        )
        rating = await handoffs.record_rating(
            session=session, conversation_id=handoff.conversation_id, score=5, comment="great"
        )
        assert rating.score == 5


async def test_queue_position_and_overview(database: Database) -> None:
    first = await queued(database, skill="cable")
    second = await queued(database, skill="cable")
    async with database.session() as session:
        assert await handoffs.queue_position(session=session, handoff=first) == 1
        assert await handoffs.queue_position(session=session, handoff=second) == 2
        queues, loads = await handoffs.overview(session=session)
    assert [(q.skill, q.waiting) for q in queues] == [("cable", 2)]
    assert loads == {}

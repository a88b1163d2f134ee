"""The console's shift tools on SQLite and PostgreSQL: access by assignment, search,
canned responses, queue labels and filters, the customer's history, and the
summary a second handoff carries after a hand-back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from api.db import Database
from api.models import Agent, Customer, Handoff, HandoffEvent, Message, Rating, ServiceArea
from api.services import access, agents, canned, conversations, customer_history, handoffs, tickets
from api.services import search as search_service
from api.services.errors import Conflict, Invalid
from api.services.handoff_desk import topic_key
from api.services.handoffs import staff_for
from api.services.staff import Staff
from bot.wording import say
from tests.api.test_handoff_desk import desk_for

SUPERVISOR = Staff(id=None, name="operator", role="operator")


async def new_agent(
    session, name: str, skills: list[str], role: str = "agent", tier: int = 2
) -> Agent:
    return await agents.create_agent(
        session=session,
        email=f"{name.lower()}@example.com",
        name=name,
        password="a long password",
        role=role,
        tier=tier,
        skills=skills,
    )


async def chat(session, *texts: str, created_at: datetime | None = None) -> str:
    conversation = (await conversations.start_conversation(session=session)).conversation
    if created_at is not None:
        conversation.created_at = created_at
    for text in texts:
        session.add(Message(conversation_id=conversation.id, sender="customer", text=text))
    await session.flush()
    return conversation.id


async def queued(session, conversation_id: str, skill: str, **fields) -> Handoff:
    handoff, _ = await handoffs.request_handoff(
        session=session, conversation_id=conversation_id, reason="asked", skill=skill
    )
    for name, value in fields.items():
        setattr(handoff, name, value)
    await session.flush()
    return handoff


async def test_access_follows_assignment(database: Database) -> None:
    async with database.session() as session:
        ines = staff_for(await new_agent(session, "Ines", ["internet"]))
        hugo = staff_for(await new_agent(session, "Hugo", ["hardware"]))
        otto = staff_for(await new_agent(session, "Otto", ["internet"]))
        waiting = await chat(session, "my internet is down")
        await queued(session, waiting, "internet")
        had = await chat(session, "router blinks red")
        handoff = await queued(session, had, "internet", status="returned", agent_id=otto.id)
        transferred = await chat(session, "wifi drops")
        other = await queued(session, transferred, "cable", status="active")
        session.add(HandoffEvent(handoff_id=other.id, kind="transferred", agent_id=ines.id))
        lone_ticket = await tickets.open_ticket(
            session=session, conversation_id=None, domain="hardware", title="Broken remote"
        )
        await session.flush()

        async def reads(staff: Staff, conversation_id: str) -> bool:
            return await access.may_read_conversation(
                session=session, staff=staff, conversation_id=conversation_id
            )

        assert await reads(ines, waiting) and not await reads(hugo, waiting)
        assert await reads(otto, had) and not await reads(ines, had)  # Otto had it
        assert handoff.status == "returned"
        assert await reads(ines, transferred)  # she took part (a transfer)
        assert not await reads(otto, transferred)
        assert await reads(SUPERVISOR, had)
        assert await access.may_read_ticket(session=session, staff=hugo, ticket=lone_ticket)
        assert not await access.may_read_ticket(session=session, staff=ines, ticket=lone_ticket)
        listed, total = await tickets.list_tickets(session=session, readable_by=ines)
        assert total == 0 and listed == []


async def test_search_finds_words_with_filters_and_only_readable_chats(database: Database) -> None:
    now = datetime.now(timezone.utc)
    async with database.session() as session:
        ines = await new_agent(session, "Ines", ["internet"])
        hugo = staff_for(await new_agent(session, "Hugo", ["hardware"]))
        router_chat = await chat(
            session, "My router shows a red light", "still no Störung fixed", created_at=now
        )
        await queued(session, router_chat, "internet", status="resolved", agent_id=ines.id)
        session.add(Rating(conversation_id=router_chat, score=2, comment="slow"))
        old_chat = await chat(
            session, "The router was replaced", created_at=now - timedelta(days=40)
        )
        await queued(session, old_chat, "internet", status="returned", agent_id=ines.id)
        tv_chat = await chat(session, "TV box has no signal")
        await tickets.open_ticket(
            session=session,
            conversation_id=tv_chat,
            domain="cable",
            title="Receiver fault",
            summary="Needs a new receiver",
        )
        await queued(session, tv_chat, "cable", status="waiting")
        await session.commit()

    async def found(staff: Staff = SUPERVISOR, q: str = "", **filters) -> list[str]:
        async with database.session() as session:
            hits, _ = await search_service.search(
                session=session,
                staff=staff,
                query=q,
                filters=search_service.SearchFilters(**filters),
            )
        return [h.conversation_id for h in hits]

    assert set(await found(q="router")) == {router_chat, old_chat}
    assert await found(q="rout red") == [router_chat]  # every word, as a prefix
    assert await found(q="störung") == [router_chat]
    assert await found(q="receiver") == [tv_chat]  # the ticket's title and summary
    assert await found(q='router" OR (x') == await found(q="router x")  # no operators
    assert await found(q="router", date_from=now - timedelta(days=1)) == [router_chat]
    assert await found(q="router", outcome="returned") == [old_chat]
    assert await found(q="router", rating=2) == [router_chat]
    assert await found(q="router", skill="cable") == []
    assert set(await found(agent_id=ines.id)) == {router_chat, old_chat}
    assert await found(hugo, q="router") == []
    assert set(await found(staff_for(ines), q="router")) == {router_chat, old_chat}
    with pytest.raises(Invalid):
        await found(q="  ")
    async with database.session() as session:
        hits, more = await search_service.search(
            session=session,
            staff=SUPERVISOR,
            query="router red",
            filters=search_service.SearchFilters(),
            limit=1,
        )
    assert not more and hits[0].outcome == "resolved" and hits[0].rating == 2
    assert "red light" in hits[0].snippet and hits[0].skill == "internet"


async def test_canned_responses_are_checked_and_filled_in(database: Database) -> None:
    async with database.session() as session:
        fields = canned.CannedFields(
            shortcut="/Restart",
            title="Restart the router",
            text_en="Hello {customer_name}, I'm {agent_name}. Ticket {ticket}: restart it.",
            text_de="Hallo {customer_name}, ich bin {agent_name}. Ticket {ticket}: neu starten.",
        )
        response = await canned.create_response(session=session, fields=fields, author="Lena")
        assert response.shortcut == "restart"
        with pytest.raises(Conflict):
            await canned.create_response(session=session, fields=fields, author="Lena")
        for bad in (
            {"text_en": "Hi {name}"},
            {"text_de": ""},
            {"text_en": "Hi {customer_name"},
            {"shortcut": "no spaces"},
        ):
            with pytest.raises(Invalid):
                await canned.create_response(
                    session=session,
                    fields=canned.CannedFields(**{**vars(fields), **bad}),
                    author="x",
                )
        conversation_id = await chat(session, "hello")
        text, language = await canned.render(
            session=session, response=response, conversation_id=conversation_id, agent_name="Anna"
        )
        assert (text, language) == ("Hello, I'm Anna. Ticket: restart it.", "en")
        session.add(ServiceArea(code="B", name="Berlin"))
        await session.flush()
        customer = Customer(
            account_number="ACC-1",
            email="kim@example.com",
            name="Kim Weber",
            postcode="10115",
            address="Street 1",
            service_area="B",
        )
        session.add(customer)
        await session.flush()
        conversation = await session.get(conversations.Conversation, conversation_id)
        conversation.customer_id = customer.id
        ticket = await tickets.open_ticket(
            session=session, conversation_id=conversation_id, domain="internet", title="x"
        )
        text, language = await canned.render(
            session=session,
            response=response,
            conversation_id=conversation_id,
            agent_name="Anna",
            language="de",
        )
        assert language == "de"
        assert text == f"Hallo Kim Weber, ich bin Anna. Ticket {ticket.number}: neu starten."
        history = await customer_history.history_for(
            session=session, conversation_id=conversation_id
        )
        assert history.identified and history.customer_name == "Kim Weber"
        assert [t["number"] for t in history.tickets] == [ticket.number]
        assert history.conversations[0]["current"] is True


async def test_queue_entries_are_named_and_filtered(database: Database) -> None:
    async with database.session() as session:
        long_words = "My internet connection keeps dropping whenever somebody uses the microwave"
        first = await chat(session, long_words)
        second = await chat(session, "TV")
        old = await queued(session, first, "internet")
        old.waiting_since = datetime.now(timezone.utc) - timedelta(minutes=20)
        new = await queued(session, second, "cable", tier=3)
        third = await chat(session)
        (await session.get(conversations.Conversation, second)).language = "de"
        titles = await handoffs.queue_titles(
            session=session, conversation_ids=[first, second, third]
        )
        assert titles[first] == "My internet connection keeps dropping whenever…"
        assert titles[second] == "TV"
        assert titles[third] == "New customer"
    async with database.session() as session:
        waiting = await handoffs.waiting_for(session=session, staff=SUPERVISOR)
        assert {h.conversation_id: h.language for h in waiting} == {first: "en", second: "de"}
        old, new = sorted(waiting, key=lambda h: h.id)
        assert handoffs.filter_queue(waiting, language="de") == [new]
        assert handoffs.filter_queue(waiting, skill="cable") == [new]
        assert handoffs.filter_queue(waiting, tier=3) == [new]
        assert handoffs.filter_queue(waiting, min_wait_seconds=600) == [old]
        assert handoffs.filter_queue(waiting, sort="newest") == [new, old]
        assert handoffs.filter_queue(waiting, sort="longest_wait") == [old, new]


async def test_a_second_handoff_after_a_hand_back_keeps_skill_tier_and_summary(
    database: Database,
) -> None:
    desk = desk_for(database)
    async with database.session() as session:
        anna = await new_agent(session, "Anna", ["internet", "cable"], tier=3)
        conversation_id = await chat(session, "my internet is not working")
        await session.commit()
    await desk.request(
        conversation_id=conversation_id,
        reason="customer asked for a person",
        skill="internet",
        tier=3,
        flow_state={"flow": "no_internet", "step": "lights", "root_flow": "no_internet"},
    )
    async with database.session() as session:
        handoff = await handoffs.open_handoff_for(session=session, conversation_id=conversation_id)
        first_summary = handoff.summary
        assert handoff.flow_state["step"] == "lights"
        handoff_id = handoff.id
        await handoffs.claim(session=session, handoff_id=handoff_id, agent=anna)
    await desk.send_agent_message(
        conversation_id=conversation_id, staff=staff_for(anna), client_id="a1", text="Unplug it."
    )
    await desk.add_note(conversation_id=conversation_id, staff=staff_for(anna), text="Line noisy")
    async with database.session() as session:
        await handoffs.hand_back(session=session, handoff_id=handoff_id, staff=staff_for(anna))
    await desk.request(conversation_id=conversation_id, reason="not understood three times")
    async with database.session() as session:
        second = await handoffs.open_handoff_for(session=session, conversation_id=conversation_id)
    assert second.id != handoff_id
    assert (second.skill, second.tier) == ("internet", 3)
    assert second.summary.startswith(first_summary)
    assert "With Anna (agent, internet, tier 3):" in second.summary
    assert "- Anna: Unplug it." in second.summary and "Note by Anna: Line noisy" in second.summary
    assert second.summary.count("Customer's first words") == 1
    assert second.flow_state["step"] == "lights"


def test_hand_back_and_queue_sentences_come_from_the_catalogue_in_both_languages():
    assert say("queue.number_in_line", "de", position=3) == "an Position 3 der Warteschlange"
    assert say("queue.message_kept", "fr", place="next in line") == (
        "Thanks, the agent will see your message. You are next in line."
    )
    assert say("handback.continue", "de", agent="Anna").startswith("Anna hat Sie")
    assert say(topic_key("cable"), "de") == "Ihr Kabelfernsehen"
    assert topic_key("billing") == "handback.topic.other"

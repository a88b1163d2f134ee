"""The handoff desk: handoffs plus everything the customer and agents are told.

api/services/handoffs.py changes the records; this module wraps each change
with the messages and live updates that go with it, so that the customer is
never left wondering and the console is always current.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import Database
from api.models import (
    Agent,
    Conversation,
    Handoff,
    HandoffStatus,
    InternalNote,
    Message,
    Sender,
    Ticket,
)
from api.services import conversations, handoffs
from api.services.callbacks import (
    BACK_TO_ASSISTANT_PAYLOAD,
    CALLBACK_PAYLOAD,
    KEEP_WAITING_PAYLOAD,
    PAYLOADS,
    CallbackDesk,
    CallbackStep,
)
from api.services.conversations import ConversationStore
from api.services.hub import ConversationHub
from api.services.presence import AgentPresence
from api.services.rasa_client import RasaClient, RasaUnavailable
from api.services.staff import Staff
from bot.flows.engine import FlowEngine, Reply, says_no_longer_needed, summarize_trail
from bot.flows.loader import FlowLibrary
from bot.vocabulary import OTHER
from bot.wording import button, has, say

logger = logging.getLogger(__name__)

QUEUE_CHANNEL = "queue"
QUEUE_PAYLOADS = PAYLOADS


def queue_buttons(language: str = "en") -> list[dict[str, str]]:
    """A call back instead, keep waiting, or go on with the assistant."""
    return [
        button("button.callback", language, CALLBACK_PAYLOAD),
        button("button.keep_waiting", language, KEEP_WAITING_PAYLOAD),
        button("button.back_to_assistant", language, BACK_TO_ASSISTANT_PAYLOAD),
    ]


def staff_channel(conversation_id: str) -> str:
    """Frames only staff may see (internal notes, customer typing)."""
    return f"staff:{conversation_id}"


@dataclass
class QueueNotice:
    """What the customer is told on joining the queue: `lead` (who is or isn't there)
    and `detail` (what happens now); `text` is both."""

    lead: str
    detail: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    handoff_id: Optional[int] = None

    @property
    def text(self) -> str:
        return f"{self.lead} {self.detail}"


def no_speaker_notice(handoff: Handoff, others: list[str], language: str) -> QueueNotice:
    """Agents are online but none who speaks the customer's language is free:
    the customer may wait for one who speaks `others`, or be called back."""
    named = say(f"language_name.of_{handoff.language}", language)
    if others:
        spoken = say("queue.or", language).join(
            say(f"language_name.of_{other}", language) for other in others
        )
        detail = say("queue.for_others", language, others=spoken, language=named)
    else:
        detail = say("queue.for_anyone", language, language=named)
    return QueueNotice(
        say("queue.no_speaker", language, language=named),
        detail,
        queue_buttons(language),
        handoff.id,
    )


async def build_summary(
    *,
    session: AsyncSession,
    conversation_id: str,
    flow_state: Optional[dict[str, Any]],
    library: Optional[FlowLibrary],
    reason: str,
    with_opening: bool = True,
) -> str:
    """What the agent needs to know without asking the customer again."""
    lines = [say("record.handoff_reason", reason=reason)]
    language = await session.scalar(
        select(Conversation.language).where(Conversation.id == conversation_id)
    )
    if language:
        lines.append(say("record.handoff_language", language=say(f"language_name.of_{language}")))
    first = await session.execute(
        select(Message.text)
        .where(Message.conversation_id == conversation_id, Message.sender == Sender.customer.value)
        .order_by(Message.id)
        .limit(1)
    )
    opening = first.scalar_one_or_none()
    if opening and with_opening:
        lines.append(say("record.first_words", text=opening[:300]))
    state = flow_state or {}
    flow = library.get(state.get("root_flow") or state.get("flow") or "") if library else None
    if flow is not None:
        lines.append(say("record.problem", title=flow.title, domain=flow.domain))
        device = (state.get("slots") or {}).get("device") or ", ".join(flow.devices)
        if device:
            lines.append(say("record.device", device=device))
    if (state.get("slots") or {}).get("asked_for_goodwill"):
        lines.append(say("record.goodwill_asked"))
    trail = state.get("trail") or []
    if trail:
        steps = say("record.steps_tried")
        lines.append(
            summarize_trail(trail, flow_title=steps).replace(f"Diagnosis: {steps}", f"{steps}:")
        )
    found = await session.execute(
        select(Ticket).where(Ticket.conversation_id == conversation_id).order_by(Ticket.id)
    )
    opened = list(found.scalars().all())
    if opened:
        listed = "; ".join(f"{t.number} {t.title} ({t.status})" for t in opened)
        lines.append(say("record.tickets", tickets=listed))
    return "\n".join(lines)


AGENT_PART_LINES = 12


async def agent_part(*, session: AsyncSession, handoff: Handoff) -> str:
    """What happened while a person had the chat: their messages, the customer's, notes."""
    agent = await session.get(Agent, handoff.agent_id) if handoff.agent_id else None
    name = agent.name if agent else say("record.handback.some_agent")
    since = handoff.claimed_at or handoff.waiting_since
    until = handoff.ended_at
    conditions = [Message.conversation_id == handoff.conversation_id, Message.created_at >= since]
    if until is not None:
        conditions.append(Message.created_at <= until)
    found = await session.execute(
        select(Message)
        .where(*conditions, Message.sender.in_((Sender.customer.value, Sender.agent.value)))
        .order_by(Message.id)
    )
    customer = say("record.handback.customer")
    said = [
        f"- {m.author or name if m.sender == Sender.agent.value else customer}: "
        f"{' '.join(m.text.split())[:200]}"
        for m in found.scalars().all()
    ]
    notes = await session.execute(
        select(InternalNote)
        .where(
            InternalNote.conversation_id == handoff.conversation_id,
            InternalNote.created_at >= since,
            *([InternalNote.created_at <= until] if until is not None else []),
        )
        .order_by(InternalNote.id)
    )
    noted = [
        "- " + say("record.handback.note", author=n.author, text=" ".join(n.text.split())[:200])
        for n in notes.scalars()
    ]
    lines = [say("record.handback.with_agent", agent=name, skill=handoff.skill, tier=handoff.tier)]
    if len(said) > AGENT_PART_LINES:
        lines.append(
            "- " + say("record.handback.earlier_messages", count=len(said) - AGENT_PART_LINES)
        )
    lines += said[-AGENT_PART_LINES:] or ["- " + say("record.handback.no_messages")]
    lines += noted
    lines.append(say("record.handback.handed_back", agent=name))
    return "\n".join(lines)


def handback_topic(handoff: Handoff) -> dict[str, Any]:
    """What the assistant keeps about the chat after a hand-back (the flow_state slot).

    With a flow still waiting for an answer, the flow itself; otherwise the topic,
    so "still not working" is understood as being about it.
    """
    state = handoff.flow_state or {}
    topic = {
        "skill": handoff.skill,
        "tier": handoff.tier,
        "root_flow": state.get("root_flow") or state.get("flow"),
        "handoff_id": handoff.id,
    }
    if state.get("flow") and state.get("step"):
        # Misses before the handoff do not count against the customer afterwards.
        return {**state, "misses": 0, "handed_back": topic}
    return {"handed_back": topic}


class HandoffDesk:
    def __init__(
        self,
        *,
        database: Database,
        conversations: ConversationStore,
        hub: ConversationHub,
        presence: AgentPresence,
        rasa: RasaClient,
        wait_limit_seconds: float,
        library: Optional[FlowLibrary] = None,
        engine: Optional[FlowEngine] = None,
    ) -> None:
        self.database = database
        self.conversations = conversations
        self.library = library
        self.hub = hub
        self.presence = presence
        self.rasa = rasa
        self.wait_limit_seconds = wait_limit_seconds
        # Asks a flow's open question again after a hand-back.
        self.engine = engine

    # ------------------------------------------------------------ messages

    async def tell_customer(
        self,
        conversation_id: str,
        text: str,
        *,
        sender: Sender = Sender.system,
        author: Optional[str] = None,
        buttons: Optional[list[dict[str, str]]] = None,
        client_id: Optional[str] = None,
    ) -> dict[str, Any]:
        message = await self.conversations.add(
            conversation_id=conversation_id,
            sender=sender,
            text=text,
            buttons=buttons,
            author=author,
            client_id=client_id,
        )
        frame = conversations.message_frame(message)
        await self.hub.publish(conversation_id, frame)
        return frame

    async def announce_owner(
        self, conversation_id: str, owner: str, agent_name: Optional[str] = None
    ) -> None:
        frame: dict[str, Any] = {"type": "owner", "owner": owner}
        if agent_name:
            frame["agent_name"] = agent_name
        await self.hub.publish(conversation_id, frame)

    async def queue_changed(self) -> None:
        await self.hub.publish(QUEUE_CHANNEL, {"type": "queue_changed"})

    # -------------------------------------------------------------- queue

    async def notice_for(
        self, session: AsyncSession, handoff: Handoff, language: Optional[str] = None
    ) -> QueueNotice:
        # Said in the conversation's language unless the caller knows better.
        language = language or handoff.language or "en"
        online = await self.presence.online()
        agents = [s for s in online if handoffs.routes_to(s, handoff)]
        if not agents:
            return QueueNotice(
                say("queue.no_agent", language),
                say("queue.no_agent_options", language),
                queue_buttons(language),
                handoff.id,
            )
        loads = await handoffs.active_loads(session=session)
        if not handoffs.speakers_available(handoff, online, loads):
            spoken = {lang for s in agents if not s.is_supervisor for lang in s.languages}
            others = sorted(spoken - {handoff.language})
            return no_speaker_notice(handoff, others, language)
        position = await handoffs.queue_position(session=session, handoff=handoff)
        typical = await handoffs.typical_wait_seconds(session=session)
        minutes = max(1, math.ceil(typical * position / len(agents) / 60))
        place = (
            say("queue.next_in_line", language)
            if position == 1
            else say("queue.number_in_line", language, position=position)
        )
        wait = (
            say("queue.one_minute", language)
            if minutes == 1
            else say("queue.minutes", language, minutes=minutes)
        )
        return QueueNotice(
            say("queue.connecting", language),
            say("queue.position", language, place=place, wait=wait),
            [],
            handoff.id,
        )

    async def request(
        self,
        *,
        conversation_id: str,
        reason: str,
        flow_state: Optional[dict[str, Any]] = None,
        library: Optional[FlowLibrary] = None,
        tier: int = 2,
        skill: str = "other",
        priority: str = "normal",
        language: Optional[str] = None,
    ) -> QueueNotice:
        """Queue the conversation for a person and say what happens next.

        After a hand-back, the new handoff keeps the earlier one's skill, tier and
        summary, with what the agent and customer said in between added to it.
        """
        async with self.database.session() as session:
            earlier = await handoffs.latest_handoff(
                session=session, conversation_id=conversation_id
            )
            if earlier is not None and earlier.status != HandoffStatus.returned.value:
                earlier = None
            summary = await build_summary(
                session=session,
                conversation_id=conversation_id,
                flow_state=flow_state,
                library=library or self.library,
                reason=reason,
                with_opening=earlier is None,
            )
            if earlier is not None:
                summary = "\n\n".join(
                    [
                        earlier.summary,
                        await agent_part(session=session, handoff=earlier),
                        say("record.handback.asked_again") + "\n" + summary,
                    ]
                )
                if skill == "other" or not (flow_state or {}).get("trail"):
                    skill = earlier.skill
                tier = max(tier, earlier.tier)
                if flow_state is None or not flow_state.get("root_flow"):
                    flow_state = earlier.flow_state
            handoff, created = await handoffs.request_handoff(
                session=session,
                conversation_id=conversation_id,
                reason=reason,
                tier=tier,
                skill=skill,
                priority=priority,
                summary=summary,
            )
            if created:
                handoff.flow_state = flow_state
            notice = await self.notice_for(session, handoff, language)
            if notice.buttons:
                handoff.callback_offered = True
        await self.queue_changed()
        await self.announce_owner(conversation_id, "queued")
        return notice

    async def answer_waiting_customer(
        self, conversation_id: str, language: Optional[str] = None
    ) -> None:
        """A message from a customer in the queue: it is kept for the agent; say so, and
        where they are in the queue (or that nobody who can take the chat is online, or
        which number we will call back)."""
        async with self.database.session() as session:
            handoff = await handoffs.open_handoff_for(
                session=session, conversation_id=conversation_id
            )
            if handoff is None or handoff.status != HandoffStatus.waiting.value:
                return
            # Said in the conversation's language unless the caller knows better.
            language = language or handoff.language or "en"
            reminder = await CallbackDesk(session, handoff, language).arranged_reminder()
            online = [s for s in await self.presence.online() if handoffs.routes_to(s, handoff)]
            position = await handoffs.queue_position(session=session, handoff=handoff)
        if reminder is not None:
            await self.tell_customer(conversation_id, reminder)
            return
        if not online:
            await self.tell_customer(
                conversation_id,
                say("queue.message_kept_nobody_online", language),
                buttons=queue_buttons(language),
            )
            return
        place = (
            say("queue.next_in_line", language)
            if position == 1
            else say("queue.number_in_line", language, position=position)
        )
        await self.tell_customer(conversation_id, say("queue.message_kept", language, place=place))

    async def nobody_can_take(self, conversation_id: str) -> bool:
        """The customer waits in the queue with nobody online who could take the chat,
        and has not chosen to keep waiting or to be called back."""
        async with self.database.session() as session:
            handoff = await handoffs.open_handoff_for(
                session=session, conversation_id=conversation_id
            )
            if handoff is None or handoff.status != HandoffStatus.waiting.value:
                return False
            if handoff.callback_step is not None:
                return False  # a call back asked for, arranged or declined (kept waiting)
        online = await self.presence.online()
        return not any(handoffs.routes_to(s, handoff) for s in online)

    async def handle_queued_message(
        self,
        conversation_id: str,
        payload: Optional[str],
        language: str = "en",
        text: str = "",
    ) -> bool:
        """Answers a queued customer's call back: the choice, and the phone number asked
        for (api/services/callbacks.py); and "never mind" with the way back to the
        assistant. True if the message was answered; otherwise it gets the usual
        answer of the queue. Either way it is kept for the agent."""
        if payload is not None and payload not in QUEUE_PAYLOADS:
            return False
        if payload == BACK_TO_ASSISTANT_PAYLOAD:
            await self.leave_queue(conversation_id, language)
            return True
        async with self.database.session() as session:
            handoff = await handoffs.open_handoff_for(
                session=session, conversation_id=conversation_id
            )
            if handoff is None or handoff.status != HandoffStatus.waiting.value:
                if payload != KEEP_WAITING_PAYLOAD:
                    return False
                reply = None
            else:
                reply = await CallbackDesk(session, handoff, language).answer(payload, text)
        if payload == KEEP_WAITING_PAYLOAD and reply is None:
            await self.tell_customer(conversation_id, say("queue.keep_waiting", language))
            return True
        if reply is None:
            if payload is None and says_no_longer_needed(text):
                # "Never mind, it works now": the way out, not "your message is kept".
                await self.tell_customer(
                    conversation_id,
                    say("queue.no_longer_needed", language),
                    buttons=[
                        button("button.back_to_assistant", language, BACK_TO_ASSISTANT_PAYLOAD),
                        button("button.keep_waiting", language, KEEP_WAITING_PAYLOAD),
                    ],
                )
                return True
            return False
        await self.tell_customer(conversation_id, reply.text, buttons=reply.buttons or None)
        if reply.ticket_opened:
            await self.queue_changed()
        return True

    async def offer_callbacks_to_long_waits(self, language: Optional[str] = None) -> int:
        """Offer a callback to customers waiting longer than the limit (once each)."""
        limit = datetime.now(timezone.utc) - timedelta(seconds=self.wait_limit_seconds)
        async with self.database.session() as session:
            result = await session.execute(
                select(Handoff).where(
                    Handoff.status == HandoffStatus.waiting.value,
                    Handoff.waiting_since < limit,
                    Handoff.callback_offered.is_(False),
                    # Never offered again once the customer asked for one.
                    or_(
                        Handoff.callback_step.is_(None),
                        Handoff.callback_step == CallbackStep.declined.value,
                    ),
                )
            )
            overdue = list(result.scalars().all())
            for handoff in overdue:
                handoff.callback_offered = True
            # Each in the conversation's language unless the caller knows better.
            waits = [(h.conversation_id, language or h.language or "en") for h in overdue]
        for conversation_id, said_in in waits:
            await self.tell_customer(
                conversation_id, say("queue.long_wait", said_in), buttons=queue_buttons(said_in)
            )
        return len(waits)

    async def watch_waits(self, interval_seconds: float = 15) -> None:
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                await self.offer_callbacks_to_long_waits()
            except Exception:  # noqa: BLE001 - the watcher must survive a database hiccup
                logger.exception("Checking long waits failed")

    # ------------------------------------------------------------ agents

    async def claim(
        self, *, handoff_id: int, agent: Agent, language: Optional[str] = None
    ) -> Handoff:
        async with self.database.session() as session:
            handoff = await handoffs.claim(
                session=session,
                handoff_id=handoff_id,
                agent=agent,
                online=await self.presence.online(),
            )
        # Said in the conversation's language unless the caller knows better.
        language = language or handoff.language or "en"
        await self.tell_customer(
            handoff.conversation_id, say("system.joined", language, agent=agent.name)
        )
        await self.announce_owner(handoff.conversation_id, "agent", agent.name)
        await self.queue_changed()
        return handoff

    async def send_agent_message(
        self, *, conversation_id: str, staff: Staff, client_id: str, text: str
    ) -> dict[str, Any]:
        async with self.database.session() as session:
            handoff = await handoffs.open_handoff_for(
                session=session, conversation_id=conversation_id
            )
            if handoff is None or handoff.status != HandoffStatus.active.value:
                raise handoffs.HandoffError("This chat is not with an agent.")
            if handoff.agent_id != staff.id and not staff.is_supervisor:
                raise handoffs.NotYours("This chat is with another agent.")
            # Agents' ids live apart from customers' (a colon never appears in those).
            client_id = f"agent:{staff.id}:{client_id}"
            existing = await conversations.find_by_client_id(
                session=session, conversation_id=conversation_id, client_id=client_id
            )
            if existing is not None:
                return conversations.message_frame(existing)
        return await self.tell_customer(
            conversation_id, text, sender=Sender.agent, author=staff.name, client_id=client_id
        )

    async def agent_typing(self, *, conversation_id: str, staff: Staff, active: bool) -> None:
        await self.hub.publish(
            conversation_id,
            {"type": "typing", "sender": "agent", "active": active, "agent_name": staff.name},
        )

    async def add_note(self, *, conversation_id: str, staff: Staff, text: str) -> dict[str, Any]:
        async with self.database.session() as session:
            note = await handoffs.add_note(
                session=session, conversation_id=conversation_id, staff=staff, text=text
            )
            frame = note_frame(note)
        await self.hub.publish(staff_channel(conversation_id), frame)
        return frame

    async def escalate(
        self, *, handoff_id: int, staff: Staff, note: str, language: Optional[str] = None
    ) -> Handoff:
        async with self.database.session() as session:
            handoff = await handoffs.escalate(
                session=session, handoff_id=handoff_id, staff=staff, note=note
            )
            notice = await self.notice_for(session, handoff, language)
        # Said in the conversation's language unless the caller knows better.
        language = language or handoff.language or "en"
        await self.tell_customer(
            handoff.conversation_id,
            say("queue.escalated", language, detail=notice.detail),
            buttons=notice.buttons,
        )
        await self.announce_owner(handoff.conversation_id, "queued")
        await self.queue_changed()
        return handoff

    async def transfer(
        self,
        *,
        handoff_id: int,
        staff: Staff,
        note: str,
        skill: Optional[str],
        agent_id: Optional[int],
        language: Optional[str] = None,
    ) -> Handoff:
        async with self.database.session() as session:
            target = await session.get(Agent, agent_id) if agent_id is not None else None
            if agent_id is not None and target is None:
                raise handoffs.HandoffNotFound(f"There is no agent {agent_id}.")
            handoff = await handoffs.transfer(
                session=session,
                handoff_id=handoff_id,
                staff=staff,
                note=note,
                skill=skill,
                agent=target,
            )
            notice = await self.notice_for(session, handoff, language) if target is None else None
        # Said in the conversation's language unless the caller knows better.
        language = language or handoff.language or "en"
        if target is not None:
            await self.tell_customer(
                handoff.conversation_id, say("system.joined", language, agent=target.name)
            )
            await self.announce_owner(handoff.conversation_id, "agent", target.name)
        else:
            await self.tell_customer(
                handoff.conversation_id,
                say("queue.transferred", language, detail=notice.detail if notice else "").strip(),
                buttons=notice.buttons if notice else None,
            )
            await self.announce_owner(handoff.conversation_id, "queued")
        await self.queue_changed()
        return handoff

    async def hand_back(
        self, *, handoff_id: int, staff: Staff, language: Optional[str] = None
    ) -> Handoff:
        """The assistant picks up where the customer was: the flow's open question, or
        the topic (so "still not working" is understood), or "anything else?".

        Misses and frustration counted before the handoff start again from zero.
        """
        async with self.database.session() as session:
            handoff = await handoffs.hand_back(session=session, handoff_id=handoff_id, staff=staff)
        # Said in the conversation's language unless the caller knows better.
        language = language or handoff.language or "en"
        state = handback_topic(handoff)
        state["handed_back"]["agent_name"] = staff.name
        await self._pick_up(
            handoff,
            state,
            language,
            continue_key="handback.continue",
            about_topic_key="handback.about_topic",
            nothing_key="system.handed_back",
            agent=staff.name,
        )
        return handoff

    async def leave_queue(
        self, conversation_id: str, language: Optional[str] = None, *, quietly: bool = False
    ) -> bool:
        """The customer waiting in the queue goes back to the assistant: the flow's open
        question again, or "what can I help you with?" (not said `quietly`, when the
        assistant answers a message of theirs next). Nothing they wrote is lost; an
        agent who looks later sees the whole conversation. A chat no longer waiting
        (an agent took it meanwhile) is left as it is: False."""
        async with self.database.session() as session:
            handoff = await handoffs.leave_queue(session=session, conversation_id=conversation_id)
        if handoff is None:
            return False
        language = language or handoff.language or "en"
        state = handback_topic(handoff)
        state["handed_back"]["left_queue"] = True
        await self._pick_up(
            handoff,
            state,
            language,
            continue_key="queue.left_queue_continue",
            about_topic_key="queue.left_queue_about_topic",
            nothing_key="queue.left_queue_what_now",
            quietly=quietly,
        )
        return True

    async def _pick_up(
        self,
        handoff: Handoff,
        state: dict[str, Any],
        language: str,
        *,
        continue_key: str,
        about_topic_key: str,
        nothing_key: str,
        quietly: bool = False,
        **values: str,
    ) -> None:
        """The assistant takes the chat back after a person or the queue: with the
        flow's open question, or with the topic (so "still not working" is understood
        as being about it), or with "what can I help you with?"; `quietly`, with
        nothing said (the assistant answers the customer's next message at once)."""
        conversation_id = handoff.conversation_id
        if state.get("flow"):
            state["language"] = language  # the flow asks on in the customer's language now
        question = self._open_question(state)
        if not question:
            state = {"handed_back": state["handed_back"]}
        await self._resume_assistant(conversation_id, state, question)
        if not quietly:
            if question:
                await self.tell_customer(conversation_id, say(continue_key, language, **values))
                for reply in question:
                    await self.tell_customer(
                        conversation_id, reply.text, sender=Sender.bot, buttons=reply.buttons
                    )
            elif state["handed_back"].get("root_flow") or handoff.skill != OTHER:
                topic = say(topic_key(handoff.skill), language)
                await self.tell_customer(
                    conversation_id, say(about_topic_key, language, topic=topic, **values)
                )
            else:
                await self.tell_customer(conversation_id, say(nothing_key, language, **values))
        await self.announce_owner(conversation_id, "bot")
        await self.queue_changed()

    async def _resume_assistant(
        self, conversation_id: str, state: Optional[dict[str, Any]], question: list[Reply]
    ) -> None:
        """Rasa takes the conversation back with the flow state (or the topic) it had."""
        try:
            await self.rasa.append_events(
                sender_id=conversation_id,
                events=[
                    {"event": "resume"},
                    {"event": "slot", "name": "flow_state", "value": state},
                    {
                        "event": "slot",
                        "name": "active_flow",
                        "value": state.get("root_flow") if state and question else None,
                    },
                    {"event": "slot", "name": "fallback_count", "value": 0.0},
                    {"event": "slot", "name": "frustration_count", "value": 0.0},
                    # Paused by the handoff, the assistant never listened after it; without
                    # this, its rules would not match the customer's next message.
                    {"event": "action", "name": "action_listen"},
                ],
            )
        except RasaUnavailable as error:
            logger.warning("Could not update the assistant's tracker: %s", error)

    def _open_question(self, state: dict[str, Any]) -> list[Reply]:
        """The question the flow was waiting on when the chat went to a person."""
        if self.engine is None or not state.get("flow"):
            return []
        return self.engine.current_question(state)

    async def resolve(
        self, *, handoff_id: int, staff: Staff, language: Optional[str] = None
    ) -> Handoff:
        async with self.database.session() as session:
            handoff = await handoffs.resolve(session=session, handoff_id=handoff_id, staff=staff)
        # Said in the conversation's language unless the caller knows better.
        language = language or handoff.language or "en"
        await self.tell_customer(
            handoff.conversation_id, say("system.resolved", language, agent=staff.name)
        )
        await self.announce_owner(handoff.conversation_id, "closed")
        await self.hub.publish(handoff.conversation_id, {"type": "rating_request"})
        await self.queue_changed()
        return handoff

    async def record_rating(self, *, conversation_id: str, score: int, comment: str) -> None:
        async with self.database.session() as session:
            await handoffs.record_rating(
                session=session, conversation_id=conversation_id, score=score, comment=comment
            )
        await self.hub.publish(
            staff_channel(conversation_id), {"type": "rating", "score": score, "comment": comment}
        )

    async def customer_typing(self, *, conversation_id: str, active: bool) -> None:
        await self.hub.publish(
            staff_channel(conversation_id),
            {
                "type": "typing",
                "sender": "customer",
                "active": active,
                "conversation_id": conversation_id,
            },
        )

    async def conversation_owner(self, conversation_id: str) -> Optional[str]:
        async with self.database.session() as session:
            conversation = await session.get(Conversation, conversation_id)
            return conversation.owner if conversation else None


def topic_key(skill: str) -> str:
    """The catalogue key naming what the chat was about ("your internet")."""
    key = f"handback.topic.{skill}"
    return key if has(key) else f"handback.topic.{OTHER}"


def note_frame(note: Any) -> dict[str, Any]:
    return {
        "type": "note",
        "id": note.id,
        "conversation_id": note.conversation_id,
        "author": note.author,
        "text": note.text,
        "created_at": note.created_at.isoformat(),
    }

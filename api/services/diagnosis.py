"""The diagnosis service: one customer turn through the flow engine.

Decides whether a turn answers the running flow, starts a new one or needs a
rephrase, carries out the flow's outcome (a ticket, for example), and records
every step for later analysis. Custom actions call this and stay thin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.config import Settings
from api.models import FlowEvent, utcnow
from api.services import checks, customers, handoff_wording, tickets, visits
from bot.flows.engine import (
    PROBLEM_INTENTS,
    CustomerTurn,
    FlowEngine,
    FlowEventRecord,
    Outcome,
    Reply,
    TurnResult,
    summarize_trail,
)
from bot.flows.loader import FlowLibrary
from bot.flows.meaning import SentenceEncoder

_FLOW_EVENTS = FlowEvent.__table__

PERSON_BUTTON = {"title": "Talk to a person", "payload": "/request_human"}
DOMAIN_BUTTONS = [
    {"title": "Internet", "payload": "/problem_internet"},
    {"title": "Cable TV", "payload": "/problem_cable"},
    {"title": "A device", "payload": "/problem_hardware"},
    {"title": "Software", "payload": "/problem_software"},
]
# How the first fallback names its best guess: "Is it about {topic}?"
DOMAIN_TOPICS = {
    "problem_internet": "your internet connection",
    "problem_cable": "your cable TV",
    "problem_hardware": "a device that is not working",
    "problem_software": "software or an app",
}
INTENT_DOMAINS = {
    "problem_internet": "internet",
    "problem_cable": "cable",
    "problem_hardware": "hardware",
    "problem_software": "software",
}
# Questions that are not our job get a pointer to where to go (domain.yml responses).
SIDE_RESPONSES = {
    "billing": "utter_billing",
    "account": "utter_account",
    "out_of_scope": "utter_out_of_scope",
}
OUTCOME_STATUS_NOTE = {
    "part": "A replacement part needs to be ordered",
    "visit": "A technician visit needs to be booked",
    "goodwill": "A goodwill gesture should be considered",
    "handoff": "The customer needs a person",
}
# Outcomes that continue in an operation flow until the operation is done.
OPERATION_FLOWS = {"part": "request_part", "visit": "book_visit", "goodwill": "goodwill"}
# Asks an unidentified customer how to reach them about a ticket (docs/operations.md).
CONTACT_FLOW = "ticket_contact"


@dataclass
class HandoffRequest:
    """A person should take over; the caller queues it once the turn is saved."""

    reason: str
    tier: int = 2
    skill: str = "other"
    priority: str = "normal"
    flow_state: Optional[dict[str, Any]] = None


@dataclass
class DiagnosisResult:
    replies: list[Reply] = field(default_factory=list)
    flow_state: Optional[dict[str, Any]] = None
    active_flow: Optional[str] = None
    ticket_number: Optional[str] = None
    fallback_count: int = 0
    handoff: Optional[HandoffRequest] = None
    # Names of domain responses (domain.yml) to send before the replies.
    responses: list[str] = field(default_factory=list)


class DiagnosisService:
    """Holds the flow library and engine for the life of the process."""

    def __init__(self, settings: Settings) -> None:
        self.library = FlowLibrary(settings.flows_dir, check_every=settings.flows_check_seconds)
        self.library.reload()
        # Loaded now (about a second), so the first customer does not wait for it.
        encoder = SentenceEncoder()
        encoder.load()
        self.engine = FlowEngine(self.library, checks.run_check, encoder)

    async def handle_turn(
        self,
        *,
        session: AsyncSession,
        conversation_id: str,
        flow_state: Optional[dict[str, Any]],
        turn: CustomerTurn,
        fallback_count: int = 0,
    ) -> DiagnosisResult:
        checks.current_conversation.set(conversation_id)
        if flow_state and flow_state.get("flow"):
            result = await self.engine.answer(flow_state, turn)
            if (
                result.not_understood
                and flow_state.get("flow") == CONTACT_FLOW
                and (turn.intent == "deny" or tickets.declines_contact(turn.text))
            ):
                # "No" to "what e-mail address or phone number?": no contact details, which
                # the flow's `skip` leads to; its closing message says what that means.
                result = await self.engine.answer(
                    flow_state, CustomerTurn(text=turn.text, intent="already_tried")
                )
                if result.outcome is not None:
                    result.replies.clear()
            if result.not_understood and turn.intent in SIDE_RESPONSES:
                # Not an answer but a side question (a bill, the account): answer it,
                # then ask the flow's question again. The flow does not move on.
                return DiagnosisResult(
                    responses=[SIDE_RESPONSES[turn.intent]],
                    replies=[
                        Reply("Now, back to your problem:"),
                        *self.engine.current_question(flow_state),
                    ],
                    flow_state=flow_state,
                    active_flow=flow_state.get("root_flow") or flow_state.get("flow"),
                )
            if result.not_understood and turn.intent in PROBLEM_INTENTS:
                switched = await self._start_for_intent(turn, running=flow_state.get("flow"))
                if switched is not None:
                    switched.replies.insert(0, Reply("Okay, let's look at that problem."))
                    result = switched
                elif not result.replies:
                    result = await self.engine.answer(
                        flow_state, CustomerTurn(text=turn.text, intent="")
                    )
            return await self._finish(session, conversation_id, result, turn)

        if turn.intent in PROBLEM_INTENTS:
            started = await self._start_for_intent(turn, running=None)
            if started is not None:
                return await self._finish(session, conversation_id, started, turn)
            return await self._no_flow_for(session, conversation_id, turn)

        handed_back = (flow_state or {}).get("handed_back")
        if isinstance(handed_back, dict):
            return await self._after_hand_back(
                session, conversation_id, turn, fallback_count, handed_back
            )

        if turn.intent in SIDE_RESPONSES:
            return DiagnosisResult(responses=[SIDE_RESPONSES[turn.intent]])
        return self._nothing_running(turn, fallback_count)

    async def _after_hand_back(
        self,
        session: AsyncSession,
        conversation_id: str,
        turn: CustomerTurn,
        fallback_count: int,
        topic: dict[str, Any],
    ) -> DiagnosisResult:
        """A person handed the chat back and no flow waits for an answer: "still broken"
        is about the same topic. Checks already done are not started again; a topic
        nobody checked yet gets its diagnosis."""
        skill = str(topic.get("skill") or "other")
        same_topic = turn.intent in ("problem_persists", "already_tried") or (
            INTENT_DOMAINS.get(turn.intent) == skill
        )
        problem = next((i for i, d in INTENT_DOMAINS.items() if d == skill), None)
        if same_topic and not topic.get("root_flow") and problem is not None:
            started = await self._start_for_intent(
                CustomerTurn(text=turn.text, intent=problem, entities=turn.entities), running=None
            )
            if started is not None:
                return await self._finish(session, conversation_id, started, turn)
        if same_topic and topic.get("root_flow"):
            language = getattr(turn, "language", "en")
            agent_name = str(topic.get("agent_name") or "")
            key = f"topic.{skill}" if f"topic.{skill}" in handoff_wording.TEXTS else "topic.other"
            text = handoff_wording.text(
                "handback.still_broken",
                language,
                topic=handoff_wording.text(key, language),
                agent_name=agent_name or ("Our agent" if language == "en" else "Unser Team"),
            )
            return DiagnosisResult(
                replies=[Reply(text[0].upper() + text[1:], [PERSON_BUTTON])],
                flow_state={"handed_back": topic},
                fallback_count=fallback_count,
            )
        if turn.intent in SIDE_RESPONSES:
            return DiagnosisResult(
                responses=[SIDE_RESPONSES[turn.intent]], flow_state={"handed_back": topic}
            )
        result = self._nothing_running(turn, fallback_count)
        if result.handoff is None:
            result.flow_state = {"handed_back": topic}
        return result

    async def start_flow(
        self,
        *,
        session: AsyncSession,
        conversation_id: str,
        flow_id: str,
        slots: Optional[dict[str, Any]] = None,
    ) -> DiagnosisResult:
        """Start a named flow (an operation the customer asked for, e.g. book_visit)."""
        checks.current_conversation.set(conversation_id)
        flow = self.library.get(flow_id)
        if flow is None:
            raise LookupError(f"unknown flow {flow_id!r}")
        started = await self.engine.start(flow, slots=slots)
        return await self._finish(session, conversation_id, started, CustomerTurn())

    async def _start_for_intent(
        self, turn: CustomerTurn, *, running: Optional[str]
    ) -> Optional[TurnResult]:
        flow = self.engine.select_flow(turn)
        if flow is None or flow.id == running:
            return None
        slots = {e["entity"]: e["value"] for e in turn.entities if e.get("entity") != "choice"}
        return await self.engine.start(flow, slots=slots, turn=turn)

    async def _no_flow_for(
        self, session: AsyncSession, conversation_id: str, turn: CustomerTurn
    ) -> DiagnosisResult:
        domain = INTENT_DOMAINS.get(turn.intent, "other")
        ticket = await tickets.open_ticket(
            session=session,
            conversation_id=conversation_id,
            domain=domain,
            title=f"{domain.capitalize()} problem reported in chat",
            summary=f"Customer wrote: {turn.text[:500]}\nNo guided diagnosis exists for this yet.",
            tier=2,
        )
        result = DiagnosisResult(
            replies=[
                Reply(
                    "I don't have a guided check for that problem yet, so I've opened ticket "
                    f"{ticket.number} for a technician to look at."
                )
            ],
            ticket_number=ticket.number,
        )
        await self._ask_for_contact(session, conversation_id, ticket, result)
        return result

    def _nothing_running(self, turn: CustomerTurn, fallback_count: int) -> DiagnosisResult:
        """A turn with no flow running that starts none: the two-stage fallback.

        Every such turn counts as a miss, except "it works now", "no" and starting
        over: a first miss gets a guess, a request to rephrase or the question what
        the problem is about (a complaint's apology comes from the flow actions); a
        second the options plus a person; a third a person. So an angry customer
        is never asked the same thing a fourth time.
        """
        if turn.intent == "problem_fixed":
            return DiagnosisResult(replies=[Reply("Glad to hear it works! Anything else?")])
        if turn.intent == "deny":
            return DiagnosisResult(
                replies=[Reply("Alright. If anything else comes up, just write here.")],
                fallback_count=fallback_count,
            )
        if turn.intent in ("start_over", "go_back"):
            return what_is_it_about(fallback_count)
        fallback_count += 1
        if turn.intent == "complaint" and fallback_count == 1:
            return what_is_it_about(fallback_count)
        if fallback_count >= 3:
            return DiagnosisResult(
                replies=[Reply("I'm sorry I keep misunderstanding you.")],
                handoff=HandoffRequest(reason="not understood three times"),
            )
        if fallback_count >= 2:
            return DiagnosisResult(
                replies=[
                    Reply(
                        "I'm still not sure what you need. Is it one of these, "
                        "or would you like to talk to a person?",
                        [*likely_first(DOMAIN_BUTTONS, turn.likely_intents), PERSON_BUTTON],
                    )
                ],
                fallback_count=fallback_count,
            )
        if turn.intent not in ("nlu_fallback", ""):
            # Understood, but not as a problem: an answer with no question asked.
            return what_is_it_about(fallback_count)
        guess = best_guess(turn)
        if guess is not None:
            button = next(b for b in DOMAIN_BUTTONS if b["payload"] == f"/{guess}")
            return DiagnosisResult(
                replies=[
                    Reply(
                        "Sorry, I'm not sure I understood. "
                        f"Is it about {DOMAIN_TOPICS[guess]}? "
                        "If not, could you say it another way?",
                        [button],
                    )
                ],
                fallback_count=fallback_count,
            )
        return DiagnosisResult(
            replies=[
                Reply(
                    "Sorry, I didn't understand that. Could you say it another way? "
                    'For example: "my internet is not working".'
                )
            ],
            fallback_count=fallback_count,
        )

    async def _finish(
        self,
        session: AsyncSession,
        conversation_id: str,
        result: TurnResult,
        turn: CustomerTurn,
    ) -> DiagnosisResult:
        await record_flow_events(
            session=session, conversation_id=conversation_id, events=result.events
        )
        replies = list(result.replies)
        if result.offer_person and not any(PERSON_BUTTON in r.buttons for r in replies):
            # The person goes with the options, as one more button (once per turn).
            if replies and replies[-1].buttons:
                last = replies[-1]
                replies[-1] = Reply(last.text, [*last.buttons, PERSON_BUTTON])
            else:
                replies.append(Reply("If you prefer, a person can take over.", [PERSON_BUTTON]))
        outcome_result = DiagnosisResult(
            replies=replies,
            flow_state=result.state,
            active_flow=(result.state or {}).get("root_flow") if result.state else None,
        )
        if result.outcome is not None:
            await self._carry_out(session, conversation_id, result.outcome, outcome_result)
        return outcome_result

    async def _carry_out(
        self,
        session: AsyncSession,
        conversation_id: str,
        outcome: Outcome,
        into: DiagnosisResult,
    ) -> None:
        flow = self.library.get(outcome.flow_id)
        title = flow.title if flow else outcome.flow_id
        if await self._continue_operation(session, conversation_id, outcome, into):
            return
        if outcome.kind == "resolved":
            into.replies.append(Reply(outcome.message or "Great, I'm glad it's working again!"))
            return
        if outcome.kind == "handoff":
            if outcome.message:
                into.replies.append(Reply(outcome.message))
            into.handoff = HandoffRequest(
                reason=str(outcome.options.get("reason") or f"flow {outcome.flow_id} ended"),
                tier=int(outcome.options.get("tier", 2)),
                skill=str(outcome.options.get("skill") or outcome.domain),
                priority=str(outcome.options.get("priority", "normal")),
                flow_state={
                    "root_flow": outcome.flow_id,
                    "trail": outcome.trail,
                    "slots": outcome.slots,
                },
            )
            return
        summary = summarize_trail(outcome.trail, flow_title=title)
        note = OUTCOME_STATUS_NOTE.get(outcome.kind)
        if note:
            summary += f"\nNext step: {note}."
        tier = int(outcome.options.get("tier", 2 if outcome.kind == "handoff" else 1))
        slots = outcome.slots
        if slots.get("diagnosis_summary"):
            summary = f"{slots['diagnosis_summary']}\n{summary}"
        customer = await customers.customer_for_conversation(
            session=session, conversation_id=conversation_id
        )
        known = await tickets.get_ticket(
            session=session, number=str(slots.get("ticket_number") or "")
        )
        if known is not None:  # an operation in this flow already opened it
            ticket, created = known, False
            await tickets.record_event(
                session=session, ticket=ticket, kind="note", actor="bot", detail=summary
            )
        else:
            ticket, created = await tickets.open_or_update(
                session=session,
                conversation_id=conversation_id,
                customer_id=customer.id if customer else None,
                domain=str(slots.get("origin_domain") or outcome.domain),
                title=str(slots.get("origin_title") or outcome.options.get("title") or title),
                summary=summary,
                tier=tier,
                priority=str(outcome.options.get("priority", "normal")),
            )
        into.ticket_number = ticket.number
        if customer is not None and ticket.customer_id is None:
            ticket.customer_id = customer.id
        lead = (outcome.message + " ") if outcome.message else ""
        if outcome.kind == "visit" and customer is not None:
            # Never a second visit: with one booked, the offered times move it.
            booking = await visits.active_booking(session=session, customer_id=customer.id)
            text, buttons = await visits.slot_offer(
                session=session, service_area=customer.service_area, reschedule=booking is not None
            )
            into.replies.append(Reply(f"{lead}{text} (ticket {ticket.number})", buttons))
            return
        into.replies.extend(
            ticket_announcement(outcome, ticket, created=created, known=known is not None)
        )
        if not tickets.reachable(ticket) and outcome.flow_id != CONTACT_FLOW:
            await self._ask_for_contact(session, conversation_id, ticket, into)

    async def _ask_for_contact(
        self,
        session: AsyncSession,
        conversation_id: str,
        ticket: tickets.Ticket,
        into: DiagnosisResult,
    ) -> None:
        """Nobody can reach the customer about the ticket yet: ask how (ticket_contact flow)."""
        if ticket.customer_id is None:
            customer = await customers.customer_for_conversation(
                session=session, conversation_id=conversation_id
            )
            if customer is not None:
                ticket.customer_id = customer.id
        flow = self.library.get(CONTACT_FLOW)
        if tickets.reachable(ticket) or flow is None:
            return
        # The contact check writes in its own session: release SQLite's write lock.
        await session.commit()
        started = await self.engine.start(flow, slots={"ticket_number": ticket.number})
        await record_flow_events(
            session=session, conversation_id=conversation_id, events=started.events
        )
        into.replies.extend(started.replies)
        into.flow_state = started.state
        into.active_flow = CONTACT_FLOW

    async def _continue_operation(
        self, session: AsyncSession, conversation_id: str, outcome: Outcome, into: DiagnosisResult
    ) -> bool:
        """Continue a part/visit/goodwill outcome in its operation flow; True if it did."""
        target = OPERATION_FLOWS.get(outcome.kind)
        slots = outcome.slots
        if target is None or outcome.flow_id == target:
            return False
        if outcome.kind == "visit":
            customer = await customers.customer_for_conversation(
                session=session, conversation_id=conversation_id
            )
            booking = (
                await visits.active_booking(session=session, customer_id=customer.id)
                if customer
                else None
            )
            if customer is not None and (
                booking is None or str(booking.id) == str(slots.get("visit_id") or "")
            ):
                return False  # identified, nothing booked (or moving this visit): offer slots
            if customer is None and outcome.flow_id in OPERATION_FLOWS.values():
                return False
            # Not identified yet, or a visit is already booked: book_visit identifies the
            # customer and shows the booked visit (keep, move or cancel) before any new one.
        elif outcome.flow_id in OPERATION_FLOWS.values():
            return False
        if outcome.kind == "part" and slots.get("order_number"):
            return False
        flow = self.library.get(target)
        if flow is None:
            return False
        origin = self.library.get(outcome.flow_id)
        carried = {
            k: v for k, v in slots.items() if k in ("customer_id", "ticket_number", "visit_request")
        }
        carried.update(
            origin_domain=outcome.domain,
            diagnosis_summary=summarize_trail(
                outcome.trail, flow_title=origin.title if origin else outcome.flow_id
            ),
        )
        if outcome.options.get("title"):
            carried["origin_title"] = str(outcome.options["title"])
        if outcome.options.get("part"):
            carried["part_number"] = str(outcome.options["part"])
        if outcome.message:
            into.replies.append(Reply(outcome.message))
        # Checks in the next flow write in their own sessions: release SQLite's write lock.
        await session.commit()
        started = await self.engine.start(flow, slots=carried)
        await record_flow_events(
            session=session, conversation_id=conversation_id, events=started.events
        )
        into.replies.extend(started.replies)
        into.flow_state = started.state
        into.active_flow = (started.state or {}).get("root_flow") if started.state else None
        if started.outcome is not None:
            await self._carry_out(session, conversation_id, started.outcome, into)
        return True


def ticket_announcement(
    outcome: Outcome, ticket: tickets.Ticket, *, created: bool, known: bool
) -> list[Reply]:
    """What the customer hears about the ticket of an outcome: once, and only what is so.

    A ticket this flow already announced (a part order names it, the contact
    flow is about it) is not announced again; a repeat contact is "added to",
    not "opened"; "we'll be in touch" only when staff have a way to reach the
    customer (a verified account or contact details stored on the ticket) and
    no visit is already the next step.
    """
    slots = outcome.slots
    lead = outcome.message
    if slots.get("order_number") or outcome.flow_id == CONTACT_FLOW:
        return [Reply(lead)] if lead else []
    if created:
        text = (
            f"I've opened ticket {ticket.number} with everything we tried, "
            "so you won't have to explain it again."
        )
    elif known:
        text = f"I've added this to ticket {ticket.number}."
    else:
        text = (
            f"I've added this to your open ticket {ticket.number}, "
            "so the team sees you got in touch again."
        )
    if tickets.reachable(ticket) and not slots.get("visit_id"):
        text += " We'll be in touch about the next steps."
    return [Reply(f"{lead} {text}" if lead else text)]


async def record_flow_events(
    *, session: AsyncSession, conversation_id: str, events: list[FlowEventRecord]
) -> None:
    """Stores a turn's flow events in one statement (an ORM flush inserts them one by one)."""
    if not events:
        return
    now = utcnow()
    await session.execute(
        insert(_FLOW_EVENTS),
        [
            {
                "conversation_id": conversation_id,
                "flow_id": event.flow_id,
                "step_id": event.step_id,
                "kind": event.kind,
                "value": event.value,
                "created_at": now,
            }
            for event in events
        ],
    )


def best_guess(turn: CustomerTurn) -> Optional[str]:
    """The problem intent the NLU ranked first, when a not-understood turn has one."""
    if turn.likely_intents and turn.likely_intents[0] in INTENT_DOMAINS:
        return turn.likely_intents[0]
    return None


def likely_first(buttons: list[dict[str, str]], likely: tuple[str, ...]) -> list[dict[str, str]]:
    """The domain buttons, the ones the NLU found more likely first (stable otherwise)."""
    rank = {f"/{intent}": position for position, intent in enumerate(likely)}
    return sorted(buttons, key=lambda b: rank.get(b["payload"], len(rank)))


def what_is_it_about(fallback_count: int) -> DiagnosisResult:
    """Asks which kind of problem it is, with the domains and a person as buttons."""
    return DiagnosisResult(
        replies=[Reply("What is the problem about?", [*DOMAIN_BUTTONS, PERSON_BUTTON])],
        fallback_count=fallback_count,
    )

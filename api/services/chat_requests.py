"""What the custom actions ask for: one method per kind of customer request.

An action reads the tracker into a `ChatTurn`, calls one method here and turns
the `DiagnosisResult` into Rasa events and replies (actions/turns.py). The
decisions (which flow, which ticket, which domain, what the customer is told)
are made here and in the services this one calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Optional

from sqlalchemy.ext.asyncio import AsyncSession

from api.db import Database
from api.models import Customer, VisitBooking
from api.services import catalog, customers, outages, parts, tickets, visits
from api.services.diagnosis import (
    ASKED_FOR_GOODWILL,
    FAULT_RESOLVED,
    INTENT_DOMAINS,
    MANAGE_VISIT_FLOW,
    VISIT_OFFER,
    VISIT_WISH,
    DiagnosisResult,
    DiagnosisService,
    HandoffRequest,
    offers_person,
    person_button,
)
from api.services.errors import ServiceError
from api.services.handoff_desk import HandoffDesk
from api.services.ticket_overview import ticket_lines
from api.services.visits import SlotTaken
from bot import language as languages
from bot.flows.engine import (
    CustomerTurn,
    Reply,
    asks_when_fixed,
    summarize_trail,
    yes_or_no_word,
)
from bot.frustration import shows_frustration
from bot.questions_to_the_assistant import asks_if_anyone_is_there, asks_what_i_can_do
from bot.routing import default_table, route
from bot.vocabulary import OTHER, PROBLEM_INTENTS, SKILLS
from bot.wording import button, has, say

# Apologies already in a reply, in either language: no second one for frustration.
APOLOGY_WORDS = ("sorry", "leid", "entschuldig")
# What a visit change made by the customer in the chat is recorded as.
CUSTOMER_VIA_BOT = "customer via bot"
# A customer who asks about "my ticket" without its number picks from this many.
WHICH_TICKET_BUTTONS = 3
# Below this, a part order the message does not ask for in words is read as a fault.
CONFIDENT_PART_REQUEST = 0.8
# Our boxes, replaced after their checks show them faulty, not sent as spare parts: "I
# need a new router, mine is broken" gets the router's checks first. The routing table's
# internet and cable devices, but not the Wi-Fi, extenders, a hotspot, the customer's
# own TV or the remote (a spare part).
NOT_OUR_BOXES = {"wifi", "mesh", "repeater", "hotspot", "tv", "remote"}
# Words of a spare part for such a device ("a new power adapter for my router"): a part.
ACCESSORY_WORDS = re.compile(
    r"\b(?:adapter|power supply|power brick|psu|netzteil|remote|fernbedienung|"
    r"cable(?! box)|kabel|charger|ladegerät|antenna|antenne)\b",
    re.IGNORECASE,
)
# Flow state of a chat whose customer asked for a ticket and was asked what is wrong.
TICKET_ASKED = "ticket_asked"
# "Which ticket do you mean?" was asked of a customer we do not know yet: "I don't
# have the number" (or the button) finds their tickets once they are identified.
WHICH_TICKET_ASKED = "which_ticket_asked"
FIND_TICKETS_FLOW = "find_my_tickets"
OUTAGE_STATUS_FLOW = "outage_status"
CLOSE_TICKET_FLOW = "close_ticket"
VISIT_FLOWS = ("book_visit", MANAGE_VISIT_FLOW)
# The visit times were offered a second time after a typed answer that picked none.
OFFERED_AGAIN = "visit_offered_again"
# The starts of the visit times offered before and passed over for a wish ("do you
# have something on Friday?"): "another day" leaves out their days too.
TIMES_PASSED_OVER = "visit_times_passed_over"
# `/book_visit{"visit_slot":"3@2026-12-01T09:00Z"}`, the payload of a time's button.
SLOT_PAYLOAD = re.compile(r'^/(book_visit|reschedule_visit)\{"visit_slot":"([^"]+)"\}$')
# Replies to a pending question ("which ticket?", "which visit time?") that answer
# nothing: the question is dropped instead of asked again.
ANSWERS_NO_QUESTION = {"goodbye", "thank", "greet", "problem_fixed", "start_over"}


@dataclass
class ChatTurn:
    """What an action knows about the customer's message (read from Rasa's tracker)."""

    conversation_id: str
    turn: CustomerTurn = field(default_factory=CustomerTurn)
    flow_state: Optional[dict[str, Any]] = None
    ticket_number: Optional[str] = None
    fallback_count: int = 0
    frustration_count: int = 0
    message_id: Optional[str] = None
    language: str = "en"

    def idempotency_key(self, ref: str) -> Optional[str]:
        # One booking per customer message: a resent message gets the same booking back.
        if not self.message_id:
            return None
        return f"chat:{self.conversation_id}:{self.message_id}:{ref}"[:80]


def answer(*texts: str, ticket_number: Optional[str] = None) -> DiagnosisResult:
    """Replies that leave the running flow as it is."""
    return DiagnosisResult(
        replies=[Reply(text) for text in texts], ticket_number=ticket_number, sets_flow=False
    )


def respond_to_frustration(replies: list[Reply], times: int, language: str = "en") -> None:
    """One apology per episode of frustration (its first message); at its second
    message a person is offered, unless this turn already offers one."""
    already_sorry = any(word in r.text.lower() for r in replies for word in APOLOGY_WORDS)
    if times == 1 and not already_sorry:
        replies.insert(0, Reply(say("frustration.apology", language)))
    elif times == 2 and not any(offers_person(r) for r in replies):
        replies.append(Reply(say("frustration.offer_person", language), [person_button(language)]))


def without_marks(state: dict[str, Any], *marks: str) -> Optional[dict[str, Any]]:
    """The flow state once its pending questions `marks` are answered or dropped."""
    return {k: v for k, v in state.items() if k not in marks} or None


class ChatRequests:
    def __init__(
        self, *, database: Database, diagnosis: DiagnosisService, desk: HandoffDesk
    ) -> None:
        self.database = database
        self.diagnosis = diagnosis
        self.desk = desk

    # ------------------------------------------------------------ flows

    async def flow_turn(self, chat: ChatTurn) -> DiagnosisResult:
        """A message for the diagnostic flows: start one, answer one, or the fallback.

        The customer who asked for a ticket and was asked what is wrong gets the
        ticket for the problem they now describe, not a diagnosis they did not ask for.
        """
        state = chat.flow_state or {}
        switched = self._language_switched(chat)
        if switched is not None:
            return switched
        if self._asks_to_close(chat):
            return await self.close_ticket(chat)
        if self._outage_question_not_understood(chat):
            return await self.start_operation(chat, OUTAGE_STATUS_FLOW)
        if state.get(TICKET_ASKED) and self._domain_of(chat) != OTHER:
            opened = await self.open_ticket(chat, kind="open_ticket")
            if not opened.sets_flow:
                # The ticket is open: the question it answered is no longer pending.
                opened.sets_flow = True
                opened.flow_state = without_marks(state, TICKET_ASKED)
                opened.fallback_count = chat.fallback_count
            return opened
        if state.get(VISIT_OFFER):
            picked = await self._typed_visit_time(chat)
            if picked is not None:
                return picked
            chat = replace(
                chat,
                flow_state=without_marks(state, VISIT_OFFER, OFFERED_AGAIN, TIMES_PASSED_OVER),
            )
            state = chat.flow_state or {}
        if state.get("flow") in VISIT_FLOWS and visits.TimeWish.read(chat.turn.text):
            # "Move it to another day, please" to "keep it, move it or cancel it?": the
            # times offered next fit the wish.
            slots = {**state.get("slots", {}), VISIT_WISH: chat.turn.text[:200]}
            chat = replace(chat, flow_state={**state, "slots": slots})
            state = chat.flow_state
        if state.get(WHICH_TICKET_ASKED):
            if self._domain_of(chat) == OTHER and chat.turn.intent not in ANSWERS_NO_QUESTION:
                # "I don't know it", "no": their tickets, once we know who they are.
                return await self.start_operation(chat, FIND_TICKETS_FLOW)
            chat = replace(chat, flow_state=without_marks(state, WHICH_TICKET_ASKED))
        result = await self.diagnosis.run_turn(
            conversation_id=chat.conversation_id,
            flow_state=chat.flow_state,
            turn=chat.turn,
            fallback_count=chat.fallback_count,
            language=chat.language,
        )
        frustration = chat.frustration_count
        # An answer to the open question ("Aufträge bleiben in der Warteschlange", read as
        # a complaint) is calm unless its words are not.
        intent = "" if result.answered_question else chat.turn.intent
        if not shows_frustration(chat.turn.text, intent):
            frustration = 0  # a calm message ends the episode: no apology for it
        elif result.handoff is None:
            frustration += 1
            respond_to_frustration(result.replies, frustration, chat.language)
        result.frustration_count = frustration
        return await self._queue_if_asked(chat, result)

    def _language_switched(self, chat: ChatTurn) -> Optional[DiagnosisResult]:
        """ "Can we talk in English?": the chat already goes on in that language
        (bot/language.py `follow`); said so in it, and the open question asked again
        in it, not a request for a person."""
        if languages.asked_for(chat.turn.text) is None:
            return None
        state = chat.flow_state or {}
        if state.get("flow"):
            return self.diagnosis.ask_again(
                {**state, "language": chat.language},
                say("diagnosis.language_switched", chat.language),
            )
        reply = Reply(say("diagnosis.language_switched_open", chat.language))
        return DiagnosisResult(replies=[reply], sets_flow=False)

    @staticmethod
    def _outage_question_not_understood(chat: ChatTurn) -> bool:
        """ "is there an outage in my area? my postcode is 10115", not understood as a
        whole but nearly read as a status question, with no flow waiting: the outage
        where the customer lives, as the status question gets it."""
        turn = chat.turn
        return (
            turn.intent == "nlu_fallback"
            and not (chat.flow_state or {}).get("flow")
            and turn.likely_intents[:1] == ("ticket_status",)
            and outages.asks_about_outage(turn.text)
        )

    async def _typed_visit_time(self, chat: ChatTurn) -> Optional[DiagnosisResult]:
        """A typed answer to the offered visit times: "Tuesday morning" books that time,
        "ja" the earliest; anything else that is no new problem gets the times again,
        once. None lets the message go on as usual, and the caller forgets the offer."""
        state = chat.flow_state or {}
        offered = state[VISIT_OFFER]
        turn = chat.turn
        picked = await self._time_picked_from_offer(chat)
        if picked is not None:
            return picked
        if self._domain_of(chat) == OTHER:
            as_wished = await self._offer_as_wished(chat)
            if as_wished is not None:
                return as_wished
        if (
            not state.get(OFFERED_AGAIN)
            and self._domain_of(chat) == OTHER
            and turn.intent not in ANSWERS_NO_QUESTION
        ):
            buttons = [*offered, person_button(chat.language)]
            return DiagnosisResult(
                replies=[Reply(say("visit.choose_again", chat.language), buttons)],
                flow_state={**state, OFFERED_AGAIN: True},
                fallback_count=chat.fallback_count,
            )
        return None

    async def _offer_as_wished(self, chat: ChatTurn) -> Optional[DiagnosisResult]:
        """ "Do you have something on Friday?", "another day, please" to offered times
        none of which fits: the free times that fit the wish, not the same ones again.
        None when the answer names no day or time."""
        state = chat.flow_state or {}
        if visits.TimeWish.read(chat.turn.text) is None:
            return None
        refs = [SLOT_PAYLOAD.match(b.get("payload", "")) for b in state.get(VISIT_OFFER) or []]
        offered = [found for found in refs if found is not None]
        if not offered:
            return None
        reschedule = offered[0].group(1) == "reschedule_visit"
        passed_over = [
            *state.get(TIMES_PASSED_OVER, []),
            *(visits.parse_slot_ref(found.group(2))[1].isoformat() for found in offered),
        ]
        not_on = [datetime.fromisoformat(moment) for moment in passed_over]
        async with self.database.session() as session:
            customer = await customers.customer_for_conversation(
                session=session, conversation_id=chat.conversation_id
            )
            if customer is None:
                return None
            booking = await visits.active_booking(session=session, customer_id=customer.id)
            if booking is not None:
                not_on.append(booking.starts_at)
            text, buttons = await visits.slot_offer(
                session=session,
                service_area=customer.service_area,
                reschedule=reschedule,
                language=chat.language,
                wish=chat.turn.text,
                not_on=not_on,
            )
        if not buttons:
            # Nothing free at all: the times offered before still stand.
            return DiagnosisResult(
                replies=[Reply(text, [person_button(chat.language)])],
                flow_state=state,
                fallback_count=chat.fallback_count,
            )
        return DiagnosisResult(
            replies=[Reply(text, buttons)],
            flow_state={
                **(without_marks(state, OFFERED_AGAIN, VISIT_OFFER) or {}),
                VISIT_OFFER: buttons,
                TIMES_PASSED_OVER: passed_over,
            },
            fallback_count=chat.fallback_count,
        )

    async def _time_picked_from_offer(self, chat: ChatTurn) -> Optional[DiagnosisResult]:
        """The offered visit time a typed answer names ("the second one", "den zweiten
        Termin bitte", "Tuesday morning"; a bare yes: the earliest), booked or moved to.
        None when no times are on offer or the answer names none of them."""
        offered = (chat.flow_state or {}).get(VISIT_OFFER)
        if not offered:
            return None
        turn = chat.turn
        affirmed = turn.intent == "affirm" or yes_or_no_word(turn.text) is True
        picked = visits.pick_offered_slot(
            turn.text, offered, affirmed=affirmed, language=chat.language
        )
        found = SLOT_PAYLOAD.match(picked["payload"]) if picked is not None else None
        if found is None:
            return None
        intent, ref = found.groups()
        slot_turn = replace(turn, intent=intent, entities=[{"entity": "visit_slot", "value": ref}])
        picked_chat = replace(chat, turn=slot_turn)
        if intent == "reschedule_visit":
            return await self.manage_visit(picked_chat)
        return await self.book_visit(picked_chat)

    def awaits_free_answer(self, chat: ChatTurn) -> bool:
        """Whether the running flow waits for a typed value (an account number, a code).

        Such values are easily mistaken for another request by the NLU ("ACC-1002"
        looks like a ticket number); the flow should get them.
        """
        state = chat.flow_state
        if not state or not state.get("flow"):
            return False
        flow = self.diagnosis.library.get(state["flow"])
        step = flow.steps.get(state.get("step", "")) if flow else None
        return step is not None and step.kind == "ask_value"

    async def start_operation(
        self, chat: ChatTurn, flow_id: str, slots: Optional[dict[str, Any]] = None
    ) -> DiagnosisResult:
        """Start an operation flow (it identifies the customer first if needed)."""
        carried = dict(slots or {})
        # The flow says it heard the request before it asks who the customer is.
        carried.setdefault("asked_by_customer", True)
        # A visit belongs to the ticket of the problem discussed in this chat; a part
        # order finds (or opens) its own ticket by the repeat-contact rule.
        if flow_id != "request_part" and chat.ticket_number:
            carried.setdefault("ticket_number", chat.ticket_number)
        if flow_id in VISIT_FLOWS and visits.TimeWish.read(chat.turn.text) is not None:
            # "Kann ich meinen Termin auf Donnerstag verschieben?": Thursdays offered.
            carried.setdefault(VISIT_WISH, chat.turn.text[:200])
        result = await self.diagnosis.run_flow(
            conversation_id=chat.conversation_id,
            flow_id=flow_id,
            slots=carried,
            language=chat.language,
            turn=chat.turn if chat.turn.text else None,
        )
        return await self._queue_if_asked(chat, result)

    async def order_part(self, chat: ChatTurn) -> DiagnosisResult:
        """The part order flow, with the part if the customer named a known one.

        A message the language model was unsure of that asks for nothing ("Meine
        Fernbedienung geht nicht mehr, hab schon neue Batterien rein") is a fault:
        its checks, which end in a part when one is needed.
        """
        slots: dict[str, Any] = {}
        named = chat.turn.entity("part_number")
        part = catalog.find_part(named) if named else None
        if (
            part is None
            and chat.turn.confidence < CONFIDENT_PART_REQUEST
            and not parts.asks_for_a_part(chat.turn.text)
        ):
            problem = next((i for i in chat.turn.likely_intents if i in PROBLEM_INTENTS), None)
            if (chat.flow_state or {}).get("flow"):
                return await self.flow_turn(chat)
            if problem is not None:
                return await self.flow_turn(replace(chat, turn=replace(chat.turn, intent=problem)))
        if part is not None:
            slots["part_number"] = part.part_number
        devices = {
            str(e["value"]).lower() for e in chat.turn.entities if e.get("entity") == "device"
        }
        box_area = (
            default_table().device_domains.get(next(iter(devices)))
            if len(devices) == 1 and not devices & NOT_OUR_BOXES
            else None
        )
        if (
            part is None
            and box_area in ("internet", "cable")
            and not ACCESSORY_WORDS.search(chat.turn.text)
            and not (chat.flow_state or {}).get("flow")
        ):
            problem = f"problem_{box_area}"
            checks = await self.flow_turn(replace(chat, turn=replace(chat.turn, intent=problem)))
            checks.replies.insert(0, Reply(say("order.checked_first", chat.language)))
            return checks
        return await self.start_operation(chat, "request_part", slots)

    # ----------------------------------------------------------- people

    @staticmethod
    def _discussed(chat: ChatTurn) -> Optional[dict[str, Any]]:
        """The flow state of the problem discussed: the running flow's, or what the flow
        that just ended tried (kept for "still not working"), as a handoff records it."""
        state = chat.flow_state or {}
        after = state.get("after")
        if not state.get("flow") and isinstance(after, dict):
            return {
                "root_flow": after.get("root_flow") or after.get("flow"),
                "trail": after.get("trail") or [],
                "slots": after.get("slots") or {},
            }
        return chat.flow_state

    def _domain_of(self, chat: ChatTurn) -> str:
        """The domain of the problem discussed: the running flow's, else the one the
        message names (its intent, a device, a keyword; bot/routing.yml)."""
        state = self._discussed(chat) or {}
        flow = self.diagnosis.library.get(state.get("root_flow") or state.get("flow") or "")
        if flow:
            return flow.domain
        turn = chat.turn
        if turn.intent in INTENT_DOMAINS:
            return INTENT_DOMAINS[turn.intent]
        named = route(turn.intent, turn.entities, turn.text, turn.likely_intents).domain
        if named == OTHER:
            # "The wifi has been dropping all week. I want a real person.": the people
            # who know the problem the story names.
            named = default_table().domain_from_keywords(turn.text) or OTHER
        return named if named in SKILLS else OTHER

    async def _skill_for_person(self, chat: ChatTurn) -> str:
        """The agents' skill a request for a person goes to: the problem's domain, or
        else the domain of the ticket this conversation opened."""
        domain = self._domain_of(chat)
        if domain != OTHER or not chat.ticket_number:
            return domain
        async with self.database.session() as session:
            ticket = await tickets.get_ticket(session=session, number=chat.ticket_number)
        if ticket is None or ticket.conversation_id != chat.conversation_id:
            return domain
        return ticket.domain if ticket.domain in SKILLS else domain

    async def request_person(self, chat: ChatTurn) -> DiagnosisResult:
        """The customer asked for a person: queue the chat with what was tried.

        "Hello? Is anyone there?" before anything was discussed asks whether anyone
        answers: the assistant does, and offers a person."""
        switched = self._language_switched(chat)
        if switched is not None:
            return switched
        if asks_what_i_can_do(chat.turn.text):
            # "What can you help me with?", „Bist du ein Mensch?“: about the assistant.
            return self.diagnosis.about_the_assistant(chat.flow_state, chat.language)
        if not chat.flow_state and asks_if_anyone_is_there(chat.turn.text):
            reply = Reply(
                say("queue.assistant_is_here", chat.language),
                [button("button.person", chat.language, "/request_human")],
            )
            return DiagnosisResult(replies=[reply], sets_flow=False)
        request = HandoffRequest(
            reason=say("record.reason.asked_for_person"),
            skill=await self._skill_for_person(chat),
            flow_state=self._discussed(chat),
        )
        return await self._queue(chat, DiagnosisResult(sets_flow=False), request)

    async def _queue_if_asked(self, chat: ChatTurn, result: DiagnosisResult) -> DiagnosisResult:
        if result.handoff is None:
            return result
        return await self._queue(chat, result, result.handoff)

    async def _queue(
        self, chat: ChatTurn, result: DiagnosisResult, request: HandoffRequest
    ) -> DiagnosisResult:
        """Queue the conversation for a person (once the turn is saved) and say so."""
        notice = await self.desk.request(
            conversation_id=chat.conversation_id,
            reason=request.reason,
            flow_state=request.flow_state,
            tier=request.tier,
            skill=request.skill if request.skill in SKILLS else OTHER,
            priority=request.priority,
            language=chat.language,
        )
        result.replies.append(Reply(notice.text, notice.buttons))
        result.queued = True
        return result

    # ---------------------------------------------------------- tickets

    async def open_ticket(self, chat: ChatTurn, kind: Optional[str] = None) -> DiagnosisResult:
        """Open a ticket for what the customer asked, with what was tried so far.

        `kind` is the request the ticket answers; by default the message's intent.
        """
        if kind is None and self._asks_to_close(chat):
            return await self.close_ticket(chat)
        state = self._discussed(chat) or {}
        flow = self.diagnosis.library.get(state.get("root_flow") or state.get("flow") or "")
        if kind is None:
            intent = chat.turn.intent
            kind = intent if has(f"record.request_title.{intent}") else "other"
        summary = say("record.customer_wrote", text=chat.turn.text[:500])
        if state.get("trail"):
            summary += "\n" + summarize_trail(state["trail"], flow_title=flow.title if flow else "")
        language = chat.language
        domain = self._domain_of(chat)
        title = say(f"record.request_title.{kind}")
        if flow is not None and kind in ("open_ticket", "other"):
            title = f"{title}: {flow.title}"
        async with self.database.session() as session:
            customer = await customers.customer_for_conversation(
                session=session, conversation_id=chat.conversation_id
            )
            ticket = await self._open_ticket_of_this_chat(session, chat)
            if ticket is None and kind == "open_ticket" and domain == OTHER:
                # "Ticket please" and nothing else: a ticket nobody can act on helps no one.
                # The problem the customer describes next gets the ticket (flow_turn).
                return self._ask_what_problem(chat)
            if ticket is not None:
                # A ticket is asked for after this chat opened one: one ticket, told once.
                await tickets.record_event(
                    session=session,
                    ticket=ticket,
                    kind="repeat_contact",
                    actor="bot",
                    detail=summary,
                )
                text = say("ticket.already_open", language, ticket=ticket.number)
            else:
                ticket, created = await tickets.open_or_update(
                    session=session,
                    conversation_id=chat.conversation_id,
                    domain=domain,
                    title=title,
                    summary=summary,
                    tier=2,
                    customer_id=customer.id if customer else None,
                )
                if not created:
                    text = say("ticket.added_to_open", language, ticket=ticket.number)
                elif kind == "open_ticket":
                    text = say("ticket.opened_as_asked", language, ticket=ticket.number)
                else:
                    request = say(f"ticket.request.{kind}", language)
                    text = say(
                        "ticket.opened_on_request",
                        language,
                        ticket=ticket.number,
                        request=request,
                    )
            if tickets.reachable(ticket):
                # "In touch" only when staff have a way to reach the customer.
                return answer(
                    f"{text} {say('ticket.in_touch', language)}", ticket_number=ticket.number
                )
            # Nobody could reach the customer: ask for an e-mail address or phone number.
            result = DiagnosisResult(replies=[Reply(text)], ticket_number=ticket.number)
            await self.diagnosis.ask_for_contact(
                session, chat.conversation_id, ticket, result, language
            )
            return result

    @staticmethod
    def _ask_what_problem(chat: ChatTurn) -> DiagnosisResult:
        """Ask what is wrong, and remember that the answer is for a ticket."""
        state = chat.flow_state or {}
        if state.get("flow"):
            # A running flow keeps its state; its next answer goes to it.
            return answer(say("ticket.what_problem", chat.language))
        return DiagnosisResult(
            replies=[Reply(say("ticket.what_problem", chat.language))],
            flow_state={**state, TICKET_ASKED: True},
            fallback_count=chat.fallback_count,
        )

    @staticmethod
    async def _open_ticket_of_this_chat(
        session: AsyncSession, chat: ChatTurn
    ) -> Optional[tickets.Ticket]:
        """The ticket this conversation opened, while it is still open."""
        if not chat.ticket_number:
            return None
        ticket = await tickets.get_ticket(session=session, number=chat.ticket_number)
        if ticket is None or ticket.conversation_id != chat.conversation_id:
            return None
        return ticket if ticket.status in tickets.OPEN_STATUSES else None

    @staticmethod
    def _asks_to_close(chat: ChatTurn) -> bool:
        """ "Please close my ticket, it works again", with no flow waiting for an answer."""
        return tickets.asks_to_close(chat.turn.text) and not (chat.flow_state or {}).get("flow")

    async def close_ticket(self, chat: ChatTurn) -> DiagnosisResult:
        """Close the ticket named, this chat's, or the customer's only open one, once the
        customer confirms (the `close_ticket` flow)."""
        named = chat.turn.entity("ticket_id") or tickets.number_in(chat.turn.text)
        return await self.start_operation(
            chat, CLOSE_TICKET_FLOW, {"ticket_number": str(named)} if named else {}
        )

    async def ticket_status(self, chat: ChatTurn) -> DiagnosisResult:
        """The status of one of the customer's own tickets, with its part orders and visits.

        A ticket-like value typed while the flow waits for one ("ACC-1002") is the
        flow's answer, not a ticket question.
        """
        if self._asks_to_close(chat):
            return await self.close_ticket(chat)
        named = chat.turn.entity("ticket_id")
        if not named and self.awaits_free_answer(chat):
            return await self.flow_turn(chat)
        number = str(named or chat.ticket_number or "")
        language = chat.language
        if (not named or named == chat.ticket_number) and asks_when_fixed(chat.turn):
            # "When will it be fixed?" about a known outage: the outage's estimate,
            # which the ticket's status does not know.
            estimate = await self._outage_estimate(chat)
            if estimate is not None:
                return estimate
        if not named and visits.asks_about_visit(chat.turn.text):
            # "Where is my technician?": the booked visit, not a ticket's status.
            slots: dict[str, Any] = {"visit_request": "status"}
            if visits.says_visit_missed(chat.turn.text):
                slots["visit_missed"] = True
            return await self.start_operation(chat, MANAGE_VISIT_FLOW, slots)
        if not named and outages.asks_about_outage(chat.turn.text):
            # "When will the outage in 10115 be fixed?": the outage where they live.
            return await self.start_operation(chat, OUTAGE_STATUS_FLOW)
        if (
            not named
            and (chat.flow_state or {}).get("flow")
            and not tickets.asks_about_progress(chat.turn.text)
        ):
            # "yes updated it yesterday" to "What does the app do?": an attempt at an
            # answer that names no ticket, order or visit, not a question about one.
            return await self.flow_turn(chat)
        if not number:
            if (chat.flow_state or {}).get(WHICH_TICKET_ASKED):
                # The "I don't have the number" button.
                return await self.start_operation(chat, FIND_TICKETS_FLOW)
            return await self._which_ticket(chat)
        async with self.database.session() as session:
            ticket = await tickets.get_ticket(session=session, number=number)
            customer = await customers.customer_for_conversation(
                session=session, conversation_id=chat.conversation_id
            )
            # Customers see tickets from this conversation or of their own verified account.
            if ticket is None or not tickets.visible_to(
                ticket,
                conversation_id=chat.conversation_id,
                customer_id=customer.id if customer else None,
            ):
                if customer is None and not (chat.flow_state or {}).get("flow"):
                    # Perhaps theirs from an earlier chat: their tickets once identified.
                    return self._offer_to_find_tickets(
                        chat,
                        say("ticket.not_found_yet", language, ticket=number),
                        "button.find_my_tickets",
                    )
                return answer(say("ticket.not_found", language, ticket=number))
            lines = await ticket_lines(
                session, ticket, language, self.diagnosis.library.ticket_titles()
            )
        return answer("\n".join(lines), ticket_number=ticket.number)

    async def _which_ticket(self, chat: ChatTurn) -> DiagnosisResult:
        """No ticket named: the identified customer's latest tickets to pick from, and a
        person for a customer who doesn't have the number."""
        language = chat.language
        async with self.database.session() as session:
            customer = await customers.customer_for_conversation(
                session=session, conversation_id=chat.conversation_id
            )
            own: list[Any] = []
            if customer is not None:
                own, _ = await tickets.list_tickets(
                    session=session, customer_id=customer.id, limit=WHICH_TICKET_BUTTONS
                )
        buttons = [
            {
                "title": t.number,
                "payload": f'/ticket_status{{"ticket_id":"{t.number}"}}',
            }
            for t in own
        ]
        state = chat.flow_state or {}
        if customer is not None or state.get("flow"):
            # A running flow keeps its state; a known customer picks from the buttons.
            buttons.append(button("button.person", language, "/request_human"))
            return DiagnosisResult(
                replies=[Reply(say("ticket.which", language), buttons)], sets_flow=False
            )
        return self._offer_to_find_tickets(
            chat, say("ticket.which_or_find", language), "button.no_ticket_number"
        )

    @staticmethod
    def _offer_to_find_tickets(chat: ChatTurn, text: str, find: str) -> DiagnosisResult:
        """For a customer we don't know yet: their tickets once identified (the `find`
        button), or a person."""
        buttons = [
            button(find, chat.language, "/ticket_status"),
            button("button.person", chat.language, "/request_human"),
        ]
        return DiagnosisResult(
            replies=[Reply(text, buttons)],
            flow_state={**(chat.flow_state or {}), WHICH_TICKET_ASKED: True},
            fallback_count=chat.fallback_count,
        )

    async def _outage_estimate(self, chat: ChatTurn) -> Optional[DiagnosisResult]:
        """The known outage of the problem discussed, looked up again; None when no
        outage was explained in this conversation."""
        slots = (self._discussed(chat) or {}).get("slots") or {}
        async with self.database.session() as session:
            news = await self.diagnosis.outage_news(session, slots, chat.language)
        if news is None:
            return None
        return answer(news.text, ticket_number=chat.ticket_number)

    # ----------------------------------------------------------- visits

    async def book_visit(self, chat: ChatTurn) -> DiagnosisResult:
        """Without a picked slot: the booking flow. With one: book it (never a second visit)."""
        ref = chat.turn.entity("visit_slot")
        if not ref:
            # "Den zweiten Termin bitte" to the times just offered reads as a booking.
            picked = await self._time_picked_from_offer(chat)
            if picked is None and (chat.flow_state or {}).get(VISIT_OFFER):
                picked = await self._offer_as_wished(chat)  # "can you come on Friday instead?"
            return picked or await self.start_operation(chat, "book_visit")
        return _offer_answered(chat, await self._book_slot(chat, ref))

    async def _book_slot(self, chat: ChatTurn, ref: str) -> DiagnosisResult:
        language = chat.language
        try:
            technician_id, starts_at = visits.parse_slot_ref(ref)
            async with self.database.session() as session:
                customer = await customers.customer_for_conversation(
                    session=session, conversation_id=chat.conversation_id
                )
                if customer is None:
                    return await self.start_operation(chat, "book_visit")
                key = chat.idempotency_key(ref)
                booked = await visits.active_booking(session=session, customer_id=customer.id)
                if booked is not None and (key is None or booked.idempotency_key != key):
                    # Never a second visit: show the booked one and offer to move it here.
                    return await self._already_booked(session, chat, customer, booked, ref)
                ticket = await tickets.get_ticket(session=session, number=chat.ticket_number or "")
                if ticket is None or not tickets.visible_to(
                    ticket, conversation_id=chat.conversation_id, customer_id=customer.id
                ):
                    ticket, _ = await tickets.open_or_update(
                        session=session,
                        conversation_id=chat.conversation_id,
                        customer_id=customer.id,
                        domain=visits.visit_domain(customer),
                        title=say("record.visit_title"),
                        summary=say("record.visit_summary"),
                    )
                booking = await visits.book_visit(
                    session=session,
                    customer=customer,
                    technician_id=technician_id,
                    starts_at=starts_at,
                    ticket=ticket,
                    conversation_id=chat.conversation_id,
                    idempotency_key=key,
                )
                name, when = await _visit_words(session, customer, booking, language)
                number = ticket.number
        except SlotTaken as taken:
            return _offer_again(taken, chat, reschedule=False)
        except ServiceError as refused:
            return answer(say("visit.book_refused", language, reason=refused.reason))
        booked = answer(
            say("visit.booked", language, technician=name, when=when, ticket=number),
            ticket_number=number,
        )
        if (chat.flow_state or {}).get(ASKED_FOR_GOODWILL):
            return await self._goodwill_after_booking(chat, booked, number)
        return booked

    async def _goodwill_after_booking(
        self, chat: ChatTurn, booked: DiagnosisResult, number: str
    ) -> DiagnosisResult:
        """Compensation asked for during the checks that ended in this visit: once it is
        booked, what the policy allows, or a colleague decides, on the visit's ticket."""
        offered = await self.start_operation(
            replace(
                chat,
                turn=CustomerTurn(language=chat.language),
                flow_state=None,
                ticket_number=number,
            ),
            "goodwill",
            {ASKED_FOR_GOODWILL: True, FAULT_RESOLVED: False, "ticket_number": number},
        )
        offered.replies[:0] = booked.replies
        offered.ticket_number = offered.ticket_number or number
        return offered

    async def manage_visit(self, chat: ChatTurn) -> DiagnosisResult:
        """Reschedule to a picked slot, or start the flow that reschedules or cancels."""
        ref = chat.turn.entity("visit_slot")
        if chat.turn.intent == "reschedule_visit" and ref:
            return _offer_answered(chat, await self._move_visit(chat, ref))
        if chat.turn.intent == "reschedule_visit":
            # "Den zweiten Termin bitte" to the times just offered is a pick, not a move;
            # „Geht auch ein anderer Tag?“ asks for other times than those.
            picked = await self._time_picked_from_offer(chat)
            if picked is None and (chat.flow_state or {}).get(VISIT_OFFER):
                picked = await self._offer_as_wished(chat)
            if picked is not None:
                return picked
        if self._asks_to_close(chat):
            return await self.close_ticket(chat)
        request = "cancel" if chat.turn.intent == "cancel_visit" else "reschedule"
        return await self.start_operation(chat, MANAGE_VISIT_FLOW, {"visit_request": request})

    async def _move_visit(self, chat: ChatTurn, ref: str) -> DiagnosisResult:
        language = chat.language
        try:
            technician_id, starts_at = visits.parse_slot_ref(ref)
            async with self.database.session() as session:
                customer = await customers.customer_for_conversation(
                    session=session, conversation_id=chat.conversation_id
                )
                booking = (
                    await visits.active_booking(session=session, customer_id=customer.id)
                    if customer
                    else None
                )
                if customer is None or booking is None:
                    return await self.start_operation(
                        chat, MANAGE_VISIT_FLOW, {"visit_request": "reschedule"}
                    )
                moved = await visits.reschedule_visit(
                    session=session,
                    booking=booking,
                    technician_id=technician_id,
                    starts_at=starts_at,
                    actor=CUSTOMER_VIA_BOT,
                    idempotency_key=chat.idempotency_key(ref),
                )
                name, when = await _visit_words(session, customer, moved, language)
        except SlotTaken as taken:
            return _offer_again(taken, chat, reschedule=True)
        except ServiceError as refused:
            return answer(say("visit.move_refused", language, reason=refused.reason))
        return answer(say("visit.moved", language, when=when, technician=name))

    async def _already_booked(
        self,
        session: AsyncSession,
        chat: ChatTurn,
        customer: Customer,
        booking: VisitBooking,
        ref: str,
    ) -> DiagnosisResult:
        """The customer picked a time but already has a visit: show it, offer to move or
        cancel it."""
        language = chat.language
        name, when = await _visit_words(session, customer, booking, language)
        note = (
            say(
                "visit.ticket_note",
                language,
                ticket=tickets.format_ticket_number(booking.ticket_id),
            )
            if booking.ticket_id
            else ""
        )
        text = say("visit.already_booked", language, technician=name, when=when, ticket_note=note)
        buttons = [
            button("button.move_visit", language, f'/reschedule_visit{{"visit_slot":"{ref}"}}'),
            button("button.cancel_visit", language, "/cancel_visit"),
        ]
        return DiagnosisResult(replies=[Reply(text, buttons)], sets_flow=False)


def _offer_answered(chat: ChatTurn, result: DiagnosisResult) -> DiagnosisResult:
    """A time was picked: the offered times are no longer waiting for an answer."""
    state = chat.flow_state or {}
    if result.sets_flow or VISIT_OFFER not in state:
        return result
    result.sets_flow = True
    result.flow_state = without_marks(
        state, VISIT_OFFER, OFFERED_AGAIN, TIMES_PASSED_OVER, ASKED_FOR_GOODWILL
    )
    result.fallback_count = chat.fallback_count
    return result


async def _visit_words(
    session: AsyncSession, customer: Customer, booking: VisitBooking, language: str
) -> tuple[str, str]:
    """The technician's name and the visit's time, as the customer is told them."""
    name = await visits.technician_name(session=session, technician_id=booking.technician_id)
    tz = await visits.area_timezone(session=session, code=customer.service_area)
    return name, visits.describe_time(booking.starts_at, tz, booking.ends_at, language)


def _offer_again(taken: SlotTaken, chat: ChatTurn, *, reschedule: bool) -> DiagnosisResult:
    """The picked time was taken a moment ago: the next free times, which a typed
    answer ("Thursday afternoon") can pick as it could the first ones."""
    language = chat.language
    if not taken.next_slots:
        return answer(say("visit.taken_no_others", language))
    buttons = [
        visits.slot_button(s, reschedule=reschedule, language=language) for s in taken.next_slots
    ]
    state = without_marks(chat.flow_state or {}, VISIT_OFFER, OFFERED_AGAIN) or {}
    return DiagnosisResult(
        replies=[Reply(say("visit.taken_next", language), buttons)],
        sets_flow=True,
        flow_state={**state, VISIT_OFFER: buttons},
        fallback_count=chat.fallback_count,
    )

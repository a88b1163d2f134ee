"""The diagnosis service: one customer turn through the flow engine.

Decides whether a turn answers the running flow, starts a new one or needs a
rephrase, carries out the flow's outcome (a ticket, for example), and records
every step for later analysis. Custom actions call this and stay thin.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.config import PROJECT_ROOT, Settings
from api.db import Database
from api.models import FlowEvent, utcnow
from api.services import catalog, checks, customers, handoffs, nlu_review, tickets, visits
from api.services.hub import ConversationHub
from bot.flows.choosing import ToldProblem, customer_words
from bot.flows.engine import (
    PROBLEM_INTENTS,
    CustomerTurn,
    FlowEngine,
    FlowEventRecord,
    Outcome,
    Reply,
    TurnResult,
    asks_when_fixed,
    corrected_area,
    opening_yes_or_no,
    says_still_broken,
    summarize_trail,
    yes_or_no_word,
)
from bot.flows.loader import FlowLibrary
from bot.flows.meaning import SentenceEncoder
from bot.flows.model import in_language
from bot.flows.validate import flow_errors
from bot.questions_to_the_assistant import asks_what_i_can_do
from bot.routing import default_table
from bot.vocabulary import OTHER, PROBLEM_DOMAINS
from bot.wording import button, has, say

logger = logging.getLogger(__name__)
_FLOW_EVENTS = FlowEvent.__table__

PERSON_PAYLOAD = "/request_human"


def person_button(language: str = "en") -> dict[str, str]:
    return button("button.person", language, PERSON_PAYLOAD)


def side_answer(intent: str, language: str) -> Reply:
    """Where to go with a bill, the contract or another topic, with the person the
    answer offers one tap away."""
    return Reply(say(f"response.{SIDE_RESPONSES[intent]}", language), [person_button(language)])


def offers_person(reply: Reply) -> bool:
    return any(b.get("payload") == PERSON_PAYLOAD for b in reply.buttons)


# The order the domain buttons are shown in.
BUTTON_DOMAINS = ("internet", "cable", "hardware", "software")


def domain_buttons(language: str = "en") -> list[dict[str, str]]:
    """One button per problem domain (titles `button.<domain>`)."""
    return [button(f"button.{domain}", language, f"/problem_{domain}") for domain in BUTTON_DOMAINS]


# The problem intents and their domains, as bot/routing.yml maps them.
INTENT_DOMAINS = {
    intent: rule.domain
    for intent, rule in default_table().intents.items()
    if rule.domain in PROBLEM_DOMAINS
}


def problem_intent_for(domain: str) -> Optional[str]:
    """The problem intent of a domain ("cable" -> "problem_cable"), None for `other`."""
    return next((intent for intent, d in INTENT_DOMAINS.items() if d == domain), None)


# Flow state after a message the assistant did not understand: its words, so the
# domain the customer picks next starts the flow that fits them.
UNSURE_TEXT = "unsure_text"
# The problem intent guessed for a message not understood ("Is it about your cable
# TV?"): a typed yes takes the guess as the button would.
GUESSED = "guessed"
# Set with UNSURE_TEXT when the message named only a device ("my printer"): its
# device entities.
DEVICE_ONLY = "device_only"
# A message of at most this many words that names a device names only the device.
MAX_DEVICE_ONLY_WORDS = 3
MAX_UNSURE_CHARS = 1000
# Questions that are not our job get a pointer to where to go (domain.yml responses).
SIDE_RESPONSES = {
    "billing": "utter_billing",
    "account": "utter_account",
    "out_of_scope": "utter_out_of_scope",
}
# What "hello" and "thanks" get when no flow waits for an answer (domain.yml responses).
SMALL_TALK_RESPONSES = {"greet": "utter_greet", "thank": "utter_you_are_welcome"}
# Requests the fallback offers as a button when the language model ranked one first.
GUESSED_REQUESTS = ("order_part", "book_visit", "ticket_status")
# Answers to "Is it about your internet connection?" that may tell more of the problem.
TELLS_MORE = ("inform", "already_tried", "problem_persists", "nlu_fallback", "complaint")
# How close by meaning such an answer must come to a flow of the guessed area: "it keeps
# dropping" 0.44 and "all lights are off" 0.58 are details, "geht gar nix" 0.31 and
# "this is ridiculous" 0.24 are not.
DETAIL_OF_THE_GUESS = 0.4
# Outcomes whose ticket says what has to happen next (`record.step.*`).
OUTCOME_NEXT_STEPS = ("part", "visit", "goodwill")
# Outcomes that continue in an operation flow until the operation is done.
OPERATION_FLOWS = {"part": "request_part", "visit": "book_visit", "goodwill": "goodwill"}
# Asks an unidentified customer how to reach them about a ticket (docs/operations.md).
CONTACT_FLOW = "ticket_contact"
# With nothing running, these intents still name a fault by its device or words.
NAMES_ITS_PROBLEM = ("complaint", "already_tried", "problem_persists")
# Sub-flows whose answers are no attempt at fixing anything (who the customer is).
NOT_TRIED_FLOWS = ("identify_customer",)
# Intents whose message may ask for compensation (catalog.GoodwillPolicy.asked_for).
ASKS_FOR_GOODWILL = ("billing", "complaint")
# A complaint (or a message the NLU was unsure of) that says the technician did not
# come is about the booked visit.
MISSED_VISIT_INTENTS = ("complaint", "nlu_fallback", "inform")
MANAGE_VISIT_FLOW = "manage_visit"
# The slot that says the customer asked for compensation (the goodwill flow reads it).
ASKED_FOR_GOODWILL = "asked_for_goodwill"
# Outcomes after which compensation asked for during the checks is looked at, and the
# slot that tells the goodwill flow the fault itself is fixed.
GOODWILL_AFTER = ("ticket", "resolved")
FAULT_RESOLVED = "fault_resolved"
# The flow state's record of the visit times offered (api/services/chat_requests.py).
VISIT_OFFER = "visit_offer"
# What the customer said about when a visit suits them ("auf Donnerstag"), in the slots
# of book_visit and manage_visit.
VISIT_WISH = "visit_wish"
# Words of a question about the bill told with a fault ("why does my bill say $89 …
# and the tv box keeps rebooting"); the language model ranks billing first or second.
BILL_WORDS = re.compile(
    r"\b(bill|billed|billing|charged|charge|invoice|refund|overcharged|rechnung\w*|"
    r"abgebucht|abbuchung\w*|lastschrift\w*)\b",
    re.IGNORECASE,
)
# A problem set aside for another one the customer brought up mid-flow, and the offer
# to get back to it once that one has ended.
PARKED = "parked"
RESUME = "resume_parked"


def told_in_two(first: str, flow_state: dict[str, Any], turn: CustomerTurn) -> CustomerTurn:
    """ "my router", then "all lights are off": one message, with the entities of
    both where they stand in the joined text; the first message's device wins."""
    joined = f"{first}: "
    shift = len(joined)
    moved = [
        {**e, "start": e["start"] + shift, "end": e["end"] + shift}
        if isinstance(e.get("start"), int) and isinstance(e.get("end"), int)
        else e
        for e in turn.entities
    ]
    saved = [e for e in flow_state.get(DEVICE_ONLY) or [] if isinstance(e, dict)]
    # The device named first is the device ("my laptop", then "the charger is fine").
    return replace(turn, text=joined + turn.text, entities=[*moved, *saved])


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
    # False for answers that leave the running flow as it is (a ticket's status).
    sets_flow: bool = True
    # The conversation now waits for a person (the handoff is queued).
    queued: bool = False
    # Messages in a row that showed frustration (set by the flow turn).
    frustration_count: Optional[int] = None
    # The turn counted as a fallback: nothing was running and it started nothing.
    not_understood: bool = False
    # The visit times just offered as buttons: a typed "Tuesday morning" picks one.
    visit_offer: Optional[list[dict[str, str]]] = None
    # The message answered the running flow's open question (a choice, a yes or no).
    answered_question: bool = False


class DiagnosisService:
    """Holds the flow library and engine for the life of the process."""

    def __init__(
        self, settings: Settings, database: Database, hub: Optional[ConversationHub] = None
    ) -> None:
        # Where frames for the customer go beyond the assistant's replies (the rating request).
        self.hub = hub
        # Every edit is checked as `make validate` checks it; one with an error
        # leaves the last good flows live and shows at /health (`flows_error`).
        self.library = FlowLibrary(
            settings.flows_dir,
            check_every=settings.flows_check_seconds,
            check=flow_errors(PROJECT_ROOT / "domain.yml", catalog.CATALOG_DIR),
        )
        self.library.reload()
        # Loaded now (about a second), so the first customer does not wait for it.
        encoder = SentenceEncoder()
        encoder.load()
        self.database = database
        self.checks = checks.Checks(database)
        self.engine = FlowEngine(self.library, self.checks.run, encoder)

    async def handle_turn(
        self,
        *,
        session: AsyncSession,
        conversation_id: str,
        flow_state: Optional[dict[str, Any]],
        turn: CustomerTurn,
        fallback_count: int = 0,
        language: str = "en",
    ) -> DiagnosisResult:
        """One customer turn. A flow that fails (an error, a step an edit removed while
        the customer was on it, no reply at all) still gets the customer an answer."""
        running = (flow_state or {}).get("flow")
        step = (flow_state or {}).get("step")
        try:
            result = await self._handle_turn(
                session=session,
                conversation_id=conversation_id,
                flow_state=flow_state,
                turn=turn,
                fallback_count=fallback_count,
                language=language,
            )
        except Exception as error:
            return await self._flow_failed(
                session,
                conversation_id,
                running or self._flow_for_logs(turn),
                step,
                language,
                error=error,
            )
        if result.replies or result.responses or result.handoff is not None:
            return result
        return await self._flow_failed(
            session, conversation_id, running, step, language, error=None
        )

    async def _handle_turn(
        self,
        *,
        session: AsyncSession,
        conversation_id: str,
        flow_state: Optional[dict[str, Any]],
        turn: CustomerTurn,
        fallback_count: int = 0,
        language: str = "en",
    ) -> DiagnosisResult:
        checks.current_conversation.set(conversation_id)
        checks.current_language.set(language)
        checks.flow_ticket_titles.set(self.library.ticket_titles())
        if flow_state and flow_state.get("flow"):
            told_now = self._problem_told_now(flow_state, turn)
            turn = told_now or turn
            result = await self.engine.answer(flow_state, turn)
            if (
                result.not_understood
                and flow_state.get("flow") == CONTACT_FLOW
                and (turn.intent == "deny" or tickets.declines_contact(turn.text))
            ):
                # "No" to "what e-mail address or phone number?": no contact details, which
                # the flow's `skip` leads to; its closing message says what that means.
                result = await self.engine.answer(
                    flow_state, replace(turn, intent="already_tried", entities=[])
                )
                if result.outcome is not None:
                    result.replies.clear()
            if result.not_understood and self._asks_for_goodwill(turn):
                # "I want a refund for these days" in the middle of the checks: noted, and
                # offered once the flow has dealt with the fault (`_carry_out`).
                return self._goodwill_after_the_fault(flow_state, language)
            if result.not_understood and turn.intent == "thank":
                # "Thanks" to an instruction, not an answer: welcomed, and the flow's
                # question stays open; no miss.
                return self.ask_again(flow_state, say("diagnosis.welcome_in_a_flow", language))
            if result.not_understood and turn.intent == "greet":
                # "Hello?" is no answer and no miss: the open question again.
                return self.ask_again(flow_state, say("diagnosis.greet_in_a_flow", language))
            if result.not_understood and turn.intent in SIDE_RESPONSES:
                # Not an answer but a side question (a bill, the account): answer it,
                # then ask the flow's question again. The flow does not move on.
                again = self.ask_again(flow_state, say("diagnosis.back_to_problem", language))
                again.responses = [SIDE_RESPONSES[turn.intent]]
                return again
            running = self.library.get(str(flow_state.get("root_flow") or flow_state["flow"]))
            corrected = (
                corrected_area(turn, running.domain)
                if result.not_understood and running is not None
                else None
            )
            if corrected is not None:
                # "it's my tv that's not working, not the internet": the area named.
                turn = replace(turn, intent=corrected, confidence=1.0)
            if result.not_understood and turn.intent in PROBLEM_INTENTS:
                # Told right after a vague opener, the problem is read with the opener:
                # "sehr langsam" after "Probleme mit meinem Internet" is the internet.
                about = self._with_opener(flow_state, turn) if told_now else turn
                switched = await self._start_for_intent(about, running=flow_state.get("flow"))
                if switched is not None:
                    parked = (
                        self._parked(flow_state, language, instead=switched.state)
                        if corrected is None  # "not the internet": nothing to come back to
                        else None
                    )
                    lead = (
                        say("diagnosis.switch_problem_parked", language, title=parked["title"])
                        if parked and switched.state is not None
                        else say("diagnosis.switch_problem", language)
                    )
                    switched.replies.insert(0, Reply(lead))
                    if parked and switched.state is not None:
                        # "By the way, my printer doesn't print either": the slow internet
                        # waits, and is offered again once the printer is dealt with.
                        switched.state[PARKED] = parked
                    result = switched
                elif not result.replies:
                    result = await self.engine.answer(
                        flow_state, replace(turn, intent="", entities=[])
                    )
            # With a problem still waiting, the customer is asked how we did after it.
            finished = await self._finish(
                session, conversation_id, result, language, turn, rate=PARKED not in flow_state
            )
            finished.answered_question = any(
                e.kind in ("answer", "skip") and e.step_id == flow_state.get("step")
                for e in result.events
            )
            return self._offer_parked(flow_state, result, finished, language)

        after = (flow_state or {}).get("after")
        if isinstance(after, dict) and self._still_broken_after(after, turn):
            # "Still not working" right after an outcome that says where to go on (a
            # known outage explained): that, not a new diagnosis.
            continued = await self.engine.continue_after(after, turn)
            return await self._finish(session, conversation_id, continued, language, turn)

        if isinstance(after, dict) and turn.intent not in PROBLEM_INTENTS and asks_when_fixed(turn):
            # "When will it be fixed?" right after a known outage was explained.
            news = await self.outage_news(session, after.get("slots") or {}, language)
            if news is not None:
                return DiagnosisResult(
                    replies=[news], flow_state={"after": after}, fallback_count=fallback_count
                )

        resume = (flow_state or {}).get(RESUME)
        if isinstance(resume, dict):
            # "Shall we get back to your slow internet?"
            flow_state = {k: v for k, v in (flow_state or {}).items() if k != RESUME} or None
            answer = yes_or_no_word(turn.text)
            if turn.intent == "affirm" or (answer is True and turn.intent not in PROBLEM_INTENTS):
                if "state" not in resume:
                    # The second problem of the first message: its checks start now.
                    started = await self._start_told_problem(resume, turn, language, announce=True)
                    if started is not None:
                        return await self._finish(session, conversation_id, started, language, turn)
                    return what_is_it_about(0, language)  # its flow was removed meanwhile
                state = resume["state"]
                return self.ask_again(
                    state, say("diagnosis.parked_resumed", language, title=resume["title"])
                )
            if turn.intent == "deny" or answer is False:
                return DiagnosisResult(
                    replies=[Reply(say("diagnosis.parked_dropped", language))],
                    flow_state=flow_state,
                )

        guessed = (flow_state or {}).get(GUESSED)
        unsure = (flow_state or {}).get(UNSURE_TEXT)
        told_before = None
        if guessed in PROBLEM_INTENTS and (
            turn.intent == "affirm" or yes_or_no_word(turn.text) is True
        ):
            # "Is it about your cable TV?" — „ja“: the guess taken, as with its button.
            turn = replace(turn, intent=str(guessed), text=f"/{guessed}", entities=[])
        elif guessed in PROBLEM_INTENTS and isinstance(unsure, str):
            told = self._guess_told_more(str(guessed), turn)
            if told is not None:
                # "Is it about your internet connection?" — "all lights are off": the
                # guess taken, the checks chosen by the detail; what the first message
                # asked for (compensation) is kept.
                turn, told_before, unsure = told, unsure, None
        if turn.intent in PROBLEM_INTENTS:
            about = turn
            if isinstance(unsure, str) and not customer_words(turn.text):
                # The domain button after "Is it about your cable TV?": the flow is
                # chosen by what the customer wrote, not the domain's default.
                about = replace(turn, text=unsure)
            elif isinstance(unsure, str) and (flow_state or {}).get(DEVICE_ONLY):
                # "my printer", then "it won't print": one problem, told in two messages.
                about = told_in_two(unsure, flow_state, turn)
            started = await self._start_first_of_two(turn, language) if about is turn else None
            if started is not None:
                self._note_goodwill_ask(started, turn, language)
                return await self._finish(session, conversation_id, started, language, turn)
            started = await self._start_for_intent(about, running=None)
            if started is not None:
                both = replace(about, text=f"{told_before}\n{about.text}") if told_before else about
                self._note_goodwill_ask(started, both, language)
                self._note_bill_question(started, both, language)
                return await self._finish(session, conversation_id, started, language, turn)
            return await self._no_flow_for(session, conversation_id, turn, language)

        if turn.intent == "explain_term":
            # "What does DNS mean?" with nothing running: the explanation, and an offer.
            explained = self.engine.explain_term(turn, language)
            if explained is not None:
                return DiagnosisResult(
                    replies=[Reply(explained), Reply(say("diagnosis.after_term", language))],
                    flow_state=flow_state,
                    fallback_count=fallback_count,
                )

        if turn.intent in SMALL_TALK_RESPONSES:
            # Nothing running waits for an answer: welcomed or greeted; what the chat
            # knows stays.
            return DiagnosisResult(
                responses=[SMALL_TALK_RESPONSES[turn.intent]],
                flow_state=flow_state,
                fallback_count=fallback_count,
            )

        handed_back = (flow_state or {}).get("handed_back")
        if isinstance(handed_back, dict):
            return await self._after_hand_back(
                session, conversation_id, turn, fallback_count, handed_back, language
            )

        if (
            isinstance(unsure, str)
            and (flow_state or {}).get(DEVICE_ONLY)
            and turn.intent in ("nlu_fallback", "inform", *NAMES_ITS_PROBLEM)
            and customer_words(turn.text)
        ):
            # What is wrong with the device just named, in words the NLU did not place:
            # the device names the domain.
            started = await self._start_for_named_problem(told_in_two(unsure, flow_state, turn))
            if started is not None:
                return await self._finish(session, conversation_id, started, language, turn)

        device = self._only_a_device(turn)
        if device is not None:
            # "my printer": which problem is not said yet; asked, not guessed.
            return DiagnosisResult(
                replies=[Reply(say("diagnosis.what_is_wrong_with", language, device=device))],
                flow_state={
                    **({"after": after} if isinstance(after, dict) else {}),
                    UNSURE_TEXT: turn.text[:MAX_UNSURE_CHARS],
                    DEVICE_ONLY: [e for e in turn.entities if e.get("entity") == "device"],
                },
                fallback_count=fallback_count,
            )

        if turn.intent in NAMES_ITS_PROBLEM:
            # "No internet for 4 days and nobody cares!", "no internet, I already restarted
            # the router" name their problem: diagnose it (the apology comes with the
            # turn), rather than ask what it is about.
            started = await self._start_for_named_problem(turn)
            if started is not None:
                self._note_goodwill_ask(started, turn, language)
                return await self._finish(session, conversation_id, started, language, turn)

        if turn.intent == "nlu_fallback" and best_guess(turn) is not None:
            # The NLU was unsure, but the words are very close to one flow's examples:
            # "mein Fernseher hat kein Bild mehr, nur schwarz" is the black screen.
            flow = self.engine.flow_clearly_meant(turn)
            if flow is not None:
                started = await self.engine.start(flow, slots=entity_slots(turn), turn=turn)
                self._note_goodwill_ask(started, turn, language)
                return await self._finish(session, conversation_id, started, language, turn)

        if self._asks_for_goodwill(turn):
            # "Third outage this month, I want compensation": what the goodwill policy
            # allows, or a ticket for a colleague to decide; not a pointer to billing. A
            # complaint that names a fault ("no internet for 4 days, I want compensation")
            # was diagnosed above: the fault first.
            return await self.start_flow(
                session=session,
                conversation_id=conversation_id,
                flow_id=OPERATION_FLOWS["goodwill"],
                slots={ASKED_FOR_GOODWILL: True},
                language=language,
                turn=turn,
            )

        if turn.intent in MISSED_VISIT_INTENTS and visits.says_visit_missed(turn.text):
            # "The technician never showed up and nobody called": their booked visit, and
            # a colleague to chase it; not "what is the problem about?".
            return await self.start_flow(
                session=session,
                conversation_id=conversation_id,
                flow_id=MANAGE_VISIT_FLOW,
                slots={"visit_request": "status", "visit_missed": True},
                language=language,
                turn=turn,
            )

        # What an ended flow would go on with stays known through small talk and side
        # questions, until another problem starts.
        kept = {"after": after} if isinstance(after, dict) else None
        if turn.intent in ("out_of_scope", "nlu_fallback") and asks_what_i_can_do(turn.text):
            return self.about_the_assistant(None, language, kept)
        if turn.intent in SIDE_RESPONSES:
            fault = await self._start_fault_beside(turn, language)
            if fault is not None:
                # "I was charged twice AND my wifi is slow": where to go with the bill,
                # then the checks for the wifi.
                finished = await self._finish(session, conversation_id, fault, language, turn)
                finished.replies.insert(0, side_answer(turn.intent, language))
                return finished
            return DiagnosisResult(replies=[side_answer(turn.intent, language)], flow_state=kept)
        if kept is not None and turn.intent == "affirm":
            # "Ok" to what the flow just explained: noted, not "what is the problem about?".
            return DiagnosisResult(
                replies=[Reply(say("fallback.noted", language))],
                flow_state=kept,
                fallback_count=fallback_count,
            )
        if turn.intent == "nlu_fallback" and fallback_count == 0:
            fault = await self._start_fault_of_the_guess(turn, language)
            if fault is not None:
                # "No internet since Saturday. Third time this month. I want
                # compensation.": the checks for the fault, the compensation kept.
                self._note_goodwill_ask(fault, turn, language)
                return await self._finish(session, conversation_id, fault, language, turn)
        result = self._nothing_running(turn, fallback_count, language)
        if result.handoff is None:
            guess = (result.flow_state or {}).get(GUESSED)
            result.flow_state = kept
            if result.not_understood and customer_words(turn.text):
                # Kept for the domain the customer picks next (or the guess they confirm).
                result.flow_state = {
                    **(kept or {}),
                    UNSURE_TEXT: turn.text[:MAX_UNSURE_CHARS],
                    **({GUESSED: guess} if guess else {}),
                }
        if result.not_understood:
            await nlu_review.record(
                session=session, conversation_id=conversation_id, kind="fallback", turn=turn
            )
        return result

    @staticmethod
    def _only_a_device(turn: CustomerTurn) -> Optional[str]:
        """The device, in the customer's words, of a message that names only a device
        ("my printer", "der Receiver"); None for anything more."""
        if turn.intent != "inform" or len(turn.text.split()) > MAX_DEVICE_ONLY_WORDS:
            return None
        for entity in turn.entities:
            if entity.get("entity") != "device":
                continue
            if default_table().domain_from_entities([entity]) is None:
                continue
            place = CustomerTurn.place(entity, turn.text)
            return turn.text[place[0] : place[1]] if place else str(entity.get("value"))
        return None

    def _problem_told_now(
        self, flow_state: dict[str, Any], turn: CustomerTurn
    ) -> Optional[CustomerTurn]:
        """ "Ich habe Probleme mit meinem Internet" started the domain's default flow;
        "es ist sehr langsam" to its first question is the problem, told now, even when
        the language model is unsure of it: read as its likeliest problem intent, so
        the flow that fits it (read with the opener) can take over. None otherwise."""
        if turn.intent != "nlu_fallback" or not turn.likely_intents:
            return None
        if turn.likely_intents[0] not in PROBLEM_INTENTS:
            return None
        if not self.engine.at_vague_start(flow_state):
            return None  # past the first question, or not a vague opener's flow
        return replace(turn, intent=turn.likely_intents[0])

    @staticmethod
    def _with_opener(flow_state: dict[str, Any], turn: CustomerTurn) -> CustomerTurn:
        """The turn read together with the flow's first message."""
        opener = next((str(h["text"]) for h in flow_state.get("heard") or [] if h.get("text")), "")
        return told_in_two(opener, {}, turn) if opener else turn

    @staticmethod
    def _asks_for_goodwill(turn: CustomerTurn) -> bool:
        # Unsure between a bill and a complaint, the NLU falls back ("this is ridiculous,
        # I want a refund for these days"); either way it is about money for the trouble.
        intent = turn.intent
        if intent == "nlu_fallback" and turn.likely_intents:
            intent = turn.likely_intents[0]
        return intent in ASKS_FOR_GOODWILL and catalog.goodwill_policy().asked_for(turn.text)

    @staticmethod
    def _note_goodwill_ask(started: TurnResult, turn: CustomerTurn, language: str) -> None:
        """ "No internet for 4 days, I want compensation": the fault is diagnosed first,
        and the ask is kept for the flow's end (`_carry_out`)."""
        if started.state is None or not catalog.goodwill_policy().asked_for(turn.text):
            return
        started.state.setdefault("slots", {})[ASKED_FOR_GOODWILL] = True
        started.replies.insert(0, Reply(say("diagnosis.goodwill_after_the_fault", language)))

    @staticmethod
    def _note_bill_question(started: TurnResult, turn: CustomerTurn, language: str) -> None:
        """ "why does my bill say $89 … and the tv box keeps rebooting": where to go
        with the bill, then the checks for the fault (compensation asked for is
        dealt with after the fault instead)."""
        if "billing" not in turn.likely_intents[:2] or not BILL_WORDS.search(turn.text):
            return
        if catalog.goodwill_policy().asked_for(turn.text):
            return
        started.replies.insert(0, Reply(say("diagnosis.bill_beside_fault", language)))

    def _goodwill_after_the_fault(
        self, flow_state: dict[str, Any], language: str
    ) -> DiagnosisResult:
        """Compensation asked for mid-flow: the ask is kept in the flow's slots and the
        flow's question comes again; the goodwill flow follows the flow's outcome."""
        slots = {**(flow_state.get("slots") or {}), ASKED_FOR_GOODWILL: True}
        flow_state = {**flow_state, "slots": slots}
        return self.ask_again(flow_state, say("diagnosis.goodwill_after_the_fault", language))

    def _parked(
        self,
        flow_state: dict[str, Any],
        language: str,
        *,
        instead: Optional[dict[str, Any]] = None,
    ) -> Optional[dict[str, Any]]:
        """The running problem, kept while another is looked at: its flow state (without
        a problem parked before it) and its title, for offering it again.

        None when the problem started `instead` is the same one, better told: a flow
        of the same area, with nothing answered yet in the running one ("everything
        says connected but no internet", then "the internet light blinks red")."""
        root = flow_state.get("root_flow") or flow_state.get("flow")
        flow = self.library.get(str(root or ""))
        if flow is None or not flow.intents:
            return None  # an operation (identification, a part order) is not a problem
        started = self.library.get(str((instead or {}).get("flow") or ""))
        if started is not None and started.domain == flow.domain and not flow_state.get("trail"):
            return None
        state = {k: v for k, v in flow_state.items() if k != PARKED}
        return {"title": in_language(flow.title, language), "state": state}

    async def _start_first_of_two(self, turn: CustomerTurn, language: str) -> Optional[TurnResult]:
        """ "No internet since this morning, and half my TV channels are gone": the
        first problem's checks start, and the second waits to be offered once they
        end. None when the message tells one problem, or the first one's checks end
        at once (a person takes over)."""
        told = self.engine.chooser.two_problems(turn.text)
        if told is None or not _names_its_own_subject(turn, told[1]):
            return None
        first, second = told
        started = await self._start_told_problem(
            {"flow": first.match.flow.id, **_told_part(turn, first)}, turn, language
        )
        if started is None or started.state is None:
            return None
        first_title = in_language(first.match.flow.title, language)
        second_title = in_language(second.match.flow.title, language)
        lead = say("diagnosis.two_problems", language, first=first_title, second=second_title)
        started.replies.insert(0, Reply(lead))
        started.state[PARKED] = {
            "title": second_title,
            "flow": second.match.flow.id,
            **_told_part(turn, second),
        }
        return started

    async def _start_told_problem(
        self, told: dict[str, Any], turn: CustomerTurn, language: str, *, announce: bool = False
    ) -> Optional[TurnResult]:
        """The checks for one problem of a message that told more (`_told_part`), read
        from its own words, and with `announce` said to start now; None when its flow
        is gone."""
        flow = self.library.get(str(told.get("flow") or ""))
        if flow is None:
            return None
        part = replace(
            turn,
            text=str(told.get("text") or ""),
            entities=[e for e in told.get("entities") or [] if isinstance(e, dict)],
            language=language,
        )
        started = await self.engine.start(flow, slots=entity_slots(part), turn=part)
        if announce:
            title = in_language(flow.title, language)
            started.replies.insert(
                0, Reply(say("diagnosis.second_problem_started", language, title=title))
            )
        return started

    async def _start_fault_of_the_guess(
        self, turn: CustomerTurn, language: str
    ) -> Optional[TurnResult]:
        """A message not understood as a whole, with a part that tells a fault of the
        area the NLU found most likely ("I've had no internet since Saturday" among
        complaints about the month): that fault's checks."""
        guess = best_guess(turn)
        if guess is None:
            return None
        fault = self.engine.chooser.fault_beside(turn.text)
        if fault is None or f"problem_{fault.match.flow.domain}" != guess:
            return None
        return await self._start_told_problem(
            {"flow": fault.match.flow.id, **_told_part(turn, fault)}, turn, language
        )

    def _guess_told_more(self, guessed: str, turn: CustomerTurn) -> Optional[CustomerTurn]:
        """ "Is it about your internet connection?" answered with a detail of it ("all
        lights are off"): that detail, as a problem of the guessed area. None for
        anything else: a request, small talk, a device of another area, or words
        that describe no fault of the area ("this is ridiculous", "something else")."""
        if turn.intent not in TELLS_MORE or not customer_words(turn.text):
            return None
        if opening_yes_or_no(turn.text) is False:
            return None  # "no, the other thing"
        named = default_table().domain_from_entities(turn.entities)
        if named is not None and named != INTENT_DOMAINS[guessed]:
            return None
        ranked = self.engine.chooser.rank(
            text=turn.text, intent=guessed, confidence=1.0, likely_intents=()
        )
        if not ranked or ranked[0].meaning < DETAIL_OF_THE_GUESS:
            return None
        return replace(turn, intent=guessed)

    async def _start_fault_beside(self, turn: CustomerTurn, language: str) -> Optional[TurnResult]:
        """The checks for a fault told beside a question about a bill or the account."""
        fault = self.engine.chooser.fault_beside(turn.text)
        if fault is None:
            return None
        started = await self._start_told_problem(
            {"flow": fault.match.flow.id, **_told_part(turn, fault)}, turn, language
        )
        if started is None:
            return None
        title = in_language(fault.match.flow.title, language)
        lead = say("diagnosis.fault_beside_question", language, title=title)
        started.replies.insert(0, Reply(lead))
        return started

    def _offer_parked(
        self,
        flow_state: dict[str, Any],
        result: TurnResult,
        finished: DiagnosisResult,
        language: str,
    ) -> DiagnosisResult:
        """The problem looked at in between has come to an end: offer the one that was
        parked for it, unless something else is waiting for the customer's answer."""
        parked = flow_state.get(PARKED)
        if not isinstance(parked, dict):
            return finished
        waiting = finished.flow_state or {}
        if waiting.get("flow"):
            waiting.setdefault(PARKED, parked)  # still at it (its contact details, say)
            return finished
        if result.outcome is None or finished.handoff is not None or waiting.get(VISIT_OFFER):
            return finished
        buttons = [
            button("button.resume_parked", language, "/affirm"),
            button("button.leave_parked", language, "/deny"),
        ]
        # A problem parked mid-flow has a state to go back to; the second problem of
        # the first message is still to be looked at.
        offer = "diagnosis.parked_offer" if "state" in parked else "diagnosis.second_problem_offer"
        finished.replies.append(Reply(say(offer, language, title=parked["title"]), buttons))
        finished.flow_state = {**(finished.flow_state or {}), RESUME: parked}
        return finished

    def about_the_assistant(
        self,
        flow_state: Optional[dict[str, Any]],
        language: str,
        kept: Optional[dict[str, Any]] = None,
    ) -> DiagnosisResult:
        """ "What can you do?", "are you a human?": what the assistant does; with the
        checks running, their open question again, else the problem areas and a person
        as buttons."""
        about = say("fallback.capabilities", language)
        if flow_state and flow_state.get("flow"):
            return self.ask_again(flow_state, about)
        buttons = [*domain_buttons(language), person_button(language)]
        return DiagnosisResult(replies=[Reply(about, buttons)], flow_state=kept)

    def ask_again(self, flow_state: dict[str, Any], lead: str) -> DiagnosisResult:
        """`lead`, then the running flow's open question again; the flow stays where it is."""
        return DiagnosisResult(
            replies=[Reply(lead), *self.engine.current_question(flow_state)],
            flow_state=flow_state,
            active_flow=flow_state.get("root_flow") or flow_state.get("flow"),
        )

    async def outage_news(
        self, session: AsyncSession, slots: dict[str, Any], language: str
    ) -> Optional[Reply]:
        """The known outage the customer was told about (`slots` of the flow that found
        it), looked up again: still being repaired, with the estimate, or repaired in
        the meantime. None when no outage was found for the customer."""
        area = slots.get("service_area")
        if not area or not slots.get("outage_description"):
            return None
        outage = await checks.outage_slots(session, str(area), language)
        if outage is None:
            return Reply(say("outage.repaired", language))
        return Reply(
            say(
                "outage.still_repaired",
                language,
                description=outage["outage_description"],
                estimate=outage["outage_estimate"],
            )
        )

    def _still_broken_after(self, after: dict[str, Any], turn: CustomerTurn) -> bool:
        """The customer says the problem of the flow that just ended is still there: in
        words that say so ("still not working", "es geht immer noch nicht"), not about
        another area's problem ("my printer still doesn't print" after a TV outage)."""
        if not says_still_broken(turn):
            return False
        if after.get("yes_taken_back") and turn.intent in PROBLEM_INTENTS:
            # After "yes, it works", a description of the problem ("my internet is not
            # working") is the problem come back, diagnosed afresh; "still the same"
            # takes the yes back.
            return False
        flow = self.library.get(str(after.get("root_flow") or after.get("flow") or ""))
        if flow is None:
            return False
        domain = INTENT_DOMAINS.get(turn.intent)
        return domain is None or domain == flow.domain

    async def run_turn(
        self,
        *,
        conversation_id: str,
        flow_state: Optional[dict[str, Any]],
        turn: CustomerTurn,
        fallback_count: int = 0,
        language: str = "en",
    ) -> DiagnosisResult:
        """`handle_turn` in a unit of work of its own."""
        async with self.database.session() as session:
            return await self.handle_turn(
                session=session,
                conversation_id=conversation_id,
                flow_state=flow_state,
                turn=turn,
                fallback_count=fallback_count,
                language=language,
            )

    async def run_flow(
        self,
        *,
        conversation_id: str,
        flow_id: str,
        slots: Optional[dict[str, Any]] = None,
        language: str = "en",
        turn: Optional[CustomerTurn] = None,
    ) -> DiagnosisResult:
        """`start_flow` in a unit of work of its own."""
        async with self.database.session() as session:
            return await self.start_flow(
                session=session,
                conversation_id=conversation_id,
                flow_id=flow_id,
                slots=slots,
                language=language,
                turn=turn,
            )

    async def _after_hand_back(
        self,
        session: AsyncSession,
        conversation_id: str,
        turn: CustomerTurn,
        fallback_count: int,
        topic: dict[str, Any],
        language: str,
    ) -> DiagnosisResult:
        """A person handed the chat back, or the customer left the queue, and no flow
        waits for an answer: "still broken" is about the same topic. Checks already
        done are not started again; a topic nobody checked yet gets its diagnosis."""
        skill = str(topic.get("skill") or OTHER)
        same_topic = turn.intent in ("problem_persists", "already_tried") or (
            INTENT_DOMAINS.get(turn.intent) == skill
        )
        if turn.intent in ("inform", "nlu_fallback") and customer_words(turn.text):
            # "alle Lämpchen leuchten" after "If your internet still isn't working, tell
            # me what's happening": what happens with that topic.
            same_topic = same_topic or not topic.get("root_flow")
        problem = problem_intent_for(skill)
        if same_topic and not topic.get("root_flow") and problem is not None:
            about = CustomerTurn(
                text=turn.text, intent=problem, entities=turn.entities, language=language
            )
            # "Still not working" describes nothing to choose a flow by: the domain's
            # default flow, not whichever example happens to sound like "not working".
            default = self.engine.chooser.default_for(skill)
            if turn.intent in ("problem_persists", "already_tried") and default is not None:
                started = await self.engine.start(default, slots=entity_slots(turn), turn=about)
            else:
                started = await self._start_for_intent(about, running=None)
            if started is not None:
                return await self._finish(session, conversation_id, started, language, turn)
        if same_topic and topic.get("root_flow"):
            key = f"handback.topic.{skill}" if has(f"handback.topic.{skill}") else None
            about = say(key or f"handback.topic.{OTHER}", language)
            if topic.get("left_queue"):
                # The customer left the queue after the flow's checks: no agent was involved.
                text = say("queue.still_broken_after_checks", language, topic=about)
            else:
                agent = str(topic.get("agent_name") or "") or say("handback.our_agent", language)
                text = say("handback.still_broken", language, topic=about, agent=agent)
            return DiagnosisResult(
                replies=[Reply(text, [person_button(language)])],
                flow_state={"handed_back": topic},
                fallback_count=fallback_count,
            )
        if turn.intent in SIDE_RESPONSES:
            return DiagnosisResult(
                replies=[side_answer(turn.intent, language)], flow_state={"handed_back": topic}
            )
        result = self._nothing_running(turn, fallback_count, language)
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
        language: str = "en",
        turn: Optional[CustomerTurn] = None,
    ) -> DiagnosisResult:
        """Start a named flow (an operation the customer asked for, e.g. book_visit).

        `turn`: the customer's request, whose words can answer the flow's questions
        ("I need a new remote": the part asked for)."""
        checks.current_conversation.set(conversation_id)
        checks.current_language.set(language)
        checks.flow_ticket_titles.set(self.library.ticket_titles())
        flow = self.library.get(flow_id)
        if flow is None:
            raise LookupError(f"unknown flow {flow_id!r}")
        try:
            started = await self.engine.start(flow, slots=slots, turn=turn, language=language)
            return await self._finish(session, conversation_id, started, language, turn)
        except Exception as error:
            return await self._flow_failed(
                session, conversation_id, flow_id, None, language, error=error
            )

    def _flow_for_logs(self, turn: CustomerTurn) -> Optional[str]:
        """The flow a new problem would have started, to name it in the log."""
        try:
            flow = self.engine.select_flow(turn)
        except Exception:
            return None
        return flow.id if flow else None

    async def _flow_failed(
        self,
        session: AsyncSession,
        conversation_id: str,
        flow_id: Optional[str],
        step_id: Optional[str],
        language: str,
        *,
        error: Optional[Exception],
    ) -> DiagnosisResult:
        """Log the failure for the trainers, answer the customer, and let the next
        message start afresh: the flow's state is dropped."""
        flow = self.library.get(flow_id) if flow_id else None
        if error is None and flow_id and (flow is None or step_id not in flow.steps):
            reason = "flow-or-step-removed-by-an-edit"
        elif error is None:
            reason = "no-reply"
        else:
            reason = f"{type(error).__name__}: {error}"
        logger.error(
            "flow %s failed at step %s in conversation %s: %s",
            flow_id or "(none)",
            step_id or "(start)",
            conversation_id,
            reason,
            exc_info=error,
        )
        await session.rollback()
        return DiagnosisResult(
            replies=[Reply(say("diagnosis.flow_failed", language), [person_button(language)])]
        )

    async def _start_for_intent(
        self, turn: CustomerTurn, *, running: Optional[str]
    ) -> Optional[TurnResult]:
        flow = self.engine.select_flow(turn)
        if flow is None or flow.id == running:
            return None
        return await self.engine.start(flow, slots=entity_slots(turn), turn=turn)

    async def _start_for_named_problem(self, turn: CustomerTurn) -> Optional[TurnResult]:
        """The diagnosis of the fault the message names (a device, a keyword; routing.yml)."""
        domain = default_table().route(turn.intent, turn.entities, turn.text).domain
        problem = problem_intent_for(domain)
        if problem is None:
            return None
        return await self._start_for_intent(replace(turn, intent=problem), running=None)

    async def _no_flow_for(
        self, session: AsyncSession, conversation_id: str, turn: CustomerTurn, language: str
    ) -> DiagnosisResult:
        domain = INTENT_DOMAINS.get(turn.intent, OTHER)
        ticket = await tickets.open_ticket(
            session=session,
            conversation_id=conversation_id,
            domain=domain,
            title=say("record.no_flow_title", domain=domain.capitalize()),
            summary=say("record.no_flow_summary", text=turn.text[:500]),
            tier=2,
        )
        result = DiagnosisResult(
            replies=[Reply(say("diagnosis.no_flow", language, ticket=ticket.number))],
            ticket_number=ticket.number,
        )
        await self.ask_for_contact(session, conversation_id, ticket, result, language)
        return result

    def _nothing_running(
        self, turn: CustomerTurn, fallback_count: int, language: str = "en"
    ) -> DiagnosisResult:
        """A turn with no flow running that starts none: the two-stage fallback.

        Every such turn counts as a miss, except "it works now", "no" and starting
        over: a first miss gets a guess, a request to rephrase or the question what
        the problem is about (a complaint's apology comes from the flow actions); a
        second the options plus a person; a third a person. So an angry customer
        is never asked the same thing a fourth time.
        """
        if turn.intent == "problem_fixed":
            return DiagnosisResult(replies=[Reply(say("fallback.fixed", language))])
        if turn.intent == "deny":
            return DiagnosisResult(
                replies=[Reply(say("fallback.deny", language))], fallback_count=fallback_count
            )
        if turn.intent in ("start_over", "go_back"):
            return what_is_it_about(fallback_count, language)
        result = self._not_understood(turn, fallback_count + 1, language)
        result.not_understood = True
        return result

    @staticmethod
    def _not_understood(turn: CustomerTurn, fallback_count: int, language: str) -> DiagnosisResult:
        """The fallback's answer to the `fallback_count`-th miss in a row."""
        if turn.intent == "complaint" and fallback_count == 1:
            return what_is_it_about(fallback_count, language)
        if fallback_count >= 3:
            return DiagnosisResult(
                replies=[Reply(say("fallback.give_up", language))],
                handoff=HandoffRequest(reason=say("record.reason.not_understood")),
            )
        if fallback_count >= 2:
            options = likely_first(domain_buttons(language), turn.likely_intents)
            return DiagnosisResult(
                replies=[
                    Reply(say("fallback.options", language), [*options, person_button(language)])
                ],
                fallback_count=fallback_count,
            )
        if turn.intent not in ("nlu_fallback", ""):
            # Understood, but not as a problem: an answer with no question asked.
            return what_is_it_about(fallback_count, language)
        guess = best_guess(turn)
        if guess is not None:
            guessed = next(b for b in domain_buttons(language) if b["payload"] == f"/{guess}")
            topic = say(f"topic.{guess}", language)
            return DiagnosisResult(
                replies=[Reply(say("fallback.guess", language, topic=topic), [guessed])],
                fallback_count=fallback_count,
                flow_state={GUESSED: guess},
            )
        if turn.likely_intents and turn.likely_intents[0] in GUESSED_REQUESTS:
            # "mein Router ist kaputt, ich brauche einen neuen", nearly read as a part
            # order: offered as a button rather than a plain "say it another way".
            request = turn.likely_intents[0]
            offered = button(f"button.{request}", language, f"/{request}")
            return DiagnosisResult(
                replies=[Reply(say("fallback.guess_request", language), [offered])],
                fallback_count=fallback_count,
            )
        return DiagnosisResult(
            replies=[Reply(say("fallback.rephrase", language))], fallback_count=fallback_count
        )

    async def _finish(
        self,
        session: AsyncSession,
        conversation_id: str,
        result: TurnResult,
        language: str,
        turn: Optional[CustomerTurn] = None,
        *,
        rate: bool = True,
    ) -> DiagnosisResult:
        await record_flow_events(
            session=session, conversation_id=conversation_id, events=result.events
        )
        for event in result.events:
            if event.kind == "miss" and turn is not None:
                await nlu_review.record(
                    session=session,
                    conversation_id=conversation_id,
                    kind="miss",
                    turn=turn,
                    flow_id=event.flow_id,
                    step_id=event.step_id,
                )
        replies = list(result.replies)
        if result.offer_person and not any(offers_person(r) for r in replies):
            # The person goes with the options, as one more button (once per turn).
            person = person_button(language)
            if replies and replies[-1].buttons:
                last = replies[-1]
                replies[-1] = Reply(last.text, [*last.buttons, person])
            else:
                replies.append(Reply(say("diagnosis.person_offer", language), [person]))
        outcome_result = DiagnosisResult(
            replies=replies,
            flow_state=result.state,
            active_flow=(result.state or {}).get("root_flow") if result.state else None,
        )
        if result.outcome is not None:
            await self._carry_out(
                session, conversation_id, result.outcome, outcome_result, language, rate=rate
            )
            after = result.outcome.after
            if after is not None and outcome_result.flow_state is None:
                # Kept for "still not working" (the outcome's `still_broken`), with the
                # ticket it opened, so the flow adds to that ticket rather than another.
                if outcome_result.ticket_number:
                    after["slots"]["ticket_number"] = outcome_result.ticket_number
                outcome_result.flow_state = {"after": after}
            if outcome_result.visit_offer:
                outcome_result.flow_state = {
                    **(outcome_result.flow_state or {}),
                    VISIT_OFFER: outcome_result.visit_offer,
                }
                if result.outcome.slots.get(ASKED_FOR_GOODWILL):
                    # Compensation was asked for: offered once the visit is booked.
                    outcome_result.flow_state[ASKED_FOR_GOODWILL] = True
        return outcome_result

    async def _carry_out(
        self,
        session: AsyncSession,
        conversation_id: str,
        outcome: Outcome,
        into: DiagnosisResult,
        language: str,
        *,
        rate: bool = True,
    ) -> None:
        flow = self.library.get(outcome.flow_id)
        title = flow.title if flow else outcome.flow_id
        if (
            outcome.slots.get(ASKED_FOR_GOODWILL)
            and outcome.kind in GOODWILL_AFTER
            and outcome.flow_id not in (*OPERATION_FLOWS.values(), CONTACT_FLOW)
        ):
            # The customer asked for compensation during the checks: what the policy
            # allows, or a colleague decides, on the flow's ticket.
            resolved = outcome.kind == "resolved"
            fixed = say("diagnosis.resolved", language) if resolved else ""
            outcome = replace(
                outcome,
                kind="goodwill",
                message=outcome.message or fixed,
                slots={**outcome.slots, FAULT_RESOLVED: resolved},
            )
        if await self._continue_operation(session, conversation_id, outcome, into, language):
            return
        if outcome.kind == "resolved":
            into.replies.append(Reply(outcome.message or say("diagnosis.resolved", language)))
            if rate:
                await self._ask_for_rating(session, conversation_id)
            return
        if outcome.kind == "handoff":
            if outcome.message:
                into.replies.append(Reply(outcome.message))
            if outcome.slots.get(ASKED_FOR_GOODWILL):
                into.replies.append(Reply(say("diagnosis.goodwill_to_colleague", language)))
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
        if outcome.kind in OUTCOME_NEXT_STEPS:
            summary += "\n" + say("record.next_step", step=say(f"record.step.{outcome.kind}"))
        tier = int(outcome.options.get("tier", 1))
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
                session=session,
                service_area=customer.service_area,
                reschedule=booking is not None,
                language=language,
                wish=str(slots.get(VISIT_WISH) or ""),
                not_on=[booking.starts_at] if booking is not None else [],
            )
            offer = say("visit.offer_on_ticket", language, offer=lead + text, ticket=ticket.number)
            into.replies.append(Reply(offer, buttons))
            into.visit_offer = buttons or None
            return
        into.replies.extend(
            ticket_announcement(
                outcome, ticket, created=created, known=known is not None, language=language
            )
        )
        if not tickets.reachable(ticket) and outcome.flow_id != CONTACT_FLOW:
            await self.ask_for_contact(session, conversation_id, ticket, into, language)
            return
        if slots.get(ASKED_FOR_GOODWILL) and slots.get("order_number"):
            # Compensation asked for during the checks, and the fix is a part now on
            # its way: what the policy allows, or a colleague decides, on the order's ticket.
            await self._continue_operation(
                session,
                conversation_id,
                replace(
                    outcome,
                    kind="goodwill",
                    message="",
                    slots={**slots, "ticket_number": ticket.number, FAULT_RESOLVED: False},
                ),
                into,
                language,
            )

    async def _ask_for_rating(self, session: AsyncSession, conversation_id: str) -> None:
        """The assistant alone solved the problem: ask the customer once how we did.

        The same `rating_request` frame as after an agent's chat; the widget
        shows the rating card once the assistant's turn has ended.
        """
        if self.hub is None:
            return
        if await handoffs.claim_rating_request(
            session=session, conversation_id=conversation_id, bot_only=True
        ):
            await self.hub.publish(conversation_id, {"type": "rating_request"})

    async def ask_for_contact(
        self,
        session: AsyncSession,
        conversation_id: str,
        ticket: tickets.Ticket,
        into: DiagnosisResult,
        language: str,
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
        started = await self.engine.start(
            flow, slots={"ticket_number": ticket.number}, language=language
        )
        await record_flow_events(
            session=session, conversation_id=conversation_id, events=started.events
        )
        into.replies.extend(started.replies)
        into.flow_state = started.state
        into.active_flow = CONTACT_FLOW

    async def _continue_operation(
        self,
        session: AsyncSession,
        conversation_id: str,
        outcome: Outcome,
        into: DiagnosisResult,
        language: str,
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
        elif outcome.flow_id in OPERATION_FLOWS.values() and not (
            outcome.kind == "goodwill" and outcome.flow_id == OPERATION_FLOWS["part"]
        ):
            return False
        if outcome.kind == "part" and slots.get("order_number"):
            return False
        flow = self.library.get(target)
        if flow is None:
            return False
        origin = self.library.get(outcome.flow_id)
        carried = {
            k: v
            for k, v in slots.items()
            if k
            in ("customer_id", "ticket_number", "visit_request", ASKED_FOR_GOODWILL, FAULT_RESOLVED)
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
        started = await self.engine.start(flow, slots=carried, language=language)
        await record_flow_events(
            session=session, conversation_id=conversation_id, events=started.events
        )
        into.replies.extend(started.replies)
        into.flow_state = started.state
        into.active_flow = (started.state or {}).get("root_flow") if started.state else None
        if started.outcome is not None:
            await self._carry_out(session, conversation_id, started.outcome, into, language)
        return True


def ticket_announcement(
    outcome: Outcome, ticket: tickets.Ticket, *, created: bool, known: bool, language: str = "en"
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
    tried = [e for e in outcome.trail if e.get("flow") not in NOT_TRIED_FLOWS]
    if created and not tried:
        # Nothing was tried (a known outage, a request for compensation): no "with
        # everything we tried".
        text = say("ticket.opened_for_this", language, ticket=ticket.number)
    elif created:
        text = say("ticket.opened", language, ticket=ticket.number)
    elif known:
        text = say("ticket.added_to", language, ticket=ticket.number)
    else:
        text = say("ticket.added_to_open", language, ticket=ticket.number)
    if tickets.reachable(ticket) and not slots.get("visit_id"):
        text += " " + say("ticket.in_touch", language)
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
    """The problem intent the NLU ranked first, when a not-understood turn has one. Of
    the first two, the one whose area the device named belongs to: „mein Fernseher hat
    kein Ton mehr“, ranked a device fault just before a cable one, is about the TV."""
    if not turn.likely_intents or turn.likely_intents[0] not in INTENT_DOMAINS:
        return None
    named = default_table().domain_from_entities(turn.entities)
    for intent in turn.likely_intents[:2]:
        if named is not None and INTENT_DOMAINS.get(intent) == named:
            return intent
    return turn.likely_intents[0]


def likely_first(buttons: list[dict[str, str]], likely: tuple[str, ...]) -> list[dict[str, str]]:
    """The domain buttons, the ones the NLU found more likely first (stable otherwise)."""
    rank = {f"/{intent}": position for position, intent in enumerate(likely)}
    return sorted(buttons, key=lambda b: rank.get(b["payload"], len(rank)))


def what_is_it_about(fallback_count: int, language: str = "en") -> DiagnosisResult:
    """Asks which kind of problem it is, with the domains and a person as buttons."""
    buttons = [*domain_buttons(language), person_button(language)]
    return DiagnosisResult(
        replies=[Reply(say("fallback.what_about", language), buttons)],
        fallback_count=fallback_count,
    )


def _names_its_own_subject(turn: CustomerTurn, part: ToldProblem) -> bool:
    """ "Mein Laptop startet nicht mehr, da kommt nur ein schwarzer Bildschirm": a part
    that names nothing of its flow's area (a device, a keyword of routing.yml) is about
    what the part before it named, so it is no second problem."""
    table = default_table()
    domain = part.match.flow.domain
    entities = _told_part(turn, part)["entities"]
    return table.domain_from_entities(entities) == domain or any(
        found == domain and pattern.search(part.text) for found, pattern in table.keyword_domains
    )


def _told_part(turn: CustomerTurn, part: ToldProblem) -> dict[str, Any]:
    """One problem of a message that told two: its words, and the entities found in
    them, placed in those words."""
    entities = []
    for entity in turn.entities:
        place = CustomerTurn.place(entity, turn.text)
        if place is None or not (part.start <= place[0] and place[1] <= part.end):
            continue
        shift = part.start + len(part.text) - len(part.text.lstrip())
        entities.append({**entity, "start": place[0] - shift, "end": place[1] - shift})
    return {"text": part.text.strip(), "entities": entities}


def entity_slots(turn: CustomerTurn) -> dict[str, Any]:
    """The message's entities as a flow's slots (a button's `choice` is no slot)."""
    return {e["entity"]: e["value"] for e in turn.entities if e.get("entity") != "choice"}

"""The two-stage fallback: a guess or a rephrase, then the likely options, then a person."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import pytest

from api.config import Settings
from api.db import Database
from api.services.diagnosis import DiagnosisResult, DiagnosisService
from bot.flows.engine import CustomerTurn

TurnWithNoFlow = Callable[[CustomerTurn, int], Awaitable[DiagnosisResult]]


def not_understood(text: str, *likely: str) -> CustomerTurn:
    return CustomerTurn(text=text, intent="nlu_fallback", likely_intents=likely)


@pytest.fixture
async def turn(database: Database, database_settings: Settings) -> AsyncIterator[TurnWithNoFlow]:
    """One customer turn with no flow running, after `misses` earlier misses."""
    service = DiagnosisService(database_settings, database)
    async with database.session() as session:

        async def run(customer_turn: CustomerTurn, misses: int = 0) -> DiagnosisResult:
            return await service.handle_turn(
                session=session,
                conversation_id="c-1",
                flow_state=None,
                turn=customer_turn,
                fallback_count=misses,
            )

        yield run


async def two_turns(
    database: Database, settings: Settings, first: CustomerTurn, second: CustomerTurn
) -> tuple[DiagnosisResult, DiagnosisResult]:
    """A first message with nothing running, then a second with what the first left."""
    service = DiagnosisService(settings, database)
    async with database.session() as session:
        before = await service.handle_turn(
            session=session, conversation_id="c-1", flow_state=None, turn=first
        )
        after = await service.handle_turn(
            session=session,
            conversation_id="c-1",
            flow_state=before.flow_state,
            turn=second,
            fallback_count=before.fallback_count,
        )
    return before, after


async def test_three_misses_guess_then_options_then_a_person(turn: TurnWithNoFlow) -> None:
    first = await turn(not_understood("same again on both", "problem_cable", "greet"), 0)
    assert first.fallback_count == 1 and first.handoff is None
    assert "Is it about your cable TV?" in first.replies[0].text
    assert first.replies[0].buttons == [{"title": "Cable TV", "payload": "/problem_cable"}]

    second = await turn(
        not_understood("no the other thing", "problem_software", "problem_hardware"), 1
    )
    assert second.fallback_count == 2 and second.handoff is None
    payloads = [b["payload"] for b in second.replies[0].buttons]
    assert payloads[:2] == ["/problem_software", "/problem_hardware"]
    assert sorted(payloads[2:4]) == ["/problem_cable", "/problem_internet"]
    assert payloads[-1] == "/request_human"

    third = await turn(not_understood("argh"), 2)
    assert third.handoff is not None and third.handoff.reason == "not understood three times"


async def test_without_a_problem_guess_the_customer_is_asked_to_rephrase(
    turn: TurnWithNoFlow,
) -> None:
    result = await turn(not_understood("blorp", "greet", "problem_cable"), 0)
    assert "say it another way" in result.replies[0].text
    assert result.replies[0].buttons in (None, [])


async def test_answers_with_no_question_asked_count_as_misses_too(turn: TurnWithNoFlow) -> None:
    misses = 0
    results = []
    for intent in ("inform", "affirm", "inform"):
        result = await turn(CustomerTurn(text="X200", intent=intent), misses)
        misses = result.fallback_count
        results.append(result)
    assert results[0].replies[0].text == "What is the problem about?"
    assert "still not sure" in results[1].replies[0].text
    assert results[2].handoff is not None


@pytest.mark.parametrize("intent", ["deny", "start_over"])
async def test_no_and_starting_over_are_not_misses(turn: TurnWithNoFlow, intent: str) -> None:
    result = await turn(CustomerTurn(text="...", intent=intent), 1)
    assert result.fallback_count == 1 and result.handoff is None


async def test_complaints_with_no_flow_count_until_a_person_takes_over(
    turn: TurnWithNoFlow,
) -> None:
    """An angry customer is never asked "what is it about?" a fourth time."""
    misses = 0
    results = []
    for _ in range(3):
        result = await turn(CustomerTurn(text="this is useless", intent="complaint"), misses)
        misses = result.fallback_count
        results.append(result)
    assert results[0].replies[0].text == "What is the problem about?"
    assert results[0].fallback_count == 1 and results[0].handoff is None
    assert "talk to a person" in results[1].replies[0].text and results[1].handoff is None
    assert results[2].handoff is not None


@pytest.mark.parametrize(
    ("text", "first_question"),
    [
        (
            "I've been without internet for 4 days and nobody cares, this is ridiculous",
            "router",
        ),
        # Routed by "Fernsehen" and "Sendern"; the flow's language is the caller's.
        ("Seit Tagen kein Fernsehen, auf allen Sendern nur Kein Signal, unfassbar!", "TV box"),
    ],
)
async def test_a_complaint_that_names_its_problem_starts_its_diagnosis(
    turn: TurnWithNoFlow, text: str, first_question: str
) -> None:
    result = await turn(CustomerTurn(text=text, intent="complaint"), 0)
    said = " ".join(r.text for r in result.replies)
    assert first_question in said and "What is the problem about?" not in said, said
    assert result.flow_state and result.flow_state.get("flow") and result.fallback_count == 0


@pytest.mark.parametrize("intent", ["already_tried", "problem_persists"])
async def test_already_tried_or_still_broken_as_a_first_message_starts_its_diagnosis(
    turn: TurnWithNoFlow, intent: str
) -> None:
    text = "no internet since this morning, I already restarted the router twice"
    result = await turn(CustomerTurn(text=text, intent=intent), 0)
    said = " ".join(r.text for r in result.replies)
    assert "What do its lights show?" in said and "What is the problem about?" not in said
    assert result.flow_state and result.flow_state.get("flow") and result.fallback_count == 0


@pytest.mark.parametrize(
    ("text", "language", "flow"),
    [
        ("picture keeps freezing and breaking up into blocks", "en", "cable_picture_sound"),
        ("Das Bild zerfällt dauernd in Klötzchen", "de", "cable_picture_sound"),
    ],
)
async def test_the_domain_picked_after_a_guess_starts_the_flow_the_first_words_fit(
    database: Database, database_settings: Settings, text: str, language: str, flow: str
) -> None:
    """ "Is it about your cable TV?" - [Cable TV]: the picture flow the customer
    described, not the cable domain's default."""
    service = DiagnosisService(database_settings, database)
    async with database.session() as session:
        missed = await service.handle_turn(
            session=session,
            conversation_id="c-guess",
            flow_state=None,
            turn=CustomerTurn(
                text=text,
                intent="nlu_fallback",
                likely_intents=("problem_cable", "problem_software"),
                language=language,
            ),
            fallback_count=0,
            language=language,
        )
        assert missed.replies[0].buttons == [
            {
                "title": "Cable TV" if language == "en" else "Kabelfernsehen",
                "payload": "/problem_cable",
            }
        ]
        picked = await service.handle_turn(
            session=session,
            conversation_id="c-guess",
            flow_state=missed.flow_state,
            turn=CustomerTurn(text="/problem_cable", intent="problem_cable", language=language),
            fallback_count=missed.fallback_count,
            language=language,
        )
        # A typed yes („ja“) takes the guess as the button does.
        typed = await service.handle_turn(
            session=session,
            conversation_id="c-guess-typed",
            flow_state=missed.flow_state,
            turn=CustomerTurn(
                text="yes" if language == "en" else "ja", intent="affirm", language=language
            ),
            fallback_count=missed.fallback_count,
            language=language,
        )
    assert picked.flow_state is not None and picked.flow_state["flow"] == flow
    assert typed.flow_state is not None and typed.flow_state["flow"] == flow


@pytest.mark.parametrize(
    ("text", "language", "flow"),
    [
        ("mein Fernseher hat kein Bild mehr, nur schwarz", "de", "cable_black_screen"),
        ("my tv screen stays black, no picture at all", "en", "cable_black_screen"),
        ("mein fernseher hat kein ton mehr", "de", "cable_picture_sound"),
    ],
)
async def test_an_unsure_message_very_close_to_one_flow_starts_it(
    turn: TurnWithNoFlow, text: str, language: str, flow: str
) -> None:
    """The NLU torn between cable TV and a device, the words clearly one cable fault."""
    unsure = replace(
        not_understood(text, "problem_cable", "problem_hardware"),
        language=language,
        entities=[{"entity": "device", "value": "tv"}],
    )
    result = await turn(unsure, 0)
    assert result.flow_state is not None and result.flow_state["flow"] == flow
    assert result.fallback_count == 0


async def test_without_a_guess_the_domain_button_starts_its_default(
    database: Database, database_settings: Settings
) -> None:
    service = DiagnosisService(database_settings, database)
    async with database.session() as session:
        picked = await service.handle_turn(
            session=session,
            conversation_id="c-button",
            flow_state=None,
            turn=CustomerTurn(text="/problem_cable", intent="problem_cable"),
            fallback_count=0,
        )
    assert picked.flow_state is not None and picked.flow_state["flow"] == "cable_black_screen"


def test_a_device_then_its_problem_read_as_one_message() -> None:
    from api.services.diagnosis import DEVICE_ONLY, told_in_two

    laptop = {"entity": "device", "value": "laptop", "start": 5, "end": 11}
    state = {"unsure_text": "mein Laptop", DEVICE_ONLY: [laptop]}
    adapter = {"entity": "device", "value": "power adapter", "start": 12, "end": 20}
    turn = CustomerTurn(
        text="geht nicht, Netzteil ok", intent="problem_hardware", entities=[adapter]
    )
    joined = told_in_two("mein Laptop", state, turn)
    assert joined.text == "mein Laptop: geht nicht, Netzteil ok"
    # Each entity where it stands in the joined text; the device named first wins.
    moved = joined.entities[0]
    assert joined.text[moved["start"] : moved["end"]] == "Netzteil"
    assert joined.text[laptop["start"] : laptop["end"]] == "Laptop"
    assert joined.entities[-1] == laptop


async def test_an_unsure_reply_to_a_vague_openers_first_question_tells_the_problem(
    database: Database, database_settings: Settings
) -> None:
    # "Ich habe Probleme mit meinem Internet" starts the internet default flow; "es ist
    # sehr langsam" to its first question is the problem, told now, even when the
    # language model is unsure of it: the slow-speed flow takes over, no miss.
    service = DiagnosisService(database_settings, database)
    async with database.session() as session:

        async def run(customer_turn: CustomerTurn, flow_state) -> DiagnosisResult:
            return await service.handle_turn(
                session=session,
                conversation_id="c-vague",
                flow_state=flow_state,
                turn=customer_turn,
                fallback_count=0,
            )

        vague = CustomerTurn(
            text="Ich habe Probleme mit meinem Internet", intent="problem_internet", language="de"
        )
        started = await run(vague, None)
        assert started.flow_state["flow"] == "internet_no_connection"
        # Unsure: every flow is a candidate, and "sehr langsam" alone reads as a slow
        # computer; with the opener it is the internet.
        told = replace(
            not_understood("es ist sehr langsam", "problem_internet", "problem_software"),
            language="de",
            confidence=0.4,
        )
        switched = await run(told, started.flow_state)
        assert switched.flow_state["flow"] == "internet_slow_speed", switched.replies
        # Past the first question, an unsure reply is a miss as before, not a new flow.
        answered = await run(
            CustomerTurn(text="alle grün", intent="inform", language="de"), started.flow_state
        )
        later = await run(told, answered.flow_state)
        assert later.flow_state["flow"] == "internet_no_connection"


@pytest.mark.parametrize(
    ("text", "language", "starts"),
    [
        ("what does DNS mean?", "en", "DNS: The internet's address book"),
        ("was bedeutet eigentlich WLAN-Kanal?", "de", "WLAN-Kanal: Der Funkkanal"),
    ],
)
async def test_a_term_asked_about_with_nothing_running_is_explained(
    database: Database, database_settings: Settings, text: str, language: str, starts: str
) -> None:
    service = DiagnosisService(database_settings, database)
    async with database.session() as session:
        result = await service.handle_turn(
            session=session,
            conversation_id="c-term",
            flow_state=None,
            turn=CustomerTurn(text=text, intent="explain_term", language=language),
            language=language,
        )
    assert result.replies[0].text.startswith(starts), result.replies
    assert result.fallback_count == 0 and result.handoff is None


async def test_a_request_nearly_understood_is_offered_as_a_button(turn: TurnWithNoFlow) -> None:
    unsure = replace(
        not_understood("mein Router ist kaputt, ich brauche einen neuen", "order_part"),
        language="de",
    )
    result = await turn(unsure, 0)
    assert result.fallback_count == 1 and result.handoff is None
    assert result.replies[0].buttons == [
        {"title": "Order a replacement part", "payload": "/order_part"}
    ]


@pytest.mark.parametrize(
    ("text", "language"),
    [("alle Lämpchen leuchten", "de"), ("all the lights are on but nothing loads", "en")],
)
async def test_after_leaving_the_queue_what_happens_is_about_the_topic(
    database: Database, database_settings: Settings, text: str, language: str
) -> None:
    """ "If your internet still isn't working, tell me what's happening": the next
    message describes the internet, whatever intent the NLU gives it."""
    service = DiagnosisService(database_settings, database)
    topic = {"handed_back": {"skill": "internet", "left_queue": True}}
    async with database.session() as session:
        result = await service.handle_turn(
            session=session,
            conversation_id="c-left-queue",
            flow_state=topic,
            turn=CustomerTurn(text=text, intent="inform", language=language),
            fallback_count=0,
            language=language,
        )
    assert result.flow_state is not None and result.flow_state.get("flow"), result.replies
    assert result.flow_state["root_flow"].startswith("internet_"), result.flow_state
    assert result.fallback_count == 0


async def test_a_confirmed_guess_keeps_the_ask_for_compensation(
    database: Database, database_settings: Settings
) -> None:
    """ "…nur schwarzer Bildschirm … Ich möchte eine Gutschrift!" (not understood), then
    „ja“ to "Is it about your cable TV?": the checks start, and the compensation asked
    for in the first message is kept for their end."""
    service = DiagnosisService(database_settings, database)
    text = "Seit Montag kein Fernsehen, nur schwarzer Bildschirm. Ich möchte eine Gutschrift!"
    async with database.session() as session:
        missed = await service.handle_turn(
            session=session,
            conversation_id="c-guess-goodwill",
            flow_state=None,
            turn=CustomerTurn(
                text=text,
                intent="nlu_fallback",
                likely_intents=("problem_cable", "billing"),
                language="de",
            ),
            fallback_count=0,
            language="de",
        )
        typed = await service.handle_turn(
            session=session,
            conversation_id="c-guess-goodwill",
            flow_state=missed.flow_state,
            turn=CustomerTurn(text="ja", intent="affirm", language="de"),
            fallback_count=missed.fallback_count,
            language="de",
        )
    assert typed.flow_state is not None and typed.flow_state["flow"] == "cable_black_screen"
    assert typed.flow_state["slots"].get("asked_for_goodwill") is True
    assert "Entschädigung" in typed.replies[0].text


@pytest.mark.parametrize(
    ("text", "likely", "bill_noted"),
    [
        ("why does my bill say $89 when i signed up for $59?? and the tv box keeps rebooting "
         "itself every hour", ("problem_cable", "billing"), True),
        ("Warum wurde mir doppelt abgebucht? Und seit gestern hängt der Receiver ständig",
         ("problem_cable", "billing"), True),
        ("paying for 500mbps and speedtest shows 12", ("problem_internet", "billing"), False),
        ("the tv box keeps rebooting itself, I was charged for a new one last month",
         ("problem_cable", "problem_hardware"), False),
    ],
)  # fmt: skip
async def test_a_question_about_the_bill_told_with_a_fault_is_answered_first(
    turn: TurnWithNoFlow, text: str, likely: tuple[str, ...], bill_noted: bool
) -> None:
    result = await turn(
        CustomerTurn(text=text, intent=likely[0], confidence=0.6, likely_intents=likely), 0
    )
    first = result.replies[0].text
    assert result.flow_state and result.flow_state.get("flow"), first
    assert (first.startswith("About your bill") or first.startswith("Zu Ihrer Rechnung")) is (
        bill_noted
    ), first


@pytest.mark.parametrize(
    ("text", "intent", "two"),
    [
        ("my internet is down and my tv box also says no signal", "problem_internet", True),
        ("Kein Internet seit gestern. Und der Receiver hängt auch noch beim Hochfahren.",
         "problem_internet", True),
        # The black screen is the laptop's: the second part names nothing of its own.
        ("Mein Laptop startet nicht mehr, da kommt nur ein schwarzer Bildschirm mit "
         "blinkendem Strich", "problem_hardware", False),
    ],
)  # fmt: skip
async def test_a_second_problem_names_its_own_subject(
    turn: TurnWithNoFlow, text: str, intent: str, two: bool
) -> None:
    result = await turn(CustomerTurn(text=text, intent=intent), 0)
    said = " ".join(r.text for r in result.replies)
    assert ("You mentioned two things" in said) is two, said
    assert result.flow_state and ("parked" in result.flow_state) is two


@pytest.mark.parametrize(
    ("opener", "second", "intent", "parked"),
    [
        # The same fault, better told: the flow changes, nothing is kept for later.
        ("my laptop won't connect to the wifi",
         "the internet light on the router is blinking red", "problem_internet", False),
        ("Mein Laptop kommt nicht ins WLAN",
         "die Lampe bei Internet blinkt rot", "problem_internet", False),
        # Another fault: the first one waits.
        ("my laptop won't connect to the wifi",
         "oh and my tv box says no signal since this morning", "problem_cable", True),
    ],
)  # fmt: skip
async def test_a_problem_told_better_at_the_first_question_is_not_kept_as_a_second(
    database: Database,
    database_settings: Settings,
    opener: str,
    second: str,
    intent: str,
    parked: bool,
) -> None:
    first, result = await two_turns(
        database,
        database_settings,
        CustomerTurn(text=opener, intent="problem_internet"),
        CustomerTurn(text=second, intent=intent),
    )
    assert first.flow_state and first.flow_state["flow"] == "internet_one_device_cannot_connect"
    assert first.flow_state["step"] == "others_online"
    said = " ".join(r.text for r in result.replies)
    assert result.flow_state and result.flow_state["flow"] != first.flow_state["flow"], said
    assert ("parked" in result.flow_state) is parked, said
    assert ("in mind" in said or "im Kopf" in said) is parked, said


@pytest.mark.parametrize(
    ("opener", "likely", "detail", "flow"),
    [
        ("so yeah the thing with the box again", ("problem_cable", "complaint"),
         "all it shows is a black screen", "cable_black_screen"),
        ("Hi, I've had trouble since Saturday, third time this month, I want compensation",
         ("problem_internet", "complaint"), "all the lights on the router are off",
         "internet_no_connection"),
        ("schon wieder das gleiche wie letzte Woche", ("problem_cable", "complaint"),
         "der Fernseher bleibt schwarz", "cable_black_screen"),
    ],
)  # fmt: skip
async def test_a_guess_answered_with_a_detail_of_the_problem_starts_its_checks(
    database: Database,
    database_settings: Settings,
    opener: str,
    likely: tuple[str, ...],
    detail: str,
    flow: str,
) -> None:
    """ "Is it about your cable TV?" — "all it shows is a black screen": the guess
    taken, and the checks read from both messages; not a second miss."""
    guessed, result = await two_turns(
        database,
        database_settings,
        CustomerTurn(text=opener, intent="nlu_fallback", likely_intents=likely),
        CustomerTurn(text=detail, intent="inform"),
    )
    assert guessed.fallback_count == 1 and guessed.flow_state
    said = " ".join(r.text for r in result.replies)
    assert result.flow_state and result.flow_state.get("flow") == flow, said
    assert result.flow_state["history"], said  # the detail answered the first question
    assert ("compensation" in said) is ("compensation" in opener), said


async def test_no_to_a_guess_is_not_a_detail_of_it(
    database: Database, database_settings: Settings
) -> None:
    _, result = await two_turns(
        database,
        database_settings,
        not_understood("so yeah the thing with the box again", "problem_cable"),
        not_understood("no the other thing", "problem_software"),
    )
    assert not (result.flow_state or {}).get("flow") and result.fallback_count == 2


@pytest.mark.parametrize("reply", ["this is ridiculous", "something else", "ich habs so satt"])
async def test_words_that_tell_no_fault_are_no_detail_of_the_guess(
    database: Database, database_settings: Settings, reply: str
) -> None:
    _, result = await two_turns(
        database,
        database_settings,
        not_understood("so yeah the thing with the box again", "problem_cable"),
        CustomerTurn(text=reply, intent="complaint"),
    )
    assert not (result.flow_state or {}).get("flow") and result.fallback_count == 2


async def test_the_device_named_decides_between_two_close_guesses(
    turn: TurnWithNoFlow,
) -> None:
    """„der Fernseher spinnt schon wieder“, ranked a device fault just before a cable
    one: the TV is cable, so that is the guess, not a device that won't switch on."""
    opener = replace(
        not_understood("der Fernseher spinnt schon wieder", "problem_hardware", "problem_cable"),
        entities=[{"entity": "device", "value": "tv"}],
        language="de",
    )
    guessed = await turn(opener)
    assert guessed.replies[0].buttons[0]["payload"] == "/problem_cable", guessed.replies


async def test_without_a_device_the_first_guess_stands(turn: TurnWithNoFlow) -> None:
    guessed = await turn(
        not_understood("it does the thing again", "problem_hardware", "problem_cable")
    )
    assert guessed.replies[0].buttons[0]["payload"] == "/problem_hardware"


@pytest.mark.parametrize(
    ("text", "intent", "language", "answer"),
    [
        ("what can you do?", "out_of_scope", "en", "I'm the support assistant"),
        ("who are you", "nlu_fallback", "en", "I'm the support assistant"),
        ("Was kannst du alles?", "out_of_scope", "de", "Ich bin der Support-Assistent"),
        ("Wobei können Sie mir helfen?", "out_of_scope", "de", "Ich bin der Support-Assistent"),
    ],
)
async def test_a_question_about_the_assistant_is_answered_with_what_it_does(
    database: Database,
    database_settings: Settings,
    text: str,
    intent: str,
    language: str,
    answer: str,
) -> None:
    service = DiagnosisService(database_settings, database)
    async with database.session() as session:
        result = await service.handle_turn(
            session=session,
            conversation_id="c-about",
            flow_state=None,
            turn=CustomerTurn(text=text, intent=intent, language=language),
            language=language,
        )
    assert result.replies[0].text.startswith(answer), result.replies
    payloads = [b["payload"] for b in result.replies[0].buttons]
    assert "/problem_internet" in payloads and "/request_human" in payloads
    assert result.fallback_count == 0


async def test_a_question_we_cannot_answer_still_says_so(turn: TurnWithNoFlow) -> None:
    result = await turn(CustomerTurn(text="what's the weather tomorrow?", intent="out_of_scope"), 0)
    assert result.replies[0].text.startswith("Sorry, that's outside"), result.replies


@pytest.mark.parametrize(
    ("language", "opener", "correction", "intent", "likely"),
    [
        ("en", "my internet is not working",
         "actually wait, it's my tv that's not working, not the internet", "nlu_fallback",
         ("problem_cable", "problem_internet")),
        ("de", "Mein Internet geht nicht",
         "Moment, es ist der Fernseher, der nicht geht, nicht das Internet", "problem_internet",
         ("problem_cable", "problem_hardware")),
    ],
)  # fmt: skip
async def test_a_correction_naming_another_area_starts_its_checks_and_keeps_nothing(
    database: Database,
    database_settings: Settings,
    language: str,
    opener: str,
    correction: str,
    intent: str,
    likely: tuple[str, ...],
) -> None:
    service = DiagnosisService(database_settings, database)
    async with database.session() as session:
        first = await service.handle_turn(
            session=session,
            conversation_id="c-1",
            flow_state=None,
            turn=CustomerTurn(text=opener, intent="problem_internet", language=language),
            language=language,
        )
        assert first.flow_state and first.flow_state["flow"] == "internet_no_connection"
        result = await service.handle_turn(
            session=session,
            conversation_id="c-1",
            flow_state=first.flow_state,
            turn=CustomerTurn(
                text=correction,
                intent=intent,
                confidence=0.5,
                likely_intents=likely,
                language=language,
            ),
            language=language,
        )
    said = " ".join(r.text for r in result.replies)
    assert result.flow_state and result.flow_state["flow"].startswith("cable_"), said
    assert "parked" not in result.flow_state, said
    assert "ticket" not in said.lower(), said  # no line fault recorded for the internet

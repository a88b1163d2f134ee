"""The two-stage fallback: a guess or a rephrase, then the likely options, then a person."""

from __future__ import annotations

from api.config import Settings
from api.db import Database
from api.services.diagnosis import DiagnosisService
from bot.flows.engine import CustomerTurn


def not_understood(text: str, *likely: str) -> CustomerTurn:
    return CustomerTurn(text=text, intent="nlu_fallback", likely_intents=likely)


async def test_three_misses_guess_then_options_then_a_person(
    database: Database, database_settings: Settings
) -> None:
    service = DiagnosisService(database_settings)
    async with database.session() as session:

        async def turn(customer_turn: CustomerTurn, misses: int):
            return await service.handle_turn(
                session=session,
                conversation_id="c-1",
                flow_state=None,
                turn=customer_turn,
                fallback_count=misses,
            )

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
    database: Database, database_settings: Settings
) -> None:
    service = DiagnosisService(database_settings)
    async with database.session() as session:
        result = await service.handle_turn(
            session=session,
            conversation_id="c-2",
            flow_state=None,
            turn=not_understood("blorp", "greet", "problem_cable"),
        )
    assert "say it another way" in result.replies[0].text
    assert result.replies[0].buttons in (None, [])


async def test_answers_with_no_question_asked_count_as_misses_too(
    database: Database, database_settings: Settings
) -> None:
    service = DiagnosisService(database_settings)
    async with database.session() as session:
        misses = 0
        replies = []
        for intent in ("inform", "affirm", "inform"):
            result = await service.handle_turn(
                session=session,
                conversation_id="c-3",
                flow_state=None,
                turn=CustomerTurn(text="X200", intent=intent),
                fallback_count=misses,
            )
            misses = result.fallback_count
            replies.append(result)
    assert replies[0].replies[0].text == "What is the problem about?"
    assert "still not sure" in replies[1].replies[0].text
    assert replies[2].handoff is not None


async def test_no_and_starting_over_are_not_misses(
    database: Database, database_settings: Settings
) -> None:
    service = DiagnosisService(database_settings)
    async with database.session() as session:
        for intent in ("deny", "start_over", "complaint"):
            result = await service.handle_turn(
                session=session,
                conversation_id="c-4",
                flow_state=None,
                turn=CustomerTurn(text="...", intent=intent),
                fallback_count=1,
            )
            assert result.fallback_count == 1 and result.handoff is None, intent

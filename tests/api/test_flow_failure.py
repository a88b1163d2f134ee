"""A flow that fails at run time: the customer is still answered, in their language,
offered a person, and the failure is logged with the flow, the step and the conversation."""

from __future__ import annotations

import logging

import pytest

from api.config import Settings
from api.db import Database
from api.services.diagnosis import DiagnosisService, person_button
from bot.flows.engine import CustomerTurn

# A customer answering the router-lights question of the no-internet flow.
RUNNING = {
    "flow": "internet_no_connection",
    "step": "lights",
    "stack": [],
    "history": [],
    "slots": {},
    "trail": [],
    "misses": 0,
    "heard": [],
}


@pytest.mark.parametrize(
    ("text", "language", "opening"),
    [
        ("it is still not working", "en", "I'm sorry"),
        ("es geht immer noch nicht", "de", "Entschuldigung"),
        ("blinkt orange", "de", "Entschuldigung"),
    ],
)
async def test_a_flow_that_breaks_mid_conversation_still_answers(
    database: Database,
    database_settings: Settings,
    caplog: pytest.LogCaptureFixture,
    text: str,
    language: str,
    opening: str,
) -> None:
    service = DiagnosisService(database_settings, database)
    # The trainer renamed the step this customer is on while they were answering it.
    state = {**RUNNING, "step": "renamed_since"}
    caplog.set_level(logging.ERROR, logger="api.services.diagnosis")
    async with database.session() as session:
        result = await service.handle_turn(
            session=session,
            conversation_id="c-broken",
            flow_state=state,
            turn=CustomerTurn(text=text, intent="deny"),
            language=language,
        )
    assert len(result.replies) == 1 and result.replies[0].text.startswith(opening)
    assert result.replies[0].buttons == [person_button(language)]
    assert result.flow_state is None and result.handoff is None
    logged = [r for r in caplog.records if r.name == "api.services.diagnosis"]
    assert len(logged) == 1
    message = logged[0].getMessage()
    assert "internet_no_connection" in message and "renamed_since" in message
    assert "c-broken" in message and "removed-by-an-edit" in message


async def test_an_error_in_a_flow_is_logged_and_answered(
    database: Database,
    database_settings: Settings,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = DiagnosisService(database_settings, database)

    async def fails(state: dict, turn: CustomerTurn) -> None:
        raise LookupError("step 'lights' has no branch for result 'purple'")

    monkeypatch.setattr(service.engine, "answer", fails)
    caplog.set_level(logging.ERROR, logger="api.services.diagnosis")
    async with database.session() as session:
        result = await service.handle_turn(
            session=session,
            conversation_id="c-error",
            flow_state=RUNNING,
            turn=CustomerTurn(text="purple", intent="nlu_fallback"),
        )
    assert result.replies[0].text.startswith("I'm sorry")
    assert person_button() in result.replies[0].buttons and result.flow_state is None
    (record,) = [r for r in caplog.records if r.name == "api.services.diagnosis"]
    assert record.exc_info is not None and "purple" in record.getMessage()
    assert "internet_no_connection" in record.getMessage() and "lights" in record.getMessage()

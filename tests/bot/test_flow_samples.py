"""Every flow's own sample conversations (the `tests:` in data/flows/*.yml)."""

from __future__ import annotations

import pytest

from bot.flows.loader import FlowLibrary
from bot.flows.testing import run_flow_test
from tests.conftest import FLOWS_DIR

_library = FlowLibrary(FLOWS_DIR)
_library.reload()
CASES = [(flow, test) for flow in _library.flows().values() for test in flow.tests]


@pytest.mark.parametrize(
    ("flow", "test"), CASES, ids=[f"{f.id}: {t.get('name')}" for f, t in CASES]
)
async def test_flow_sample_conversation(flow, test) -> None:
    result = await run_flow_test(_library, flow, test)
    assert result.passed, result.problems


def test_every_flow_has_a_self_fix_and_an_escalation_sample() -> None:
    for flow in _library.flows().values():
        outcomes = {t.get("expect_outcome") for t in flow.tests}
        assert "resolved" in outcomes, flow.id
        assert outcomes - {"resolved", None}, flow.id

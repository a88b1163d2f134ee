"""Flow analytics on a small history with known figures, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from api.db import Database
from api.models import FlowEvent
from api.services import analytics
from bot.flows.loader import FlowLibrary
from tests.analytics_history import (
    DAY,
    EXPECTED,
    FLOW_ID,
    add_handoff,
    start_of,
    write_flow,
    write_history,
)

ABANDONED_AFTER = timedelta(minutes=30)
NOW = DAY + timedelta(days=1)
THAT_DAY = analytics.DateRange(DAY.date(), DAY.date())


@pytest.fixture
def library(tmp_path: Path) -> FlowLibrary:
    flows = FlowLibrary(write_flow(tmp_path / "flows"))
    flows.reload()
    return flows


async def figures_of(database: Database, library: FlowLibrary, days=THAT_DAY, now=NOW):
    async with database.session() as session:
        await analytics.refresh_flow_runs(session)
        flows = await analytics.flow_figures(
            session=session, library=library, days=days, abandoned_after=ABANDONED_AFTER, now=now
        )
    return {f.flow_id: f for f in flows}


async def test_per_flow_figures(database: Database, library: FlowLibrary) -> None:
    async with database.session() as session:
        await write_history(session)
    figures = (await figures_of(database, library))[FLOW_ID]
    assert figures.title == "Router check"
    assert figures.started == EXPECTED["started"]
    assert figures.outcomes == EXPECTED["outcomes"]
    assert figures.abandoned == EXPECTED["abandoned"]
    assert figures.in_progress == 0
    assert figures.contained == EXPECTED["contained"]
    assert figures.containment == round(1 / 7, 4)
    assert figures.handoff_rate == round(1 / 7, 4)
    assert figures.median_turns == EXPECTED["median_turns"]
    assert figures.median_minutes == EXPECTED["median_minutes"]


async def test_a_quiet_run_is_in_progress_until_the_customer_has_been_gone_a_while(
    database: Database, library: FlowLibrary
) -> None:
    async with database.session() as session:
        await write_history(session)
    # Ten minutes after c3's last message it is still in progress; c6's first run
    # was left for another, so it is abandoned at once.
    soon = start_of("c3") + timedelta(seconds=30, minutes=10)
    figures = (await figures_of(database, library, now=soon))[FLOW_ID]
    assert (figures.abandoned, figures.in_progress) == (1, 1)


async def test_per_step_figures(database: Database, library: FlowLibrary) -> None:
    async with database.session() as session:
        await write_history(session)
        await analytics.refresh_flow_runs(session)
        report = await analytics.step_figures(
            session=session,
            library=library,
            flow_id=FLOW_ID,
            days=THAT_DAY,
            abandoned_after=ABANDONED_AFTER,
            now=NOW,
        )
    assert report.started == 7
    # The funnel's order: from the start, breadth first.
    assert [s.step_id for s in report.steps] == ["lights", "restart", "broken", "fixed"]
    steps = {s.step_id: s for s in report.steps}
    assert {k: s.reached for k, s in steps.items()} == EXPECTED["reached"]
    for step_id, answers in EXPECTED["answers"].items():
        assert {a["value"]: a["count"] for a in steps[step_id].answers} == answers
    assert {a["title"] for a in steps["lights"].answers} == {"Green", "Red"}
    assert {a["title"] for a in steps["restart"].answers} == {"Yes"}
    assert {m["text"]: m["count"] for m in steps["lights"].misses} == EXPECTED["misses"]["lights"]
    assert steps["lights"].misses_total == 2
    assert {k: s.abandoned_here for k, s in steps.items() if s.abandoned_here} == EXPECTED[
        "abandoned_here"
    ]
    assert {k: s.handoff_here for k, s in steps.items() if s.handoff_here} == EXPECTED[
        "handoff_here"
    ]
    assert steps["restart"].label == "Restarted the router"

    async with database.session() as session:
        with pytest.raises(LookupError):
            await analytics.step_figures(
                session=session,
                library=library,
                flow_id="no_such_flow",
                days=THAT_DAY,
                abandoned_after=ABANDONED_AFTER,
            )


async def test_by_day_and_the_range(database: Database, library: FlowLibrary) -> None:
    async with database.session() as session:
        await write_history(session)
        await write_history(session, day=DAY + timedelta(days=2), prefix="later-")
        await analytics.refresh_flow_runs(session)
        days = analytics.DateRange(DAY.date() - timedelta(days=1), DAY.date() + timedelta(days=2))
        daily = await analytics.daily_figures(session=session, days=days)
        only_first = await analytics.daily_figures(session=session, days=THAT_DAY, flow_id=FLOW_ID)
        other_flow = await analytics.daily_figures(session=session, days=days, flow_id="other")
    assert [(d.day, d.started, d.contained, d.handoff) for d in daily] == [
        ("2026-11-01", 0, 0, 0),
        ("2026-11-02", 7, 1, 1),
        ("2026-11-03", 0, 0, 0),
        ("2026-11-04", 7, 1, 1),
    ]
    assert daily[0].containment is None
    assert daily[1].containment == round(1 / 7, 4) and daily[1].handoff_rate == round(1 / 7, 4)
    assert [d.started for d in only_first] == [7]
    assert all(d.started == 0 for d in other_flow)
    both = await figures_of(database, library, days=days, now=NOW + timedelta(days=3))
    assert both[FLOW_ID].started == 14 and both[FLOW_ID].contained == 2


async def test_the_rollup_takes_in_new_events_and_new_handoffs(
    database: Database, library: FlowLibrary
) -> None:
    async with database.session() as session:
        await write_history(session)
        assert await analytics.refresh_flow_runs(session) == 6
        assert await analytics.refresh_flow_runs(session) == 0  # nothing new
        # A person is asked for in c3 later on: only c3 is rebuilt, now a handoff.
        await add_handoff(session, "c3", start_of("c3") + timedelta(minutes=2))
        await session.commit()
        assert await analytics.refresh_flow_runs(session) == 1
    figures = (await figures_of(database, library))[FLOW_ID]
    assert figures.outcomes["handoff"] == 2 and figures.abandoned == 1


async def still_the_same(
    session, conversation: str, seconds: int, then: list[tuple[str, str, str | None]]
) -> None:
    """The customer writes "still the same" right after "yes, it works" (the engine's
    `still_broken` event), and the flow goes on at the No branch."""
    at = start_of(conversation) + timedelta(seconds=seconds)
    events = [("still_broken", "restart", "still the same"), *then]
    await session.execute(
        insert(FlowEvent.__table__),
        [
            {
                "conversation_id": conversation,
                "flow_id": FLOW_ID,
                "step_id": step,
                "kind": kind,
                "value": value,
                "created_at": at,
            }
            for kind, step, value in events
        ],
    )


async def test_still_not_working_after_an_outcome_takes_the_outcome_back(
    database: Database, library: FlowLibrary
) -> None:
    async with database.session() as session:
        await write_history(session)
        assert await analytics.refresh_flow_runs(session) == 6
        # c1 said it works, then "still the same": the flow went on to the ticket.
        await still_the_same(
            session, "c1", 90, [("step", "broken", None), ("outcome", "broken", "ticket")]
        )
        # c3 never had an outcome; c5 (asked for a person after "it works") takes it
        # back and goes quiet: its person decides.
        await still_the_same(session, "c5", 75, [("step", "broken", None)])
        await session.commit()
    figures = (await figures_of(database, library))[FLOW_ID]
    expected = dict(EXPECTED["outcomes"])
    expected.update(resolved=0, ticket=3, handoff=2)
    assert figures.outcomes == expected
    assert figures.contained == 0


async def test_a_long_history_is_taken_in_short_steps_with_the_same_result(
    database: Database, library: FlowLibrary
) -> None:
    async with database.session() as session:
        await write_history(session)
        # Five new rows per transaction: conversations split across steps are rebuilt
        # again with their later events, and the figures come out the same.
        assert await analytics.refresh_flow_runs(session, batch=5) >= 6
    figures = (await figures_of(database, library))[FLOW_ID]
    assert (figures.started, figures.outcomes, figures.abandoned, figures.contained) == (
        EXPECTED["started"],
        EXPECTED["outcomes"],
        EXPECTED["abandoned"],
        EXPECTED["contained"],
    )
    assert figures.median_turns == EXPECTED["median_turns"]


def test_date_ranges() -> None:
    today = date(2026, 12, 5)
    default = analytics.date_range(None, None, today=today)
    assert (default.first, default.last) == (date(2026, 11, 6), today)
    assert analytics.date_range(date(2026, 12, 1), None, today=today).last == today
    with pytest.raises(analytics.Invalid, match="after its last day"):
        analytics.date_range(date(2026, 12, 5), date(2026, 12, 1))
    with pytest.raises(analytics.Invalid, match="at most"):
        analytics.date_range(date(2020, 1, 1), date(2026, 1, 1))


def test_medians_from_histograms() -> None:
    assert analytics.median_of([]) is None
    assert analytics.median_of([(1, 3), (0, 1), (2, 3)]) == 1
    assert analytics.median_of([(1, 1), (4, 1)]) == 2.5
    assert analytics.median_of([(5, 1)]) == 5


def test_csv_never_starts_a_formula() -> None:
    text = analytics.to_csv(["text", "count"], [['=HYPERLINK("x")', 3], ["-1+1", 1], ["ok", 2]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["text", "count"], ['\'=HYPERLINK("x")', "3"], ["'-1+1", "1"], ["ok", "2"]]

"""Flow analytics: how diagnostic flows perform, computed with SQL from `flow_events`.

Three views, each for a date range (UTC days):

- per flow: runs started, their outcomes (resolved, ticket, part, visit,
  goodwill, handoff, abandoned), containment (resolved with no person asked
  for) and the median turns and minutes of a run;
- per step of one flow: how many customers reached it, how many left there
  (abandoned, or handed to a person), the answers chosen, and the messages
  that matched no choice, as the customers wrote them;
- per day: runs, containment and handoff rate.

A *run* is one flow from its `start` event to the next `start` in the same
conversation; its outcome is the first `outcome` event in it (after the
customer's last "still not working", which takes an outcome back), or a handoff
when a person was asked for during the run (a `handoffs` row), or
*abandoned* when neither came and the customer went quiet for
`ABANDONED_AFTER_MINUTES` or started another flow. Runs are kept in the
`flow_runs` rollup, which `refresh_flow_runs` rebuilds incrementally with SQL
for the conversations that have new flow events or handoffs since the last
refresh. So every request reads at most one row per run, on SQLite and
PostgreSQL alike. Per-step figures read `flow_events` of one flow directly.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Optional

from sqlalchemy import and_, case, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import AnalyticsWatermark, FlowEvent, FlowRun
from api.services.errors import Invalid
from bot.flows.loader import FlowLibrary
from bot.flows.model import Flow

OUTCOMES = ("resolved", "ticket", "part", "visit", "goodwill", "handoff")
# The longest date range one request may cover.
MAX_RANGE_DAYS = 731
DEFAULT_RANGE_DAYS = 30
# Messages that matched no choice, listed per step (the most frequent first).
MISSES_PER_STEP = 25

_RUNS = FlowRun.__table__
_EVENTS = FlowEvent.__table__


# ------------------------------------------------------------------ date range


@dataclass(frozen=True)
class DateRange:
    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=timezone.utc)

    @property
    def end(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=timezone.utc)

    def days(self) -> list[str]:
        count = (self.last - self.first).days + 1
        return [(self.first + timedelta(days=n)).isoformat() for n in range(count)]


def date_range(
    first: Optional[date], last: Optional[date], *, today: Optional[date] = None
) -> DateRange:
    """The requested days; by default the last 30 days up to today (UTC)."""
    today = today or datetime.now(timezone.utc).date()
    last = last or (today if first is None else max(first, today))
    first = first or last - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if first > last:
        raise Invalid("The range's first day is after its last day.")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise Invalid(f"A range may cover at most {MAX_RANGE_DAYS} days.")
    return DateRange(first, last)


# ------------------------------------------------------------------ the rollup


def _dialect_sql(dialect: str) -> tuple[str, str]:
    """(day of `o.started_at`, whole seconds from `o.started_at` to `o.ended_at`) in SQL."""
    if dialect == "postgresql":
        return (
            "to_char(o.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
            "CAST(FLOOR(EXTRACT(EPOCH FROM (o.ended_at - o.started_at))) AS INTEGER)",
        )
    # SQLite stores UTC timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff'; CAST truncates.
    return (
        "substr(o.started_at, 1, 10)",
        "CAST((julianday(o.ended_at) - julianday(o.started_at)) * 86400.0 + 0.0005 AS INTEGER)",
    )


_AFFECTED = """
    SELECT conversation_id FROM flow_events WHERE id > :events_from AND id <= :events_to
    UNION
    SELECT conversation_id FROM handoffs WHERE id > :handoffs_from AND id <= :handoffs_to
"""

_REBUILD = """
INSERT INTO flow_runs (
    id, conversation_id, flow_id, day, started_at, ended_at, seconds, turns,
    outcome, person, closed, last_flow_id, last_step_id
)
WITH events AS (
    SELECT id, conversation_id, kind, created_at,
           MAX(CASE WHEN kind = 'start' THEN id END) OVER (
               PARTITION BY conversation_id ORDER BY id
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
           ) AS run_id
    FROM flow_events
    WHERE conversation_id IN ({affected})
),
-- "Still not working" after an outcome takes that outcome back: the run's outcome
-- is the first one after the customer's last `still_broken`.
reopened AS (
    SELECT events.*,
           COALESCE(MAX(CASE WHEN kind = 'still_broken' THEN id END) OVER (
               PARTITION BY run_id
           ), 0) AS reopened_after
    FROM events
),
runs AS (
    SELECT run_id,
           MIN(conversation_id) AS conversation_id,
           MIN(created_at) AS started_at,
           MAX(created_at) AS ended_at,
           -- One customer message's events share one timestamp (record_flow_events).
           COUNT(DISTINCT created_at) - 1 AS turns,
           MIN(CASE WHEN kind = 'outcome' AND id > reopened_after THEN id END)
               AS outcome_event,
           MAX(CASE WHEN kind IN ('start', 'step', 'back', 'restart') THEN id END)
               AS position_event
    FROM reopened
    WHERE run_id IS NOT NULL
    GROUP BY run_id
),
ordered AS (
    SELECT runs.*,
           LEAD(started_at) OVER (PARTITION BY conversation_id ORDER BY run_id) AS next_start
    FROM runs
),
judged AS (
    SELECT ordered.*,
           EXISTS (
               SELECT 1 FROM handoffs h
               WHERE h.conversation_id = ordered.conversation_id
                 AND h.created_at >= ordered.started_at
                 AND (ordered.next_start IS NULL OR h.created_at < ordered.next_start)
           ) AS person
    FROM ordered
)
SELECT o.run_id, o.conversation_id, s.flow_id, {day}, o.started_at, o.ended_at, {seconds},
       o.turns,
       COALESCE(oe.value, CASE WHEN o.person THEN 'handoff' END),
       o.person,
       o.next_start IS NOT NULL,
       p.flow_id, p.step_id
FROM judged o
JOIN flow_events s ON s.id = o.run_id
JOIN flow_events p ON p.id = o.position_event
LEFT JOIN flow_events oe ON oe.id = o.outcome_event
"""


async def _watermarks(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(AnalyticsWatermark.source, AnalyticsWatermark.last_id))
    return {str(source): int(last_id) for source, last_id in rows.all()}


# New flow events (and handoffs) read per transaction: on SQLite a refresh holds the
# write lock while it rebuilds, so a long history is taken in short steps, with the
# conversations' own writes in between.
REFRESH_BATCH = 50_000


async def refresh_flow_runs(session: AsyncSession, *, batch: int = REFRESH_BATCH) -> int:
    """Bring `flow_runs` up to date; returns how many conversations were rebuilt.

    Only conversations with flow events or handoffs newer than the watermarks
    are rebuilt (all of them the first time), `batch` new rows at a time, each
    step in a transaction of its own.
    """
    rebuilt = 0
    while True:
        count, caught_up = await _refresh_step(session, batch)
        rebuilt += count
        if caught_up:
            return rebuilt


async def _refresh_step(session: AsyncSession, batch: int) -> tuple[int, bool]:
    events_max = (await session.execute(select(func.max(FlowEvent.id)))).scalar() or 0
    handoffs_max = (await session.execute(text("SELECT MAX(id) FROM handoffs"))).scalar() or 0
    marks = await _watermarks(session)
    if events_max <= marks.get("flow_events", 0) and handoffs_max <= marks.get("handoffs", 0):
        await session.commit()
        return 0, True
    # Taking the write lock first: concurrent refreshes run one after the other.
    await session.execute(update(AnalyticsWatermark).values(last_id=AnalyticsWatermark.last_id))
    marks = await _watermarks(session)
    events_from, handoffs_from = marks.get("flow_events", 0), marks.get("handoffs", 0)
    params = {
        "events_from": events_from,
        "events_to": max(events_from, min(events_max, events_from + batch)),
        "handoffs_from": handoffs_from,
        "handoffs_to": max(handoffs_from, min(handoffs_max, handoffs_from + batch)),
    }
    connection = await session.connection()
    day, seconds = _dialect_sql(connection.dialect.name)
    affected = (
        await session.execute(text(f"SELECT COUNT(*) FROM ({_AFFECTED}) AS affected"), params)
    ).scalar_one()
    if affected:
        await session.execute(
            text(f"DELETE FROM flow_runs WHERE conversation_id IN ({_AFFECTED})"), params
        )
        await session.execute(
            text(_REBUILD.format(affected=_AFFECTED, day=day, seconds=seconds)), params
        )
    for source, last_id in (
        ("flow_events", params["events_to"]),
        ("handoffs", params["handoffs_to"]),
    ):
        await session.execute(
            update(AnalyticsWatermark)
            .where(AnalyticsWatermark.source == source)
            .values(last_id=last_id)
        )
    await session.commit()
    caught_up = params["events_to"] >= events_max and params["handoffs_to"] >= handoffs_max
    return int(affected), caught_up


# ------------------------------------------------------------------- per flow


@dataclass
class FlowFigures:
    flow_id: str
    title: str
    started: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    abandoned: int = 0
    in_progress: int = 0
    contained: int = 0
    median_turns: Optional[float] = None
    median_minutes: Optional[float] = None

    @property
    def containment(self) -> Optional[float]:
        return round(self.contained / self.started, 4) if self.started else None

    @property
    def handoff_rate(self) -> Optional[float]:
        return round(self.outcomes["handoff"] / self.started, 4) if self.started else None


def _abandoned(cutoff: datetime) -> Any:
    return and_(FlowRun.outcome.is_(None), or_(FlowRun.closed, FlowRun.ended_at < cutoff))


def _in_days(days: DateRange) -> Any:
    return FlowRun.day.between(days.first.isoformat(), days.last.isoformat())


def _count(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


# Run times are counted in six-second buckets: medians to a tenth of a minute (rounded down).
SECONDS_BUCKET = 6


def median_of(histogram: list[tuple[float, int]]) -> Optional[float]:
    """The median of values given as (value, how many), in any order."""
    total = sum(count for _, count in histogram)
    if not total:
        return None
    wanted = {(total + 1) // 2, (total + 2) // 2}  # the middle one, or the middle two
    found, seen = [], 0
    for value, count in sorted(histogram):
        first, seen = seen + 1, seen + count
        found.extend(value for position in wanted if first <= position <= seen)
    return sum(found) / len(found)


async def _histograms(session: AsyncSession, column: Any, where: Any) -> dict[str, list]:
    """(value, runs) per flow: a median needs only these, not every run."""
    rows = await session.execute(
        select(FlowRun.flow_id, column, func.count()).where(where).group_by(FlowRun.flow_id, column)
    )
    histograms: dict[str, list] = defaultdict(list)
    for flow_id, value, count in rows.all():
        histograms[flow_id].append((value, int(count)))
    return histograms


async def flow_figures(
    *,
    session: AsyncSession,
    library: FlowLibrary,
    days: DateRange,
    abandoned_after: timedelta,
    now: Optional[datetime] = None,
) -> list[FlowFigures]:
    """Per flow started in the range: outcomes, containment, median turns and time."""
    cutoff = (now or datetime.now(timezone.utc)) - abandoned_after
    where = _in_days(days)
    columns = [
        FlowRun.flow_id,
        func.count().label("started"),
        *(_count(FlowRun.outcome == kind).label(kind) for kind in OUTCOMES),
        _count(_abandoned(cutoff)).label("abandoned"),
        _count(and_(FlowRun.outcome == "resolved", ~FlowRun.person)).label("contained"),
    ]
    rows = (
        await session.execute(select(*columns).where(where).group_by(FlowRun.flow_id))
    ).mappings()
    flows = library.flows()
    figures: dict[str, FlowFigures] = {}
    for row in rows:
        flow = flows.get(row["flow_id"])
        item = FlowFigures(
            flow_id=row["flow_id"],
            title=flow.title if flow else row["flow_id"],
            started=int(row["started"]),
            outcomes={kind: int(row[kind] or 0) for kind in OUTCOMES},
            abandoned=int(row["abandoned"] or 0),
            contained=int(row["contained"] or 0),
        )
        item.in_progress = item.started - sum(item.outcomes.values()) - item.abandoned
        figures[item.flow_id] = item
    turns = await _histograms(session, FlowRun.turns, where)
    buckets = await _histograms(session, FlowRun.seconds // SECONDS_BUCKET, where)
    for flow_id, item in figures.items():
        median_turns = median_of(turns.get(flow_id, []))
        median_bucket = median_of(buckets.get(flow_id, []))
        if median_turns is not None:
            item.median_turns = round(median_turns, 1)
        if median_bucket is not None:
            item.median_minutes = round(median_bucket * SECONDS_BUCKET / 60, 1)
    return sorted(figures.values(), key=lambda f: (-f.started, f.flow_id))


# ------------------------------------------------------------------- per step


@dataclass
class StepFigures:
    step_id: str
    kind: str
    label: str
    reached: int = 0
    abandoned_here: int = 0
    handoff_here: int = 0
    answers: list[dict[str, Any]] = field(default_factory=list)
    misses_total: int = 0
    misses: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FlowSteps:
    flow_id: str
    title: str
    started: int
    steps: list[StepFigures]


def steps_in_order(flow: Flow) -> list[str]:
    """The flow's steps from its start, breadth first (the order of a funnel)."""
    order, queue = [], [flow.start]
    while queue:
        step_id = queue.pop(0)
        if step_id in order or step_id not in flow.steps:
            continue
        order.append(step_id)
        queue.extend(flow.steps[step_id].targets())
    return order + [s for s in flow.steps if s not in order]


def _step_label(flow: Optional[Flow], step_id: str) -> tuple[str, str]:
    if flow is None or step_id not in flow.steps:
        return "", step_id
    step = flow.steps[step_id]
    return step.kind, step.summary_label or step_id


def _answer_title(flow: Optional[Flow], step_id: str, value: str) -> str:
    if flow is None or step_id not in flow.steps:
        return value
    for choice in flow.steps[step_id].choices:
        if choice.value == value:
            return choice.title
    return {"true": "Yes", "false": "No"}.get(value, value)


async def step_figures(
    *,
    session: AsyncSession,
    library: FlowLibrary,
    flow_id: str,
    days: DateRange,
    abandoned_after: timedelta,
    now: Optional[datetime] = None,
) -> FlowSteps:
    """Per step of one flow: reached, left there, answers chosen, messages not matched."""
    flow = library.get(flow_id)
    cutoff = (now or datetime.now(timezone.utc)) - abandoned_after
    in_range = and_(
        FlowEvent.flow_id == flow_id,
        FlowEvent.created_at >= days.start,
        FlowEvent.created_at < days.end,
    )
    # One pass over the flow's events: steps reached, answers given, messages not matched.
    rows = await session.execute(
        select(
            FlowEvent.kind,
            FlowEvent.step_id,
            FlowEvent.value,
            func.count(),
            func.count(FlowEvent.conversation_id.distinct()),
        )
        .where(in_range, FlowEvent.kind.in_(("step", "answer", "from_message", "miss")))
        .group_by(FlowEvent.kind, FlowEvent.step_id, FlowEvent.value)
    )
    reached: dict[str, int] = defaultdict(int)
    answers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    misses: dict[str, list[dict[str, Any]]] = defaultdict(list)
    miss_totals: dict[str, int] = defaultdict(int)
    for kind, step_id, value, count, customers in rows.all():
        if kind == "step":
            reached[step_id] += int(customers)
        elif kind == "miss":
            miss_totals[step_id] += int(count)
            misses[step_id].append({"text": value or "", "count": int(count)})
        else:
            title = _answer_title(flow, step_id, value or "")
            same = next((a for a in answers[step_id] if a["value"] == (value or "")), None)
            if same is not None:  # answered, and taken from the message, alike
                same["count"] += int(count)
            else:
                answers[step_id].append({"value": value or "", "title": title, "count": int(count)})
    if flow is None and not reached:
        raise LookupError(flow_id)
    for step_answers in answers.values():
        step_answers.sort(key=lambda a: (-a["count"], a["value"]))
    for step_misses in misses.values():
        step_misses.sort(key=lambda m: (-m["count"], m["text"]))
        del step_misses[MISSES_PER_STEP:]
    left_rows = await session.execute(
        select(
            FlowRun.last_step_id,
            _count(_abandoned(cutoff)).label("abandoned"),
            _count(FlowRun.outcome == "handoff").label("handoff"),
        )
        .where(_in_days(days), FlowRun.last_flow_id == flow_id)
        .group_by(FlowRun.last_step_id)
    )
    left = {row[0]: (int(row[1] or 0), int(row[2] or 0)) for row in left_rows.all()}
    started = (
        await session.execute(
            select(func.count())
            .select_from(FlowRun)
            .where(_in_days(days), FlowRun.flow_id == flow_id)
        )
    ).scalar_one()
    known = steps_in_order(flow) if flow else []
    seen = set(known)
    # Steps no longer in the flow (or a flow no longer there): the most reached first.
    extra = sorted(
        (s for s in set(reached) | set(answers) | set(misses) | set(left) if s not in seen),
        key=lambda s: (-reached.get(s, 0), s),
    )
    steps = []
    for step_id in known + extra:
        kind, label = _step_label(flow, step_id)
        abandoned_here, handoff_here = left.get(step_id, (0, 0))
        steps.append(
            StepFigures(
                step_id=step_id,
                kind=kind,
                label=label,
                reached=int(reached.get(step_id, 0)),
                abandoned_here=abandoned_here,
                handoff_here=handoff_here,
                answers=answers.get(step_id, []),
                misses_total=miss_totals.get(step_id, 0),
                misses=misses.get(step_id, []),
            )
        )
    return FlowSteps(
        flow_id=flow_id,
        title=flow.title if flow else flow_id,
        started=int(started),
        steps=steps,
    )


# -------------------------------------------------------------------- per day


@dataclass
class DayFigures:
    day: str
    started: int = 0
    contained: int = 0
    handoff: int = 0

    @property
    def containment(self) -> Optional[float]:
        return round(self.contained / self.started, 4) if self.started else None

    @property
    def handoff_rate(self) -> Optional[float]:
        return round(self.handoff / self.started, 4) if self.started else None


async def daily_figures(
    *, session: AsyncSession, days: DateRange, flow_id: Optional[str] = None
) -> list[DayFigures]:
    """Runs started per day, with containment and handoff rate; every day of the range."""
    where = [_in_days(days)]
    if flow_id:
        where.append(FlowRun.flow_id == flow_id)
    rows = await session.execute(
        select(
            FlowRun.day,
            func.count(),
            _count(and_(FlowRun.outcome == "resolved", ~FlowRun.person)),
            _count(FlowRun.outcome == "handoff"),
        )
        .where(*where)
        .group_by(FlowRun.day)
    )
    found = {day: DayFigures(day, int(n), int(c or 0), int(h or 0)) for day, n, c, h in rows.all()}
    return [found.get(day, DayFigures(day)) for day in days.days()]


# ------------------------------------------------------------------------ CSV

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A value for a spreadsheet: customer text never starts a formula."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()


def flows_csv(figures: list[FlowFigures]) -> str:
    header = [
        "flow_id",
        "title",
        "started",
        *OUTCOMES,
        "abandoned",
        "in_progress",
        "contained",
        "containment",
        "median_turns",
        "median_minutes",
    ]
    rows = [
        [
            f.flow_id,
            f.title,
            f.started,
            *(f.outcomes[k] for k in OUTCOMES),
            f.abandoned,
            f.in_progress,
            f.contained,
            f.containment,
            f.median_turns,
            f.median_minutes,
        ]
        for f in figures
    ]
    return to_csv(header, rows)


def steps_csv(steps: FlowSteps) -> str:
    """One row per step, then one per answer and one per message that matched no choice."""
    header = ["flow_id", "step_id", "label", "row", "value", "count"]
    rows: list[list[Any]] = []
    for step in steps.steps:
        base = [steps.flow_id, step.step_id, step.label]
        rows.append([*base, "reached", "", step.reached])
        rows.append([*base, "abandoned_here", "", step.abandoned_here])
        rows.append([*base, "handoff_here", "", step.handoff_here])
        rows.extend([*base, "answer", a["value"], a["count"]] for a in step.answers)
        rows.extend([*base, "not_matched", m["text"], m["count"]] for m in step.misses)
    return to_csv(header, rows)


def daily_csv(days: list[DayFigures]) -> str:
    header = ["day", "started", "contained", "containment", "handoff", "handoff_rate"]
    rows = [[d.day, d.started, d.contained, d.containment, d.handoff, d.handoff_rate] for d in days]
    return to_csv(header, rows)

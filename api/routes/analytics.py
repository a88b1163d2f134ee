"""Flow analytics and the review list, for trainers and supervisors (docs/analytics.md)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal, Optional

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import FileResponse, Response

from api.deps import CurrentAnalyst, DiagnosisDep, SessionDep, SettingsDep
from api.schemas.analytics import (
    DailyReport,
    DaySummary,
    FlowsReport,
    FlowSummary,
    LabelRequest,
    LabelResponse,
    Outcomes,
    ReviewReport,
    StepsReport,
)
from api.services import analytics, nlu_review

router = APIRouter(prefix="/analytics", tags=["analytics"])

First = Annotated[Optional[date], Query(alias="from", description="first day (UTC), YYYY-MM-DD")]
Last = Annotated[Optional[date], Query(alias="to", description="last day (UTC), YYYY-MM-DD")]
FlowId = Annotated[str, Path(pattern=r"^[a-z0-9_]{1,64}$")]


def _csv(content: str, name: str) -> Response:
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _flows(
    diagnosis: DiagnosisDep, session: SessionDep, settings: SettingsDep, first: First, last: Last
) -> tuple[analytics.DateRange, list[analytics.FlowFigures]]:
    days = analytics.date_range(first, last)
    await analytics.refresh_flow_runs(session)
    figures = await analytics.flow_figures(
        session=session,
        library=diagnosis.library,
        days=days,
        abandoned_after=timedelta(minutes=settings.abandoned_after_minutes),
    )
    return days, figures


@router.get("/flows", response_model=FlowsReport, summary="Outcomes and containment per flow")
async def flows(
    diagnosis: DiagnosisDep,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentAnalyst,
    first: First = None,
    last: Last = None,
) -> FlowsReport:
    days, figures = await _flows(diagnosis, session, settings, first, last)
    return FlowsReport(
        first_day=days.first,
        last_day=days.last,
        flows=[
            FlowSummary(
                flow_id=f.flow_id,
                title=f.title,
                started=f.started,
                outcomes=Outcomes(**f.outcomes, abandoned=f.abandoned, in_progress=f.in_progress),
                contained=f.contained,
                containment=f.containment,
                handoff_rate=f.handoff_rate,
                median_turns=f.median_turns,
                median_minutes=f.median_minutes,
            )
            for f in figures
        ],
    )


@router.get("/flows.csv", summary="Per flow, as CSV", response_class=Response)
async def flows_csv(
    diagnosis: DiagnosisDep,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentAnalyst,
    first: First = None,
    last: Last = None,
) -> Response:
    days, figures = await _flows(diagnosis, session, settings, first, last)
    return _csv(analytics.flows_csv(figures), f"flows_{days.first}_{days.last}.csv")


async def _steps(
    diagnosis: DiagnosisDep,
    session: SessionDep,
    settings: SettingsDep,
    flow_id: str,
    first: Optional[date],
    last: Optional[date],
) -> tuple[analytics.DateRange, analytics.FlowSteps]:
    days = analytics.date_range(first, last)
    await analytics.refresh_flow_runs(session)
    try:
        steps = await analytics.step_figures(
            session=session,
            library=diagnosis.library,
            flow_id=flow_id,
            days=days,
            abandoned_after=timedelta(minutes=settings.abandoned_after_minutes),
        )
    except LookupError:
        raise HTTPException(status_code=404, detail=f"No flow {flow_id!r}.") from None
    return days, steps


@router.get(
    "/flows/{flow_id}/steps",
    response_model=StepsReport,
    summary="Reach, drop-off and answers per step",
)
async def steps(
    diagnosis: DiagnosisDep,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentAnalyst,
    flow_id: FlowId,
    first: First = None,
    last: Last = None,
) -> StepsReport:
    days, figures = await _steps(diagnosis, session, settings, flow_id, first, last)
    return StepsReport(
        first_day=days.first,
        last_day=days.last,
        flow_id=figures.flow_id,
        title=figures.title,
        started=figures.started,
        steps=[vars(step) for step in figures.steps],
    )


@router.get("/flows/{flow_id}/steps.csv", summary="Per step, as CSV", response_class=Response)
async def steps_csv(
    diagnosis: DiagnosisDep,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentAnalyst,
    flow_id: FlowId,
    first: First = None,
    last: Last = None,
) -> Response:
    days, figures = await _steps(diagnosis, session, settings, flow_id, first, last)
    return _csv(analytics.steps_csv(figures), f"{flow_id}_steps_{days.first}_{days.last}.csv")


async def _daily(
    session: SessionDep, flow_id: Optional[str], first: Optional[date], last: Optional[date]
) -> tuple[analytics.DateRange, list[analytics.DayFigures]]:
    days = analytics.date_range(first, last)
    await analytics.refresh_flow_runs(session)
    return days, await analytics.daily_figures(session=session, days=days, flow_id=flow_id)


DailyFlow = Annotated[
    Optional[str], Query(pattern=r"^[a-z0-9_]{1,64}$", description="one flow only")
]


@router.get("/daily", response_model=DailyReport, summary="Containment and handoff rate by day")
async def daily(
    session: SessionDep,
    staff: CurrentAnalyst,
    flow_id: DailyFlow = None,
    first: First = None,
    last: Last = None,
) -> DailyReport:
    days, figures = await _daily(session, flow_id, first, last)
    return DailyReport(
        first_day=days.first,
        last_day=days.last,
        flow_id=flow_id,
        days=[
            DaySummary(
                day=d.day,
                started=d.started,
                contained=d.contained,
                containment=d.containment,
                handoff=d.handoff,
                handoff_rate=d.handoff_rate,
            )
            for d in figures
        ],
    )


@router.get("/daily.csv", summary="By day, as CSV", response_class=Response)
async def daily_csv(
    session: SessionDep,
    staff: CurrentAnalyst,
    flow_id: DailyFlow = None,
    first: First = None,
    last: Last = None,
) -> Response:
    days, figures = await _daily(session, flow_id, first, last)
    name = f"daily_{flow_id + '_' if flow_id else ''}{days.first}_{days.last}.csv"
    return _csv(analytics.daily_csv(figures), name)


@router.get(
    "/review", response_model=ReviewReport, summary="Messages the assistant did not understand"
)
async def review(
    session: SessionDep,
    staff: CurrentAnalyst,
    first: First = None,
    last: Last = None,
    kind: Optional[Literal["fallback", "miss"]] = None,
    status: Literal["open", "labelled", "all"] = "open",
) -> ReviewReport:
    days = analytics.date_range(first, last)
    items = await nlu_review.review_list(
        session=session, start=days.start, end=days.end, kind=kind, status=status
    )
    return ReviewReport(
        first_day=days.first, last_day=days.last, items=[vars(item) for item in items]
    )


@router.get(
    "/intents", response_model=list[str], summary="The intents a message can be labelled with"
)
async def intents(settings: SettingsDep, staff: CurrentAnalyst) -> list[str]:
    return nlu_review.domain_intents(settings.domain_file)


@router.post(
    "/review/labels",
    response_model=LabelResponse,
    summary="Label a message with the intent it should have had",
    responses={409: {"description": "the training data has this example under another intent"}},
)
async def label(
    body: LabelRequest, session: SessionDep, settings: SettingsDep, staff: CurrentAnalyst
) -> LabelResponse:
    result = await nlu_review.label(
        session=session,
        text=body.text,
        intent=body.intent,
        staff_id=staff.id,
        reviewed_file=settings.reviewed_nlu_file,
        domain_file=settings.domain_file,
    )
    return LabelResponse(**vars(result))


page_router = APIRouter()


@page_router.get("/analytics", include_in_schema=False)
async def analytics_page(settings: SettingsDep) -> FileResponse:
    page = settings.widget_dir / "analytics.html"
    if not page.is_file():
        raise HTTPException(status_code=404, detail="The analytics page is missing.")
    return FileResponse(page, media_type="text/html")

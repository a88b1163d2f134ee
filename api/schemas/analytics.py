"""Flow analytics and the review list of messages the assistant did not understand."""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from pydantic import BaseModel, Field


class Outcomes(BaseModel):
    resolved: int
    ticket: int
    part: int
    visit: int
    goodwill: int
    handoff: int
    abandoned: int
    in_progress: int


class FlowSummary(BaseModel):
    flow_id: str
    title: str
    started: int
    outcomes: Outcomes
    contained: int
    containment: Optional[float] = Field(description="contained / started, 0-1")
    handoff_rate: Optional[float] = Field(description="handoff / started, 0-1")
    median_turns: Optional[float] = Field(
        description="customer messages in a run after the one that started it"
    )
    median_minutes: Optional[float]


class FlowsReport(BaseModel):
    first_day: date
    last_day: date
    flows: list[FlowSummary]


class AnswerCount(BaseModel):
    value: str
    title: str
    count: int


class MissCount(BaseModel):
    text: str
    count: int


class StepSummary(BaseModel):
    step_id: str
    kind: str
    label: str
    reached: int = Field(description="customers who reached the step")
    abandoned_here: int
    handoff_here: int
    answers: list[AnswerCount]
    misses_total: int = Field(description="messages that matched no choice")
    misses: list[MissCount]


class StepsReport(BaseModel):
    first_day: date
    last_day: date
    flow_id: str
    title: str
    started: int
    steps: list[StepSummary]


class DaySummary(BaseModel):
    day: date
    started: int
    contained: int
    containment: Optional[float]
    handoff: int
    handoff_rate: Optional[float]


class DailyReport(BaseModel):
    first_day: date
    last_day: date
    flow_id: Optional[str]
    days: list[DaySummary]


class ReviewPlace(BaseModel):
    kind: str
    flow_id: Optional[str]
    step_id: Optional[str]
    count: int


class ReviewGuess(BaseModel):
    intent: Optional[str]
    count: int
    confidence: Optional[float]


class ReviewItem(BaseModel):
    text: str
    count: int
    last_seen: datetime
    kinds: dict[str, int]
    places: list[ReviewPlace]
    guesses: list[ReviewGuess]
    label: Optional[str]


class ReviewReport(BaseModel):
    first_day: date
    last_day: date
    items: list[ReviewItem]


class LabelRequest(BaseModel):
    text: str = Field(min_length=1, max_length=500)
    intent: str = Field(min_length=1, max_length=64)


class LabelResponse(BaseModel):
    text: str
    intent: str
    messages: int = Field(description="messages in the review list that got the label")
    file: str
    added: bool
    retrain_needed: bool
    message: str

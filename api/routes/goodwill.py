"""Goodwill gestures (staff only): the policy, the audit list, agents' own offers."""

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Header, Query

from api.deps import CurrentStaff, SessionDep
from api.schemas.goodwill import GestureCreate, GestureDecision, GesturePublic, PolicyPublic
from api.schemas.pages import Page
from api.schemas.types import INT64_MAX, Int64
from api.services import catalog, goodwill, tickets

router = APIRouter(tags=["goodwill"])
IdempotencyKey = Annotated[Optional[str], Header(alias="Idempotency-Key", max_length=80)]


@router.get("/goodwill/policy", response_model=PolicyPublic, summary="The goodwill policy")
async def policy(staff: CurrentStaff) -> PolicyPublic:
    current = catalog.goodwill_policy()
    return PolicyPublic(
        limits={
            "max_gestures": current.max_gestures,
            "period_days": current.period_days,
            "max_credit_per_period": str(current.max_credit_per_period),
            "agent_max_credit": str(current.agent_max_credit),
            "supervisor_max_credit": str(current.supervisor_max_credit),
        },
        rules=[
            {
                "id": r.id,
                "when": r.when,
                "gesture": {
                    "kind": r.gesture.kind,
                    "amount": str(r.gesture.amount),
                    "description": r.gesture.description,
                },
            }
            for r in current.rules
        ],
    )


@router.get("/goodwill", response_model=Page[GesturePublic], summary="Every gesture, for audit")
async def list_gestures(
    session: SessionDep,
    staff: CurrentStaff,
    customer_id: Optional[Int64] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> Page[GesturePublic]:
    rows, total = await goodwill.list_gestures(
        session=session, customer_id=customer_id, limit=limit, offset=offset
    )
    return Page(
        items=[GesturePublic.model_validate(g) for g in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.post(
    "/goodwill",
    response_model=GesturePublic,
    status_code=201,
    summary="Offer a gesture within your own limits and the customer's",
    responses={
        403: {"description": "above your limit or not allowed for your role"},
        404: {"description": "there is no such customer or ticket"},
        409: {"description": "the customer's limit for the period is reached"},
    },
)
async def offer_gesture(
    body: GestureCreate,
    session: SessionDep,
    staff: CurrentStaff,
    idempotency_key: IdempotencyKey = None,
) -> GesturePublic:
    ticket_id = None
    if body.ticket_number:
        ticket_id = (await tickets.require_ticket(session=session, number=body.ticket_number)).id
    gesture = await goodwill.staff_offer(
        session=session,
        staff=staff,
        customer_id=body.customer_id,
        kind=body.kind,
        amount=body.amount,
        description=body.description,
        reason=body.reason,
        ticket_id=ticket_id,
        idempotency_key=idempotency_key,
    )
    return GesturePublic.model_validate(gesture)


@router.post(
    "/goodwill/{gesture_id}/decision",
    response_model=GesturePublic,
    summary="Record the customer's answer to an offer",
)
async def decide(
    gesture_id: Int64, body: GestureDecision, session: SessionDep, staff: CurrentStaff
) -> GesturePublic:
    gesture = await goodwill.get_gesture(session=session, gesture_id=gesture_id)
    await goodwill.decide(
        session=session, gesture=gesture, accepted=body.accepted, actor=staff.name
    )
    return GesturePublic.model_validate(gesture)

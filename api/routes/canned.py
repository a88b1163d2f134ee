"""Canned responses: every agent reads and inserts them; supervisors manage them."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response

from api.deps import CurrentStaff, CurrentSupervisor, SessionDep
from api.schemas.canned import CannedPublic, CannedRender, CannedRendered, CannedWrite
from api.schemas.types import Int64
from api.services import access, canned

router = APIRouter(prefix="/canned-responses", tags=["canned responses"])


@router.get("", response_model=list[CannedPublic], summary="All canned responses")
async def list_responses(session: SessionDep, staff: CurrentStaff) -> list[CannedPublic]:
    return [CannedPublic.model_validate(r) for r in await canned.list_responses(session=session)]


@router.post("", response_model=CannedPublic, status_code=201, summary="Add a canned response")
async def create_response(
    body: CannedWrite, session: SessionDep, supervisor: CurrentSupervisor
) -> CannedPublic:
    response = await canned.create_response(
        session=session, fields=canned.CannedFields(**body.model_dump()), author=supervisor.name
    )
    return CannedPublic.model_validate(response)


@router.put("/{response_id}", response_model=CannedPublic, summary="Change a canned response")
async def update_response(
    response_id: Int64, body: CannedWrite, session: SessionDep, supervisor: CurrentSupervisor
) -> CannedPublic:
    response = await canned.update_response(
        session=session, response_id=response_id, fields=canned.CannedFields(**body.model_dump())
    )
    return CannedPublic.model_validate(response)


@router.delete("/{response_id}", status_code=204, summary="Remove a canned response")
async def delete_response(
    response_id: Int64, session: SessionDep, supervisor: CurrentSupervisor
) -> Response:
    await canned.delete_response(session=session, response_id=response_id)
    return Response(status_code=204)


@router.post(
    "/{response_id}/render",
    response_model=CannedRendered,
    summary="The reply for a chat: its language, placeholders filled in",
)
async def render_response(
    response_id: Int64, body: CannedRender, session: SessionDep, staff: CurrentStaff
) -> CannedRendered:
    if body.conversation_id and not await access.may_read_conversation(
        session=session, staff=staff, conversation_id=body.conversation_id
    ):
        raise HTTPException(status_code=404, detail="There is no such conversation.")
    response = await canned.get_response(session=session, response_id=response_id)
    text, language = await canned.render(
        session=session,
        response=response,
        conversation_id=body.conversation_id,
        agent_name=staff.name,
        language=body.language,
    )
    return CannedRendered(text=text, language=language)

"""Agents (created by supervisors) and the supervisor's live overview."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from api.deps import CurrentSupervisor, PresenceDep, SessionDep
from api.schemas.agents import (
    AgentCreate,
    AgentLoad,
    AgentPublic,
    AgentUpdate,
    Overview,
    QueueSummary,
)
from api.schemas.types import Int64
from api.services import agents, handoffs

router = APIRouter(prefix="/agents", tags=["agents"])


@router.post("", response_model=AgentPublic, status_code=201, summary="Create an agent")
async def create_agent(
    body: AgentCreate, session: SessionDep, supervisor: CurrentSupervisor
) -> AgentPublic:
    try:
        agent = await agents.create_agent(session=session, **body.model_dump())
    except agents.AgentExists:
        raise HTTPException(status_code=409, detail="An agent with this e-mail exists.") from None
    except ValueError as error:
        raise HTTPException(status_code=422, detail=str(error)) from None
    await session.commit()
    return AgentPublic.model_validate(agent)


@router.patch(
    "/{agent_id}",
    response_model=AgentPublic,
    summary="Change an agent: name, role, tier, skills, languages, capacity, active",
)
async def update_agent(
    agent_id: Int64,
    body: AgentUpdate,
    session: SessionDep,
    supervisor: CurrentSupervisor,
    presence: PresenceDep,
) -> AgentPublic:
    try:
        agent = await agents.update_agent(
            session=session, agent_id=agent_id, **body.model_dump(exclude_unset=True)
        )
    except agents.AgentNotFound:
        raise HTTPException(status_code=404, detail=f"There is no agent {agent_id}.") from None
    except ValueError as error:
        raise HTTPException(status_code=422, detail=str(error)) from None
    await session.commit()
    if body.active is False:
        await presence.disconnect(agent.id)
    return AgentPublic.model_validate(agent)


@router.get("/overview", response_model=Overview, summary="Queues, waiting times and agent load")
async def overview(
    session: SessionDep, supervisor: CurrentSupervisor, presence: PresenceDep
) -> Overview:
    queues, loads = await handoffs.overview(session=session)
    online = {s.id for s in await presence.online()}
    return Overview(
        queues=[QueueSummary(**vars(q)) for q in queues],
        agents=[
            AgentLoad(
                **AgentPublic.model_validate(a).model_dump(),
                online=a.id in online,
                active_chats=loads.get(a.id, 0),
            )
            for a in await agents.list_agents(session=session)
        ],
    )

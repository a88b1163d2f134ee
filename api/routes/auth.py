"""Agent sign-in for the console: a session cookie that expires."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request, Response, status

from api.deps import (
    SESSION_COOKIE,
    PresenceDep,
    SessionDep,
    SettingsDep,
    SignedInStaff,
    session_token,
)
from api.schemas.agents import AgentPublic, LoginRequest
from api.services import agents

router = APIRouter(prefix="/auth", tags=["agents"])


@router.post(
    "/login", response_model=AgentPublic, summary="Sign in an agent, supervisor or trainer"
)
async def login(
    body: LoginRequest, response: Response, session: SessionDep, settings: SettingsDep
) -> AgentPublic:
    agent = await agents.authenticate(session=session, email=body.email, password=body.password)
    if agent is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED, detail="The e-mail or password is not right."
        )
    lifetime = timedelta(hours=settings.agent_session_hours)
    token, _ = await agents.start_session(session=session, agent=agent, lifetime=lifetime)
    # Saved before the answer leaves, so the console can connect right away.
    await session.commit()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=settings.public_url.startswith("https://"),
        path="/",
    )
    return AgentPublic.model_validate(agent)


@router.post("/logout", status_code=204, summary="Sign out and close this agent's consoles")
async def logout(
    request: Request, response: Response, session: SessionDep, presence: PresenceDep
) -> Response:
    token = session_token(request)
    agent_id = await agents.end_session(session=session, token=token) if token else None
    await session.commit()
    if agent_id is not None:
        await presence.disconnect(agent_id)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.status_code = 204
    return response


@router.get("/me", response_model=AgentPublic, summary="The signed-in agent")
async def me(staff: SignedInStaff, session: SessionDep) -> AgentPublic:
    from api.models import Agent

    agent = await session.get(Agent, staff.id) if staff.id is not None else None
    if agent is None:
        raise HTTPException(status_code=404, detail="The operator key has no agent profile.")
    return AgentPublic.model_validate(agent)

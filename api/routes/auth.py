"""Agent sign-in for the console: a session cookie that expires."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request, Response, status

from api.deps import (
    SESSION_COOKIE,
    LimitsDep,
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
    "/login",
    response_model=AgentPublic,
    summary="Sign in an agent, supervisor or trainer",
    responses={
        401: {"description": "The e-mail or password is not right."},
        413: {"description": "The request body is over MAX_REQUEST_BYTES."},
        429: {
            "description": "Too many wrong passwords for this account or from this address; "
            "the Retry-After header says how many seconds to wait.",
        },
    },
)
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    limits: LimitsDep,
) -> AgentPublic:
    address = request.client.host if request.client is not None else "unknown"
    refused = await limits.login_wait(email=body.email, address=address)
    if refused is not None:
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail=refused.reason("en"),  # the console is in English
            headers={"Retry-After": str(refused.retry_after)},
        )
    agent = await agents.authenticate(session=session, email=body.email, password=body.password)
    if agent is None:
        await limits.login_failed(email=body.email, address=address)
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED, detail="The e-mail or password is not right."
        )
    await limits.login_succeeded(email=body.email)
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


@router.get(
    "/me",
    response_model=AgentPublic,
    summary="The signed-in agent",
    responses={404: {"description": "Signed in with the operator key, which has no profile."}},
)
async def me(staff: SignedInStaff, session: SessionDep) -> AgentPublic:
    from api.models import Agent

    agent = await session.get(Agent, staff.id) if staff.id is not None else None
    if agent is None:
        raise HTTPException(status_code=404, detail="The operator key has no agent profile.")
    return AgentPublic.model_validate(agent)

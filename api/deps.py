"""Typed FastAPI dependencies: the app's services, database sessions, the signed-in staff.

A route takes what it needs as a parameter typed with one of these aliases,
e.g. `desk: DeskDep` or `services: ServicesDep`; websocket routes too.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated, Optional

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from api.config import Settings
from api.services import agents
from api.services.chat_gateway import ChatGateway
from api.services.conversations import ConversationStore
from api.services.diagnosis import DiagnosisService
from api.services.handoff_desk import HandoffDesk
from api.services.handoffs import staff_for
from api.services.hub import ConversationHub
from api.services.limits import Limits
from api.services.presence import AgentPresence
from api.services.rasa_client import RasaClient
from api.services.staff import Staff
from api.wiring import Services


def get_services(connection: HTTPConnection) -> Services:
    """The app's one `Services` object (built in api/main.py's lifespan)."""
    return connection.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    async with services.database.session() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def _settings(services: ServicesDep) -> Settings:
    return services.settings


def _conversations(services: ServicesDep) -> ConversationStore:
    return services.conversations


def _desk(services: ServicesDep) -> HandoffDesk:
    return services.desk


def _gateway(services: ServicesDep) -> ChatGateway:
    return services.gateway


def _hub(services: ServicesDep) -> ConversationHub:
    return services.hub


def _presence(services: ServicesDep) -> AgentPresence:
    return services.presence


def _rasa(services: ServicesDep) -> RasaClient:
    return services.rasa


def _diagnosis(services: ServicesDep) -> DiagnosisService:
    return services.diagnosis


def _limits(services: ServicesDep) -> Limits:
    return services.limits


SettingsDep = Annotated[Settings, Depends(_settings)]
ConversationsDep = Annotated[ConversationStore, Depends(_conversations)]
DeskDep = Annotated[HandoffDesk, Depends(_desk)]
GatewayDep = Annotated[ChatGateway, Depends(_gateway)]
HubDep = Annotated[ConversationHub, Depends(_hub)]
PresenceDep = Annotated[AgentPresence, Depends(_presence)]
RasaDep = Annotated[RasaClient, Depends(_rasa)]
DiagnosisDep = Annotated[DiagnosisService, Depends(_diagnosis)]
LimitsDep = Annotated[Limits, Depends(_limits)]

SESSION_COOKIE = "agent_session"


def _bearer(request: Request) -> Optional[str]:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def session_token(request: Request) -> Optional[str]:
    """The agent's session token: the console's cookie, or a bearer header for scripts."""
    return request.cookies.get(SESSION_COOKIE) or _bearer(request)


async def resolve_staff(services: Services, token: str) -> Optional[Staff]:
    """The staff member signed in with this console session token, if any."""
    async with services.database.session() as session:
        agent = await agents.agent_for_token(session=session, token=token)
        return staff_for(agent) if agent is not None else None


async def signed_in_staff(request: Request, services: ServicesDep) -> Staff:
    """The staff member behind the request, whatever their role, or 401.

    Accepts the operator API key (`OPERATOR_TOKEN`), used for imports and
    automation. Agent, supervisor and trainer sign-in resolves here too.
    """
    settings = services.settings
    token = _bearer(request)
    if (
        token
        and settings.operator_token
        and hmac.compare_digest(token.encode(), settings.operator_token.encode())
    ):
        return Staff(id=None, name="operator", role="operator")
    agent_token = session_token(request)
    if agent_token:
        staff = await resolve_staff(services, agent_token)
        if staff is not None:
            return staff
    raise HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Sign in as an agent, or send the operator API key.",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def current_staff(staff: Annotated[Staff, Depends(signed_in_staff)]) -> Staff:
    """A staff member who works with customers (not a trainer), or 401/403."""
    if not staff.sees_customers:
        raise HTTPException(
            status_code=403,
            detail="Trainers see flow analytics and the review list, not customer conversations.",
        )
    return staff


async def current_analyst(staff: Annotated[Staff, Depends(signed_in_staff)]) -> Staff:
    """A trainer or a supervisor (or the operator key), or 401/403."""
    if not staff.sees_analytics:
        raise HTTPException(
            status_code=403, detail="Only trainers and supervisors see flow analytics."
        )
    return staff


async def current_supervisor(staff: Annotated[Staff, Depends(current_staff)]) -> Staff:
    if not staff.is_supervisor:
        raise HTTPException(status_code=403, detail="Only supervisors may do this.")
    return staff


SignedInStaff = Annotated[Staff, Depends(signed_in_staff)]
CurrentStaff = Annotated[Staff, Depends(current_staff)]
CurrentAnalyst = Annotated[Staff, Depends(current_analyst)]
CurrentSupervisor = Annotated[Staff, Depends(current_supervisor)]

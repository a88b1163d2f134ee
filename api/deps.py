"""Typed FastAPI dependencies: database sessions and the signed-in staff member."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated, Optional

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from api.config import Settings
from api.runtime import runtime
from api.services.staff import Staff


async def get_session() -> AsyncIterator[AsyncSession]:
    async with runtime.database.session() as session:
        yield session


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


SessionDep = Annotated[AsyncSession, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


SESSION_COOKIE = "agent_session"


def _bearer(request: Request) -> Optional[str]:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def session_token(request: Request) -> Optional[str]:
    """The agent's session token: the console's cookie, or a bearer header for scripts."""
    return request.cookies.get(SESSION_COOKIE) or _bearer(request)


async def signed_in_staff(request: Request, settings: SettingsDep) -> Staff:
    """The staff member behind the request, whatever their role, or 401.

    Accepts the operator API key (`OPERATOR_TOKEN`), used for imports and
    automation. Agent, supervisor and trainer sign-in resolves here too.
    """
    token = _bearer(request)
    if (
        token
        and settings.operator_token
        and hmac.compare_digest(token.encode(), settings.operator_token.encode())
    ):
        return Staff(id=None, name="operator", role="operator")
    resolver = getattr(request.app.state, "staff_resolver", None)
    agent_token = session_token(request)
    if agent_token and resolver is not None:
        staff = await resolver(agent_token)
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

"""Agents, supervisors and trainers: accounts, password checks and sign-in sessions."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta, timezone
from typing import Optional

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Agent, AgentSession
from bot.vocabulary import AGENT_TIERS, LANGUAGES, ROLES, SKILLS

# scrypt (RFC 7914) with parameters OWASP recommends for interactive logins.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


class AgentExists(Exception):
    pass


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    encode = base64.b64encode
    return (
        f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"
    )


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _check_role_and_tier(role: str, tier: int) -> None:
    if role not in ROLES:
        raise ValueError(f"Role must be one of {', '.join(ROLES)}.")
    if tier not in AGENT_TIERS:
        raise ValueError("Agents work in tier 2 or tier 3.")


def _checked_skills(skills: list[str]) -> list[str]:
    unknown = set(skills) - set(SKILLS)
    if unknown:
        raise ValueError(f"Unknown skills: {', '.join(sorted(unknown))}.")
    return list(dict.fromkeys(skills))


def _checked_languages(languages: list[str]) -> list[str]:
    if not languages:
        raise ValueError("An agent speaks at least one language.")
    unknown = set(languages) - set(LANGUAGES)
    if unknown:
        raise ValueError(
            f"Unknown languages: {', '.join(sorted(unknown))}. Use {', '.join(LANGUAGES)}."
        )
    return list(dict.fromkeys(languages))


def _check_capacity(capacity: int) -> None:
    if not 1 <= capacity <= 20:
        raise ValueError("Capacity must be between 1 and 20 chats.")


# Used when the e-mail is unknown, so that a wrong e-mail costs as long as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


async def create_agent(
    *,
    session: AsyncSession,
    email: str,
    name: str,
    password: str,
    role: str = "agent",
    tier: int = 2,
    skills: Optional[list[str]] = None,
    capacity: int = 3,
    languages: Optional[list[str]] = None,
) -> Agent:
    email = email.strip().lower()
    if "@" not in email or len(email) > 200:
        raise ValueError("A valid e-mail address is required.")
    if len(password) < 10:
        raise ValueError("Passwords must be at least 10 characters long.")
    _check_role_and_tier(role, tier)
    skills = _checked_skills(list(skills or SKILLS))
    languages = _checked_languages(languages or ["en"])
    _check_capacity(capacity)
    agent = Agent(
        email=email,
        name=name.strip()[:80] or email,
        # scrypt takes tens of milliseconds on purpose: keep it off the event loop.
        password_hash=await asyncio.to_thread(hash_password, password),
        role=role,
        tier=tier,
        skills=skills,
        languages=languages,
        capacity=capacity,
        active=True,
    )
    try:
        async with session.begin_nested():
            session.add(agent)
            await session.flush()
    except IntegrityError as error:
        raise AgentExists(email) from error
    return agent


class AgentNotFound(Exception):
    pass


async def update_agent(
    *,
    session: AsyncSession,
    agent_id: int,
    name: Optional[str] = None,
    role: Optional[str] = None,
    tier: Optional[int] = None,
    skills: Optional[list[str]] = None,
    capacity: Optional[int] = None,
    languages: Optional[list[str]] = None,
    active: Optional[bool] = None,
) -> Agent:
    """Change an agent's account; what is None stays as it is.

    Routing uses the new skills, tier and languages from the agent's next
    sign-in or console connection on.
    """
    agent = await session.get(Agent, agent_id)
    if agent is None:
        raise AgentNotFound(agent_id)
    _check_role_and_tier(role or agent.role, tier or agent.tier)
    if name is not None:
        agent.name = name.strip()[:80] or agent.name
    if role is not None:
        agent.role = role
    if tier is not None:
        agent.tier = tier
    if skills is not None:
        agent.skills = _checked_skills(skills)
    if languages is not None:
        agent.languages = _checked_languages(languages)
    if capacity is not None:
        _check_capacity(capacity)
        agent.capacity = capacity
    if active is not None:
        agent.active = active
        if not active:
            # A deactivated agent is signed out everywhere.
            await session.execute(
                update(AgentSession)
                .where(AgentSession.agent_id == agent.id, AgentSession.revoked_at.is_(None))
                .values(revoked_at=datetime.now(timezone.utc))
            )
    await session.flush()
    return agent


async def authenticate(*, session: AsyncSession, email: str, password: str) -> Optional[Agent]:
    result = await session.execute(select(Agent).where(Agent.email == email.strip().lower()))
    agent = result.scalar_one_or_none()
    if agent is None or not agent.active:
        await asyncio.to_thread(verify_password, password, _DUMMY_HASH)
        return None
    matches = await asyncio.to_thread(verify_password, password, agent.password_hash)
    return agent if matches else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(
    *, session: AsyncSession, agent: Agent, lifetime: timedelta
) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    expires_at = datetime.now(timezone.utc) + lifetime
    session.add(
        AgentSession(token_hash=_token_hash(token), agent_id=agent.id, expires_at=expires_at)
    )
    await session.flush()
    return token, expires_at


async def agent_for_token(*, session: AsyncSession, token: str) -> Optional[Agent]:
    if not token or len(token) > 200:
        return None
    record = await session.get(AgentSession, _token_hash(token))
    if record is None or record.revoked_at is not None:
        return None
    if record.expires_at <= datetime.now(timezone.utc):
        return None
    agent = await session.get(Agent, record.agent_id)
    return agent if agent is not None and agent.active else None


async def end_session(*, session: AsyncSession, token: str) -> Optional[int]:
    """Revoke a session; returns the agent id it belonged to."""
    record = await session.get(AgentSession, _token_hash(token))
    if record is None or record.revoked_at is not None:
        return None
    record.revoked_at = datetime.now(timezone.utc)
    return record.agent_id


async def list_agents(*, session: AsyncSession) -> list[Agent]:
    result = await session.execute(select(Agent).order_by(Agent.name))
    return list(result.scalars().all())

"""Agent accounts, passwords and sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api.db import Database
from api.services import agents


def test_passwords_are_hashed_with_scrypt_and_salted() -> None:
    first, second = agents.hash_password("correct horse"), agents.hash_password("correct horse")
    assert first.startswith("scrypt$") and first != second
    assert agents.verify_password("correct horse", first)
    assert not agents.verify_password("wrong horse", first)
    assert not agents.verify_password("x", "garbage")


async def test_sign_in_and_sessions(database: Database) -> None:
    async with database.session() as session:
        agent = await agents.create_agent(
            session=session, email="Anna@Example.com", name="Anna", password="long enough pw"
        )
    async with database.session() as session:
        assert (
            await agents.authenticate(
                session=session, email="anna@example.com", password="nope nope nope"
            )
            is None
        )
        assert (
            await agents.authenticate(
                session=session, email="who@example.com", password="long enough pw"
            )
            is None
        )
        found = await agents.authenticate(
            session=session, email=" anna@example.com", password="long enough pw"
        )
        assert found is not None and found.id == agent.id
        token, _ = await agents.start_session(
            session=session, agent=found, lifetime=timedelta(hours=1)
        )
        expired, _ = await agents.start_session(
            session=session, agent=found, lifetime=timedelta(seconds=-1)
        )
    async with database.session() as session:
        assert (await agents.agent_for_token(session=session, token=token)).id == agent.id
        assert await agents.agent_for_token(session=session, token=expired) is None
        assert await agents.agent_for_token(session=session, token="forged") is None
        assert await agents.end_session(session=session, token=token) == agent.id
    async with database.session() as session:
        assert await agents.agent_for_token(session=session, token=token) is None


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"email": "not-an-email"}, "e-mail"),
        ({"password": "short"}, "10 characters"),
        ({"tier": 1}, "tier"),
        ({"skills": ["plumbing"]}, "Unknown skills"),
        ({"role": "king"}, "Role"),
    ],
)
async def test_invalid_agents_are_refused(database: Database, kwargs: dict, problem: str) -> None:
    values = {"email": "a@example.com", "name": "A", "password": "long enough pw", **kwargs}
    async with database.session() as session:
        with pytest.raises(ValueError, match=problem):
            await agents.create_agent(session=session, **values)


async def test_an_e_mail_is_used_once(database: Database) -> None:
    async with database.session() as session:
        await agents.create_agent(
            session=session, email="a@example.com", name="A", password="long enough pw"
        )
        with pytest.raises(agents.AgentExists):
            await agents.create_agent(
                session=session, email="A@example.com", name="B", password="long enough pw"
            )

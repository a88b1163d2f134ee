"""Production refuses weak secrets with a clear message; an empty token authorises nothing."""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.config import DEVELOPMENT_SECRET, PROJECT_ROOT, Settings
from api.main import create_app
from tests.conftest import make_settings


def strong() -> str:
    return secrets.token_urlsafe(32)


def production(**secrets_: str) -> Settings:
    values = {"rasa_jwt_secret": strong(), "action_token": strong(), "operator_token": ""}
    values.update(secrets_)
    return Settings(_env_file=None, environment="production", **values)  # type: ignore[arg-type]


def test_strong_distinct_secrets_start() -> None:
    assert production().environment == "production"
    assert production(operator_token=strong()).operator_token


@pytest.mark.parametrize(
    ("secrets_", "says"),
    [
        ({"rasa_jwt_secret": ""}, "RASA_JWT_SECRET has 0 characters; it needs at least 32."),
        ({"action_token": "x"}, "ACTION_TOKEN has 1 characters; it needs at least 32."),
        ({"rasa_jwt_secret": DEVELOPMENT_SECRET}, "RASA_JWT_SECRET is the development value"),
        ({"action_token": DEVELOPMENT_SECRET + " "}, "ACTION_TOKEN has spaces around it."),
        (
            {"action_token": "CHANGE_ME_development_only_but_made_longer_xx"},
            "ACTION_TOKEN is the development value",
        ),
        ({"operator_token": "short"}, "OPERATOR_TOKEN has 5 characters"),
    ],
)
def test_production_refuses_a_weak_secret(secrets_: dict[str, str], says: str) -> None:
    with pytest.raises(ValidationError) as refused:
        production(**secrets_)
    message = str(refused.value)
    assert "ENVIRONMENT=production refuses to start with weak secrets" in message
    assert says in message
    assert "secrets.token_urlsafe(32)" in message  # and how to make a good one


def test_production_refuses_the_same_secret_twice() -> None:
    shared = strong()
    with pytest.raises(ValidationError, match="RASA_JWT_SECRET and ACTION_TOKEN are the same"):
        production(rasa_jwt_secret=shared, action_token=shared)
    with pytest.raises(ValidationError, match="ACTION_TOKEN and OPERATOR_TOKEN are the same"):
        production(action_token=shared, operator_token=shared)


def test_development_keeps_its_default_secrets() -> None:
    assert Settings(_env_file=None).rasa_jwt_secret == DEVELOPMENT_SECRET  # type: ignore[call-arg]


def test_the_api_process_refuses_to_start_and_says_why(tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "ENVIRONMENT": "production",
        "RASA_JWT_SECRET": "short",
        "ACTION_TOKEN": strong(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    started = subprocess.run(
        [str(PROJECT_ROOT / ".venv" / "bin" / "python"), "-m", "api.server", "--port", "0"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    assert "RASA_JWT_SECRET has 5 characters; it needs at least 32." in started.stderr


def test_an_empty_action_token_authorises_no_action_call(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, rasa_url="http://127.0.0.1:9", action_token="")
    with TestClient(create_app(settings)) as client:
        for header in ("Bearer", "Bearer ", "Bearer x", ""):
            answer = client.post(
                "/webhook",
                json={"next_action": "action_flow_start"},
                headers={"Authorization": header},
            )
            assert answer.status_code == 401, header


def test_an_empty_operator_token_authorises_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, rasa_url="http://127.0.0.1:9", operator_token="")
    with TestClient(create_app(settings)) as client:
        for header in ("Bearer", "Bearer "):
            assert client.get("/customers", headers={"Authorization": header}).status_code == 401

"""The Rasa server gets its JWT secret from the environment, never on its command line."""

from __future__ import annotations

import pytest

from bot.rasa.rasa_server import jwt_secret_from_environment
from scripts.stack import Stack
from tests.conftest import make_settings


def test_the_secret_is_added_to_the_arguments_inside_the_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RASA_JWT_SECRET", "-starts-with-a-dash")
    argv = ["rasa_server.py", "run", "--port", "5005"]
    assert jwt_secret_from_environment(argv) == [*argv, "--jwt-secret=-starts-with-a-dash"]
    given = ["rasa_server.py", "run", "--jwt-secret=other"]
    assert jwt_secret_from_environment(given) == given
    assert jwt_secret_from_environment(["rasa_server.py", "train"]) == ["rasa_server.py", "train"]
    monkeypatch.delenv("RASA_JWT_SECRET")
    assert jwt_secret_from_environment(argv) == argv


def test_the_runner_puts_the_secret_in_the_environment_not_the_command(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path)
    stack = Stack(settings=settings, rasa_port=5999, model=tmp_path / "model.tar.gz")
    started: dict = {}

    class Started:
        pid = 0

        def poll(self) -> None:
            return None

    def popen(command, **options):  # type: ignore[no-untyped-def]
        started.update(command=command, env=options["env"])
        return Started()

    monkeypatch.setattr("scripts.stack.subprocess.Popen", popen)
    stack.log_dir = tmp_path / "log"
    stack.start_rasa(wait=False)
    assert not any(settings.rasa_jwt_secret in part for part in started["command"])
    assert started["env"]["RASA_JWT_SECRET"] == settings.rasa_jwt_secret

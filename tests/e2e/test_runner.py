"""`make run` heals: Rasa or the API killed with SIGKILL is restarted, the other keeps serving.

Runs the real runner (`scripts/stack.py`) as `make run` does, with the real
Rasa model, and stops it with SIGTERM at the end.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.wording import say
from scripts.stack import API_PYTHON, ROOT, free_port
from scripts.train import ensure_model
from tests.chat_client import ChatClient
from tests.conftest import make_settings

pytestmark = pytest.mark.e2e

# The customer's reply while Rasa is down (the conversation is in English).
UNAVAILABLE_TEXT = say("system.unavailable", "en")


class Runner:
    """The runner as a child process, its output read line by line."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.port = port
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.process = subprocess.Popen(
            [str(API_PYTHON), str(ROOT / "scripts" / "stack.py")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 240) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match
        raise AssertionError(f"no line like {pattern!r}; the runner said:\n" + "\n".join(self.seen))

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/chat"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    settings = make_settings(tmp_path, port=free_port(), rasa_timeout_seconds=4.0)
    model = Path(os.environ["RASA_MODEL"]) if os.environ.get("RASA_MODEL") else ensure_model()
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "PORT": str(settings.port),
        "RASA_PORT": str(free_port()),
        "RASA_MODEL": str(model),
        "DATABASE_URL": settings.database_url,
        "TRACKER_URL": settings.tracker_url,
        "RASA_JWT_SECRET": settings.rasa_jwt_secret,
        "ACTION_TOKEN": settings.action_token,
        "RASA_TIMEOUT_SECONDS": "4",
        "LOG_DIR": str(tmp_path / "log"),
    }
    running = Runner(env, settings.port)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.send_signal(signal.SIGTERM)
            try:
                running.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(running.process.pid, signal.SIGKILL)


async def test_the_runner_restarts_rasa_and_the_api_and_stops_on_sigterm(
    runner: Runner,
) -> None:
    started = runner.wait_for(r"Rasa runs as pid (\d+), the API as pid (\d+)")
    rasa_pid, api_pid = int(started[1]), int(started[2])
    customer = ChatClient(runner.ws_url)
    await customer.connect()
    assert (await customer.say("hello")).messages[-1]["sender"] == "bot"

    # Rasa crashes: the API keeps serving and says the assistant is unavailable.
    os.kill(rasa_pid, signal.SIGKILL)
    runner.wait_for(r"Rasa stopped unexpectedly \(killed by signal 9\); restarting it in 1 s", 30)
    meanwhile = await customer.say("my internet is not working")
    assert meanwhile.messages[-1]["sender"] == "system", meanwhile.frames
    assert meanwhile.messages[-1]["text"] == UNAVAILABLE_TEXT
    new_rasa = int(runner.wait_for(r"Rasa restarted \(pid (\d+)\)", 30)[1])
    assert new_rasa != rasa_pid and not alive(rasa_pid)
    runner.wait_for(r"Rasa is back and answering", 240)
    after = await customer.say("my internet is not working")
    assert after.messages and after.messages[-1]["sender"] == "bot", after.frames
    await customer.close()

    # The API crashes: it is restarted, and the customer carries on where they were.
    os.kill(api_pid, signal.SIGKILL)
    runner.wait_for(r"The API stopped unexpectedly \(killed by signal 9\)", 30)
    new_api = int(runner.wait_for(r"The API restarted \(pid (\d+)\)", 30)[1])
    runner.wait_for(r"The API is back and answering", 60)
    again = ChatClient(runner.ws_url)
    resumed = await again.connect(session_token=customer.session_token)
    assert resumed["resumed"] is True
    texts = [m["text"] for m in resumed["history"]]
    assert texts[0] == "hello" and UNAVAILABLE_TEXT in texts
    choice = after.buttons[0]
    turn = await again.say(choice["title"], payload=choice["payload"])
    assert turn.messages and turn.messages[-1]["sender"] == "bot", turn.frames
    await again.close()

    # SIGTERM (like Ctrl-C) stops everything.
    runner.process.send_signal(signal.SIGTERM)
    assert runner.process.wait(timeout=60) == 0
    runner.wait_for(r"^Stopped\.$", 5)
    assert not alive(new_rasa) and not alive(new_api)

"""Start the whole assistant: the Rasa server and the API, and stop them cleanly.

`make run` calls this. The test suite uses the same `Stack` class to start
the real processes on free ports.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Optional
from urllib.error import URLError
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from api.config import Settings  # noqa: E402
from scripts.train import ensure_model  # noqa: E402

RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
API_PYTHON = ROOT / ".venv" / "bin" / "python"
# The module that starts the Rasa server (`python -m …`); the only place it is named.
RASA_SERVER_MODULE = "bot.rasa.rasa_server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop_group(process: Optional[subprocess.Popen], timeout: float = 15) -> None:
    """Stop a process and everything it started (it leads its own process group)."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=5)


@dataclass
class Stack:
    """The Rasa server and the API as child processes."""

    settings: Settings
    rasa_port: int
    model: Path
    log_dir: Path = ROOT / "var" / "log"
    rasa: Optional[subprocess.Popen] = None
    api: Optional[subprocess.Popen] = None
    extra_env: dict[str, str] = field(default_factory=dict)
    endpoints: str = "bot/endpoints.yml"
    name: str = ""
    # A port all API workers share for Rasa's action calls (scaled out only).
    shared_port: int = 0
    _logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.settings.host}:{self.settings.port}/ws/chat"

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    def environment(self) -> dict[str, str]:
        s = self.settings
        env = dict(os.environ)
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "ENVIRONMENT": s.environment,
                "HOST": s.host,
                "PORT": str(s.port),
                "DATABASE_URL": s.database_url,
                "RASA_URL": f"http://127.0.0.1:{self.rasa_port}",
                "RASA_JWT_SECRET": s.rasa_jwt_secret,
                "ACTION_TOKEN": s.action_token,
                "OPERATOR_TOKEN": s.operator_token,
                "AGENT_SESSION_HOURS": str(s.agent_session_hours),
                "HANDOFF_WAIT_LIMIT_SECONDS": str(s.handoff_wait_limit_seconds),
                "MAX_MESSAGE_CHARS": str(s.max_message_chars),
                "MAX_FRAME_BYTES": str(s.max_frame_bytes),
                "MAX_MESSAGES_PER_MINUTE": str(s.max_messages_per_minute),
                "MAX_MESSAGES_PER_MINUTE_PER_ADDRESS": str(s.max_messages_per_minute_per_address),
                "MAX_NEW_CONVERSATIONS_PER_MINUTE": str(s.max_new_conversations_per_minute),
                "LIMITS_EXEMPT_ADDRESSES": s.limits_exempt_addresses,
                "MAX_REQUEST_BYTES": str(s.max_request_bytes),
                "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{self.shared_port or s.port}/webhook",
                "TRACKER_URL": s.tracker_url,
                "TRACKER_DIALECT": s.tracker_url.split(":", 1)[0].split("+", 1)[0],
                "TRACKER_MAX_TURNS": str(s.tracker_max_turns),
                "TRACKER_CACHE_SIZE": str(s.tracker_cache_size),
                "RASA_TIMEOUT_SECONDS": str(s.rasa_timeout_seconds),
                "ANSWER_LEASE_SECONDS": str(s.answer_lease_seconds),
                "UNANSWERED_MAX_AGE_SECONDS": str(s.unanswered_max_age_seconds),
                "RECOVERY_CHECK_SECONDS": str(s.recovery_check_seconds),
                "RASA_MAX_IN_FLIGHT": str(s.rasa_max_in_flight),
                "FLOWS_DIR": str(s.flows_dir),
                "ALLOWED_ORIGINS": s.allowed_origins,
                "LOG_LEVEL": s.log_level,
                "REDIS_URL": s.redis_url,
                "RASA_TELEMETRY_ENABLED": "false",
                "TF_CPP_MIN_LOG_LEVEL": "2",
            }
        )
        env.update(self.extra_env)
        return env

    def _log(self, name: str) -> IO[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(handle)
        return handle

    # -------------------------------------------------------------- Rasa

    def start_rasa(self, *, wait: bool = True) -> None:
        if self.settings.tracker_url.startswith("sqlite:///"):
            Path(self.settings.tracker_url.removeprefix("sqlite:///")).parent.mkdir(
                parents=True, exist_ok=True
            )
        # The JWT secret reaches Rasa in its environment (RASA_JWT_SECRET), which
        # only this user can read, never on the command line, which `ps` shows
        # to everyone (bot/rasa/rasa_server.py hands it to Rasa).
        command = [
            str(RASA_PYTHON), "-m", RASA_SERVER_MODULE, "run",
            "--enable-api",
            "--interface", "127.0.0.1",
            "--port", str(self.rasa_port),
            "--jwt-method", "HS256",
            "--model", str(self.model),
            "--endpoints", self.endpoints,
            "--credentials", "bot/credentials.yml",
        ]  # fmt: skip
        log = self._log(f"rasa{self.name}")
        self.rasa = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if wait:
            self.wait_for_rasa()

    def wait_for_rasa(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.rasa_port}/"
        while time.monotonic() < deadline:
            if self.rasa is not None and self.rasa.poll() is not None:
                log = self.log_dir / f"rasa{self.name}.log"
                raise RuntimeError(f"Rasa exited early; see {log}")
            try:
                with urlopen(url, timeout=1):
                    return
            except (URLError, OSError):
                time.sleep(0.5)
        raise TimeoutError(f"Rasa did not start within {timeout:.0f} s")

    def stop_rasa(self) -> None:
        _stop_group(self.rasa)
        self.rasa = None

    # --------------------------------------------------------------- API

    def start_api(self, *, wait: bool = True) -> None:
        command = [
            str(API_PYTHON), "-m", "api.server",
            "--host", self.settings.host,
            "--port", str(self.settings.port),
            "--ws-max-size", str(self.settings.max_frame_bytes * 4),
        ]  # fmt: skip
        if self.shared_port:
            command += ["--shared-port", str(self.shared_port)]
        log = self._log(f"api{self.name}")
        self.api = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if wait:
            self.wait_for_api()

    def wait_for_api(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.api is not None and self.api.poll() is not None:
                raise RuntimeError(f"The API exited early; see {self.log_dir / 'api.log'}")
            try:
                with urlopen(f"{self.base_url}/widget/", timeout=1):
                    return
            except URLError as error:
                if getattr(error, "code", None):  # an HTTP error means it is serving
                    return
                time.sleep(0.3)
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"The API did not start within {timeout:.0f} s")

    def stop_api(self) -> None:
        _stop_group(self.api)
        self.api = None

    def restart_api(self) -> None:
        self.stop_api()
        self.start_api()

    # ------------------------------------------------------------- whole

    def wait_until_healthy(self, timeout: float = 180) -> dict:
        import json

        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                with urlopen(f"{self.base_url}/health", timeout=3) as response:
                    return json.loads(response.read())
            except URLError as error:
                last = error
                time.sleep(0.5)
            except OSError as error:
                last = error
                time.sleep(0.5)
        raise TimeoutError(f"The assistant was not healthy within {timeout:.0f} s: {last}")

    def start(self) -> None:
        self.start_rasa(wait=False)
        self.start_api()
        self.wait_for_rasa()
        self.wait_until_healthy()

    def stop(self) -> None:
        self.stop_api()
        self.stop_rasa()
        for handle in self._logs:
            handle.close()
        self._logs.clear()


@dataclass
class Keeper:
    """Keeps one process of the stack running: restarts it with a growing delay when it dies.

    The delay starts at `first_delay` seconds and doubles with every crash up
    to `max_delay`; a process that stayed up for `stable_after` seconds starts
    again from `first_delay`.
    """

    name: str
    start: Callable[[], None]
    process: Callable[[], Optional[subprocess.Popen]]
    is_ready: Callable[[], bool]
    log: Path
    first_delay: float = 1.0
    max_delay: float = 30.0
    stable_after: float = 60.0
    delay: float = 0.0
    restart_at: Optional[float] = None
    started_at: float = field(default_factory=time.monotonic)
    waiting_for_ready: bool = False

    def check(self, say: Callable[[str], None]) -> None:
        now = time.monotonic()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.restart_at = None
                self.start()
                self.started_at = now
                self.waiting_for_ready = True
                process = self.process()
                say(f"{self.name} restarted (pid {process.pid if process else '?'}).")
            return
        process = self.process()
        if process is None:
            return
        code = process.poll()
        if code is None:
            if self.waiting_for_ready and self.is_ready():
                self.waiting_for_ready = False
                say(f"{self.name} is back and answering.")
            return
        if now - self.started_at >= self.stable_after:
            self.delay = 0.0
        self.delay = min(self.max_delay, self.delay * 2 or self.first_delay)
        self.restart_at = now + self.delay
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        say(
            f"{self.name} stopped unexpectedly ({how}); restarting it in {self.delay:.0f} s. "
            f"Its log: {self.log}"
        )


def _answers(url: str) -> bool:
    try:
        with urlopen(url, timeout=1):
            return True
    except URLError as error:
        return bool(getattr(error, "code", None))
    except OSError:
        return False


def keepers(stack: Stack) -> list[Keeper]:
    """Rasa and the API, each restarted on its own while the other keeps serving."""

    def start_rasa() -> None:
        stack.stop_rasa()  # collects what the dead process left in its group
        stack.start_rasa(wait=False)

    def start_api() -> None:
        stack.stop_api()
        stack.start_api(wait=False)

    return [
        Keeper(
            name="Rasa",
            start=start_rasa,
            process=lambda: stack.rasa,
            is_ready=lambda: _answers(f"http://127.0.0.1:{stack.rasa_port}/"),
            log=stack.log_dir / f"rasa{stack.name}.log",
        ),
        Keeper(
            name="The API",
            start=start_api,
            process=lambda: stack.api,
            is_ready=lambda: _answers(f"{stack.base_url}/widget/"),
            log=stack.log_dir / f"api{stack.name}.log",
        ),
    ]


def say(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)


def main() -> None:
    settings = Settings()
    pinned = os.environ.get("RASA_MODEL")
    model = Path(pinned) if pinned else ensure_model()
    rasa_port = int(os.environ.get("RASA_PORT", "5005"))
    log_dir = Path(os.environ.get("LOG_DIR") or ROOT / "var" / "log")
    stack = Stack(settings=settings, rasa_port=rasa_port, model=model, log_dir=log_dir)

    def shut_down(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, shut_down)
    print("Starting Rasa and the API (Rasa takes about 20 seconds to load)…", flush=True)
    try:
        stack.start()
        print(
            f"\nThe support assistant is running.\n"
            f"  Demo page:  {stack.base_url}/\n"
            f"  Health:     {stack.base_url}/health\n"
            f"  API docs:   {stack.base_url}/docs\n"
            f"  Logs:       {stack.log_dir}/\n"
            f"Press Ctrl-C to stop.",
            flush=True,
        )
        say(f"Rasa runs as pid {stack.rasa.pid}, the API as pid {stack.api.pid}.")
        watched = keepers(stack)
        while True:
            for keeper in watched:
                keeper.check(say)
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
    finally:
        stack.stop()
        print("Stopped.", flush=True)


if __name__ == "__main__":
    main()

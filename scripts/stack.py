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
                "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{self.shared_port or s.port}/webhook",
                "TRACKER_URL": s.tracker_url,
                "TRACKER_DIALECT": s.tracker_url.split(":", 1)[0].split("+", 1)[0],
                "TRACKER_MAX_TURNS": str(s.tracker_max_turns),
                "TRACKER_CACHE_SIZE": str(s.tracker_cache_size),
                "RASA_TIMEOUT_SECONDS": str(s.rasa_timeout_seconds),
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
        command = [
            str(RASA_PYTHON), "-m", "bot.rasa.rasa_server", "run",
            "--enable-api",
            "--interface", "127.0.0.1",
            "--port", str(self.rasa_port),
            # One argument, so that a secret starting with "-" is not read as an option.
            f"--jwt-secret={self.settings.rasa_jwt_secret}",
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


def main() -> None:
    settings = Settings()
    pinned = os.environ.get("RASA_MODEL")
    model = Path(pinned) if pinned else ensure_model()
    rasa_port = int(os.environ.get("RASA_PORT", "5005"))
    stack = Stack(settings=settings, rasa_port=rasa_port, model=model)

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
        while True:
            for name, process in (("Rasa", stack.rasa), ("API", stack.api)):
                if process is not None and process.poll() is not None:
                    print(f"{name} stopped unexpectedly; see {stack.log_dir}.", flush=True)
                    raise KeyboardInterrupt
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
    finally:
        stack.stop()
        print("Stopped.", flush=True)


if __name__ == "__main__":
    main()

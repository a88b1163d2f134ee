"""Run the assistant scaled out: 2 API workers and 2 Rasa instances on PostgreSQL and Redis.

`make run-scaled` calls this; tests/e2e/test_scaled.py uses `ScaledStack`.
Defaults: DATABASE_URL postgresql://postgres@127.0.0.1:5432/support,
TRACKER_URL …/support_tracker, REDIS_URL redis://127.0.0.1:6379/0, API
workers on PORT and PORT+1 (and PORT+2 shared for Rasa's action calls),
Rasa on 5005 and 5006.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from api.config import Settings  # noqa: E402
from scripts.stack import Stack  # noqa: E402
from scripts.train import ensure_model  # noqa: E402


def ensure_postgres_database(url: str) -> None:
    """Create the database named in a PostgreSQL URL if it does not exist yet."""
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


@dataclass
class ScaledStack:
    """Several API workers and Rasa instances on PostgreSQL and Redis.

    All workers share one more port for Rasa's action calls, so the actions
    keep working while any worker is alive (as a load balancer would do in
    front of them); every worker sends each
    conversation to the same Rasa instance; Redis carries frames and agent
    presence between the workers.
    """

    stacks: list[Stack]

    @classmethod
    def create(
        cls,
        settings: Settings,
        *,
        model: Path,
        api_ports: list[int],
        rasa_ports: list[int],
        actions_port: int,
        log_dir: Path = ROOT / "var" / "log",
    ) -> ScaledStack:
        if not settings.redis_url:
            raise ValueError("A scaled stack needs REDIS_URL.")
        if not settings.database_url.startswith("postgresql"):
            raise ValueError("A scaled stack needs a PostgreSQL DATABASE_URL.")
        redis_host, _, rest = settings.redis_url.removeprefix("redis://").partition(":")
        redis_port, _, redis_db = rest.partition("/")
        rasa_urls = ",".join(f"http://127.0.0.1:{p}" for p in rasa_ports)
        stacks = []
        for index, (api_port, rasa_port) in enumerate(zip(api_ports, rasa_ports, strict=True)):
            worker = settings.model_copy(update={"port": api_port})
            stacks.append(
                Stack(
                    settings=worker,
                    rasa_port=rasa_port,
                    model=model,
                    log_dir=log_dir,
                    endpoints="bot/endpoints.scaled.yml",
                    shared_port=actions_port,
                    name=str(index + 1),
                    extra_env={
                        "RASA_URL": rasa_urls,
                        "LOCK_STORE_HOST": redis_host or "127.0.0.1",
                        "LOCK_STORE_PORT": redis_port or "6379",
                        # Rasa's locks live in the next Redis database, apart from the API's.
                        "LOCK_STORE_DB": str(int(redis_db or 0) + 1),
                    },
                )
            )
        return cls(stacks=stacks)

    def start(self) -> None:
        for url in {self.stacks[0].settings.database_url, self.stacks[0].settings.tracker_url}:
            if url.startswith("postgresql"):
                ensure_postgres_database(url)
        # The first worker runs the migrations alone; then the others start.
        first, *others = self.stacks
        for stack in self.stacks:
            stack.start_rasa(wait=False)
        first.start_api()
        for stack in others:
            stack.start_api()
        for stack in self.stacks:
            stack.wait_for_rasa()
        for stack in self.stacks:
            stack.wait_until_healthy()

    def stop(self) -> None:
        for stack in self.stacks:
            stack.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    defaults = {
        "database_url": os.environ.get(
            "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/support"
        ),
        "tracker_url": os.environ.get(
            "TRACKER_URL", "postgresql://postgres@127.0.0.1:5432/support_tracker"
        ),
        "redis_url": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    }
    settings = Settings(**defaults)
    pinned = os.environ.get("RASA_MODEL")
    model = Path(pinned) if pinned else ensure_model()
    port = settings.port
    scaled = ScaledStack.create(
        settings,
        model=model,
        api_ports=[port, port + 1],
        rasa_ports=[5005, 5006],
        actions_port=port + 2,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    print("Starting 2 Rasa instances and 2 API workers on PostgreSQL and Redis…", flush=True)
    try:
        scaled.start()
        print(
            "\nThe support assistant is running, scaled out.\n"
            + "".join(f"  API worker {s.name}: {s.base_url}/\n" for s in scaled.stacks)
            + f"  Logs: {scaled.stacks[0].log_dir}/\nPress Ctrl-C to stop.",
            flush=True,
        )
        while all(p is None or p.poll() is None for s in scaled.stacks for p in (s.api, s.rasa)):
            time.sleep(1)
        print("A process stopped unexpectedly; stopping the rest.", flush=True)
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
    finally:
        scaled.stop()
        print("Stopped.", flush=True)


if __name__ == "__main__":
    main()

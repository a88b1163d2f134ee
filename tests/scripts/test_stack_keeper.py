"""The runner's restart policy: a delay that doubles with each crash, up to a limit."""

from __future__ import annotations

import time
from pathlib import Path

from scripts.stack import Keeper


class DeadProcess:
    pid = 1

    def poll(self) -> int:
        return -9  # killed by SIGKILL


def test_the_delay_doubles_with_each_crash_and_starts_over_after_a_stable_run() -> None:
    started: list[float] = []
    said: list[str] = []
    keeper = Keeper(
        name="Rasa",
        start=lambda: started.append(time.monotonic()),
        process=lambda: DeadProcess(),  # type: ignore[arg-type, return-value]
        is_ready=lambda: False,
        log=Path("var/log/rasa.log"),
        first_delay=1,
        max_delay=4,
        stable_after=60,
    )
    delays = []
    for _ in range(5):
        keeper.check(said.append)  # sees the crash, schedules the restart
        delays.append(keeper.delay)
        assert keeper.restart_at is not None and keeper.restart_at > time.monotonic()
        keeper.check(said.append)  # too early: nothing happens
        keeper.restart_at = time.monotonic()  # the delay is over
        keeper.check(said.append)  # restarts it; it crashes again at once
    assert delays == [1, 2, 4, 4, 4]
    assert len(started) == 5
    assert said[:2] == [
        "Rasa stopped unexpectedly (killed by signal 9); restarting it in 1 s. "
        "Its log: var/log/rasa.log",
        "Rasa restarted (pid 1).",
    ]
    keeper.started_at -= 61  # this time it ran for a minute before crashing
    keeper.check(said.append)
    assert keeper.delay == 1


def test_an_exit_code_is_named_as_such() -> None:
    class Exited:
        pid = 2

        def poll(self) -> int:
            return 3

    said: list[str] = []
    keeper = Keeper(
        name="The API",
        start=lambda: None,
        process=lambda: Exited(),  # type: ignore[arg-type, return-value]
        is_ready=lambda: True,
        log=Path("api.log"),
    )
    keeper.check(said.append)
    assert said == [
        "The API stopped unexpectedly (exit code 3); restarting it in 1 s. Its log: api.log"
    ]

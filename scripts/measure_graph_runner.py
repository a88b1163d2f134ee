"""Times Rasa's graph runs with dask and with bot/rasa/graph_runner.py, in turn, in one process.

Usage (from the repository root, in the Rasa environment):

    .venv-rasa/bin/python scripts/measure_graph_runner.py --model models/x.tar.gz

Parses a sample of the training examples and predicts the next action after
every dialogue history of the stories, rules and conversation tests, first
with Rasa's own `DaskGraphRunner.run` and then with the planned one, for
several rounds. Alternating in one process keeps both under the same machine
load, which on a shared machine changes from minute to minute. Prints the
milliseconds per parse and per prediction of each round.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from scripts.check_rasa_tuning import (  # noqa: E402
    dialogue_histories,
    predict_all,
    training_texts,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--texts", type=int, default=300, help="training examples per round")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.ERROR)
    for name in ("rasa", "tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)

    from rasa.core.agent import Agent
    from rasa.engine.runner.dask import DaskGraphRunner

    from bot.rasa import graph_runner, rasa_tuning

    rasa_tuning.apply()  # every other speed-up, so only the runner differs
    planned = DaskGraphRunner.run
    stock = graph_runner.stock_run
    agent = Agent.load(str(args.model))
    texts = training_texts(REPO_ROOT / "data" / "nlu")[:: max(1, 2062 // args.texts)]
    histories = dialogue_histories(REPO_ROOT / "domain.yml")

    async def parse_all() -> None:
        for text in texts:
            await agent.parse_message(text)

    def timed(run: object) -> tuple[float, float]:
        DaskGraphRunner.run = run  # type: ignore[method-assign,assignment]
        started = time.process_time()
        asyncio.run(parse_all())
        parsed = time.process_time()
        predict_all(agent, histories)
        predicted = time.process_time()
        return (
            (parsed - started) * 1000 / len(texts),
            (predicted - parsed) * 1000 / len(histories),
        )

    timed(planned)  # warm up both
    timed(stock)
    print(f"{len(texts)} parses and {len(histories)} predictions per round; CPU ms each")
    print(f"{'round':<7}{'dask parse':>12}{'planned':>10}{'dask predict':>14}{'planned':>10}")
    for number in range(1, args.rounds + 1):
        dask_parse, dask_predict = timed(stock)
        planned_parse, planned_predict = timed(planned)
        print(
            f"{number:<7}{dask_parse:>12.2f}{planned_parse:>10.2f}"
            f"{dask_predict:>14.2f}{planned_predict:>10.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

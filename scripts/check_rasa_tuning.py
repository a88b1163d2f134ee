"""Checks that the Rasa speed-ups in bot/rasa_tuning.py keep the model's answers.

Usage (from the repository root, in the Rasa environment):

    .venv-rasa/bin/python scripts/check_rasa_tuning.py --model models/x.tar.gz

Loads the model the stock way and again with the speed-ups applied, parses every
training example of data/nlu with both, and fails unless the intent, the intent
ranking with its confidences and the entities are identical for every message.
Prints how long each load took and the process's memory after each.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

PLACES = 6  # confidences are compared to this many decimal places


def rss_mb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def training_texts(nlu_dir: Path) -> list[str]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(nlu_dir))
    return sorted({m.get("text") for m in data.training_examples if m.get("text")})


def answer(parse: dict[str, Any]) -> tuple:
    """The parts of a parse the assistant acts on, rounded for comparison."""
    intent = parse.get("intent") or {}
    return (
        intent.get("name"),
        round(float(intent.get("confidence") or 0), PLACES),
        tuple(
            (r["name"], round(float(r["confidence"]), PLACES))
            for r in parse.get("intent_ranking") or []
        ),
        tuple(
            (e.get("entity"), str(e.get("value")), e.get("start"), e.get("end"))
            for e in parse.get("entities") or []
        ),
    )


async def parse_all(model: Path, texts: list[str]) -> tuple[list[tuple], float, int]:
    from rasa.core.agent import Agent

    started = time.monotonic()
    agent = Agent.load(str(model))
    seconds = time.monotonic() - started
    memory = rss_mb()
    return [answer(await agent.parse_message(text)) for text in texts], seconds, memory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--nlu", type=Path, default=REPO_ROOT / "data" / "nlu")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.ERROR)
    for name in ("rasa", "tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)

    texts = training_texts(args.nlu)
    stock, stock_seconds, stock_memory = asyncio.run(parse_all(args.model, texts))
    importlib.import_module("bot.rasa_tuning").apply()
    tuned, tuned_seconds, tuned_memory = asyncio.run(parse_all(args.model, texts))

    print(f"model: {args.model}  ({len(texts)} training examples parsed twice)")
    print(f"stock load: {stock_seconds:5.1f} s, RSS afterwards {stock_memory} MB")
    print(f"tuned load: {tuned_seconds:5.1f} s, RSS afterwards {tuned_memory} MB (both held)")
    different = [(t, a, b) for t, a, b in zip(texts, stock, tuned, strict=True) if a != b]
    for text, a, b in different[:10]:
        print(f"DIFFERENT: {text!r}\n  stock: {a}\n  tuned: {b}")
    if different:
        print(f"FAIL: {len(different)} of {len(texts)} answers differ")
        return 1
    print(f"OK: all {len(texts)} answers identical")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

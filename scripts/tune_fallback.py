"""Chooses the FallbackClassifier threshold from our own held-out examples.

Usage (from the repository root, in the Rasa environment; `make tune-fallback`):

    .venv-rasa/bin/python scripts/tune_fallback.py
    .venv-rasa/bin/python scripts/tune_fallback.py --model M.tar.gz --test T.yml

Without ``--model`` it splits ``data/nlu`` into a stratified 80 % / 20 % (fixed seed),
trains an NLU model from ``config.yml`` on the 80 % and parses the other 20 %: examples
the model has not seen, written by us, never the evaluation file of real customer
messages. For each candidate threshold it replays what the FallbackClassifier would do
with the model's own intent ranking and counts what it costs the customer:

- a message understood right costs nothing;
- a message understood wrong costs two turns: the wrong flow starts, and the customer
  has to say no and explain again;
- a message sent to the fallback costs one turn: the assistant offers its best guess as
  a button or asks to rephrase.

So a guess is worth making when it is right more often than wrong at that confidence,
and the threshold with the lowest mean cost is the one ``config.yml`` should use; of
thresholds that cost the same, the lowest, because it asks the customer least often.
The last line is JSON with the chosen threshold and the table.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

eval_routing = importlib.import_module("scripts.eval_routing")
routing = importlib.import_module("bot.routing")

WRONG_COST = 2.0  # turns lost when the assistant acts on a wrong guess
FALLBACK_COST = 1.0  # turns lost when it asks instead
THRESHOLDS = [round(0.05 * i, 2) for i in range(0, 17)]  # 0.00 … 0.80
SPLIT_SEED = 42


def rasa_command(*args: str) -> None:
    """Runs the rasa CLI of this environment and stops on failure."""
    command = [sys.executable, "-m", "rasa", *args]
    # Rasa's progress goes to stderr: stdout carries only the report.
    if subprocess.run(command, cwd=REPO_ROOT, stdout=sys.stderr).returncode != 0:
        raise SystemExit(f"failed: rasa {' '.join(args)}")


def split_and_train(workdir: Path) -> tuple[Path, Path]:
    """A model trained on 80 % of data/nlu and the 20 % it did not see."""
    split = workdir / "split"
    rasa_command(
        "data", "split", "nlu", "--nlu", "data/nlu", "--training-fraction", "0.8",
        "--random-seed", str(SPLIT_SEED), "--out", str(split),
    )  # fmt: skip
    rasa_command(
        "train", "nlu", "--config", "config.yml", "--nlu", str(split / "training_data.yml"),
        "--out", str(workdir / "models"), "--fixed-model-name", "held-out",
    )  # fmt: skip
    return workdir / "models" / "held-out.tar.gz", split / "test_data.yml"


def read_examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) of every example in a Rasa NLU file."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [(m.get("text"), m.get("intent")) for m in data.intent_examples]


def replay(
    parse: dict[str, Any], threshold: float, ambiguity: float
) -> tuple[str, tuple[str, ...]]:
    """The intent the FallbackClassifier would leave at ``threshold``, and the ranking."""
    ranking = [i for i in parse.get("intent_ranking") or [] if i["name"] != "nlu_fallback"]
    likely = tuple(i["name"] for i in ranking)
    if not ranking:
        return "nlu_fallback", likely
    top = ranking[0]["confidence"]
    second = ranking[1]["confidence"] if len(ranking) > 1 else 0.0
    if top < threshold or top - second < ambiguity:
        return "nlu_fallback", likely
    return ranking[0]["name"], likely


def score(
    parses: list[dict[str, Any]], examples: list[tuple[str, str]], threshold: float,
    ambiguity: float,
) -> dict[str, Any]:  # fmt: skip
    """What one threshold does to the held-out examples."""
    table = routing.load_table()
    right = wrong = fallback = domain_right = 0
    for parse, (text, gold_intent) in zip(parses, examples, strict=True):
        entities = parse.get("entities") or []
        intent, likely = replay(parse, threshold, ambiguity)
        gold_domain = table.route(gold_intent, entities, text).domain
        if table.route(intent, entities, text, likely).domain == gold_domain:
            domain_right += 1
        if intent == "nlu_fallback":
            fallback += 1
        elif intent == gold_intent:
            right += 1
        else:
            wrong += 1
    n = len(examples)
    return {
        "threshold": threshold,
        "understood": right,
        "misunderstood": wrong,
        "fallback": fallback,
        "mean_cost_turns": round((wrong * WRONG_COST + fallback * FALLBACK_COST) / n, 4),
        "domain_accuracy": round(domain_right / n, 4),
    }


def current_thresholds() -> tuple[float, float]:
    """The FallbackClassifier settings in config.yml."""
    import yaml

    config = yaml.safe_load((REPO_ROOT / "config.yml").read_text())
    for component in config["pipeline"]:
        if component["name"] == "FallbackClassifier":
            return float(component["threshold"]), float(component["ambiguity_threshold"])
    raise SystemExit("config.yml has no FallbackClassifier")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="NLU model that did not see --test")
    parser.add_argument("--test", type=Path, help="held-out examples (Rasa NLU YAML)")
    args = parser.parse_args(argv)
    if bool(args.model) != bool(args.test):
        raise SystemExit("give both --model and --test, or neither")

    configured, ambiguity = current_thresholds()
    with tempfile.TemporaryDirectory(prefix="tune-fallback-") as tmp:
        model, test = (args.model, args.test) if args.model else split_and_train(Path(tmp))
        examples = read_examples(test)
        eval_routing.quiet_rasa()
        parses = asyncio.run(eval_routing.parse_all(model, [text for text, _ in examples]))

    rows = [score(parses, examples, t, ambiguity) for t in THRESHOLDS]
    best = min(rows, key=lambda r: (r["mean_cost_turns"], r["threshold"]))
    print(f"{len(examples)} held-out examples; ambiguity threshold {ambiguity} (config.yml)")
    print(f"cost: misunderstood {WRONG_COST} turns, fallback {FALLBACK_COST} turn")
    print(
        f"  {'threshold':>9} {'understood':>10} {'wrong':>6} {'fallback':>8} "
        f"{'cost/msg':>8} {'domain acc':>10}"
    )
    for r in rows:
        marks = (" <- lowest cost" if r is best else "") + (
            " (config.yml)" if r["threshold"] == configured else ""
        )
        print(
            f"  {r['threshold']:>9.2f} {r['understood']:>10d} {r['misunderstood']:>6d} "
            f"{r['fallback']:>8d} {r['mean_cost_turns']:>8.3f} {r['domain_accuracy']:>10.3f}"
            f"{marks}"
        )
    print(
        json.dumps(
            {"n": len(examples), "best_threshold": best["threshold"], "configured": configured,
             "rows": rows}
        )
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

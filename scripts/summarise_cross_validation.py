"""Turns Rasa's cross-validation results into the routing numbers customers feel.

`rasa test nlu --cross-validation --successes` writes every test-fold example
with its true and its predicted intent (intent_successes.json and
intent_errors.json). This maps both through bot/routing.yml, like
scripts/eval_routing.py does for real customer messages, and prints the intent
accuracy and macro F1, the domain macro F1 and accuracy, and the request
accuracy on the examples whose intent must trigger an action, ending with one
line of JSON.

Usage: python scripts/summarise_cross_validation.py results/nlu-cv
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bot import routing  # noqa: E402
from scripts.eval_routing import ACTION_REQUESTS, f1  # noqa: E402


def macro_f1(gold: list[str], pred: list[str]) -> float:
    """Mean F1 over the labels that occur in ``gold``."""
    scores = []
    for label in sorted(set(gold)):
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == p == label)
        predicted = sum(1 for p in pred if p == label)
        support = sum(1 for g in gold if g == label)
        scores.append(f1(tp / predicted if predicted else 0.0, tp / support))
    return sum(scores) / len(scores) if scores else 0.0


def read_predictions(folder: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in ("intent_successes.json", "intent_errors.json"):
        path = folder / name
        if path.exists():
            rows.extend(json.loads(path.read_text(encoding="utf-8")))
    if not rows:
        raise SystemExit(f"{folder}: no intent_successes.json / intent_errors.json")
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    table = routing.load_table()
    gold_intents, pred_intents, gold_domains, pred_domains = [], [], [], []
    action_hits, action_n = 0, 0
    for row in rows:
        text = row.get("text") or ""
        gold = row["intent"]
        predicted = (row.get("intent_prediction") or {}).get("name") or ""
        gold_route = table.route(gold, [], text)
        pred_route = table.route(predicted, [], text)
        gold_intents.append(gold)
        pred_intents.append(predicted)
        gold_domains.append(gold_route.domain)
        pred_domains.append(pred_route.domain)
        if gold_route.request in ACTION_REQUESTS:
            action_n += 1
            action_hits += pred_route.request == gold_route.request
    n = len(rows)

    def share(gold: list[str], pred: list[str]) -> float:
        return round(sum(g == p for g, p in zip(gold, pred, strict=True)) / n, 4)

    return {
        "n": n,
        "intent_accuracy": share(gold_intents, pred_intents),
        "intent_macro_f1": round(macro_f1(gold_intents, pred_intents), 4),
        "domain_macro_f1": round(macro_f1(gold_domains, pred_domains), 4),
        "domain_accuracy": share(gold_domains, pred_domains),
        "request_accuracy": round(action_hits / action_n, 4) if action_n else None,
        "request_n": action_n,
    }


def main() -> int:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    summary = summarise(read_predictions(Path(sys.argv[1])))
    print(
        f"Cross-validation on our own examples ({summary['n']} test-fold predictions): "
        f"intents accuracy {summary['intent_accuracy']:.3f}, macro F1 "
        f"{summary['intent_macro_f1']:.3f}; domains macro F1 {summary['domain_macro_f1']:.3f}, "
        f"accuracy {summary['domain_accuracy']:.3f}; action requests "
        f"{summary['request_accuracy']} of {summary['request_n']}"
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Measures how well the trained NLU model plus bot/routing.yml route real messages.

Usage (from the repository root, in the Rasa environment):

    .venv-rasa/bin/python scripts/eval_routing.py --file ../shared/eval/realworld_dev.jsonl
    .venv-rasa/bin/python scripts/eval_routing.py --model models/x.tar.gz --file f.jsonl

Each input line is JSON with ``text``, ``domain`` and ``request``. The script parses
every text with the real model in-process, maps the parse through ``bot.routing``,
prints a report and ends with one line of JSON holding the headline numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# Imported by name so the script runs from any working directory (see sys.path above).
routing = importlib.import_module("bot.routing")
DOMAINS = routing.DOMAINS

ACTION_REQUESTS = ("human", "part", "ticket_status", "technician")
WORST_SHOWN = 15


def newest_model(models_dir: Path) -> Path:
    """Returns the most recently modified ``*.tar.gz`` in ``models_dir``."""
    candidates = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not candidates:
        raise SystemExit(f"no model (*.tar.gz) found in {models_dir}; train one or pass --model")
    return candidates[-1]


def read_cases(path: Path) -> list[dict[str, Any]]:
    """Reads the evaluation lines; blank lines are skipped, bad ones stop the run."""
    cases = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                case = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{number}: not JSON: {exc}") from exc
            missing = [key for key in ("text", "domain", "request") if key not in case]
            if missing:
                raise SystemExit(f"{path}:{number}: missing {', '.join(missing)}")
            cases.append(case)
    return cases


def f1(precision: float, recall: float) -> float:
    """Harmonic mean, 0 when both are 0."""
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def domain_scores(gold: list[str], pred: list[str]) -> dict[str, dict[str, float]]:
    """Per-domain precision, recall, F1 and support."""
    scores = {}
    for domain in DOMAINS:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == p == domain)
        predicted = sum(1 for p in pred if p == domain)
        support = sum(1 for g in gold if g == domain)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        scores[domain] = {
            "precision": precision,
            "recall": recall,
            "f1": f1(precision, recall),
            "support": support,
        }
    return scores


def macro_f1(gold: list[str], pred: list[str]) -> float:
    """Mean F1 over the domains that occur in ``gold``."""
    scores = domain_scores(gold, pred)
    present = [d for d in DOMAINS if scores[d]["support"]]
    return sum(scores[d]["f1"] for d in present) / len(present) if present else 0.0


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Computes the headline numbers from per-line results."""
    gold = [r["gold_domain"] for r in results]
    pred = [r["domain"] for r in results]
    scores = domain_scores(gold, pred)
    macro = macro_f1(gold, pred)
    accuracy = (
        sum(g == p for g, p in zip(gold, pred, strict=True)) / len(results) if results else 0.0
    )
    action_lines = [r for r in results if r["gold_request"] in ACTION_REQUESTS]
    request_accuracy = (
        sum(r["request"] == r["gold_request"] for r in action_lines) / len(action_lines)
        if action_lines
        else 0.0
    )
    return {
        "n": len(results),
        "domain_macro_f1": round(macro, 4),
        "domain_accuracy": round(accuracy, 4),
        "request_accuracy": round(request_accuracy, 4),
        "request_n": len(action_lines),
        "fallback_rate": round(
            sum(r["intent"] == "nlu_fallback" for r in results) / len(results), 4
        )
        if results
        else 0.0,
        "per_domain_f1": {d: round(scores[d]["f1"], 4) for d in DOMAINS},
        "domain_macro_f1_without_fallback": round(
            macro_f1(gold, [r["domain_without_fallback"] for r in results]), 4
        ),
        # Calibration: wrong domains the NLU was nearly sure of (should be few).
        "wrong_at_confidence_0_9": sum(
            r["domain"] != r["gold_domain"] and r["top_confidence"] >= 0.9 for r in results
        ),
    }


CONFIDENCE_BINS = (0.0, 0.3, 0.5, 0.7, 0.9, 1.01)


def print_calibration(results: list[dict[str, Any]]) -> None:
    """How often the domain is right at each level of the NLU's confidence."""
    print("Calibration (the top intent's confidence, before the fallback)")
    print(f"  {'confidence':<12} {'lines':>6} {'domain right':>13}")
    for low, high in zip(CONFIDENCE_BINS, CONFIDENCE_BINS[1:], strict=False):
        lines = [r for r in results if low <= r["top_confidence"] < high]
        if lines:
            right = sum(r["domain_without_fallback"] == r["gold_domain"] for r in lines)
            print(
                f"  {low:.1f}-{min(high, 1.0):.1f}      {len(lines):>6} {right / len(lines):>13.2f}"
            )
    print()


def print_report(results: list[dict[str, Any]], model: Path, file: Path) -> dict[str, Any]:
    """Prints the readable report and returns the summary."""
    summary = summarise(results)
    gold = [r["gold_domain"] for r in results]
    pred = [r["domain"] for r in results]
    scores = domain_scores(gold, pred)

    print(f"model: {model}")
    print(f"file:  {file}  ({len(results)} lines)")
    print()
    print("Domains")
    print(f"  {'domain':<10} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}")
    for domain in DOMAINS:
        s = scores[domain]
        print(
            f"  {domain:<10} {s['precision']:>9.3f} {s['recall']:>7.3f} {s['f1']:>6.3f} "
            f"{s['support']:>8d}"
        )
    print(
        f"  macro F1 {summary['domain_macro_f1']:.3f}   accuracy {summary['domain_accuracy']:.3f}"
    )
    print()
    print("Domain confusion (rows: expected, columns: routed)")
    print("  " + " " * 10 + "".join(f"{d[:8]:>9}" for d in DOMAINS))
    pairs = Counter(zip(gold, pred, strict=True))
    for g in DOMAINS:
        print(f"  {g:<10}" + "".join(f"{pairs[(g, p)]:>9d}" for p in DOMAINS))
    print()

    action_lines = [r for r in results if r["gold_request"] in ACTION_REQUESTS]
    print(f"Requests that trigger an action ({len(action_lines)} lines)")
    for request in ACTION_REQUESTS:
        lines = [r for r in action_lines if r["gold_request"] == request]
        if not lines:
            continue
        hits = sum(r["request"] == request for r in lines)
        routed = Counter(r["request"] for r in lines if r["request"] != request)
        misses = ", ".join(f"{k} {v}" for k, v in routed.most_common()) or "-"
        print(f"  {request:<14} {hits:>3}/{len(lines):<3} routed elsewhere: {misses}")
    print(f"  request accuracy {summary['request_accuracy']:.3f}")
    print()

    print_calibration(results)

    print("Intents predicted")
    for intent, count in Counter(r["intent"] for r in results).most_common():
        print(f"  {intent:<18} {count:>4}")
    print()

    wrong = [r for r in results if r["domain"] != r["gold_domain"]]
    wrong.sort(key=lambda r: r["confidence"], reverse=True)
    print(f"Worst misroutes (wrong domain, highest confidence first; {len(wrong)} in all)")
    for r in wrong[:WORST_SHOWN]:
        text = " ".join(r["text"].split())
        text = text if len(text) <= 110 else text[:107] + "..."
        print(
            f"  {r['confidence']:.2f} {r['intent']:<17} -> {r['domain']:<8} "
            f"(expected {r['gold_domain']}/{r['gold_request']})  {text}"
        )
    print()
    return summary


async def parse_all(model: Path, texts: list[str]) -> list[dict[str, Any]]:
    """Loads the model once and parses every text with it."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    return [await agent.parse_message(text) for text in texts]


def evaluate(parses: list[dict[str, Any]], cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Routes each parse and pairs it with the expected labels."""
    table = routing.load_table()
    results = []
    for case, parse in zip(cases, parses, strict=True):
        intent = (parse.get("intent") or {}).get("name") or ""
        confidence = float((parse.get("intent") or {}).get("confidence") or 0.0)
        entities = parse.get("entities") or []
        likely = tuple(
            i["name"] for i in parse.get("intent_ranking") or [] if i["name"] != "nlu_fallback"
        )
        routed = table.route(intent, entities, case["text"], likely)
        # What the route would be if the FallbackClassifier were off: helps to tune it.
        top = likely[0] if likely else intent
        ranking = parse.get("intent_ranking") or []
        top_confidence = next(
            (float(i.get("confidence") or 0.0) for i in ranking if i["name"] != "nlu_fallback"),
            confidence,
        )
        unfiltered = table.route(top, entities, case["text"])
        results.append(
            {
                "text": case["text"],
                "gold_domain": case["domain"],
                "gold_request": case["request"],
                "intent": intent,
                "confidence": confidence,
                "domain": routed.domain,
                "request": routed.request,
                "top_intent": top,
                "top_confidence": round(top_confidence, 4),
                "domain_without_fallback": unfiltered.domain,
            }
        )
    return results


def quiet_rasa() -> None:
    """Keeps TensorFlow and Rasa start-up chatter out of the report."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    from rasa.utils.log_utils import configure_structlog

    # Rasa logs every parse through structlog at debug level unless told otherwise.
    configure_structlog(logging.ERROR)
    for name in ("rasa", "tensorflow", "absl", "asyncio"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import warnings

    warnings.filterwarnings("ignore")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", required=True, type=Path, help="JSONL file with labels")
    parser.add_argument("--model", type=Path, help="trained model; default: newest in models/")
    parser.add_argument("--models-dir", type=Path, default=REPO_ROOT / "models")
    parser.add_argument("--dump", type=Path, help="also write per-line results as JSONL here")
    args = parser.parse_args(argv)

    model = args.model or newest_model(args.models_dir)
    if not model.is_file():
        raise SystemExit(f"model not found: {model}")
    cases = read_cases(args.file)
    if not cases:
        raise SystemExit(f"{args.file}: no lines to evaluate")

    quiet_rasa()
    parses = asyncio.run(parse_all(model, [c["text"] for c in cases]))
    results = evaluate(parses, cases)
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in results)
    summary = print_report(results, model, args.file)
    print(json.dumps(summary, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

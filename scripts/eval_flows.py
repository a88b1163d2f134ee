"""Measures how often the right diagnostic flow starts for a customer's first message.

Usage (from the repository root, in the Rasa environment):

    .venv-rasa/bin/python scripts/eval_flows.py --file data/heldout/flow_openers.jsonl
    .venv-rasa/bin/python scripts/eval_flows.py --model models/x.tar.gz --file f.jsonl

Each line is JSON with ``text``, ``flow`` (the flow that should start), ``lang``
and ``split`` (``tune`` or ``heldout``). Every text is parsed by the trained NLU
model, as in a real conversation, and the flow is chosen by the same
``FlowChooser`` the API uses (bot/flows/choosing.py). A message whose intent
starts no flow (a complaint, a part order) counts as wrong. The report also
gives the choice by meaning alone, over every customer flow, to show how much
the NLU's intent helps or hurts. The last line is JSON with the headline numbers.
Only the ``tune`` part may be looked at when flow examples are changed; the
``heldout`` part is reported, never tuned on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bot.flows.choosing import FlowChooser  # noqa: E402
from bot.flows.loader import FlowLibrary  # noqa: E402
from bot.flows.meaning import SentenceEncoder  # noqa: E402
from scripts.eval_routing import newest_model, parse_all, quiet_rasa  # noqa: E402

TARGET = 0.90


def read_openers(path: Path) -> list[dict[str, Any]]:
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        case = json.loads(line)
        missing = [k for k in ("text", "flow", "split") if k not in case]
        if missing:
            raise SystemExit(f"{path}:{number}: missing {', '.join(missing)}")
        cases.append(case)
    return cases


def parse_intents(parse: dict[str, Any]) -> tuple[str, float, tuple[str, ...]]:
    intent = parse.get("intent") or {}
    likely = tuple(
        r["name"] for r in parse.get("intent_ranking") or [] if r["name"] != "nlu_fallback"
    )
    return intent.get("name") or "", float(intent.get("confidence") or 0.0), likely


def choose_all(
    chooser: FlowChooser, cases: list[dict[str, Any]], parses: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    everything = chooser.customer_flows()
    results = []
    for case, parse in zip(cases, parses, strict=True):
        intent, confidence, likely = parse_intents(parse)
        devices = [e["value"] for e in parse.get("entities") or [] if e["entity"] == "device"]
        chosen = chooser.choose(
            text=case["text"],
            intent=intent,
            confidence=confidence,
            likely_intents=likely,
            devices=devices,
        )
        by_meaning = chooser.score(case["text"], everything)[0]
        results.append(
            {
                **case,
                "intent": intent,
                "confidence": round(confidence, 3),
                "chosen": chosen.id if chosen else None,
                "by_meaning": by_meaning.flow.id,
            }
        )
    return results


def accuracy(results: list[dict[str, Any]], key: str = "chosen") -> float:
    return sum(r[key] == r["flow"] for r in results) / len(results) if results else 0.0


def report(results: list[dict[str, Any]], model: Path, file: Path) -> dict[str, Any]:
    print(f"Flow choice on {file} ({len(results)} openers), NLU model {model.name}")
    print()
    print(f"{'part':<22}{'n':>5}{'with NLU':>10}{'meaning only':>14}")
    parts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        parts[r["split"]].append(r)
        parts[f"{r['split']} {r.get('lang', 'en')}"].append(r)
    for name in sorted(parts):
        rows = parts[name]
        print(
            f"{name:<22}{len(rows):>5}{accuracy(rows):>10.3f}{accuracy(rows, 'by_meaning'):>14.3f}"
        )
    heldout = parts.get("heldout", [])
    print()
    print("Held-out accuracy per flow:")
    per_flow: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in heldout:
        per_flow[r["flow"]].append(r)
    for flow_id in sorted(per_flow):
        rows = per_flow[flow_id]
        print(f"  {flow_id:<38}{accuracy(rows):>6.2f}  ({len(rows)})")
    wrong = [r for r in heldout if r["chosen"] != r["flow"]]
    print()
    print(f"Held-out misses ({len(wrong)}):")
    confusions = Counter((r["flow"], r["chosen"]) for r in wrong)
    for r in wrong:
        print(
            f"  [{r.get('lang', 'en')}] {r['text'][:90]!r}\n"
            f"      expected {r['flow']}, got {r['chosen']} (intent {r['intent']} "
            f"{r['confidence']:.2f})"
        )
    summary = {
        "n": len(results),
        "heldout_n": len(heldout),
        "heldout_accuracy": round(accuracy(heldout), 4),
        "heldout_accuracy_meaning_only": round(accuracy(heldout, "by_meaning"), 4),
        "tune_accuracy": round(accuracy(parts.get("tune", [])), 4),
        "heldout_accuracy_en": round(accuracy(parts.get("heldout en", [])), 4),
        "heldout_accuracy_de": round(accuracy(parts.get("heldout de", [])), 4),
        "target": TARGET,
        "most_confused": [f"{a} -> {b}: {n}" for (a, b), n in confusions.most_common(5)],
    }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=REPO_ROOT / "data/heldout/flow_openers.jsonl")
    parser.add_argument("--model", type=Path, help="trained model; default: newest in models/")
    parser.add_argument("--flows", type=Path, default=REPO_ROOT / "data/flows")
    parser.add_argument("--dump", type=Path, help="also write per-line results as JSONL here")
    args = parser.parse_args(argv)

    model = args.model or newest_model(REPO_ROOT / "models")
    cases = read_openers(args.file)
    library = FlowLibrary(args.flows)
    library.reload()
    if library.last_error:
        raise SystemExit(f"the flows do not load: {library.last_error}")
    known = set(library.flows())
    unknown = sorted({c["flow"] for c in cases} - known)
    if unknown:
        raise SystemExit(f"{args.file}: unknown flows {unknown}")

    quiet_rasa()
    parses = asyncio.run(parse_all(model, [c["text"] for c in cases]))
    results = choose_all(FlowChooser(library, SentenceEncoder()), cases, parses)
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in results)
    print(json.dumps(report(results, model, args.file)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

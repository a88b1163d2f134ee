"""Puts the understanding numbers of `make evaluate` side by side, as Markdown.

Reads the reports `make evaluate` wrote into a folder (each ends with a line of
JSON) and prints one table: the readable real-customer sets (a check, never a
target), our own held-out sets (never tuned on), cross-validation on our own
examples, and flow choice. When the readable sets rise and the others do not,
the data is being fitted to the readable sets.

Usage: python scripts/summarise_evaluation.py docs/evaluation
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

ROUTING_SETS = [
    ("routing_realworld_dev.txt", "real customers, English (readable dev set, a check)"),
    ("routing_realworld_de_dev.txt", "real customers, German (readable dev set, a check)"),
    ("heldout_routing_en.txt", "our held-out set, English (never tuned on)"),
    ("heldout_routing_de.txt", "our held-out set, German (never tuned on)"),
    ("heldout_action_requests_en.txt", "our held-out action requests, English (never tuned on)"),
    ("heldout_action_requests_de.txt", "our held-out action requests, German (never tuned on)"),
    ("intent_classifier_tuning.txt", "5-fold cross-validation on our examples"),
]


def last_json(path: Path) -> Optional[dict[str, Any]]:
    if not path.exists():
        return None
    for line in reversed(path.read_text(encoding="utf-8").splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return None


def number(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "–"


def main() -> int:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/evaluation")
    print("| set | lines | domain macro F1 | domain accuracy | action requests | fallback |")
    print("|---|---|---|---|---|---|")
    for name, title in ROUTING_SETS:
        found = last_json(folder / name)
        if found is None:
            print(f"| {title} | not measured | | | | |")
            continue
        requests = number(found.get("request_accuracy"))
        if found.get("request_n"):
            requests += f" ({found['request_n']})"
        print(
            f"| {title} | {found.get('n', '–')} | {number(found.get('domain_macro_f1'))} "
            f"| {number(found.get('domain_accuracy'))} | {requests} "
            f"| {number(found.get('fallback_rate'))} |"
        )
    flows = last_json(folder / "flow_choice.txt")
    if flows:
        print()
        print("| flow choice | openers | accuracy | English | German | by meaning alone |")
        print("|---|---|---|---|---|---|")
        print(
            f"| held-out part (never tuned on) | {flows['heldout_n']} "
            f"| {number(flows['heldout_accuracy'])} | {number(flows['heldout_accuracy_en'])} "
            f"| {number(flows['heldout_accuracy_de'])} "
            f"| {number(flows['heldout_accuracy_meaning_only'])} |"
        )
        print(f"| tune part | | {number(flows['tune_accuracy'])} | | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

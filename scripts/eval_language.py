"""Measures the language detection of bot/language.py on labelled messages.

Usage (from the repository root):

    .venv/bin/python scripts/eval_language.py
    .venv/bin/python scripts/eval_language.py data/heldout/routing_de.jsonl other.jsonl

Each line is JSON with a ``text``; its language is the line's ``lang``, else
"de" when the file name ends in ``_de.jsonl``, else "en". Without arguments
the held-out routing sets are measured. For every file it prints:

- detected: the share of messages whose detected language is right (any
  confidence), and the share with no cue at all;
- switches right: the share that would switch a conversation running in the
  other language to theirs (what a customer who changes language gets);
- switches wrong: the share that would switch a conversation already in their
  language to the other one (a detection error the customer would notice).

It ends with one line of JSON holding these numbers per file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bot.language import SUPPORTED, detect, follow  # noqa: E402

DEFAULT_FILES = ("data/heldout/routing_en.jsonl", "data/heldout/routing_de.jsonl")
WORST_SHOWN = 8


def expected_language(case: dict[str, Any], path: Path) -> str:
    if case.get("lang") in SUPPORTED:
        return str(case["lang"])
    return "de" if path.name.endswith("_de.jsonl") else "en"


def measure(path: Path) -> dict[str, Any]:
    cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    right = unknown = switched = wrongly_switched = 0
    misses: list[str] = []
    for case in cases:
        language = expected_language(case, path)
        other = "en" if language == "de" else "de"
        guess = detect(case["text"])
        if guess.language == language:
            right += 1
        elif guess.language is None:
            unknown += 1
        else:
            found = f"{language}→{guess.language} ({guess.confidence})"
            misses.append(f"  {found}: {case['text'][:90]}")
        if follow(other, case["text"]) == language:
            switched += 1
        if follow(language, case["text"]) != language:
            wrongly_switched += 1
    total = len(cases)
    numbers = {
        "messages": total,
        "detected": round(right / total, 3),
        "no_cue": round(unknown / total, 3),
        "switches_right": round(switched / total, 3),
        "switches_wrong": round(wrongly_switched / total, 3),
    }
    print(f"{path} ({total} messages)")
    print(f"  detected right        {numbers['detected']:.1%}  (no cue: {numbers['no_cue']:.1%})")
    print(f"  switches right        {numbers['switches_right']:.1%}  from the other language")
    print(f"  switches wrong        {numbers['switches_wrong']:.1%}  away from their language")
    if misses:
        print("  detected wrong:")
        print("\n".join(misses[:WORST_SHOWN]))
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", default=list(DEFAULT_FILES))
    arguments = parser.parse_args()
    results = {name: measure(Path(name)) for name in arguments.files}
    print(json.dumps(results))


if __name__ == "__main__":
    main()

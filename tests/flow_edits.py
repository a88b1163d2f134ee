"""Broken edits of a shipped flow, one per kind of logic error the validator finds.

Shared by the unit tests of the flow library and the end-to-end tests on a
running stack. Each edit also rewords the router-lights question, so a test can
tell whether the edit went live (it must not).
"""

from __future__ import annotations

from pathlib import Path

FLOW_FILE = "internet_no_connection.yml"
GOOD_QUESTION = "What do its lights show?"
EDITED_QUESTION = "What colour are the lights on the router?"


def _replace(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the flow changed: {old!r} is not there once"
    return text.replace(old, new)


def _line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


# name: (old, new, the line of the error is the line of this fragment, words of the error)
EDITS: dict[str, tuple[str, str, str, str]] = {
    "next to a missing step": (
        "      next: outage_goodwill\n",
        "      next: outage_goodwil\n",
        "- id: outage_info",
        "there is no step with that id",
    ),
    "dead end": (
        "      next: outage_goodwill\n",
        "",
        "- id: outage_info",
        "dead end",
    ),
    "choice without next": (
        "leuchten gar nicht, sind nicht an]\n          next: power\n",
        "leuchten gar nicht, sind nicht an]\n",
        "- id: lights",
        "has no `next`",
    ),
    "yes/no without no": (
        "      no: faulty_router\n",
        "",
        "- id: power",
        "does not say where both `yes` and `no` lead",
    ),
    "unknown trigger intent": (
        "    intents: [problem_internet]\n",
        "    intents: [problem_internet, problem_intenet]\n",
        "  id: internet_no_connection",
        "'problem_intenet' is not in domain.yml",
    ),
}


def break_flow(flows_dir: Path, kind: str) -> tuple[str, str]:
    """Writes the broken edit; returns the file:line and the words the error must show."""
    old, new, where, words = EDITS[kind]
    path = flows_dir / FLOW_FILE
    text = _replace(path.read_text(encoding="utf-8"), old, new)
    text = _replace(text, GOOD_QUESTION, EDITED_QUESTION)
    path.write_text(text, encoding="utf-8")
    return f"{FLOW_FILE}:{_line_of(text, where)}", words

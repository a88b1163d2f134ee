"""The review list of what the assistant did not understand, and trainers' labels.

Two kinds of messages are recorded when they happen (`record`):

- `fallback`: no flow was running and the message started none (the
  two-stage fallback of the diagnosis service answered it);
- `miss`: a running flow asked a question and the answer matched none of its
  choices (the same message is also in `flow_events` as a `miss`).

Each keeps the intent the assistant guessed (the NLU's first intent, or its
best guess behind `nlu_fallback`) and how sure it was. The list groups the
same message (case and spacing aside) with where it came up and what was
guessed. A trainer labels a message with the intent it should have had: the
label is stored on the messages and written as a proposed training example
into `REVIEWED_NLU_FILE` (data/nlu/reviewed.yml, Rasa NLU YAML). It takes
effect after the next training. The messages are never sent anywhere.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import yaml
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import NotUnderstood, utcnow
from api.services.errors import Conflict, Invalid
from bot.flows.engine import CustomerTurn
from bot.wording import say

KINDS = ("fallback", "miss")
MAX_TEXT = 500
MAX_GROUPS = 300
NOT_A_GUESS = ("", "nlu_fallback")

_TABLE = NotUnderstood.__table__
_file_lock = asyncio.Lock()

REVIEWED_HEADER = """\
version: "3.1"

# PROPOSED TRAINING EXAMPLES: not reviewed training data yet.
#
# Trainers labelled these customer messages in the review list of the
# analytics page (/analytics, docs/analytics.md) with the intent each should
# have had. The API writes this file; edit it with care. Read them through,
# move the good ones into the intent's own file if you like, then retrain
# (make train): until then the assistant understands nothing new.
"""


def guessed_intent(turn: CustomerTurn) -> Optional[str]:
    """What the assistant took the message for: the intent, or its best guess behind a fallback."""
    if turn.intent not in NOT_A_GUESS:
        return turn.intent
    return turn.likely_intents[0] if turn.likely_intents else None


def normalise(text: str) -> str:
    return " ".join(text.split()).lower()


async def record(
    *,
    session: AsyncSession,
    conversation_id: str,
    kind: str,
    turn: CustomerTurn,
    flow_id: Optional[str] = None,
    step_id: Optional[str] = None,
) -> None:
    """Keep a message the assistant did not understand (a button press is never one)."""
    text = " ".join(turn.text.split())[:MAX_TEXT]
    if not text or text.startswith("/"):
        return
    await session.execute(
        insert(_TABLE).values(
            conversation_id=conversation_id,
            kind=kind,
            text=text,
            intent=guessed_intent(turn),
            confidence=round(float(turn.confidence), 4),
            flow_id=flow_id,
            step_id=step_id,
            created_at=utcnow(),
        )
    )


# ------------------------------------------------------------------- the list


@dataclass
class ReviewGroup:
    """The same message, wherever it came up."""

    text: str
    count: int
    last_seen: datetime
    kinds: dict[str, int] = field(default_factory=dict)
    places: list[dict[str, Any]] = field(default_factory=list)
    guesses: list[dict[str, Any]] = field(default_factory=list)
    label: Optional[str] = None


async def review_list(
    *,
    session: AsyncSession,
    start: datetime,
    end: datetime,
    kind: Optional[str] = None,
    status: str = "open",
    limit: int = MAX_GROUPS,
) -> list[ReviewGroup]:
    """Messages not understood in [start, end), grouped, the most frequent first.

    `status`: `open` (not labelled yet), `labelled`, or `all`.
    """
    key = func.lower(NotUnderstood.text)
    where = [NotUnderstood.created_at >= start, NotUnderstood.created_at < end]
    if kind:
        where.append(NotUnderstood.kind == kind)
    if status == "open":
        where.append(NotUnderstood.label.is_(None))
    elif status == "labelled":
        where.append(NotUnderstood.label.is_not(None))
    top = (
        select(
            key.label("key"),
            func.count().label("n"),
            func.min(NotUnderstood.text).label("text"),
            func.max(NotUnderstood.created_at).label("last_seen"),
            func.max(NotUnderstood.label).label("label"),
        )
        .where(*where)
        .group_by(key)
        .order_by(func.count().desc(), key)
        .limit(limit)
    )
    groups: dict[str, ReviewGroup] = {}
    for row in (await session.execute(top)).mappings():
        last_seen = row["last_seen"]
        if isinstance(last_seen, str):  # SQLite aggregate of a timestamp column
            last_seen = datetime.fromisoformat(last_seen).replace(tzinfo=start.tzinfo)
        groups[row["key"]] = ReviewGroup(
            text=row["text"], count=int(row["n"]), last_seen=last_seen, label=row["label"]
        )
    if not groups:
        return []
    details = await session.execute(
        select(
            key.label("key"),
            NotUnderstood.kind,
            NotUnderstood.flow_id,
            NotUnderstood.step_id,
            NotUnderstood.intent,
            func.count().label("n"),
            func.avg(NotUnderstood.confidence).label("confidence"),
        )
        .where(*where, key.in_(list(groups)))
        .group_by(
            key,
            NotUnderstood.kind,
            NotUnderstood.flow_id,
            NotUnderstood.step_id,
            NotUnderstood.intent,
        )
    )
    places: dict[str, dict[tuple[str, Optional[str], Optional[str]], int]] = defaultdict(dict)
    guesses: dict[str, dict[Optional[str], list[float]]] = defaultdict(dict)
    for row in details.mappings():
        group = groups[row["key"]]
        n = int(row["n"])
        group.kinds[row["kind"]] = group.kinds.get(row["kind"], 0) + n
        place = (row["kind"], row["flow_id"], row["step_id"])
        places[row["key"]][place] = places[row["key"]].get(place, 0) + n
        guess = guesses[row["key"]].setdefault(row["intent"], [0, 0.0])
        guess[0] += n
        guess[1] += float(row["confidence"] or 0) * n
    for key_value, group in groups.items():
        group.places = [
            {"kind": k, "flow_id": f, "step_id": s, "count": n}
            for (k, f, s), n in sorted(places[key_value].items(), key=lambda item: -item[1])
        ]
        group.guesses = [
            {"intent": intent, "count": int(n), "confidence": round(total / n, 3) if n else None}
            for intent, (n, total) in sorted(guesses[key_value].items(), key=lambda i: -i[1][0])
        ]
    return list(groups.values())


# ------------------------------------------------------------------- labelling


def domain_intents(domain_file: Path) -> list[str]:
    """The intents a message can be labelled with: the Rasa domain's."""
    document = yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}
    intents = []
    for item in document.get("intents") or []:
        name = next(iter(item)) if isinstance(item, dict) else item
        intents.append(str(name))
    return intents


def training_example(text: str) -> str:
    """The message as one line of Rasa NLU YAML that carries no entity annotation."""
    # `[words](entity)` and `{"entity": …}` are annotations in Rasa's format.
    text = text.replace("[", "(").replace("]", ")").replace("{", "(").replace("}", ")")
    return " ".join(text.split())


def _known_examples(nlu_dir: Path, skip: Path) -> dict[str, str]:
    """Every example in the training data (normalised) and its intent, except in `skip`."""
    known: dict[str, str] = {}
    for path in sorted(nlu_dir.glob("*.yml")):
        if path.resolve() == skip.resolve():
            continue
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in document.get("nlu") or []:
            if isinstance(item, dict) and "intent" in item:
                for line in str(item.get("examples") or "").splitlines():
                    line = line.strip()
                    if line.startswith("- "):
                        plain = re.sub(
                            r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}", r"\1\2", line[2:]
                        )
                        known.setdefault(normalise(plain), str(item["intent"]))
    return known


def read_reviewed(path: Path) -> dict[str, list[str]]:
    """The proposed examples per intent, in the file's order."""
    if not path.exists():
        return {}
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    proposed: dict[str, list[str]] = {}
    for item in document.get("nlu") or []:
        if isinstance(item, dict) and "intent" in item:
            lines = str(item.get("examples") or "").splitlines()
            examples = [line.strip()[2:] for line in lines if line.strip().startswith("- ")]
            proposed.setdefault(str(item["intent"]), []).extend(examples)
    return proposed


def render_reviewed(proposed: dict[str, list[str]]) -> str:
    lines = [REVIEWED_HEADER, "nlu:" if any(proposed.values()) else "nlu: []"]
    for intent, examples in proposed.items():
        if not examples:
            continue
        lines.append(f"  - intent: {intent}")
        lines.append("    examples: |")
        lines.extend(f"      - {example}" for example in examples)
    return "\n".join(lines) + "\n"


def _write_atomically(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".reviewed-", suffix=".yml", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass
class LabelResult:
    text: str
    intent: str
    messages: int
    file: str
    added: bool
    retrain_needed: bool
    message: str


async def label(
    *,
    session: AsyncSession,
    text: str,
    intent: str,
    staff_id: Optional[int],
    reviewed_file: Path,
    domain_file: Path,
) -> LabelResult:
    """Label every open or labelled message with this text, and propose it as an example."""
    text = " ".join(text.split())
    if not text:
        raise Invalid("The message to label is empty.")
    if intent not in domain_intents(domain_file):
        raise Invalid(f"Unknown intent {intent!r}: choose one of the domain's intents.")
    # The database lowers both sides, as it did when grouping the list (SQLite's
    # lower() folds ASCII letters only).
    result = await session.execute(
        update(NotUnderstood)
        .where(func.lower(NotUnderstood.text) == func.lower(text))
        .values(label=intent, labelled_by=staff_id, labelled_at=utcnow())
    )
    if not result.rowcount:
        raise Invalid("No message with this text is in the review list.")
    example = training_example(text)
    async with _file_lock:
        status = await asyncio.to_thread(_propose, reviewed_file, example, intent)
    await session.commit()
    notes = {
        key: say(f"review.{key}", example=example, intent=intent, file=reviewed_file.name)
        for key in ("added", "proposed", "trained")
    }
    return LabelResult(
        text=text,
        intent=intent,
        messages=int(result.rowcount),
        file=str(reviewed_file),
        added=status == "added",
        retrain_needed=status != "trained",
        message=notes[status],
    )


def _propose(path: Path, example: str, intent: str) -> str:
    """Add the example under the intent, moving it from another proposed intent.

    Returns `added`, `proposed` (already proposed for this intent) or `trained`
    (already an example of this intent in the training data).
    """
    key = normalise(example)
    trained = _known_examples(path.parent, skip=path)
    if key in trained:
        if trained[key] != intent:
            raise Conflict(
                f'The training data already has "{example}" as an example of {trained[key]}. '
                "Change it there, or choose that intent."
            )
        return "trained"
    proposed = read_reviewed(path)
    if any(normalise(e) == key for e in proposed.get(intent, [])):
        return "proposed"
    for other, examples in proposed.items():
        proposed[other] = [e for e in examples if normalise(e) != key]
    proposed.setdefault(intent, []).append(example)
    _write_atomically(path, render_reviewed(proposed))
    return "added"

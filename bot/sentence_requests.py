"""The request a customer makes in one sentence of a longer message.

Customers tell the story first and ask last: "Got home, the cable box says no
signal. Restarted it twice already. Can you send a tech out?" Read as a whole,
such a message is a cable fault; the ask in its last sentence gets lost, and the
customer is walked through checks they did not ask for. So the intent classifier
(bot/rasa/intent_classifier.py) also reads each sentence of a message on its
own. When one sentence is, with high confidence, a request that must trigger an
action (a person, a part, a visit, a ticket's status), the message stands for
that request; the rest of the message still tells the flows what it is about.

Pure functions over numbers, so they can be tested without Rasa.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Intents whose request must trigger an action (../shared/eval/README.md).
REQUEST_INTENTS = ("request_human", "order_part", "book_visit", "ticket_status")
# A sentence's probability for its request above which the message stands for it.
# At 0.7, fragments like "Original cable, original charger." read as part orders
# on our held-out sets; at 0.9 one such false request was left (docs/nlu.md).
REQUEST_CONFIDENCE = 0.9
# Higher for a person: after a story, "Can anyone help me with this?" (0.97) is
# politeness, not a request for a person; "Can I speak to someone?" is 0.999.
REQUEST_CONFIDENCE_BY_INTENT = {"request_human": 0.99}
# A sentence needs this many words to be read on its own ("Please help." is no
# request for a person).
MIN_WORDS = 3
# Sentences read per message, so a very long message costs a bounded time.
MAX_SENTENCES = 8

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class SentenceRequest:
    intent: str
    confidence: float
    sentence: str


def sentences(text: str) -> list[str]:
    """The sentences of a message worth reading alone; none when it has only one."""
    parts = [part.strip() for part in _SENTENCE_END.split(text or "")]
    kept = [part for part in parts if len(part.split()) >= MIN_WORDS]
    return kept[:MAX_SENTENCES] if len(kept) >= 2 else []


def request_in_sentences(
    sentence_texts: Sequence[str],
    probabilities: np.ndarray,
    intents: Sequence[str],
    *,
    confidence: float = REQUEST_CONFIDENCE,
    request_intents: Sequence[str] = REQUEST_INTENTS,
    confidence_by_intent: dict[str, float] | None = None,
) -> SentenceRequest | None:
    """The most confident request among the sentences (rows of `probabilities`,
    columns in the order of `intents`), if a sentence's best intent is a request
    at least `confidence` sure (or its own confidence in `confidence_by_intent`)."""
    needed = REQUEST_CONFIDENCE_BY_INTENT if confidence_by_intent is None else confidence_by_intent
    best: SentenceRequest | None = None
    for text, row in zip(sentence_texts, probabilities, strict=True):
        top = int(np.argmax(row))
        name, sure = intents[top], float(row[top])
        if name in request_intents and sure >= needed.get(name, confidence):
            if best is None or sure > best.confidence:
                best = SentenceRequest(name, sure, text)
    return best


def ranking_with_request(
    ranking: list[dict[str, float | str]], request: SentenceRequest
) -> list[dict[str, float | str]]:
    """The message's intent ranking with the sentence's request first, at the
    sentence's confidence; the other intents keep their order and share the rest,
    so the ranking still sums to at most 1 (the FallbackClassifier compares the
    first two: a sure request must not look ambiguous)."""
    rest = [entry for entry in ranking if entry["name"] != request.intent]
    total = sum(float(entry["confidence"]) for entry in rest)
    share = (1.0 - request.confidence) / total if total > 0 else 0.0
    scaled = [{"name": e["name"], "confidence": float(e["confidence"]) * share} for e in rest]
    return [{"name": request.intent, "confidence": request.confidence}, *scaled]

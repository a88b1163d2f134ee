"""Chooses the diagnostic flow that fits a customer's problem, by meaning.

Each customer flow says in its YAML what it is for: a title, a description and
`examples` of how customers describe the problem. A message is compared with
all of them through sentence embeddings (bot/flows/meaning.py), so "the picture
keeps breaking up into blocks" finds the picture flow although no example uses
those words, and a flow added with examples is chosen without retraining Rasa.

- A confident problem intent limits the choice to its domain's flows, plus any
  flow whose `devices` the message names ("printer says offline, router is
  fine": the printer flow is compared even though the NLU said internet).
- An unsure intent (low confidence, not a problem intent) ranks the flows of
  every domain; the NLU's likelier domains get a small head start.
- A message close to none of the candidates gets the domain's `default: true`
  flow, never whichever file sorts first.
- Trainer keywords found in the message add a small bonus; they no longer decide
  alone.
- A message that gives the plan's and the measured speed ("paying for 250 and
  getting maybe 10") adds a bonus to the flows with a question that reads them
  (`from_message: {speed_ratio: …}`): whatever else it says, it is about speed.

`rank()` says why: the closest example and the keywords found, for
`make which-flow` and for the flow-choice evaluation (`make eval-flows`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import numpy as np

from bot.flows.loader import FlowLibrary
from bot.flows.meaning import SentenceEncoder
from bot.flows.model import Flow, Text
from bot.flows.speeds import speeds_in

# Below this an intent is "unsure" and flows of every domain are ranked.
CONFIDENT_INTENT = 0.8
# A best match below this is not close to any flow: the domain's default runs.
MIN_MEANING = 0.3
KEYWORD_BONUS = 0.04
SPEEDS_BONUS = 0.08
# When the NLU is unsure, a flow is still started when the message is this close to
# one of its examples and clearly closer than to any other flow's ("mein Fernseher hat
# kein Bild mehr, nur schwarz": 0.88 against 0.63).
CLEAR_MEANING = 0.8
CLEAR_MARGIN = 0.1
# Head start of flows in the domain the NLU ranked first, second, third.
LIKELY_DOMAIN_BONUS = (0.08, 0.04, 0.02)


@dataclass(frozen=True)
class FlowMatch:
    """One candidate flow, how close the message is to it, and why."""

    flow: Flow
    score: float
    meaning: float
    closest: str
    keywords: tuple[str, ...]
    head_start: float
    speeds: bool = False

    def explain(self) -> str:
        parts = [f"closest to {self.closest!r} ({self.meaning:.2f})"]
        if self.keywords:
            parts.append(f"keywords {', '.join(self.keywords)} (+{KEYWORD_BONUS:.2f})")
        if self.speeds:
            parts.append(f"plan and measured speed given (+{SPEEDS_BONUS:.2f})")
        if self.head_start:
            parts.append(f"the NLU's domain (+{self.head_start:.2f})")
        return "; ".join(parts)


PAYLOAD = re.compile(r"^\s*/[A-Za-z_]")


def customer_words(text: str) -> str:
    """The text to compare by meaning: a button's payload (`/problem_internet`) has none."""
    return "" if PAYLOAD.match(text) else text


def _words(text: str) -> str:
    return " " + re.sub(r"[^\w]+", " ", text.lower()).strip() + " "


def flow_phrases(flow: Flow) -> list[str]:
    """What a flow says it is for: its examples, and its title and description in
    every language they are written in."""
    phrases = [*flow.examples, *_every_language(flow.title)]
    if flow.description:
        phrases.extend(_every_language(flow.description))
    return [p for p in dict.fromkeys(phrases) if p.strip()]


def _reads_speeds(flow: Flow) -> bool:
    """Whether a question of the flow is answered by the plan's and the measured speed."""
    return any(
        step.from_message is not None and step.from_message.speed_ratio is not None
        for step in flow.steps.values()
    )


def _every_language(text: str) -> list[str]:
    return list(text.translations.values()) if isinstance(text, Text) else [text]


class FlowChooser:
    """Ranks the customer flows of a library for a message; see the module docstring."""

    def __init__(self, library: FlowLibrary, encoder: Optional[SentenceEncoder] = None) -> None:
        self.library = library
        self.encoder = encoder
        # Embeddings of each flow's phrases, kept while the parsed flow is the same object.
        self._vectors: dict[str, tuple[Flow, list[str], np.ndarray]] = {}

    def customer_flows(self) -> list[Flow]:
        return [f for f in self.library.flows().values() if f.intents]

    def candidates(
        self,
        *,
        intent: str,
        confidence: float,
        likely_intents: Sequence[str],
        devices: Sequence[str] = (),
    ) -> list[Flow]:
        for_intent = self.library.for_intent(intent)
        if for_intent and confidence >= CONFIDENT_INTENT:
            named = {d.lower() for d in devices}
            return for_intent + [
                f
                for f in self.customer_flows()
                if f not in for_intent and named & {d.lower() for d in f.devices}
            ]
        if for_intent or any(self.library.for_intent(i) for i in likely_intents):
            return self.customer_flows()
        return []

    def rank(
        self,
        *,
        text: str,
        intent: str,
        confidence: float = 1.0,
        likely_intents: Sequence[str] = (),
        devices: Sequence[str] = (),
    ) -> list[FlowMatch]:
        """Candidate flows for the message, best first."""
        flows = self.candidates(
            intent=intent, confidence=confidence, likely_intents=likely_intents, devices=devices
        )
        if not flows:
            return []
        order = [intent, *likely_intents] if intent else list(likely_intents)
        domains: list[str] = []
        for name in order:
            for flow in self.library.for_intent(name):
                if flow.domain not in domains:
                    domains.append(flow.domain)
        if len({f.domain for f in flows}) == 1:
            domains = []  # one domain: no head start to give
        return self.score(
            text, flows, head_starts=dict(zip(domains, LIKELY_DOMAIN_BONUS, strict=False))
        )

    def score(
        self, text: str, flows: Sequence[Flow], *, head_starts: Optional[dict[str, float]] = None
    ) -> list[FlowMatch]:
        """The given flows ranked for the message, best first."""
        head_starts = head_starts or {}
        text = customer_words(text)
        words = _words(text)
        message = self.encoder.encode([text])[0] if self.encoder and text.strip() else None
        speeds_given = speeds_in(text) is not None
        matches = []
        for flow in flows:
            meaning, closest = 0.0, ""
            if message is not None:
                phrases, vectors = self._flow_vectors(flow)
                similarities = vectors @ message
                best = int(np.argmax(similarities))
                meaning, closest = float(similarities[best]), phrases[best]
            found = tuple(k for k in flow.keywords if _words(k) in words)
            head_start = head_starts.get(flow.domain, 0.0)
            speeds = speeds_given and _reads_speeds(flow)
            score = (
                meaning
                + (KEYWORD_BONUS if found else 0.0)
                + (SPEEDS_BONUS if speeds else 0.0)
                + head_start
            )
            matches.append(FlowMatch(flow, score, meaning, closest, found, head_start, speeds))
        # Equal scores (no encoder, no keywords): the default flow first, then by id.
        matches.sort(key=lambda m: (-m.score, not m.flow.default, m.flow.id))
        return matches

    def choose(
        self,
        *,
        text: str,
        intent: str,
        confidence: float = 1.0,
        likely_intents: Sequence[str] = (),
        devices: Sequence[str] = (),
    ) -> Optional[Flow]:
        """The flow to start, or None when no customer flow fits the intent."""
        ranked = self.rank(
            text=text,
            intent=intent,
            confidence=confidence,
            likely_intents=likely_intents,
            devices=devices,
        )
        if not ranked:
            return None
        best = ranked[0]
        if self.encoder is None or best.meaning >= MIN_MEANING or best.keywords:
            return best.flow
        return self.default_for(best.flow.domain) or best.flow

    def clearly_meant(
        self, *, text: str, likely_intents: Sequence[str], devices: Sequence[str] = ()
    ) -> Optional[Flow]:
        """The flow an unsure message clearly means, or None.

        Only a flow of a domain the NLU ranked first or second, ranked first, and
        either very close to the message (CLEAR_MEANING) and clearly closer than any
        other flow (CLEAR_MARGIN), or the only flow for a device the message names
        ("Mein Drucker ist offline obwohl er im WLAN ist": the printer flow).
        """
        if self.encoder is None:
            return None
        ranked = self.rank(text=text, intent="", likely_intents=likely_intents, devices=devices)
        if len(ranked) < 2:
            return None
        likely_domains = {
            f.domain for name in likely_intents[:2] for f in self.library.for_intent(name)
        }
        best, runner_up = ranked[0], max(m.meaning for m in ranked[1:])
        if best.flow.domain not in likely_domains:
            return None
        if best.meaning >= CLEAR_MEANING and best.meaning - runner_up >= CLEAR_MARGIN:
            return best.flow
        named = {d.lower() for d in devices}
        for_device = [m.flow for m in ranked if named & {d.lower() for d in m.flow.devices}]
        if len(for_device) == 1 and for_device[0] is best.flow and best.meaning >= MIN_MEANING:
            return best.flow
        return None

    def default_for(self, domain: str) -> Optional[Flow]:
        """The domain's `default: true` flow."""
        return next((f for f in self.customer_flows() if f.domain == domain and f.default), None)

    def _flow_vectors(self, flow: Flow) -> tuple[list[str], np.ndarray]:
        cached = self._vectors.get(flow.id)
        if cached is not None and cached[0] is flow:
            return cached[1], cached[2]
        assert self.encoder is not None
        phrases = flow_phrases(flow)
        vectors = self.encoder.encode(phrases)
        self._vectors[flow.id] = (flow, phrases, vectors)
        return phrases, vectors

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
- `two_problems()` finds a message that tells two problems ("no internet since
  this morning, and half my TV channels are gone"): split where a sentence or a
  clause ends, each part close to a different flow and far from the other's.

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
from bot.routing import default_table

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
# Two problems in one message: each part at least this close to its flow (two flows
# of one domain: PROBLEM_OF_ITS_OWN_SAME_DOMAIN), and each part this much closer to
# its own flow than to the other part's. On our held-out openers and routing sets
# (1,038 messages with one problem each) no message is split.
PROBLEM_OF_ITS_OWN = 0.65
PROBLEM_OF_ITS_OWN_SAME_DOMAIN = 0.75
PROBLEMS_APART = 0.2
MIN_PART_WORDS = 3
# A question about a bill or the account with a fault in one of its parts ("charged
# twice AND my wifi is slow"): the part at least this close to a flow. On our routing
# sets, the closest part of a message that tells no fault came to 0.71.
FAULT_BESIDE = 0.72
# Where a message may turn to another problem: a sentence's or a clause's end, "and",
# "plus", „außerdem“. Words that only lead into the second part are left out of it;
# a part that begins with "but", "only" or „obwohl“ qualifies the first ("printer says
# offline, but the router is fine"; „Alle Geräte sind im WLAN, nur mein Laptop nicht“).
PROBLEM_BREAK = re.compile(
    r"[.!?;]+\s+|,\s+|\s+(?:and|und|also|plus|btw|außerdem|ausserdem|zusätzlich)\s+",
    re.IGNORECASE,
)
LEAD_IN = re.compile(
    r"^(?:(?:and|und|also|plus|btw|oh|too|as well|on top of that|to top it off|außerdem|"
    r"ausserdem|zusätzlich|auch|dazu|noch dazu|ach|übrigens)\b[\s,:]*)+",
    re.IGNORECASE,
)
QUALIFIER = re.compile(
    r"^(?:but|though|although|even though|yet|except|only|just|apart from|besides|aber|"
    r"obwohl|doch|jedoch|allerdings|trotzdem|sonst|nur|außer|ausser|bis auf)\b",
    re.IGNORECASE,
)


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


@dataclass(frozen=True)
class ToldProblem:
    """One of two problems told in one message: its words, where they stand in the
    message, and the flow closest to them."""

    text: str
    start: int
    end: int
    match: FlowMatch


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


def _cuts(text: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Each place a message may turn to another matter, as the spans of the part
    before it and the part after it (without the words that only lead into it)."""
    cuts = []
    for cut in PROBLEM_BREAK.finditer(text):
        head_end = len(text[: cut.start()].rstrip())
        rest = text[cut.end() :]
        lead = LEAD_IN.match(rest.lstrip())
        tail_start = cut.end() + (len(rest) - len(rest.lstrip())) + (lead.end() if lead else 0)
        tail_end = len(text.rstrip())
        if head_end > 0 and tail_end > tail_start:
            cuts.append(((0, head_end), (tail_start, tail_end)))
    return cuts


def _pieces(text: str) -> list[tuple[int, int]]:
    """The spans between one place the message may turn and the next."""
    edges = [(0, 0)]
    for cut in PROBLEM_BREAK.finditer(text):
        edges.append((cut.start(), cut.end()))
    edges.append((len(text), len(text)))
    pieces = []
    for (_, start), (end, _) in zip(edges, edges[1:], strict=False):
        lead = LEAD_IN.match(text[start:end])
        start += lead.end() if lead else 0
        if end > start:
            pieces.append((start, end))
    return pieces


def _tells_something(part: str) -> bool:
    """A part long enough to tell a problem, and not one that only qualifies the
    part before it ("but the router is fine")."""
    return len(part.split()) >= MIN_PART_WORDS and not QUALIFIER.match(part.strip())


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

    def two_problems(self, text: str) -> Optional[tuple[ToldProblem, ToldProblem]]:
        """The two problems a message tells, in the order told, or None for one.

        The message is cut once, where a sentence or clause ends; a cut counts when
        both parts have a few words, each is close to a different flow
        (PROBLEM_OF_ITS_OWN) and clearly closer to its own than to the other's
        (PROBLEMS_APART). Of several such cuts, the one whose weaker part is closest
        to its flow wins.
        """
        text = customer_words(text)
        if self.encoder is None or not text.strip():
            return None
        flows = self.customer_flows()
        best: Optional[tuple[float, ToldProblem, ToldProblem]] = None
        for (head_start, head_end), (tail_start, tail_end) in _cuts(text):
            head_text, tail_text = text[head_start:head_end], text[tail_start:tail_end]
            if not (_tells_something(head_text) and _tells_something(tail_text)):
                continue
            head, tail = self._score_part(head_text, flows), self._score_part(tail_text, flows)
            first, second = head[0], tail[0]
            if first.flow is second.flow:
                continue
            weaker = min(first.meaning, second.meaning)
            enough = (
                PROBLEM_OF_ITS_OWN_SAME_DOMAIN
                if first.flow.domain == second.flow.domain
                else PROBLEM_OF_ITS_OWN
            )
            if weaker < enough:
                continue
            head_on_other = next(m.meaning for m in head if m.flow is second.flow)
            tail_on_other = next(m.meaning for m in tail if m.flow is first.flow)
            if (
                first.meaning - head_on_other < PROBLEMS_APART
                or second.meaning - tail_on_other < PROBLEMS_APART
            ):
                continue
            if best is None or weaker > best[0]:
                best = (
                    weaker,
                    ToldProblem(head_text, head_start, head_end, first),
                    ToldProblem(tail_text, tail_start, tail_end, second),
                )
        return (best[1], best[2]) if best else None

    def _score_part(self, part: str, flows: Sequence[Flow]) -> list[FlowMatch]:
        """The flows ranked for one part of a message, the area its words name first
        among equals: "my internet is slow" is the internet's slow speed, not a slow
        computer, though by meaning alone the two are close."""
        named = default_table().domain_from_keywords(part)
        starts = {named: LIKELY_DOMAIN_BONUS[0]} if named else None
        return self.score(part, flows, head_starts=starts)

    def fault_beside(self, text: str) -> Optional[ToldProblem]:
        """The part of a message that tells a fault next to something else ("I was
        charged twice this month AND my wifi is slow"): the part closest to a flow,
        when at least FAULT_BESIDE close; None otherwise."""
        text = customer_words(text)
        if self.encoder is None or not text.strip():
            return None
        flows = self.customer_flows()
        best: Optional[ToldProblem] = None
        parts = {span for cut in _cuts(text) for span in cut} | set(_pieces(text))
        for start, end in sorted(parts):
            part = text[start:end]
            if not _tells_something(part):
                continue
            match = self.score(part, flows)[0]
            closer = best is None or match.meaning > best.match.meaning
            if match.meaning >= FAULT_BESIDE and closer:
                best = ToldProblem(part, start, end, match)
        return best

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

"""The flow language as Python objects, parsed from the YAML in data/flows/."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from bot import vocabulary

# The domains a flow may belong to and the ways it may end (bot/vocabulary.py).
DOMAINS = vocabulary.PROBLEM_DOMAINS
OUTCOMES = vocabulary.OUTCOMES
# The languages customers write in; English is the default and the fallback.
LANGUAGES = vocabulary.LANGUAGES
DEFAULT_LANGUAGE = vocabulary.DEFAULT_LANGUAGE

# The system lookups a `check:` step may name, and the results each can give.
# api/services/checks.py implements them; a test keeps the two in step.
KNOWN_CHECKS: dict[str, tuple[str, ...]] = {
    "service_outage": ("outage", "none", "unknown"),
    "conversation_customer": ("known", "unknown"),
    "verify_customer": ("verified", "not_found", "unknown"),
    "find_part": ("found", "not_found", "unknown"),
    "part_quote": ("free", "quote", "incompatible", "out_of_stock", "unknown"),
    "use_alternative": ("switched", "none", "unknown"),
    "place_part_order": ("ordered", "failed", "unknown"),
    "next_part": ("next", "none", "unknown"),
    "visit_availability": ("available", "none", "unknown"),
    "visit_booked": ("booked", "none", "unknown"),
    "customer_tickets": ("found", "none", "unknown"),
    "cancel_visit_booking": ("cancelled", "failed", "unknown"),
    "ticket_to_close": ("one", "visit", "several", "already", "none", "unknown"),
    "mark_ticket_solved": ("solved", "failed", "unknown"),
    "save_ticket_contact": ("saved", "invalid", "declined", "account", "linked", "unknown"),
    "goodwill_eligible": ("eligible", "not_eligible", "unknown"),
    "goodwill_accept": ("recorded", "failed", "unknown"),
    "goodwill_decline": ("recorded", "failed", "unknown"),
}


# How a slot is named: `slot:`, `one_at_a_time:` and `{slot}` in texts.
SLOT_NAME = re.compile(r"[a-z_][a-z0-9_]*")


class FlowFormatError(ValueError):
    """A flow file does not follow the flow language."""

    def __init__(self, message: str, *, source: str = "", line: Optional[int] = None) -> None:
        where = source + (f":{line}" if line else "")
        super().__init__(f"{where}: {message}" if where else message)
        self.source = source
        self.line = line


class Text(str):
    """A customer-facing text, written in one or more languages side by side.

    As a `str` it is the English text (or, in a flow without English, the first
    language given), so code that only reads English keeps working; the
    engine renders `in_language(...)`. `line` is where it was written.
    """

    translations: dict[str, str]
    line: Optional[int]

    def __new__(cls, translations: dict[str, str], line: Optional[int] = None) -> Text:
        main = translations.get(DEFAULT_LANGUAGE) or next(iter(translations.values()), "")
        text = super().__new__(cls, main)
        text.translations = dict(translations)
        text.line = line
        return text

    def in_language(self, language: str) -> str:
        """The text in `language`; in English (or the first language) when not written in it."""
        return self.translations.get(language) or str(self)

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(lang for lang, text in self.translations.items() if text)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Text, (self.translations, self.line))


def in_language(text: str, language: str) -> str:
    """A `Text` in `language`; a plain string as it is."""
    return text.in_language(language) if isinstance(text, Text) else text


@dataclass(frozen=True)
class Choice:
    value: str
    title: str
    next: Optional[str]
    # Every language's synonyms at once: customers mix languages.
    synonyms: tuple[str, ...] = ()
    synonyms_by_language: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The answer when the customer names all of these other choices together
    # ("my mouse and keyboard stopped working" for `all_of: [keyboard, mouse]`).
    all_of: tuple[str, ...] = ()
    # Named together with other choices, this one is taken: smoke comes before heat.
    urgent: bool = False
    # Named together with these choices, this one is taken: its checks often sort them
    # out too (a frozen box is why the remote "does nothing").
    covers: tuple[str, ...] = ()
    line: Optional[int] = None

    @property
    def titles(self) -> tuple[str, ...]:
        """The button's title in every language it is written in."""
        if isinstance(self.title, Text):
            return tuple(dict.fromkeys(self.title.translations.values()))
        return (self.title,)


@dataclass(frozen=True)
class SpeedRatio:
    """Answers a question from the plan's and the measured speed in the customer's words:
    `then` when the measured speed is below `below` times the plan's, else `otherwise`."""

    below: float
    then: str
    otherwise: str


@dataclass(frozen=True)
class FromMessage:
    """What in the customer's own words can answer a question before it is asked.

    `entities`: details the language model picks out (light_color, device,
    error_code, …); for a question with choices their values are looked up among
    the choices' values and synonyms, for a free answer the value is the answer.
    A question with choices is also answered by its choices' wording, when that
    is clear. `values`: names that answer a free answer when found in the
    message (app names). `names`: patterns with `*` for a name no list holds
    ("* app" finds "Chase app"; bot/flows/names.py). `yes`/`no`: phrases that
    answer a yes/no question.
    `speed_ratio`: the choice for a measured speed far below the plan's, and the one
    otherwise ("paying for 500 Mbps and speedtest shows 12"; bot/flows/speeds.py).
    `phrases`: for a question with choices, the phrases that answer it from a message,
    per choice value, in place of the choices' own wording (whose synonyms may be
    words every problem description uses, such as "nothing").
    `done`: for a step that asks the customer to do something, phrases saying they
    already did it ("restarted the router"); the step is then skipped, as after
    "already tried" (to its `skip`, or else its `no`).
    `say`: how the assistant tells the customer what it took ({answer}, {words}).
    `several`: what the question adds when the message names more than one of its
    choices ({named}); by default "You mentioned more than one of these: …".
    `one_at_a_time`: a slot; when the message names several choices, the first one
    named answers the question and the others wait in this slot, in the order
    named ("a remote and a charger": the remote now, the charger after it). `several`
    then says so ({named}, {answer}: the first).
    """

    entities: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    yes: tuple[str, ...] = ()
    no: tuple[str, ...] = ()
    done: tuple[str, ...] = ()
    speed_ratio: Optional[SpeedRatio] = None
    phrases: tuple[tuple[str, tuple[str, ...]], ...] = ()
    say: str = ""
    several: str = ""
    one_at_a_time: str = ""


@dataclass(frozen=True)
class Condition:
    """`slot` compared with `equals` (or `in`); used by branch steps."""

    slot: str
    equals: Any = None
    one_of: tuple[Any, ...] = ()

    def holds(self, slots: dict[str, Any]) -> bool:
        value = slots.get(self.slot)
        if self.one_of:
            return _same_text(value) in {_same_text(v) for v in self.one_of}
        if self.equals is None:
            return value is None
        return _same_text(value) == _same_text(self.equals)


def _same_text(value: Any) -> Any:
    """Customers' answers are text: compare `0x8007` and 0x8007, `E1` and `e1 ` alike."""
    if value is None or isinstance(value, bool):
        return value
    return str(value).strip().lower()


@dataclass(frozen=True)
class Step:
    id: str
    # say | ask_choice | ask_yes_no | ask_value | check | branch | call | outcome | return
    kind: str
    line: Optional[int] = None
    text: str = ""
    question: str = ""
    label: str = ""
    warning: str = ""
    image: str = ""
    next: Optional[str] = None
    choices: tuple[Choice, ...] = ()
    yes: Optional[str] = None
    no: Optional[str] = None
    slot: Optional[str] = None
    check: Optional[str] = None
    results: dict[str, str] = field(default_factory=dict)
    branches: tuple[tuple[Condition, str], ...] = ()
    otherwise: Optional[str] = None
    call: Optional[str] = None
    outcome: Optional[str] = None
    options: dict[str, Any] = field(default_factory=dict)
    skip: Optional[str] = None
    # Answers the question from what the customer already said (see FromMessage).
    from_message: Optional[FromMessage] = None
    # The question in other words, for a customer who was not understood once.
    rephrase: str = ""
    # Outcomes only: where the flow goes on when the customer says right after it that
    # it is still not working (a known outage explained, channels not in the package).
    still_broken: Optional[str] = None
    # Questions only: never asked. Answered from the customer's words, or else on to here.
    if_not_said: Optional[str] = None

    @property
    def summary_label(self) -> str:
        """How the step appears in a diagnosis summary."""
        return self.summary_label_in(DEFAULT_LANGUAGE)

    def summary_label_in(self, language: str) -> str:
        """How the step appears in a diagnosis summary, in `language`."""
        if self.label:
            return in_language(self.label, language)
        source = in_language(self.text or self.question, language)
        first = re.split(r"(?<=[.?!])\s", source.strip(), maxsplit=1)[0]
        return first if len(first) <= 80 else first[:77] + "…"

    @property
    def waits_for_customer(self) -> bool:
        return self.kind in ("ask_choice", "ask_yes_no", "ask_value")

    def targets(self) -> list[str]:
        """Every step id this step can lead to."""
        found = [self.next, self.yes, self.no, self.otherwise, self.skip, self.still_broken]
        found.append(self.if_not_said)
        found += [c.next for c in self.choices]
        found += list(self.results.values())
        found += [target for _, target in self.branches]
        return [t for t in found if t]


@dataclass(frozen=True)
class Flow:
    id: str
    domain: str
    title: str
    description: str
    intents: tuple[str, ...]
    keywords: tuple[str, ...]
    devices: tuple[str, ...]
    start: str
    steps: dict[str, Step]
    # How customers describe the problem, for choosing the flow by meaning.
    examples: tuple[str, ...] = ()
    # Started when a message is about the domain but close to none of its flows.
    default: bool = False
    tests: tuple[dict[str, Any], ...] = ()
    source: str = ""
    line: Optional[int] = None
    # The languages the flow is written in. Without `languages:` in the file it
    # is every language (LANGUAGES), and `languages_declared` is False.
    languages: tuple[str, ...] = LANGUAGES
    languages_declared: bool = False

    def language_for(self, language: str) -> str:
        """The language to show this flow in, for a customer writing `language`."""
        if language in self.languages:
            return language
        return DEFAULT_LANGUAGE if DEFAULT_LANGUAGE in self.languages else self.languages[0]

    def step(self, step_id: str) -> Step:
        try:
            return self.steps[step_id]
        except KeyError as error:
            raise FlowFormatError(
                f"flow {self.id!r} has no step {step_id!r}", source=self.source
            ) from error

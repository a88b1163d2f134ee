"""Runs a diagnostic flow one customer turn at a time.

The engine is pure: it takes the flow state (a JSON-friendly dict kept in the
conversation), what the customer said, and a way to run named system checks,
and returns what to say, the new state, the events to record and, at the end,
the outcome to carry out. Carrying out outcomes (opening a ticket, ordering a
part, handing off) is the caller's job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Optional

from bot.flows.choosing import FlowChooser, customer_words
from bot.flows.loader import FlowLibrary
from bot.flows.meaning import SentenceEncoder
from bot.flows.model import DEFAULT_LANGUAGE, LANGUAGES, SLOT_NAME, Flow, Step, in_language
from bot.flows.names import name_in
from bot.flows.speeds import speed_words, speeds_in
from bot.flows.word_forms import stems
from bot.flows.wording import engine_text
from bot.frustration import shows_frustration
from bot.routing import default_table

CheckRunner = Callable[[str, dict[str, Any]], Awaitable[str]]

MAX_AUTOMATIC_STEPS = 50
# Mid-flow, a typed message shorter than this is an answer attempt, never a new problem.
WORDS_OF_A_NEW_PROBLEM = 4
# A problem-like message mid-flow that fits the running flow this well (meaning and
# keywords), and nearly as well as the best other flow, belongs to the running flow.
RUNNING_FLOW_FITS = 0.55
RUNNING_FLOW_MARGIN = 0.15
# Misses in a row: the first gets the question in other words, the second the
# options and a person, the third a person.
MISSES_BEFORE_OFFERING_A_PERSON = 2
MISSES_BEFORE_A_PERSON_TAKES_OVER = 3
YES_INTENTS = {"affirm", "problem_fixed"}
NO_INTENTS = {"deny", "problem_persists"}
YES_WORDS = {"yes", "y", "yeah", "yea", "ya", "yep", "yup", "sure", "correct", "ja", "jo", "jep",
             "jup", "jawohl", "ok", "okay", "right"}  # fmt: skip
NO_WORDS = {"no", "n", "nope", "nah", "not", "nein", "nö", "nee", "negative"}
# "Done", "did that", „erledigt“: the instruction was carried out, and the question
# about how it went is still open. Words that may come with them:
DONE_PHRASES = (
    "done", "did it", "did that", "done it", "done that", "finished", "all done",
    "erledigt", "gemacht", "fertig", "getan",
)  # fmt: skip
DONE_FILLERS = YES_WORDS | {
    "i", "ive", "have", "just", "now", "so", "alright", "that", "it", "hab", "habe", "ich",
    "das", "ist", "jetzt", "gut", "und", "and", "then", "what", "was", "nun",
}  # fmt: skip
# "Ok, I'll try that", „mach ich“, "one sec": the instruction is about to be carried
# out; the question about how it went waits. Words that may come with them:
WILL_DO_PHRASES = (
    "will do", "i ll do", "ill do", "i will do", "i ll try", "ill try", "i will try", "let me try",
    "going to try", "gonna try", "trying it now", "trying now", "doing it now", "on it",
    "one moment", "one sec", "one second", "just a sec", "give me a minute",
    "give me a sec", "give me a moment", "hang on", "hold on", "bear with me",
    "mach ich", "mache ich", "ich mach das", "ich mache das", "probier ich", "probiere ich",
    "ich probier", "ich probiere", "versuch ich", "versuche ich", "ich versuche",
    "moment", "einen moment", "augenblick", "sekunde", "kleinen moment", "bin dabei",
)  # fmt: skip
WILL_DO_FILLERS = YES_WORDS | {
    "i", "ll", "ill", "will", "now", "so", "alright", "that", "it", "this", "thanks", "thank",
    "you", "cheers", "then", "and", "let", "me", "see", "just", "quickly", "a", "mal",
    "das", "es", "jetzt", "gleich", "danke", "dann", "gut", "kurz", "schnell", "ich",
    "alles", "klar", "na", "gern", "gerne", "bitte", "okey", "oki", "kk", "k",
}  # fmt: skip
# A yes followed by a statement of at least this many words in all ("yes it's plugged
# in") may be about the instruction rather than the question; words that say it works:
YES_AND_A_STATEMENT = 3
SAYS_IT_WORKS = {
    "works", "working", "work", "worked", "fixed", "back", "good", "fine", "great", "online",
    "better", "normal", "normally", "faster", "ok", "okay", "alright", "besser", "schneller",
    "wunderbar", "bestens", "connected", "perfect", "thanks", "thank", "sorted", "again",
    "resolved", "solved",
    "geht", "gehts", "läuft", "funktioniert", "klappt", "wieder", "prima", "super", "danke",
    "perfekt", "gut", "behoben", "gelöst",
}  # fmt: skip
# "yes it does", „ja, tut es“: a plain yes in more words.
PLAIN_YES_WORDS = YES_WORDS | {
    "it", "does", "do", "is", "did", "now", "sure", "indeed", "definitely", "absolutely",
    "tut", "es", "ist", "jetzt", "genau", "jep", "jo", "doch",
}  # fmt: skip
# Not an answer either way: "I'm not sure" is no "no".
UNSURE_PHRASES = (
    "not sure", "do not know", "don't know", "dont know", "no idea", "no clue", "unsure",
    "maybe", "can not tell", "can't tell", "cannot tell", "can't say", "hard to say",
    "weiß nicht", "weiss nicht", "weiß ich nicht", "weiss ich nicht", "keine ahnung",
    "vielleicht", "kann ich nicht sagen", "nicht sicher", "unsicher",
)  # fmt: skip
# "I don't know" with at most this many words is only that, not an answer in other words.
UNSURE_WORDS = 6
# "How do I do that?", „Wie mache ich das?“: the customer can't follow the instruction.
HOW_PHRASES = (
    "how do i do that", "how do i do this", "how do i do it", "how do i", "how do you do that",
    "how to do that", "how does that work", "what do you mean", "what does that mean",
    "i do not understand", "do not get it", "not sure how", "where do i find",
    "where is that", "wie mache ich das", "wie mach ich das", "wie geht das",
    "wie macht man das", "wie denn", "was heißt das", "was bedeutet das", "was meinen sie",
    "verstehe ich nicht", "versteh ich nicht", "wo finde ich", "wo ist das",
    "don't know where", "don't know how", "not sure where", "where do i see", "where do i look",
    "how do i check", "how can i check", "how can i tell", "weiß nicht wo", "weiß nicht wie",
    "weiss nicht wo", "weiss nicht wie", "wo sehe ich das", "wie sehe ich das", "wie prüfe ich",
    "what should i do", "what do i do", "what do i have to do", "what do you want me to do",
    "was soll ich machen", "was soll ich tun", "was muss ich machen", "was muss ich tun",
    "no idea how", "keine ahnung wie", "wie das geht", "wie man das macht",
)  # fmt: skip
HOW_WORDS = 8
# A "no" to "is it working now?" said without a no-word.
STILL_BROKEN_PHRASES = (
    "does not work", "did not work", "not working", "still broken", "did not help",
    "still not", "still the same", "same problem", "still no", "still nothing", "still down",
    "still dead", "still missing", "still gone", "no change", "funktioniert nicht", "geht nicht",
    "geht immer noch nicht", "hat nicht geholfen", "immer noch nicht", "noch immer nicht",
    "immer noch kein", "noch immer kein", "immer noch weg", "immer noch tot", "fehlen immer noch",
    "fehlt immer noch", "klappt nicht", "bringt nix", "bringt nichts", "hat nix gebracht",
    "hat nichts gebracht", "hilft nicht", "hilft nix", "didn't help", "doesn't help", "no luck",
    "still says", "still shows", "still getting", "still get", "zeigt immer noch",
    "sagt immer noch", "kommt immer noch", "steht immer noch",
)  # fmt: skip
# "Never mind, it works now": a customer in the queue who may not need a person.
NO_LONGER_NEEDED_PHRASES = (
    "never mind", "nevermind", "nvm", "forget it", "no longer need", "do not need",
    "not needed", "works now", "working now", "works again", "working again", "fixed it",
    "sorted it", "figured it out", "all good now", "schon gut", "hat sich erledigt",
    "ist erledigt", "vergessen sie es", "vergiss es", "geht wieder", "funktioniert wieder",
    "läuft wieder", "brauche keinen", "brauche niemanden", "nicht mehr nötig",
)  # fmt: skip
# "When will it be fixed?": a question about when a known fault ends.
WHEN_FIXED_PHRASES = (
    "when will", "when is", "when does", "when do", "when can", "when are", "how long",
    "until when", "by when", "any estimate", "eta", "wann", "wie lange", "prognose",
)  # fmt: skip
# In a flow's phrase, "..." stands for up to this many words of the customer's:
# "router ... neu gestartet" finds "den Router hab ich schon mehrmals neu gestartet".
PHRASE_GAP = re.compile(r"\.\.\.|…")
PHRASE_GAP_WORDS = 5
# A choice named in the message is not taken when another is closer by meaning by more
# than this: "im ganzen Haus" (drops everywhere, 0.33) against weak in some rooms (0.36)
# is no reason to ask again.
CLEARLY_CLOSER = 0.05
# Words that turn the phrase after them around: "not orange", "keine Lampe".
NEGATIONS = {"not", "no", "never", "nicht", "kein", "keine", "keinen", "without", "ohne", "nor"}
# Words in or right after "reboots" or „neu gestartet“ that say the device did it on
# its own ("reboots itself", „hat sich von selbst neu gestartet“).
BY_ITSELF = {
    "itself", "own", "randomly", "constantly", "automatically", "sich", "selbst", "alleine",
    "allein", "ständig", "dauernd", "selbstständig", "selbständig",
}  # fmt: skip
# German puts its negation after the verb: „der Lüfter läuft nicht“ says no fan runs
# (read so in a yes or no question's phrases, which tell states).
NEGATED_AFTER = (["nicht"], ["nie"])
# Words that say something is not there, for telling "No lights at all" apart.
NEGATION_WORDS = NEGATIONS | {
    "nothing", "nichts", "none", "nobody", "niemand", "nie", "dead", "tot",
}  # fmt: skip
# Words that say nothing about which choice is meant.
FILLER_WORDS = {
    "a", "an", "the", "it", "its", "it's", "is", "are", "was", "they", "them", "their", "all",
    "my", "i", "i'm", "think", "guess", "looks", "look", "like", "just", "only", "so", "well",
    "yes", "yeah", "ok", "okay", "um", "hmm", "er", "now", "one", "ones", "light", "lights",
    "lamp", "lamps", "led", "leds", "there", "some", "of", "on", "and", "or", "s", "please",
    "die", "der", "das", "ist", "sind", "es", "alle", "lampe", "lampen", "ja", "mein", "meine",
    # the German for the English words above
    "sie", "ihn", "ein", "eine", "einen", "nur", "einfach", "halt", "jetzt", "nun",
    "einige", "von", "und", "oder", "bitte", "ich", "glaube", "denke", "sieht", "aus",
    "wie", "meinen", "meiner",
}  # fmt: skip
# A problem told in the middle of a step that shares this many words with the step's
# own instruction is about that step ("my tv is on input hdmi 1" after "choose the
# HDMI input"), not a new problem. Only words of four letters or more count, and not
# these, which any instruction and any problem have.
ECHOED_WORDS = 2
ECHO_SHORTEST = 4
NOT_ECHOES = {
    "your", "that", "this", "with", "have", "does", "then", "when", "what", "there",
    "them", "they", "from", "into", "just", "again", "still", "some", "each", "about",
    "work", "works", "working", "right", "back", "ihre", "ihren", "ihrem", "ihrer", "dann",
    "wenn", "noch", "eine", "einen", "einem", "sind", "haben", "wird", "auch", "oder",
    "geht", "funktioniert", "wieder", "jetzt", "schon", "nicht",
}  # fmt: skip
# Words that join things named together: "mouse and keyboard", "Maus und die Tastatur".
JOINING_WORDS = {
    "and", "or", "nor", "neither", "both", "plus", "also", "as", "well", "the", "my", "&",
    "und", "oder", "noch", "weder", "beide", "sowie", "auch", "die", "der", "das", "meine",
    "mein", "meinen",
}  # fmt: skip
# A typed answer is matched to a choice by meaning only when it is at least this
# close to the choice, this much closer than to the runner-up, and closer than
# to anything below, which is what customers say when they are not answering.
MIN_MEANING = 0.5
MEANING_MARGIN = 0.07
NOT_AN_ANSWER = (
    "yes", "no", "ja", "nein", "I don't know", "it still doesn't work", "this is useless",
    "nothing works", "nothing you say helps", "I want to talk to a person",
    "das funktioniert immer noch nicht", "das bringt nichts", "keine Ahnung",
)  # fmt: skip
# A free answer this close to NOT_AN_ANSWER is not taken as the answer.
NOT_AN_ANSWER_MEANING = 0.6
# "That's wrong" right after the assistant answered a question from the
# customer's message goes back to that question.
CORRECTION_PHRASES = (
    "wrong", "not right", "not correct", "incorrect", "not what i said", "i did not say",
    "falsch", "stimmt nicht", "nicht richtig",
)  # fmt: skip
# "Wrong password", „Passwort ist falsch“: a message a device shows, not a correction.
NOT_A_CORRECTION = re.compile(
    r"\b(wrong|incorrect|falsche[snr]?)\s+(password|passwort|kennwort|pin|code|key|schlüssel)\b"
    r"|\b(password|passwort|kennwort|pin|code)\s+(is\s+|ist\s+|sei\s+|was\s+)?"
    r"(wrong|incorrect|falsch)\b"
)
# Details found by their form when the language model missed them.
PATTERNS = {
    "error_code": re.compile(r"\b0x[0-9a-f]{8}\b", re.IGNORECASE),
    "speed": re.compile(r"\b\d+(?:[.,]\d+)?\s?(?:mbit/s|mbits?|mbps|mb/s)(?!\w)", re.IGNORECASE),
    # "my email is jane.doe@example.com", "it's ACC-1002": who the customer is.
    "email": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    "account_number": re.compile(r"\bACC-?\d{3,}\b", re.IGNORECASE),
}
HEARD_MESSAGES = 5
PROBLEM_INTENTS = {"problem_internet", "problem_cable", "problem_hardware", "problem_software"}
# A yes or no among a message's first words is its answer ("no, and the TV is out too").
YES_OR_NO_AT_THE_START = 2
GREETING_INTENTS = {"greet", "goodbye"}
# Intents whose message is no typed value (an account number, an error code) unless it
# holds a detail: "hello", "no", a problem, a complaint.
NOT_A_VALUE = PROBLEM_INTENTS | {"request_human", "deny", "complaint", "affirm", "greet"}
# How a problem-like message in the middle of a flow is read (FlowEngine._read_problem).
NEW_PROBLEM, SAME_PROBLEM, NOT_A_PROBLEM = "new", "same", ""
# What a message that answers a question still to come is read as ("on wifi",
# "I restarted the router this morning"); a problem, request or complaint never is.
LATER_ANSWER_INTENTS = {"inform", "already_tried", "nlu_fallback", ""}


@dataclass
class CustomerTurn:
    """What the customer said, as NLU understood it."""

    text: str = ""
    intent: str = ""
    entities: list[dict[str, Any]] = field(default_factory=list)
    # How sure the NLU was of the intent (0-1); buttons and payloads are sure.
    confidence: float = 1.0
    # The NLU's intent ranking without nlu_fallback, most likely first: what the
    # customer probably meant when the intent itself was not confident enough.
    likely_intents: tuple[str, ...] = ()
    # The conversation's language ("en" or "de"); flows answer in it.
    language: str = DEFAULT_LANGUAGE

    def entity(self, name: str) -> Optional[str]:
        for item in self.entities:
            if item.get("entity") == name and item.get("value") not in (None, ""):
                return str(item["value"])
        return None

    @staticmethod
    def place(entity: dict[str, Any], text: str) -> Optional[tuple[int, int]]:
        """Where an entity stands in the text (Rasa's `start`, `end`), when it fits."""
        start, end = entity.get("start"), entity.get("end")
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
            return start, end
        return None

    def said(self, names: Sequence[str]) -> str:
        """The customer's own words for the entities named, in the order written.

        The entity values are normalised ("rot" is `red`, "MacBook" is `laptop`); a
        reply that quotes the customer quotes what they wrote. An entity without
        its place in the text gives its value.
        """
        found: list[tuple[int, str]] = []
        for item in self.entities:
            if item.get("entity") not in names or item.get("value") in (None, ""):
                continue
            place = self.place(item, self.text)
            if place is not None:
                found.append((place[0], self.text[place[0] : place[1]]))
            else:
                found.append((len(self.text), str(item["value"])))
        seen: list[str] = []
        for _, words in sorted(found, key=lambda f: f[0]):
            if words.lower() not in (w.lower() for w in seen):
                seen.append(words)
        return " ".join(seen)


@dataclass
class Reply:
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Outcome:
    """How the flow ended; the caller carries it out."""

    kind: str
    step_id: str
    flow_id: str
    domain: str
    options: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    trail: list[dict[str, Any]] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    # The flow state to go on from when the customer says it is still not working
    # (the outcome step's `still_broken`); None when the flow has nothing more to try.
    after: Optional[dict[str, Any]] = None


@dataclass
class FlowEventRecord:
    # step | answer | from_message (answered from what the customer already said)
    # | outcome | back | restart | skip | miss | start | still_broken (went on after an
    # outcome because the customer said it is still not working)
    kind: str
    flow_id: str
    step_id: str
    value: Optional[str] = None


@dataclass
class TurnResult:
    replies: list[Reply] = field(default_factory=list)
    state: Optional[dict[str, Any]] = None
    outcome: Optional[Outcome] = None
    events: list[FlowEventRecord] = field(default_factory=list)
    # True when the turn was not an answer to the running flow (e.g. a new
    # problem); the caller decides what to do with it.
    not_understood: bool = False
    offer_person: bool = False


@dataclass(frozen=True)
class _Taken:
    """A question answered from what the customer already said."""

    target: Optional[str]
    value: Any  # stored in the slot
    answer: str  # for the summary and {answer}
    words: str  # what in the message gave it, for {words}
    event: str  # the flow event's value
    # Details stored with the answer, e.g. the speeds a speed test answer came from.
    slots: dict[str, Any] = field(default_factory=dict)
    # What the assistant says it took, when not the step's `say` (several named).
    said: str = ""


SLOT_REFERENCE = re.compile(rf"\{{({SLOT_NAME.pattern})\}}")


def fill_in(text: str, slots: dict[str, Any]) -> str:
    """Replace `{slot}` with the slot's value; unknown names stay as written."""

    def value(match: re.Match[str]) -> str:
        found = slots.get(match.group(1))
        return match.group(0) if found is None else str(found)

    return SLOT_REFERENCE.sub(value, text)


def choice_payload(value: str) -> str:
    return "/inform" + json.dumps({"choice": value}, separators=(",", ":"))


def _normalise(text: str) -> str:
    return " " + re.sub(r"[^\w]+", " ", text.lower()).strip() + " "


# "doesnt", "wont", "cant": typed without the apostrophe, read as with it.
BARE_CONTRACTION = re.compile(
    r"\b(do|does|did|is|are|was|were|has|have|had|could|would|should|wo|ca|need|must)nt\b"
)


def _noun_before(text: str, clause: int, end: int) -> bool:
    """The word before position `end` of the clause is written with a capital, as German
    nouns are: in „Seiten laden auf allen Geräten nicht“ the „nicht“ negates the loading,
    not the devices."""
    written = [re.findall(r"\w+", part) for part in re.split(r"[,.;:!?]+", text)]
    if clause >= len(written) or not 0 < end <= len(written[clause]):
        return False
    return written[clause][end - 1][:1].isupper()


def _not_by_itself(text: str, hits: list[_Hit]) -> list[_Hit]:
    """The hits of something done that the device did not do on its own: "the router
    reboots itself" or „der Receiver startet ständig neu“ is no restart by the customer."""
    clauses = _clauses(text)
    return [
        h for h in hits if not set(clauses[h.clause][h.start : h.start + h.length + 3]) & BY_ITSELF
    ]


def _clauses(text: str) -> list[list[str]]:
    """The message's words, clause by clause; "doesn't" and "doesnt" read as "does not"."""
    lowered = BARE_CONTRACTION.sub(r"\1 not", re.sub(r"n[’']t\b", " not", text.lower()))
    return [re.findall(r"\w+", part) for part in re.split(r"[,.;:!?]+", lowered)]


def _words(text: str) -> list[str]:
    return [w for clause in _clauses(text) for w in clause]


@lru_cache(maxsize=4096)
def _phrase_form(phrase: str) -> str:
    return _normalise(" ".join(_words(phrase)))


def _has_phrase(text: str, phrase: str) -> bool:
    return _phrase_form(phrase) in _normalise(" ".join(_words(text)))


def _phrases_said(text: str, phrases: Sequence[str]) -> list[str]:
    """The phrases the text says, as `_has_phrase` finds them; the text read once."""
    said = _normalise(" ".join(_words(text)))
    return [phrase for phrase in phrases if _phrase_form(phrase) in said]


@dataclass(frozen=True)
class _Hit:
    value: str
    phrase: str
    clause: int
    start: int
    length: int


@lru_cache(maxsize=8192)
def _phrase_parts(phrase: str) -> tuple[list[str], ...]:
    """A phrase's stemmed words, split at its `...` gaps; the same for every message,
    so stemmed once (every question with choices looks its phrases up each turn)."""
    parts = [stems(_words(part)) for part in PHRASE_GAP.split(phrase)]
    return tuple(part for part in parts if part)


def _phrase_hits(
    text: str,
    phrases: dict[str, list[str]],
    negated: Optional[set[str]] = None,
    *,
    states: bool = False,
) -> list[_Hit]:
    """Where each phrase occurs in the text, unless a negation comes just before it.

    The values whose phrase comes negated ("the disk is not full") go into `negated`.
    `states`: the phrases tell a state ("fan is running", „Lüfter läuft“), so a German
    negation right after one negates it too; after a thing a choice names („findet mein
    WLAN nicht“) it negates the verb, not the thing.
    """
    hits = []
    clauses = _clauses(text)
    # Compared by stem, so "works" finds the synonym "working" (bot/flows/word_forms.py).
    stemmed = [stems(words) for words in clauses]
    for value, options in phrases.items():
        for phrase in options:
            # "router ... neu gestartet": the parts in this order, a few words apart.
            parts = _phrase_parts(phrase)
            if not parts:
                continue
            for number, words in enumerate(clauses):
                for start in range(len(words) - len(parts[0]) + 1):
                    end = _parts_end(stemmed[number], words, start, parts)
                    if end is None:
                        continue
                    before = words[max(0, start - 2) : start]
                    if parts[0][0] not in NEGATIONS and (
                        _negated(words, start, before)
                        or (
                            states
                            and words[end : end + 1] in NEGATED_AFTER
                            and not _noun_before(text, number, end)
                        )
                    ):
                        if negated is not None:
                            negated.add(value)
                        continue  # "not orange", "keine Lampe", „der Lüfter läuft nicht“
                    hits.append(_Hit(value, phrase, number, start, end - start))
    # The same words spelled exactly as one choice's phrase belong to that choice:
    # "burning" is "burning smell", not "burns".
    exact = {
        (h.clause, h.start, h.length): h.value
        for h in hits
        if clauses[h.clause][h.start : h.start + h.length] == _words(h.phrase)
    }
    hits = [h for h in hits if exact.get((h.clause, h.start, h.length), h.value) == h.value]
    # Words inside a longer phrase of another choice belong to it: "mouse of my laptop"
    # is the touchpad, not the mouse.
    return [h for h in hits if not any(_inside(h, longer) for longer in hits)]


def _inside(hit: _Hit, longer: _Hit) -> bool:
    """`hit` lies within `longer`, a gapless phrase of another choice."""
    return (
        longer.value != hit.value
        and longer.clause == hit.clause
        and longer.length > hit.length
        and len(_phrase_parts(longer.phrase)) == 1
        and longer.start <= hit.start
        and hit.start + hit.length <= longer.start + longer.length
    )


def _parts_end(
    stemmed: list[str], words: list[str], start: int, parts: Sequence[list[str]]
) -> Optional[int]:
    """Where the phrase's parts end when the first starts at `start` and each next one
    follows within `PHRASE_GAP_WORDS` words, none of them a negation; else None."""
    first = parts[0]
    if stemmed[start : start + len(first)] != first:
        return None
    end = start + len(first)
    for part in parts[1:]:
        for at in range(end, min(end + PHRASE_GAP_WORDS, len(words) - len(part)) + 1):
            if NEGATIONS & set(words[end:at]):
                return None  # "Router habe ich noch nicht neu gestartet"
            if stemmed[at : at + len(part)] == part:
                end = at + len(part)
                break
        else:
            return None
    return end


def _negated(words: list[str], start: int, before: list[str]) -> bool:
    """A negation word comes just before the phrase. The "nor" of "neither … nor" is
    none: "neither my keyboard nor my mouse works" names both as broken."""
    negations = NEGATIONS & set(before)
    if negations == {"nor"} and "neither" in words[:start]:
        return False
    return bool(negations)


def _essentially(text: str, hits: list[_Hit]) -> bool:
    """The message says little besides the phrases found: "it's blinking orange"."""
    covered = {(h.clause, h.start + i) for h in hits for i in range(h.length)}
    rest = [
        word
        for number, words in enumerate(_clauses(text))
        for index, word in enumerate(words)
        if (number, index) not in covered and word not in FILLER_WORDS
    ]
    return len(rest) <= 2


def _named_together(step: Step, text: str, hits: list[_Hit]) -> Optional[tuple[str, str]]:
    """The choice that stands for several others named together, and the words that
    named them: "my mouse and keyboard" is `all_of: [keyboard, mouse]`. The others
    must be joined by "and", "or" and the like; "the keyboard is fine but the mouse
    stopped" names them apart."""
    clauses = _clauses(text)
    for choice in step.choices:
        wanted = set(choice.all_of)
        parts = sorted({(h.clause, h.start, h.start + h.length) for h in hits if h.value in wanted})
        named = {h.value for h in hits}
        if len(wanted) < 2 or not wanted <= named or not named <= wanted | {choice.value}:
            continue
        if len({clause for clause, _, _ in parts}) != 1:
            continue
        words = clauses[parts[0][0]]
        gaps = [
            words[end:start] for (_, _, end), (_, start, _) in zip(parts, parts[1:], strict=False)
        ]
        if all(set(gap) <= JOINING_WORDS for gap in gaps):
            return choice.value, " ".join(words[parts[0][1] : max(end for _, _, end in parts)])
    return None


def _choice_taken(step: Step, value: str, words: str, language: str) -> _Taken:
    """The choice `value` as the step's answer from the message."""
    choice = next(c for c in step.choices if c.value == value)
    title = in_language(choice.title, language)
    return _Taken(choice.next or step.next, value, title, words, value)


PRONOUNS = {"it", "them", "ihn", "sie", "es"}
# "Hab ich schon zweimal neu gestartet", "already rebooted": done to what the
# message names, as with a pronoun.
OBJECT_LEFT_OUT = PRONOUNS | {"already", "schon", "bereits"}


# Devices by their everyday words, for a message whose device the NLU left untagged
# ("I already restarted the phone"). Not "box": „die Box“ is often the router.
DEVICE_WORDS = {
    "phone": {"phone", "handy", "smartphone", "iphone", "telefon", "samsung", "android"},
    "laptop": {"laptop", "notebook", "macbook"},
    "computer": {"computer", "pc", "rechner"},
    "tablet": {"tablet", "ipad"},
    "tv": {"tv", "fernseher", "television", "telly"},
    "router": {"router", "modem", "fritzbox", "speedport"},
    "printer": {"printer", "drucker"},
}


def _echoes_the_step(step: Step, text: str) -> bool:
    """The message takes up `ECHOED_WORDS` words of the step's own instruction or
    question, in either language."""
    said: set[str] = set()
    for part in (step.text, step.question):
        for language in LANGUAGES:
            said.update(_words(in_language(part, language)) if part else ())
    mine = {w for w in _words(text) if len(w) >= ECHO_SHORTEST and w not in NOT_ECHOES}
    return len(mine & said) >= ECHOED_WORDS


def _is_state_question(step: Step) -> bool:
    """A yes/no question about how things are ("Do other devices get online?"): no
    instruction before it and no step to skip to."""
    return step.kind == "ask_yes_no" and not step.text and not step.skip


def _did_it_to_this_device(hits: list[_Hit], turn: CustomerTurn, devices: tuple[str, ...]) -> bool:
    """Whether "restarted it" (or "already restarted") may mean the flow's device: not
    when the message names only other devices ("my laptop won't connect, I restarted
    it twice"). A phrase that names what was done to ("restarted the router") always
    counts."""
    if not devices or any(not OBJECT_LEFT_OUT & set(_words(h.phrase)) for h in hits):
        return True
    named = {str(e.get("value", "")).lower() for e in turn.entities if e.get("entity") == "device"}
    words = set(_words(turn.text))
    named |= {device for device, said in DEVICE_WORDS.items() if words & said}
    return not named or any(_same_device(n, d.lower()) for n in named for d in devices)


def _same_device(named: str, device: str) -> bool:
    """ "computer" is the flow's "desktop computer", "tv" its "smart tv"."""
    return named == device or named in device.split()


def _titles_named(step: Step, values: set[str], language: str) -> str:
    """The titles of the choices named, quoted and joined: "A", "B" and "C"."""
    quote = ("„", "“") if language == "de" else ('"', '"')
    titles = [
        f"{quote[0]}{in_language(c.title, language)}{quote[1]}"
        for c in step.choices
        if c.value in values
    ]
    return f"{', '.join(titles[:-1])} {engine_text('and', language)} {titles[-1]}"


def _comes_first(step: Step, hits: list[_Hit]) -> Optional[tuple[_Hit, bool]]:
    """The choice named that comes before the others named with it, and whether it is
    urgent: an urgent one ("it's hot and I can smell burning": the burning smell), or
    one whose checks cover the others ("frozen, and the remote does nothing": the
    frozen box). Its first mention in the message; None when nothing comes first."""
    named = {h.value for h in hits}
    if len(named) < 2:
        return None
    for choice in sorted(step.choices, key=lambda c: not c.urgent):
        if choice.value in named and (choice.urgent or named <= {choice.value, *choice.covers}):
            first = min(
                (h for h in hits if h.value == choice.value), key=lambda h: (h.clause, h.start)
            )
            return first, choice.urgent
    return None


def _choice_phrases(step: Step) -> dict[str, list[str]]:
    """Each choice's value, its titles in every language and all its synonyms."""
    return {c.value: [c.value, *c.titles, *c.synonyms] for c in step.choices}


def _starts_with_yes_or_no(text: str) -> bool:
    words = _words(text)
    return bool(words) and words[0] in YES_WORDS | NO_WORDS


def _choice_by_entities(step: Step, turn: CustomerTurn, names: tuple[str, ...]) -> Optional[str]:
    """The one choice that the entities' values name, if they agree."""
    found = set()
    values = [str(e["value"]) for e in turn.entities if e.get("entity") in names and e.get("value")]
    for value in values:
        for choice in step.choices:
            if value.lower() in {
                s.lower() for s in (choice.value, *choice.titles, *choice.synonyms)
            }:
                found.add(choice.value)
    return found.pop() if len(found) == 1 else None


def _naming(step: Step, value: Optional[str], turn: CustomerTurn) -> CustomerTurn:
    """The turn with only the entities that name the choice `value` (all when none do):
    "Laptop", not "Ladekabel", is what answered "Which kind of computer?"."""
    choice = next((c for c in step.choices if c.value == value), None)
    if choice is None:
        return turn
    names = {n.lower() for n in (choice.value, *choice.titles, *choice.synonyms)}
    naming = [e for e in turn.entities if str(e.get("value", "")).lower() in names]
    return replace(turn, entities=naming) if naming else turn


def _lead_to_one_step(step: Step, hits: list[_Hit]) -> bool:
    """The choices named all lead to the same next step."""
    following = {c.next or step.next for c in step.choices if c.value in {h.value for h in hits}}
    return len(following) == 1


def _detail_asked_for(step: Step, details: dict[str, str]) -> Optional[str]:
    """The detail a typed answer holds that the question is after ("my email is
    jane@example.com"), when the flow names it under `from_message: entities`."""
    if step.from_message is None:
        return None
    return next((details[n] for n in step.from_message.entities if details.get(n)), None)


def _choice_by_entity_names(
    step: Step, entities: dict[str, str], names: tuple[str, ...]
) -> Optional[str]:
    """The one choice named after a detail the message holds: an e-mail address typed
    in answers "What can you give me?" with the choice `email`."""
    found = {name for name in names if entities.get(name)} & {c.value for c in step.choices}
    return found.pop() if len(found) == 1 else None


def _closest_choices(
    step: Step, text: str, encoder: SentenceEncoder
) -> tuple[list[tuple[float, str]], float]:
    """Each choice's meaning score (best of its title and synonyms), best first, and
    how close the text is to what customers say when they are not answering."""
    phrases = _choice_phrases(step)
    flat = [(value, phrase) for value, options in phrases.items() for phrase in options[1:]]
    scores = encoder.similarities(text, [p for _, p in flat] + list(NOT_AN_ANSWER))
    by_choice: dict[str, float] = {}
    for (value, _), score in zip(flat, scores[: len(flat)], strict=True):
        by_choice[value] = max(by_choice.get(value, -1.0), float(score))
    ranked = sorted(((score, value) for value, score in by_choice.items()), reverse=True)
    return ranked, float(max(scores[len(flat) :]))


def match_choice(
    step: Step, turn: CustomerTurn, encoder: Optional[SentenceEncoder] = None
) -> Optional[str]:
    """The choice the customer picked, by button payload, entity, wording or meaning.

    A phrase of a choice found in the message counts when the message is
    essentially that answer ("it's blinking orange"), or when nothing contradicts
    it: no negation before it, and no other reading closer (by meaning with an
    encoder: another choice, or "this is useless"; without one: an angry
    outburst or a yes/no). "NO. Nothing you say works" is no "No lights at all".
    Without a phrase, the closest choice by meaning counts when it is clearly the
    closest. When unsure, it is no choice.
    """
    values = {c.value for c in step.choices}
    picked = turn.entity("choice")
    if picked in values:
        return picked
    if not turn.text.strip():
        return _choice_by_entities(step, turn, ("light_color", "light_state"))
    negated: set[str] = set()
    hits = _phrase_hits(turn.text, _choice_phrases(step), negated)
    ranked: Optional[list[tuple[float, str]]] = None
    not_an_answer = 0.0
    together = _named_together(step, turn.text, hits)
    if together is not None:
        return together[0]
    first = _comes_first(step, hits)
    if first is not None:
        return first[0].value
    if hits:
        longest = max(h.length for h in hits)
        best = {h.value for h in hits if h.length == longest}
        if len(best) == 1:
            value = best.pop()
            if _essentially(turn.text, hits):
                return value
            if encoder is not None:
                ranked, not_an_answer = _closest_choices(step, turn.text, encoder)
                if ranked[0][1] == value and ranked[0][0] >= not_an_answer:
                    return value
            elif not (
                turn.intent in YES_INTENTS | NO_INTENTS | {"complaint"}
                or _starts_with_yes_or_no(turn.text)
                or shows_frustration(turn.text, turn.intent)
            ):
                return value
            return None
    by_entity = _choice_by_entities(step, turn, ("light_color", "light_state"))
    if by_entity or encoder is None or turn.intent in YES_INTENTS | NO_INTENTS | GREETING_INTENTS:
        return by_entity  # "hallo?" is close in meaning to nothing it could answer
    if ranked is None:
        ranked, not_an_answer = _closest_choices(step, turn.text, encoder)
    if len(ranked) < 2:
        return None
    (best_score, best_value), (runner_up, _) = ranked[0], ranked[1]
    if (
        best_score >= MIN_MEANING
        and best_score - runner_up >= MEANING_MARGIN
        and best_score > not_an_answer
        and best_value not in negated  # "the disk is not full" is close to "full" in meaning
        # "all lights are on" is close to "No lights at all" in meaning: a choice that
        # says "no" is not picked for a message that says no "no".
        and not (_says_no(step, best_value) and not set(_words(turn.text)) & NEGATION_WORDS)
    ):
        return best_value
    return None


def _says_no(step: Step, value: str) -> bool:
    """Whether the choice's title says something is not there ("No lights at all",
    „Gar keine Lämpchen“)."""
    choice = next((c for c in step.choices if c.value == value), None)
    return choice is not None and all(
        set(_words(title)[:2]) & NEGATION_WORDS for title in choice.titles
    )


# "…, but Netflix and YouTube work fine": a part that says what works.
WHAT_WORKS = re.compile(
    r"\b(?:but|while|whereas|though|although|aber|während|obwohl|doch)\b"
    r"(?=[^.!?;]*\b(?:works?|working|fine|ok|okay|funktionier\w*|geht|gehen|läuft|laufen)\b)"
    r"[^.!?;]*",
    re.IGNORECASE,
)


# „…, WhatsApp geht aber noch“: a clause that says something still works.
STILL_WORKS_CLAUSE = re.compile(
    r"^(?=.*\b(?:works?|working|fine|geht|gehen|funktionier\w*|läuft|laufen)\b)"
    r"(?=.*\b(?:but|though|still|aber|noch|trotzdem|doch)\b)"
    r"(?!.*\b(?:not|no|never|nothing|nicht|kein\w*|nie|nichts)\b)(?!.*n't\b)",
    re.IGNORECASE,
)


def _without_what_works(text: str) -> tuple[str, str]:
    """The message without the parts that say what still works, and those parts."""
    works = [m.group(0) for m in WHAT_WORKS.finditer(text)]
    kept = []
    for clause in re.split(r"(?<=[,;.!?])\s+", WHAT_WORKS.sub(" ", text)):
        (works if STILL_WORKS_CLAUSE.match(clause) else kept).append(clause)
    return " ".join(kept), " ".join(works)


def _only_in(value: str, part: str, rest: str) -> bool:
    """The value is named in `part` and nowhere in `rest`."""
    return bool(part) and _has_phrase(part, value) and not _has_phrase(rest, value)


def _asks_how(text: str) -> bool:
    """ "How do I do that?", „Wie mache ich das?“, said on its own."""
    words = _words(text)
    if not 0 < len(words) <= HOW_WORDS:
        return False
    return words == ["how"] or bool(_phrases_said(text, HOW_PHRASES))


def _only_unsure(text: str) -> bool:
    """ "I don't know", „weiß ich nicht": the customer can't tell, and says only that."""
    return 0 < len(_words(text)) <= UNSURE_WORDS and bool(_phrases_said(text, UNSURE_PHRASES))


def match_yes_no(turn: CustomerTurn, *, fault_told: bool = False) -> Optional[bool]:
    """Yes, no or neither. "NO it still doesn't work!!" is a no; "not sure" neither.

    `fault_told`: the message tells a fault, and the question is not whether it is
    fixed; only a yes or no it starts with answers ("no, my internet is not working"),
    not its "not" ("my internet is not working" typed again to "Have the router's
    lights come back on?")."""
    text = " ".join(_words(turn.text))
    if any(_has_phrase(text, phrase) for phrase in UNSURE_PHRASES):
        return None
    if turn.intent in YES_INTENTS:
        return True
    if turn.intent in NO_INTENTS:
        return False
    if fault_told:
        return opening_yes_or_no(turn.text)
    said = yes_or_no_word(turn.text)
    if said is not None:
        return said
    if any(_has_phrase(text, phrase) for phrase in STILL_BROKEN_PHRASES):
        return False
    return None


# "not the internet", „nicht das WLAN“: the customer says which area it is not.
NOT_THIS = re.compile(
    r"\b(?:not|nicht)\s+(?:the|my|our|das|der|die|den|mein|meine|unser|unsere)\s+([\w-]+)",
    re.IGNORECASE,
)


def _not_this_area(text: str, domain: str) -> bool:
    """The message says it is not about the running flow's area ("…, not the internet")."""
    table = default_table()
    return any(table.domain_from_keywords(found) == domain for found in NOT_THIS.findall(text))


def corrected_area(turn: CustomerTurn, domain: str) -> Optional[str]:
    """The problem intent of another area a correction names ("it's my tv that's not
    working, not the internet" while the internet is checked): the first of the
    language model's guesses outside `domain`, or None when the message is no such
    correction."""
    if not _not_this_area(turn.text, domain):
        return None
    guesses = [turn.intent, *turn.likely_intents]
    return next((i for i in guesses if i in PROBLEM_INTENTS and i != f"problem_{domain}"), None)


def _problem_meant(turn: CustomerTurn) -> Optional[str]:
    """The problem intent of the message, or the one the language model ranked first
    when it was not sure ("actually wait, it's my tv that's not working, not the
    internet": not understood as a whole, a cable problem first)."""
    if turn.intent in PROBLEM_INTENTS:
        return turn.intent
    if turn.intent == "nlu_fallback" and turn.likely_intents[:1]:
        first = turn.likely_intents[0]
        return first if first in PROBLEM_INTENTS else None
    return None


def _yes_or_no_hits(step: Step, text: str) -> list[_Hit]:
    """Where the question's `from_message` phrases for yes and no occur in the text,
    when they say only one of the two; none otherwise."""
    spec = step.from_message
    if spec is None or not (spec.yes or spec.no):
        return []
    hits = _phrase_hits(text, {"yes": list(spec.yes), "no": list(spec.no)}, states=True)
    return hits if len({h.value for h in hits}) == 1 else []


def _yes_or_no_by_phrases(step: Step, text: str) -> Optional[bool]:
    """Yes or no by the question's `from_message` phrases, when they say only one."""
    hits = _yes_or_no_hits(step, text)
    return hits[0].value == "yes" if hits else None


def _asks_if_fixed(flow: Flow, step: Step) -> bool:
    """A yes/no question whose yes ends the flow as resolved ("Does it work now?"),
    possibly after a message or two."""
    target = step.yes
    for _ in range(3):
        following = flow.steps.get(target or "")
        if following is None:
            return False
        if following.kind == "outcome":
            return (following.outcome or "resolved") == "resolved"
        if following.kind != "say":
            return False
        target = following.next
    return False


def _restates_the_fault(flow: Flow, step: Step, state: dict[str, Any], turn: CustomerTurn) -> bool:
    """An answer to "does it work now?" that describes the fault the customer chose
    earlier in this flow again ("it closes by itself", "schließt sich immer noch")."""
    if not _asks_if_fixed(flow, step) or len(_words(turn.text)) < 2:
        return False  # "computer" names a choice, it tells no fault
    for earlier_id, value in state.get("slots", {}).items():
        earlier = flow.steps.get(earlier_id)
        if earlier is None or earlier.kind != "ask_choice" or earlier_id == step.id:
            continue
        choice = next((c for c in earlier.choices if c.value == value), None)
        if choice is None:
            continue
        said = [*choice.titles, *choice.synonyms]
        if earlier.from_message is not None:
            said += [
                p for v, phrases in earlier.from_message.phrases if v == value for p in phrases
            ]
        if _phrase_hits(turn.text, {value: said}):
            return True
    return False


def yes_or_no_word(text: str) -> Optional[bool]:
    """The first yes- or no-word decides: "yes, no problem" is a yes."""
    for word in _words(text):
        if word in YES_WORDS:
            return True
        if word in NO_WORDS:
            return False
    return None


def opening_yes_or_no(text: str) -> Optional[bool]:
    """A yes or no among the message's first words, the way an answer starts ("no, and
    the TV is out too"); None when the first words hold neither ("my box says no
    signal")."""
    return yes_or_no_word(" ".join(_words(text)[:YES_OR_NO_AT_THE_START]))


def says_still_broken(turn: CustomerTurn) -> bool:
    """ "Still not working", "no, it still doesn't work", "es geht immer noch nicht"."""
    if turn.intent == "problem_persists":
        return True
    if turn.intent in YES_INTENTS:
        return False
    text = " ".join(_words(turn.text))
    if any(_has_phrase(text, phrase) for phrase in UNSURE_PHRASES):
        return False
    return any(_has_phrase(text, phrase) for phrase in STILL_BROKEN_PHRASES)


def says_no_longer_needed(text: str) -> bool:
    """ "Never mind", "it works now", "hat sich erledigt"; not "geht wieder nicht"."""
    words = _words(text)
    joined = " ".join(words)
    for phrase in NO_LONGER_NEEDED_PHRASES:
        if not _has_phrase(joined, phrase):
            continue
        # A negation elsewhere turns it around, unless the phrase itself has one.
        if set(_words(phrase)) & NEGATIONS or not set(words) & NEGATIONS:
            return True
    return False


def asks_when_fixed(turn: CustomerTurn) -> bool:
    """ "When will it be fixed?", "how long will it take?", "wann ist das behoben?"."""
    text = " ".join(_words(turn.text))
    return any(_has_phrase(text, phrase) for phrase in WHEN_FIXED_PHRASES)


def heard_in(turn: CustomerTurn) -> dict[str, Any]:
    """What a message said, kept in the flow state to answer later questions."""
    entities = {
        str(e["entity"]): str(e["value"])
        for e in turn.entities
        if e.get("entity") not in (None, "choice") and e.get("value") not in (None, "")
    }
    for name, pattern in PATTERNS.items():
        found = pattern.search(turn.text)
        if found and name not in entities:
            entities[name] = found.group(0)
    text = turn.text[:500]
    heard: dict[str, Any] = {"text": text, "entities": entities}
    # "Mein Laptop lädt nicht, das Ladekabel ist heiß": a second value of an entity
    # is kept too, so the laptop still answers "Which kind of computer?".
    more: dict[str, list[dict[str, Any]]] = {}
    for e in turn.entities:
        name, value = str(e.get("entity")), str(e.get("value"))
        if name not in entities or value == entities[name]:
            continue
        if value in (m["value"] for m in more.get(name, [])):
            continue
        other: dict[str, Any] = {"value": value}
        place = CustomerTurn.place(e, text)
        if place is not None:
            other["start"], other["end"] = place
        more.setdefault(name, []).append(other)
    if more:
        heard["more"] = more
    # Where each entity stands in the text, so that a reply can quote the
    # customer's own words rather than the normalised value.
    places: dict[str, list[int]] = {}
    for e in turn.entities:
        name, place = str(e.get("entity")), CustomerTurn.place(e, text)
        if (
            place is not None
            and name in entities
            and name not in places
            and entities[name] == str(e.get("value"))
        ):
            places[name] = list(place)
    if places:
        heard["places"] = places
    return heard


class FlowEngine:
    """Starts flows and advances them; see the module docstring."""

    def __init__(
        self,
        library: FlowLibrary,
        run_check: CheckRunner,
        encoder: Optional[SentenceEncoder] = None,
    ) -> None:
        self.library = library
        self.run_check = run_check
        # Understands free text by meaning; without one, wording and keywords decide.
        self.encoder = encoder
        self.chooser = FlowChooser(library, encoder)

    # ----------------------------------------------------------------- choosing

    def select_flow(self, turn: CustomerTurn) -> Optional[Flow]:
        """The flow that fits the customer's problem best (bot/flows/choosing.py)."""
        return self.chooser.choose(
            text=turn.text,
            intent=turn.intent,
            confidence=turn.confidence,
            likely_intents=turn.likely_intents,
            devices=[str(e["value"]) for e in turn.entities if e.get("entity") == "device"],
        )

    def flow_clearly_meant(self, turn: CustomerTurn) -> Optional[Flow]:
        """The flow a message the NLU was unsure of clearly means by its words, if any."""
        return self.chooser.clearly_meant(
            text=turn.text,
            likely_intents=turn.likely_intents,
            devices=[str(e["value"]) for e in turn.entities if e.get("entity") == "device"],
        )

    # ----------------------------------------------------------------- starting

    async def start(
        self,
        flow: Flow,
        *,
        slots: Optional[dict[str, Any]] = None,
        turn: Optional[CustomerTurn] = None,
        language: Optional[str] = None,
    ) -> TurnResult:
        """Start a flow; `turn` (the customer's message) and the entity values in
        `slots` can answer its questions (`from_message`), so they are not asked.

        The flow speaks `language`, or else the turn's language, or else English."""
        state = {
            "flow": flow.id,
            "step": flow.start,
            "stack": [],
            "history": [],
            "slots": dict(slots or {}),
            "trail": [],
            "misses": 0,
            "heard": [],
            "language": _language_of(turn) if language is None else _known_language(language),
        }
        opener = heard_in(turn) if turn is not None else {"text": "", "entities": {}}
        for name, value in (slots or {}).items():
            if isinstance(value, str) and value:
                opener["entities"].setdefault(name, value)
        if opener["text"] or opener["entities"]:
            state["heard"].append(opener)
        result = TurnResult(events=[FlowEventRecord("start", flow.id, flow.start)])
        await self._run_until_input(state, flow.start, result)
        return result

    async def continue_after(self, after: dict[str, Any], turn: CustomerTurn) -> TurnResult:
        """The customer says it is still not working right after an outcome that says
        where to go on (`still_broken`), or right after a "yes, it works" ended the
        flow: the flow goes on there, with what it knew."""
        state = json.loads(json.dumps(after))
        state["language"] = _language_of(turn)
        state["misses"] = 0
        result = TurnResult(
            events=[FlowEventRecord("still_broken", state["flow"], state["step"], turn.text[:200])]
        )
        taken_back = state.pop("yes_taken_back", None)
        if taken_back:
            # The "yes" that ended the flow is now a "no", for the agent's summary too.
            no = engine_text("no", state["language"]).lower()
            for entry in reversed(state["trail"]):
                if entry.get("step") == taken_back:
                    entry["answer"] = no
                    break
            result.replies.append(Reply(engine_text("keep_going", state["language"])))
        self._hear(state, turn)
        await self._run_until_input(state, state["step"], result)
        return result

    def _after_a_yes(self, state: dict[str, Any]) -> Optional[dict[str, Any]]:
        """Where "still not working" goes right after a "yes, it works" ended the flow:
        where "no" to that question leads. None when no yes/no question ended it."""
        if not state["history"]:
            return None
        last = state["history"][-1]
        flow = self.library.get(last["flow"])
        asked = flow.steps.get(last["step"]) if flow else None
        if (
            asked is None
            or asked.kind != "ask_yes_no"
            or not asked.no
            or state["slots"].get(asked.id) is not True
        ):
            return None
        after = json.loads(json.dumps(state))
        after["slots"][asked.id] = False
        after.update(
            flow=last["flow"],
            step=asked.no,
            stack=list(last["stack"]),
            history=[],
            yes_taken_back=asked.id,
        )
        return after

    def current_question(self, state: dict[str, Any]) -> list[Reply]:
        """The question the running flow is waiting on, to ask it again."""
        flow = self.library.get(state.get("flow", ""))
        if flow is None or state.get("step") not in flow.steps:
            return []
        language = flow.language_for(state.get("language", DEFAULT_LANGUAGE))
        return self._ask(flow.step(state["step"]), state.get("slots", {}), language)

    # ---------------------------------------------------------------- answering

    async def answer(self, state: dict[str, Any], turn: CustomerTurn) -> TurnResult:
        """Advance the running flow with the customer's turn."""
        state = json.loads(json.dumps(state))  # never mutate the caller's copy
        state["language"] = _language_of(turn)
        flow = self.library.get(state["flow"])
        result = TurnResult()
        if flow is None or state["step"] not in flow.steps:
            # The flow was renamed or removed while the customer was in it.
            result.not_understood = True
            return result
        step = flow.step(state["step"])
        # The questions answered from the message last turn, in order (a state saved
        # before this list existed holds only the last one, as `just_taken`).
        just_taken = state.pop("just_taken", None)
        taken_last_turn = state.pop("taken_last_turn", None) or ([just_taken] if just_taken else [])

        if turn.intent == "start_over":
            state.update(
                step=self._root_start(state), stack=[], history=[], trail=[], misses=0, heard=[]
            )
            state["flow"] = state.get("root_flow", state["flow"])
            result.events.append(FlowEventRecord("restart", state["flow"], state["step"]))
            result.replies.append(Reply(engine_text("start_again", state["language"])))
            await self._run_until_input(state, state["step"], result)
            return result
        if turn.intent == "go_back":
            state["misses"] = 0
            return await self._go_back(state, flow, result)
        if taken_last_turn and self._is_correction(turn):
            state["misses"] = 0
            return await self._correct(state, flow, taken_last_turn, turn, result)
        if _asks_how(turn.text) and self.explain_term(turn, state["language"]) is None:
            return self._step_again(state, flow, step, result)
        if turn.intent == "explain_term":
            return self._explain(state, flow, step, turn, result)
        if self._is_about_to_do_it(step, turn):
            # "Okay, I'll try that": no answer yet, and no miss; the question waits.
            result.replies.append(Reply(engine_text("take_your_time", state["language"])))
            result.replies.extend(self._ask(step, state["slots"], self._language(state, flow)))
            result.state = state
            return result
        if (
            (turn.intent == "already_tried" and self._did_it_says_yes(step, turn))
            or self._says_it_is_done(step, turn)
            or self._yes_about_the_instruction(flow, step, turn)
        ) and state.get("asked_on_its_own") != step.id:
            # "Yes, I checked the cables" to "Does a light come on now?": the yes may be
            # about the check or about the light. Ask the question on its own, once.
            state["misses"] = 0
            state["asked_on_its_own"] = step.id
            # "Yes, I restarted it twice already": the restart is not asked for later.
            self._hear(state, turn)
            result.replies.append(Reply(engine_text("and_now", state["language"])))
            result.replies.extend(self._ask(step, state["slots"], self._language(state, flow)))
            result.state = state
            return result
        if (
            turn.intent == "already_tried"
            and _is_state_question(step)
            and not set(_words(turn.text)) & (YES_WORDS | NO_WORDS)
            and state.get("noted_at") != step.id
        ):
            # "I already restarted the laptop" to "Do other devices get online?": no
            # answer to how things are, and nothing here to skip. Kept for the steps
            # it answers, and the question asked again, once.
            state["noted_at"] = step.id
            self._hear(state, turn)
            result.events.append(FlowEventRecord("noted", flow.id, step.id, turn.text[:200]))
            result.replies.append(Reply(engine_text("noted_for_later", state["language"])))
            result.replies.extend(self._ask(step, state["slots"], self._language(state, flow)))
            result.state = state
            return result
        if turn.intent == "already_tried" and not self._answers_a_state_question(step, turn):
            # What they say they did answers later steps ("I already unplugged the box"),
            # even when it does not answer this one.
            self._hear(state, turn)
            target = step.skip or step.no or step.next
            if target:
                state["misses"] = 0
                language = flow.language_for(state["language"])
                self._remember(state, step, engine_text("already_tried", language), language)
                result.events.append(FlowEventRecord("skip", flow.id, step.id))
                skip_it = Reply(engine_text("skip_it", state["language"]))
                result.replies.append(skip_it)
                skipped = len(result.events)
                await self._run_until_input(state, target, result)
                later = result.events[skipped:]
                if any(e.kind == "from_message" and e.value == "already_tried" for e in later):
                    # "You've already restarted the router, so we'll skip that step"
                    # says it for this turn: one skip message, not two.
                    result.replies.remove(skip_it)
                return result

        target = self._target_for_answer(state, flow, step, turn, result)
        # Decided once per message: a new problem is never an answer to anything here.
        if target is None and corrected_area(turn, flow.domain) is not None:
            problem = NEW_PROBLEM  # "…, not the internet": the area the customer names
        elif target is None and turn.intent in PROBLEM_INTENTS:
            problem = self._read_problem(turn, state)
        else:
            problem = NOT_A_PROBLEM
        new_problem = problem == NEW_PROBLEM
        said_again = None
        if target is None and not new_problem and state.get("noted_at") != step.id:
            if self._answers_a_later_step(state, flow, step, turn):
                said_again = "noted_for_later"
            elif problem == SAME_PROBLEM:
                said_again = "same_problem"
        if said_again is not None:
            # "on wifi" to "How fast is it?": an answer to a question still to come.
            # "It drops for two minutes, then comes back" while the drop-outs are being
            # checked: the problem we are on, told again, not a new one to start over.
            # Kept, and this question asked again; not a misunderstanding. Once per
            # question: a second one counts as a miss, so nothing loops.
            state["noted_at"] = step.id
            self._hear(state, turn)
            result.events.append(FlowEventRecord("noted", flow.id, step.id, turn.text[:200]))
            result.replies.append(Reply(engine_text(said_again, state["language"])))
            result.replies.extend(self._ask(step, state["slots"], self._language(state, flow)))
            result.state = state
            return result
        if target is None:
            return self._miss(state, flow, step, turn, result, new_problem=new_problem)
        state["misses"] = 0
        self._hear(state, turn)
        await self._run_until_input(state, target, result)
        return result

    def _answers_a_later_step(
        self, state: dict[str, Any], flow: Flow, step: Step, turn: CustomerTurn
    ) -> bool:
        """The message answers another question of this flow from what it says (the
        step's `from_message` phrases, entities, speeds or "already done" words), and
        is no request or outburst (the caller has ruled out a new problem)."""
        if not turn.text.strip():
            return False
        if turn.intent not in PROBLEM_INTENTS | LATER_ANSWER_INTENTS:
            return False
        if shows_frustration(turn.text, turn.intent):
            return False
        language = self._language(state, flow)
        steps = list(flow.steps.values())
        for called in {s.call for s in steps if s.call}:  # and the sub-flows it calls
            sub = self.library.get(called)
            steps.extend(sub.steps.values() if sub else ())
        for later in steps:
            spec = later.from_message
            if later.id == step.id or spec is None:
                continue
            if not (spec.phrases or spec.entities or spec.done or spec.speed_ratio):
                continue  # the choices' own everyday words are too loose for this
            if self._answer_from(later, turn, language, flow.devices) is not None:
                return True
        return False

    @staticmethod
    def _answers_a_state_question(step: Step, turn: CustomerTurn) -> bool:
        """ "Ja, hab ich gemacht" to "Is the TV box switched on?" is a yes. A yes/no
        question that asks how things are (no instruction, nothing to skip) is
        answered by the message's yes or no; only an action can be "already tried"."""
        if not _is_state_question(step):
            return False
        words = set(_words(turn.text))
        text = " ".join(_words(turn.text))
        said_no = bool(words & NO_WORDS) or any(
            _has_phrase(text, phrase) for phrase in STILL_BROKEN_PHRASES
        )
        # Only a plain yes or a plain no: "yes I did that, didn't help" stays a skip.
        return bool(words & YES_WORDS) != said_no

    @staticmethod
    def _did_it_says_yes(step: Step, turn: CustomerTurn) -> bool:
        """A yes to a question after an instruction that says only that it was done:
        "yes I checked the cables", not "yes I did, still nothing"."""
        if step.kind != "ask_yes_no" or not step.text:
            return False
        words = _words(turn.text)
        text = " ".join(words)
        return (
            bool(words)
            and words[0] in YES_WORDS
            and not set(words) & NO_WORDS
            and not any(_has_phrase(text, phrase) for phrase in STILL_BROKEN_PHRASES)
        )

    @staticmethod
    def _says_it_is_done(step: Step, turn: CustomerTurn) -> bool:
        """ "ok did that", "done", „hab ich gemacht, und jetzt?“ to a question after an
        instruction: it was done, and how it went is not said. Never "already" (that
        it did not help) and never with a no."""
        if step.kind != "ask_yes_no" or not step.text:
            return False
        words = [w.replace("'", "") for w in _words(turn.text)]
        text = " ".join(words)
        found = [p for p in DONE_PHRASES if _has_phrase(text, p)]
        if not found or set(words) & (NO_WORDS | {"already", "schon"}):
            return False
        rest = set(words) - {w for p in found for w in p.split()}
        return rest <= DONE_FILLERS

    @staticmethod
    def _yes_about_the_instruction(flow: Flow, step: Step, turn: CustomerTurn) -> bool:
        """ "yes it's plugged into the wall socket" to "Is your internet working now?"
        after "check the cable": a yes about the instruction, which says nothing of
        whether it works. Only where a yes would close the checks as solved."""
        if step.kind != "ask_yes_no" or not step.text or not _asks_if_fixed(flow, step):
            return False
        words = _words(turn.text)
        if len(words) < YES_AND_A_STATEMENT or words[0] not in YES_WORDS:
            return False
        if set(words) <= PLAIN_YES_WORDS:
            return False
        if set(words) & (NO_WORDS | SAYS_IT_WORKS) or turn.intent == "problem_fixed":
            return False
        return not _phrases_said(turn.text, STILL_BROKEN_PHRASES)

    @staticmethod
    def _is_about_to_do_it(step: Step, turn: CustomerTurn) -> bool:
        """ "ok I'll try that", „okay mach ich, danke“ to a question after an
        instruction: it is about to be done, so the question is not answered yet.
        Never with a no or a word that it did not work."""
        if step.kind not in ("ask_yes_no", "ask_choice") or not step.text:
            return False
        words = _words(turn.text)
        found = _phrases_said(turn.text, WILL_DO_PHRASES)
        if not found or set(words) & NO_WORDS:
            return False
        if _phrases_said(turn.text, STILL_BROKEN_PHRASES):
            return False
        rest = set(words) - {w for p in found for w in p.split()}
        return rest <= WILL_DO_FILLERS

    @staticmethod
    def _hear(state: dict[str, Any], turn: CustomerTurn) -> None:
        heard = heard_in(turn)
        if heard["text"] or heard["entities"]:
            state.setdefault("heard", []).append(heard)
            del state["heard"][:-HEARD_MESSAGES]

    @staticmethod
    def _is_correction(turn: CustomerTurn) -> bool:
        """ "That's wrong", "stimmt nicht": about what the assistant took; not "it says
        wrong password", which is what a device shows."""
        text = NOT_A_CORRECTION.sub(" ", " ".join(_words(turn.text)))
        return any(_has_phrase(text, phrase) for phrase in CORRECTION_PHRASES)

    async def _correct(
        self,
        state: dict[str, Any],
        flow: Flow,
        taken: list[str],
        turn: CustomerTurn,
        result: TurnResult,
    ) -> TurnResult:
        """Back to a question answered from the customer's message. The one the
        correction gives anew ("no, it's Word", "nein, die Maus") takes that answer;
        otherwise the last one taken is asked after all."""
        for step_id in reversed(taken):
            entry = next((h for h in reversed(state["history"]) if h["step"] == step_id), None)
            owner = self.library.get(entry["flow"]) if entry else None
            if owner is None or step_id not in owner.steps:
                continue
            step = owner.step(step_id)
            if step.kind not in ("ask_choice", "ask_value") or step.from_message is None:
                continue
            language = self._language(state, owner)
            anew = self._answer_from(step, turn, language)
            slot = step.slot if step.kind == "ask_value" and step.slot else step.id
            if anew is None or anew.value == state["slots"].get(slot):
                continue
            self._rewind(state, step_id)
            result.events.append(FlowEventRecord("back", owner.id, step_id))
            result.replies.append(
                Reply(engine_text("corrected_to", state["language"], answer=anew.answer))
            )
            state["slots"].update(anew.slots)
            state["slots"][slot] = anew.value
            self._remember(state, step, anew.answer, language)
            result.events.append(FlowEventRecord("answer", owner.id, step_id, anew.event))
            # The other answers the opener gave still hold; they were said last turn.
            state["said_before"] = [other for other in taken if other != step_id]
            await self._run_until_input(state, anew.target, result)
            state.pop("said_before", None)
            return result
        return self._ask_again(state, flow, taken[-1], result)

    def _rewind(self, state: dict[str, Any], step_id: str) -> None:
        """Undo the answers back to `step_id`, which the customer says was wrong."""
        while state["history"]:
            previous = state["history"].pop()
            if state["trail"]:
                state["trail"].pop()
            if previous["step"] == step_id:
                state["flow"], state["stack"] = previous["flow"], previous["stack"]
                break
        state["step"] = step_id
        state.setdefault("corrected", []).append(step_id)

    def _ask_again(
        self, state: dict[str, Any], flow: Flow, step_id: str, result: TurnResult
    ) -> TurnResult:
        """Back to the question answered from the customer's message, to ask it after all."""
        self._rewind(state, step_id)
        back_flow = self.library.get(state["flow"]) or flow
        result.events.append(FlowEventRecord("back", back_flow.id, step_id))
        result.replies.append(Reply(engine_text("corrected", state["language"])))
        result.replies.extend(
            self._ask(back_flow.step(step_id), state["slots"], self._language(state, back_flow))
        )
        result.state = state
        return result

    def _target_for_answer(
        self,
        state: dict[str, Any],
        flow: Flow,
        step: Step,
        turn: CustomerTurn,
        result: TurnResult,
    ) -> Optional[str]:
        language = self._language(state, flow)
        if step.kind == "ask_choice":
            # "I get about 3 Mbps, I pay for 100": the measured and the plan's speed.
            by_speed = self._answer_by_speed(step, turn, language)
            missed = state.get("missed") or {}
            earlier = missed.get("text") if missed.get("step") == step.id else None
            if by_speed is None and earlier and speeds_in(turn.text) is None:
                # "about 3 mbps" (not understood), then "we pay for 200": the two speeds
                # in two messages.
                told = replace(turn, text=f"{earlier}. {turn.text}", entities=[])
                by_speed = self._answer_by_speed(step, told, language)
            if by_speed is not None:
                state["slots"].update(by_speed.slots)
            value = by_speed.value if by_speed else match_choice(step, turn, self.encoder)
            if value is None and step.from_message is not None:
                value = _choice_by_entity_names(
                    step, heard_in(turn)["entities"], step.from_message.entities
                )
            if value is None:
                return None
            choice = next(c for c in step.choices if c.value == value)
            state["slots"][step.id] = value
            self._remember(state, step, in_language(choice.title, language), language)
            result.events.append(FlowEventRecord("answer", flow.id, step.id, value))
            return choice.next or step.next
        if step.kind == "ask_yes_no":
            # "my internet is not working" told again is no answer to "Have the router's
            # lights come back on?"; to "Does it work now?" it is a no.
            said_yes = match_yes_no(
                turn,
                fault_told=_problem_meant(turn) is not None and not _asks_if_fixed(flow, step),
            )
            if said_yes is None:
                # "nur am Laptop" to "Do pages fail on every device?": the question's own
                # phrases for yes and no (`from_message`) answer it when typed, too.
                said_yes = _yes_or_no_by_phrases(step, turn.text)
            if said_yes is not None and self._tells_another_fault(state, flow, turn):
                return None  # "and my TV box says no signal" is no "no"
            if said_yes is None and _restates_the_fault(flow, step, state, turn):
                said_yes = False  # "Does it work now?" - "it closes by itself": a no
            if said_yes is None:
                return None
            state["slots"][step.id] = said_yes
            answer = "yes" if said_yes else "no"
            if language != DEFAULT_LANGUAGE:
                answer = engine_text(answer, language).lower()
            self._remember(state, step, answer, language)
            result.events.append(FlowEventRecord("answer", flow.id, step.id, str(said_yes).lower()))
            return step.yes if said_yes else step.no
        if step.kind == "ask_value":
            # The details the message holds, the language model's and those found by
            # their form (an e-mail address, an error code): read once for this answer.
            details = heard_in(turn)["entities"]
            if turn.intent in NOT_A_VALUE and not details:
                return None
            if turn.intent == "problem_persists" or self._sounds_like_no_answer(turn.text):
                return None
            value = (
                turn.entity(step.slot or "")
                or _detail_asked_for(step, details)
                or turn.text.strip()[:200]
            )
            if not value:
                return None
            state["slots"][step.slot or step.id] = value
            self._remember(state, step, value, language)
            result.events.append(FlowEventRecord("answer", flow.id, step.id, value))
            return step.next
        return None

    def _tells_another_fault(self, state: dict[str, Any], flow: Flow, turn: CustomerTurn) -> bool:
        """A fault of another area whose yes or no word sits inside its description
        ("oh and my TV box says no signal" to "Do other devices get online?"): a new
        problem, not the answer. A message that starts with its yes or no ("no, and
        the TV is out too") answers."""
        if opening_yes_or_no(turn.text) is not None:
            return False
        if _not_this_area(turn.text, flow.domain):
            return True  # "it's my tv that's not working, not the internet": a correction
        intent = _problem_meant(turn)
        if intent is None or intent == f"problem_{flow.domain}":
            return False
        return self._read_problem(turn, state) == NEW_PROBLEM

    def _sounds_like_no_answer(self, text: str) -> bool:
        """With the encoder: close to what customers say when they are not answering."""
        text = customer_words(text)
        if self.encoder is None or not text.strip():
            return False
        return float(self.encoder.similarities(text, NOT_AN_ANSWER).max()) >= NOT_AN_ANSWER_MEANING

    def at_vague_start(self, state: dict[str, Any]) -> bool:
        """At the first question of a domain's default flow, the one a vague opener
        starts ("my cable tv isn't working"): the customer may be telling the problem
        only now."""
        running = self.library.get(state.get("root_flow") or state.get("flow") or "")
        return (
            running is not None
            and running.default
            and not state.get("trail")
            and not state.get("history")
        )

    def _read_problem(self, turn: CustomerTurn, state: dict[str, Any]) -> str:
        """A problem intent in the middle of a flow: a new problem, the same one told
        again, or no problem at all (an outburst, an attempt at an answer)?

        "NO. Nothing you say works" may come out as a software problem; it is closer
        to "nothing works" than to any flow, so it is a miss, not a new flow. A
        reply of a word or three ("on wifi", "still slow") is an attempt at an
        answer, not the description of another problem. A message that fits the
        running flow best is that problem told again; one that fits it nearly as
        well as any other is an answer in its words ("it says incorrect password"
        while a phone won't join the Wi-Fi is not a sign-in problem), except at the
        first question of a flow a vague opener started (`at_vague_start`).
        """
        words = customer_words(turn.text)
        if self.encoder is None or not words.strip():
            return NEW_PROBLEM  # a button (its payload) is a clear request, not an outburst
        if len(words.split()) < WORDS_OF_A_NEW_PROBLEM:
            return NOT_A_PROBLEM
        current = self.library.get(state.get("flow") or "")
        if current is not None and state.get("step") in current.steps:
            if _echoes_the_step(current.step(state["step"]), words):
                return NOT_A_PROBLEM  # "my tv is on input hdmi 1": about this step
        ranked = self.chooser.rank(
            text=turn.text,
            intent=turn.intent,
            confidence=turn.confidence,
            likely_intents=turn.likely_intents,
        )
        if not ranked:
            return NEW_PROBLEM
        not_an_answer = float(self.encoder.similarities(turn.text, NOT_AN_ANSWER).max())
        if ranked[0].meaning <= not_an_answer:
            return NOT_A_PROBLEM
        if ranked[0].flow.id in {state.get("root_flow"), state.get("flow")}:
            return SAME_PROBLEM
        running = self.library.get(state.get("root_flow") or state.get("flow") or "")
        if running is not None and running.intents and not self.at_vague_start(state):
            fit = self.chooser.score(turn.text, [running])[0]
            best = ranked[0].score - ranked[0].head_start
            if fit.score >= RUNNING_FLOW_FITS and best - fit.score <= RUNNING_FLOW_MARGIN:
                return NOT_A_PROBLEM  # an answer in the words of the running flow's problem
        return NEW_PROBLEM

    def _miss(
        self,
        state: dict[str, Any],
        flow: Flow,
        step: Step,
        turn: CustomerTurn,
        result: TurnResult,
        *,
        new_problem: bool,
    ) -> TurnResult:
        if turn.intent == "problem_fixed":
            state["misses"] = 0
            result.events.append(FlowEventRecord("outcome", flow.id, step.id, "resolved"))
            result.outcome = Outcome(
                "resolved",
                step.id,
                state.get("root_flow", flow.id),
                flow.domain,
                trail=list(state["trail"]),
                slots=dict(state["slots"]),
            )
            result.state = None
            return result
        result.state = state
        if new_problem:
            result.not_understood = True
            return result  # maybe a new problem; the caller decides
        self._not_understood(state, flow, step, turn.text, result)
        # The caller may answer a side question (a bill) instead; a problem intent
        # read as an outburst stays with this flow.
        result.not_understood = result.outcome is None and turn.intent not in PROBLEM_INTENTS
        return result

    def _not_understood(
        self, state: dict[str, Any], flow: Flow, step: Step, text: str, result: TurnResult
    ) -> TurnResult:
        """A miss: the question in other words, then the options and a person, then a person."""
        state["misses"] = state.get("misses", 0) + 1
        state["missed"] = {"step": step.id, "text": text[:200]}
        result.state = state
        result.events.append(FlowEventRecord("miss", flow.id, step.id, text[:200]))
        if state["misses"] >= MISSES_BEFORE_A_PERSON_TAKES_OVER:
            root = self.library.get(state.get("root_flow", flow.id)) or flow
            result.events.append(FlowEventRecord("outcome", flow.id, step.id, "handoff"))
            result.outcome = Outcome(
                "handoff",
                step.id,
                root.id,
                root.domain,
                options={
                    # Short: handoffs keep up to 40 characters of reason.
                    "reason": "not understood three times",
                    "tier": 2,
                    "skill": root.domain,
                },
                message=engine_text("a_person_takes_over", state["language"]),
                trail=list(state["trail"]),
                slots=dict(state["slots"]),
            )
            result.state = None
            return result
        language = self._language(state, flow)
        spoken = state["language"]
        question = self._ask(step, state["slots"], language)
        if not question:
            return result
        if _only_unsure(text):
            # "I don't know": the question again, and a person for a customer who can't tell.
            result.offer_person = True
            text = engine_text("unsure_is_fine", spoken, question=question[0].text)
        elif state["misses"] >= MISSES_BEFORE_OFFERING_A_PERSON:
            result.offer_person = True
            follow = {"ask_choice": "pick_or_person", "ask_yes_no": "yes_no_or_person"}.get(
                step.kind, "type_or_person"
            )
            text = engine_text(
                "still_not_sure",
                spoken,
                question=question[0].text,
                follow=engine_text(follow, spoken),
            )
        else:
            rephrased = (
                fill_in(in_language(step.rephrase, language), state["slots"])
                if step.rephrase
                else ""
            )
            follow = {"ask_choice": "pick_best", "ask_yes_no": "yes_or_no_enough"}.get(
                step.kind, "type_as_you_see_it"
            )
            text = engine_text(
                "did_not_catch",
                spoken,
                question=rephrased or question[0].text + engine_text(follow, spoken),
            )
        result.replies.append(Reply(text, question[0].buttons))
        return result

    async def _go_back(self, state: dict[str, Any], flow: Flow, result: TurnResult) -> TurnResult:
        if not state["history"]:
            result.replies.append(Reply(engine_text("first_question", state["language"])))
            result.replies.extend(
                self._ask(flow.step(state["step"]), state["slots"], self._language(state, flow))
            )
            result.state = state
            return result
        previous = state["history"].pop()
        state["flow"] = previous["flow"]
        state["stack"] = previous["stack"]
        if state["trail"]:
            state["trail"].pop()
        state["step"] = previous["step"]
        result.events.append(FlowEventRecord("back", state["flow"], previous["step"]))
        result.replies.append(Reply(engine_text("went_back", state["language"])))
        back_flow = self.library.get(state["flow"]) or flow
        back_step = back_flow.step(previous["step"])
        language = self._language(state, back_flow)
        # The step's instruction again with its question: "Does it work now?" on its own
        # would not say what to try.
        result.replies.extend(self._say(back_step, state["slots"], language, state["language"]))
        result.replies.extend(self._ask(back_step, state["slots"], language))
        result.state = state
        return result

    def explain_term(self, turn: CustomerTurn, language: str) -> Optional[str]:
        """ "What is a mesh point?": the glossary's explanation of the term asked about,
        in the customer's language; None for a term it does not know ("what??")."""
        term = (turn.entity("term") or "").lower()
        glossary = self.library.glossary
        explanation = glossary.get(term)
        if explanation is None:
            words = _normalise(turn.text)
            for known, text in glossary.items():
                if _normalise(known) in words:
                    term, explanation = known, text
                    break
        if not explanation:
            return None
        # Named as the customer spelled it ("DNS", "WLAN-Kanal"), else as the glossary does.
        written = re.search(re.escape(term), turn.text, re.IGNORECASE)
        named = written.group(0) if written else term
        return engine_text(
            "term_explained",
            language,
            term=named[:1].upper() + named[1:],
            explanation=in_language(explanation, language),
        )

    def _step_again(
        self, state: dict[str, Any], flow: Flow, step: Step, result: TurnResult
    ) -> TurnResult:
        """ "How do I do that?": the step's instruction again, its question, and a person
        who can walk the customer through it. No miss: the customer is following."""
        language = self._language(state, flow)
        spoken = state["language"]
        instruction = self._say(step, state["slots"], language, spoken)
        lead = "step_again" if step.text else "question_again"
        result.replies.append(Reply(engine_text(lead, spoken)))
        result.replies.extend(instruction)
        result.replies.extend(self._ask(step, state["slots"], language))
        result.offer_person = True
        result.events.append(FlowEventRecord("step_again", flow.id, step.id))
        result.state = state
        return result

    def _explain(
        self, state: dict[str, Any], flow: Flow, step: Step, turn: CustomerTurn, result: TurnResult
    ) -> TurnResult:
        explained = self.explain_term(turn, state["language"])
        if explained is None:
            # "what??" is no question about a term: the customer did not follow.
            return self._not_understood(state, flow, step, turn.text, result)
        state["misses"] = 0
        result.replies.append(Reply(explained))
        result.replies.extend(self._ask(step, state["slots"], self._language(state, flow)))
        result.state = state
        return result

    # ---------------------------------------------------------------- stepping

    def _root_start(self, state: dict[str, Any]) -> str:
        root = self.library.get(state.get("root_flow", state["flow"]))
        return root.start if root else state["step"]

    @staticmethod
    def _language(state: dict[str, Any], flow: Flow) -> str:
        """The language to show `flow`'s texts in: the conversation's, when the flow
        is written in it; English for a flow written in English only."""
        return flow.language_for(state.get("language", DEFAULT_LANGUAGE))

    def _remember(
        self, state: dict[str, Any], step: Step, answer: str, language: str = DEFAULT_LANGUAGE
    ) -> None:
        state["history"].append(
            {"flow": state["flow"], "step": step.id, "stack": list(state["stack"])}
        )
        state["trail"].append(
            {
                "flow": state["flow"],
                "step": step.id,
                "label": step.summary_label_in(language),
                "answer": answer,
            }
        )

    async def _run_until_input(
        self, state: dict[str, Any], step_id: Optional[str], result: TurnResult
    ) -> None:
        """Follow steps that need no answer until one does, or the flow ends."""
        state.setdefault("root_flow", state["flow"])
        for _ in range(MAX_AUTOMATIC_STEPS):
            flow = self.library.get(state["flow"])
            if flow is None:
                raise LookupError(f"unknown flow {state['flow']!r}")
            if step_id is None:
                if state["stack"]:
                    frame = state["stack"].pop()
                    state["flow"] = frame["flow"]
                    step_id = frame["next"]
                    continue
                raise LookupError(f"flow {flow.id!r} ends without an outcome")
            step = flow.step(step_id)
            language = self._language(state, flow)
            if step.if_not_said and self._from_message(state, step, language) is None:
                # Never asked: "did anything get wet?" matters only to those who say so.
                step_id = step.if_not_said
                continue
            state["step"] = step.id
            result.events.append(FlowEventRecord("step", flow.id, step.id))
            if step.kind == "outcome":
                if step.warning:
                    warning = fill_in(in_language(step.warning, language), state["slots"])
                    result.replies.append(
                        Reply(engine_text("safety_first", state["language"], warning=warning))
                    )
                after = None
                if step.still_broken:
                    after = json.loads(
                        json.dumps({**state, "step": step.still_broken, "history": []})
                    )
                elif (step.outcome or "resolved") == "resolved":
                    after = self._after_a_yes(state)
                result.outcome = Outcome(
                    kind=step.outcome or "resolved",
                    step_id=step.id,
                    flow_id=state.get("root_flow", flow.id),
                    domain=(self.library.get(state.get("root_flow", flow.id)) or flow).domain,
                    options=dict(step.options),
                    message=fill_in(in_language(step.text, language), state["slots"]),
                    trail=list(state["trail"]),
                    slots=dict(state["slots"]),
                    after=after,
                )
                result.events.append(FlowEventRecord("outcome", flow.id, step.id, step.outcome))
                result.state = None
                return
            if step.waits_for_customer:
                taken = self._from_message(state, step, language)
                if taken is not None:
                    step_id = self._take(state, flow, step, taken, result)
                    continue
                result.replies.extend(self._say(step, state["slots"], language, state["language"]))
                asked = self._ask(step, state["slots"], language)
                named = self._several_named(state, step, language)
                if named and asked:
                    # "got hot and shut off, the fan is loud": they listened, we say so.
                    spec = step.from_message
                    if spec is not None and spec.several:
                        note = fill_in(in_language(spec.several, language), {"named": named})
                    else:
                        note = engine_text("several_named", language, named=named)
                    asked[0] = Reply(f"{asked[0].text} {note}", asked[0].buttons)
                result.replies.extend(asked)
                result.state = state
                return
            if step.kind == "say":
                result.replies.extend(self._say(step, state["slots"], language, state["language"]))
                step_id = step.next
            elif step.kind == "check":
                outcome = await self.run_check(step.check or "", state["slots"])
                state["slots"][step.id] = outcome
                result.events.append(FlowEventRecord("answer", flow.id, step.id, outcome))
                step_id = step.results.get(outcome) or step.results.get("default")
                if step_id is None:
                    raise LookupError(f"step {step.id!r} has no branch for result {outcome!r}")
            elif step.kind == "branch":
                step_id = next(
                    (target for cond, target in step.branches if cond.holds(state["slots"])),
                    step.otherwise,
                )
            elif step.kind == "call":
                callee = self.library.get(step.call or "")
                if callee is None:
                    raise LookupError(f"step {step.id!r} calls unknown flow {step.call!r}")
                state["stack"].append({"flow": flow.id, "next": step.next})
                state["flow"] = callee.id
                step_id = callee.start
            elif step.kind == "return":
                if not state["stack"]:
                    raise LookupError(f"step {step.id!r} returns, but no flow called this one")
                frame = state["stack"].pop()
                state["flow"] = frame["flow"]
                step_id = frame["next"]
        raise LookupError("the flow kept going without asking anything; is there a cycle?")

    # ------------------------------------------------------- from the message

    def _from_message(
        self, state: dict[str, Any], step: Step, language: str = DEFAULT_LANGUAGE
    ) -> Optional[_Taken]:
        """The step's answer, when what the customer already said gives it clearly."""
        spec = step.from_message
        if spec is None or step.id in state.get("corrected", []):
            return None
        if any(e.get("flow") == state["flow"] and e.get("step") == step.id for e in state["trail"]):
            # Back at a question already answered ("Let's try once more" after details
            # that matched no account): it is asked, not answered from the same words again.
            return None
        flow = self.library.get(state["flow"])
        devices = flow.devices if flow is not None else ()
        for heard in reversed(state.get("heard", [])):
            places = heard.get("places") or {}
            entities = []
            for name, value in heard.get("entities", {}).items():
                entity: dict[str, Any] = {"entity": name, "value": value}
                place = places.get(name)
                if isinstance(place, list) and len(place) == 2:
                    entity["start"], entity["end"] = place
                entities.append(entity)
            for name, others in (heard.get("more") or {}).items():
                entities.extend({"entity": name, **other} for other in others)
            turn = CustomerTurn(text=heard.get("text", ""), entities=entities)
            taken = self._answer_from(step, turn, language, devices)
            if taken is not None:
                return taken
        return None

    @staticmethod
    def _several_named(state: dict[str, Any], step: Step, language: str) -> str:
        """The choices named by the latest customer message that names any of them,
        when it names more than one ("hot", "fan is loud", "shut off"; "a remote and
        a charger" before the customer was identified): their titles, for saying so.
        Empty otherwise."""
        if step.kind != "ask_choice" or step.id in state.get("corrected", []):
            return ""
        spec = step.from_message
        if spec is not None and spec.speed_ratio is not None and not spec.phrases:
            # Read from the message by its speeds only: "slow, can't even load youtube"
            # names no answer to "how does the speed test compare with your plan?".
            return ""
        phrases = {value: list(said) for value, said in spec.phrases} if spec else {}
        named: set[str] = set()
        for heard in reversed(state.get("heard") or []):
            hits = _phrase_hits(str(heard.get("text", "")), phrases or _choice_phrases(step))
            named = {h.value for h in hits}
            if named:
                break
        if len(named) < 2:
            return ""
        return _titles_named(step, named, language)

    def _answer_from(
        self,
        step: Step,
        turn: CustomerTurn,
        language: str = DEFAULT_LANGUAGE,
        devices: tuple[str, ...] = (),
    ) -> Optional[_Taken]:
        spec = step.from_message
        assert spec is not None
        target = step.skip or (step.no if step.kind == "ask_yes_no" else None)
        if spec.done and target:
            hits = _not_by_itself(turn.text, _phrase_hits(turn.text, {"done": list(spec.done)}))
            if hits and not _did_it_to_this_device(hits, turn, devices):
                hits = []
            if hits:
                # "I already restarted the router": as "already tried" to this step.
                words = max(hits, key=lambda h: h.length).phrase
                answer = engine_text("already_tried", language)
                return _Taken(target, "already_tried", answer, words, "already_tried")
        if step.kind == "ask_choice":
            by_speed = self._answer_by_speed(step, turn, language)
            if by_speed is not None:
                return by_speed
            if spec.entities and spec.phrases:
                # Phrases that say more than the entities can ("only the power light is
                # on" is no "solid" light): looked at first, trusted as written.
                said = {value: list(words) for value, words in spec.phrases}
                hits = _phrase_hits(turn.text, said)
                if len({h.value for h in hits}) == 1:
                    words = max(hits, key=lambda h: h.length).phrase
                    return _choice_taken(step, hits[0].value, words, language)
            value = _choice_by_entities(step, turn, spec.entities)
            words = _naming(step, value, turn).said(spec.entities)
            if value is None:
                value = _choice_by_entity_names(
                    step, {str(e["entity"]): str(e["value"]) for e in turn.entities}, spec.entities
                )
            if (
                value is None
                and not spec.entities
                and spec.speed_ratio is None
                and turn.text.strip()
            ):
                # Without entities (or speeds) named, the phrases the flow gives answer
                # it, or else the choices' own wording; only when clear.
                phrases = {value: list(said) for value, said in spec.phrases}
                hits = _phrase_hits(turn.text, phrases or _choice_phrases(step))
                together = _named_together(step, turn.text, hits)
                if together is not None:
                    value, words = together
                elif (first := _comes_first(step, hits)) is not None:
                    # "hot, and it smells of burning": safety first; "frozen, and the
                    # remote does nothing": the box's checks, which cover the remote.
                    hit, urgent = first
                    clause = _clauses(turn.text)[hit.clause]
                    words = " ".join(clause[hit.start : hit.start + hit.length])
                    taken = _choice_taken(step, hit.value, words, language)
                    named = _titles_named(step, {h.value for h in hits}, language)
                    said = engine_text(
                        "urgent_first" if urgent else "covered_first",
                        language,
                        words=words,
                        named=named,
                        answer=taken.answer,
                    )
                    return replace(taken, said=said)
                elif len({h.value for h in hits}) > 1 and spec.one_at_a_time:
                    # "a remote and a charger": the first now, the others after it.
                    return self._first_of_several(step, hits, language)
                elif len({h.value for h in hits}) > 1 and _lead_to_one_step(step, hits):
                    # "gets hot, the fan is loud, then it shuts off": the same checks
                    # follow whichever is picked, so nothing needs asking.
                    first = min(hits, key=lambda h: (h.clause, h.start))
                    named = _titles_named(step, {h.value for h in hits}, language)
                    taken = _choice_taken(step, first.value, first.phrase, language)
                    said = engine_text("several_same_checks", language, named=named)
                    return replace(taken, said=said)
                elif len({h.value for h in hits}) == 1:
                    value = hits[0].value
                    words = max(hits, key=lambda h: h.length).phrase
                    # The choices' own synonyms may be everyday words, so their meaning
                    # must agree; the flow's `phrases` were written to answer it.
                    if (
                        self.encoder is not None
                        and not phrases
                        and not _essentially(turn.text, hits)
                    ):
                        ranked, _ = _closest_choices(step, turn.text, self.encoder)
                        # A choice for several named together ("Keyboard and mouse") is
                        # no closer reading of a message that names only one of them.
                        together = {c.value for c in step.choices if c.all_of}
                        ranked = [(sc, c) for sc, c in ranked if c not in together or c == value]
                        found = next(score for score, choice in ranked if choice == value)
                        if ranked[0][0] - found > CLEARLY_CLOSER:
                            value = None  # another choice is clearly closer by meaning: ask
            if value is None:
                return None
            return _choice_taken(step, value, words, language)
        if step.kind == "ask_yes_no":
            hits = _yes_or_no_hits(step, turn.text)
            if not hits:
                return None
            said_yes = hits[0].value == "yes"
            words = max(hits, key=lambda h: h.length).phrase
            answer = "yes" if said_yes else "no"
            if language != DEFAULT_LANGUAGE:
                answer = engine_text(answer, language).lower()
            return _Taken(step.yes if said_yes else step.no, said_yes, answer, words, answer)
        if step.kind == "ask_value":
            for name in spec.entities:
                value = turn.entity(name)
                if value:
                    return _Taken(step.next, value, value, value, value)
            # "the Apple TV app says cannot connect, but Netflix works fine": the one
            # that works is not the one asked about.
            text, works = _without_what_works(turn.text)
            named = {
                str(e.get("value", "")).lower()
                for e in turn.entities
                if not _only_in(str(e.get("value", "")), works, text)
            }
            for known in spec.values:
                if known.lower() in named or _has_phrase(text, known):
                    return _Taken(step.next, known, known, known, known)
            found = name_in(text, spec.names)
            if found is not None:
                return _Taken(step.next, found, found, found, found)
        return None

    @staticmethod
    def _first_of_several(step: Step, hits: list[_Hit], language: str) -> _Taken:
        """The first choice the message names answers; the others wait, in the order
        named, in the step's `one_at_a_time` slot."""
        spec = step.from_message
        assert spec is not None
        first_hits = sorted(hits, key=lambda h: (h.clause, h.start))
        in_order = list(dict.fromkeys(h.value for h in first_hits))
        choice = next(c for c in step.choices if c.value == in_order[0])
        title = in_language(choice.title, language)
        named = _titles_named(step, set(in_order), language)
        if spec.several:
            note = fill_in(in_language(spec.several, language), {"named": named, "answer": title})
        else:
            note = engine_text("several_one_at_a_time", language, named=named, answer=title)
        return _Taken(
            choice.next or step.next,
            choice.value,
            title,
            first_hits[0].phrase,
            choice.value,
            {spec.one_at_a_time: in_order[1:]},
            said=note,
        )

    @staticmethod
    def _answer_by_speed(step: Step, turn: CustomerTurn, language: str) -> Optional[_Taken]:
        """The choice for the plan's and the measured speed the message gives, if both."""
        rule = step.from_message.speed_ratio if step.from_message else None
        speeds = speeds_in(turn.text) if rule is not None else None
        if rule is None or speeds is None:
            return None
        value = rule.then if speeds.ratio < rule.below else rule.otherwise
        choice = next((c for c in step.choices if c.value == value), None)
        if choice is None:
            return None
        measured = speed_words(speeds.measured, language)
        plan = speed_words(speeds.plan, language)
        return _Taken(
            choice.next or step.next,
            value,
            in_language(choice.title, language),
            f"{measured} / {plan}",
            value,
            {"measured_speed": measured, "plan_speed": plan},
        )

    def _take(
        self, state: dict[str, Any], flow: Flow, step: Step, taken: _Taken, result: TurnResult
    ) -> Optional[str]:
        """Answer the step from the message, say so, and go on."""
        state["slots"].update(taken.slots)
        state["slots"][step.slot if step.kind == "ask_value" and step.slot else step.id] = (
            taken.value
        )
        language = self._language(state, flow)
        spoken = state["language"]
        answer = engine_text("from_your_message", language, answer=taken.answer)
        self._remember(state, step, answer, language)
        state["history"][-1]["from_message"] = True
        state.setdefault("taken_last_turn", []).append(step.id)
        result.events.append(FlowEventRecord("from_message", flow.id, step.id, taken.event))
        if step.id in state.get("said_before", ()):
            return taken.target
        spec = step.from_message
        slots = {**state["slots"], "answer": taken.answer, "words": taken.words}
        if taken.said:
            text = taken.said
        elif spec and spec.say:
            text = fill_in(in_language(spec.say, language), slots)
        else:
            text = engine_text("taken_from_message", spoken, words=taken.words, answer=taken.answer)
        # One invitation to correct per turn, after the last answer taken, and none
        # when the flow ends with this answer (a swollen battery: handed over at once).
        if_wrong = f" {engine_text('if_wrong', spoken)}"
        for reply in result.replies:
            if reply.text.endswith(if_wrong):
                reply.text = reply.text[: -len(if_wrong)]
        following = flow.steps.get(taken.target or "")
        ends_here = following is not None and following.kind == "outcome"
        result.replies.append(Reply(text if ends_here else f"{text}{if_wrong}"))
        return taken.target

    @staticmethod
    def _say(
        step: Step,
        slots: dict[str, Any],
        language: str = DEFAULT_LANGUAGE,
        spoken: Optional[str] = None,
    ) -> list[Reply]:
        """The step's warning and message in `language` (the flow's texts); the
        engine's own words in `spoken`, the conversation's language."""
        replies = []
        if step.warning:
            warning = fill_in(in_language(step.warning, language), slots)
            replies.append(Reply(engine_text("safety_first", spoken or language, warning=warning)))
        if step.text:
            text = fill_in(in_language(step.text, language), slots)
            replies.append(Reply(text + (f"\n{step.image}" if step.image else "")))
        return replies

    @staticmethod
    def _ask(step: Step, slots: dict[str, Any], language: str = DEFAULT_LANGUAGE) -> list[Reply]:
        question = fill_in(in_language(step.question, language), slots)
        if step.kind == "ask_choice":
            buttons = [
                {"title": in_language(c.title, language), "payload": choice_payload(c.value)}
                for c in step.choices
            ]
            return [Reply(question, buttons)]
        if step.kind == "ask_yes_no":
            return [
                Reply(
                    question,
                    [
                        {"title": engine_text("yes", language), "payload": "/affirm"},
                        {"title": engine_text("no", language), "payload": "/deny"},
                    ],
                )
            ]
        if step.kind == "ask_value":
            return [Reply(question)]
        return []


def summarize_trail(
    trail: list[dict[str, Any]], *, flow_title: str = "", language: str = DEFAULT_LANGUAGE
) -> str:
    """A short, human-readable account of the steps tried and the answers given,
    in `language` (the trail's labels and answers are in the conversation's)."""
    title = in_language(flow_title, language)
    lines = [engine_text("diagnosis", language, title=title)] if title else []
    for item in trail:
        label = item.get("label") or item.get("step", "")
        lines.append(f"- {label} → {item.get('answer')}")
    if len(lines) <= (1 if title else 0):
        lines.append(engine_text("no_steps", language))
    return "\n".join(lines)


def _language_of(turn: Optional[CustomerTurn]) -> str:
    """The turn's language when it is one the flows know; English otherwise."""
    return _known_language(turn.language if turn is not None else DEFAULT_LANGUAGE)


def _known_language(language: str) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE

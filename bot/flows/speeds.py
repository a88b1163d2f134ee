"""The speed a customer pays for and the speed they measured, read from their own words.

"paying for 500 Mbps and speedtest shows 12" or "Tarif 250 Mbit, Speedtest zeigt 20"
give both, and so does "paying for 500 but getting like 30"; `speeds_in` finds them,
so a flow can answer "how does the measured speed compare with your plan?" without
asking (`from_message: {speed_ratio: …}` in
docs/flows.md). A message with one speed, or two that cannot be told apart
("4 down and 0.5 up"), gives none: the question is then asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

# Mbit/s per unit; a number without a unit takes the unit of the other speed.
UNITS = {
    "kbit": 0.001, "kbits": 0.001, "kbps": 0.001, "kbit/s": 0.001, "kb/s": 0.001,
    "mbit": 1.0, "mbits": 1.0, "mbps": 1.0, "mbit/s": 1.0, "mb/s": 1.0, "mb": 1.0,
    "mbs": 1.0, "megabit": 1.0, "megabits": 1.0, "meg": 1.0, "megs": 1.0, "m": 1.0,
    "gbit": 1000.0, "gbits": 1000.0, "gbps": 1000.0, "gbit/s": 1000.0, "gb/s": 1000.0,
    "gb": 1000.0, "gigabit": 1000.0, "gig": 1000.0, "gigs": 1000.0,
}  # fmt: skip
# Words just before (or after) a number that make it the plan's speed.
PLAN_WORDS = {
    "pay", "paying", "paid", "plan", "package", "tariff", "contract", "subscribed",
    "subscription", "promised", "supposed", "booked", "advertised", "upgraded", "line",
    "zahle", "bezahle", "zahlen", "bezahlen", "tarif", "vertrag", "gebucht", "paket",
    "leitung", "anschluss", "gebuchte", "gebuchten", "versprochen",
    # "5 Mbit statt 100", "12 instead of 500": what it should be
    "statt", "anstatt", "instead", "vs", "versus", "expected", "erwartet",
}  # fmt: skip
# Words just before a number that make it the measured speed.
MEASURED_WORDS = {
    "speedtest", "test", "tests", "shows", "showing", "show", "says", "say", "get", "getting",
    "gets", "got", "only", "measured", "measure", "reaching", "reaches", "actual", "actually",
    "barely", "max", "maximum", "zeigt", "zeigen", "bekomme", "bekommen", "kommen", "kommt",
    "nur", "gemessen", "misst", "messe", "erreicht", "erreiche", "gerade", "mal", "maximal",
    "höchstens", "lediglich", "schafft",
}  # fmt: skip
# A number followed by one of these is no speed ("2 hours", "3 devices").
NOT_SPEEDS = {
    "hour", "hours", "day", "days", "minute", "minutes", "min", "mins", "week", "weeks",
    "month", "months", "year", "years", "pm", "am", "uhr", "stunden", "stunde", "tage",
    "tagen", "minuten", "wochen", "monate", "monaten", "jahre", "jahren", "euro", "euros",
    "eur", "devices", "geräte", "times", "mal", "percent", "prozent", "seconds", "sekunden",
    "ms", "gb/month", "people", "personen", "phones", "laptops", "tvs", "x",
}  # fmt: skip
# Words that make two numbers without a unit speeds.
SPEED_WORDS = {"speedtest", "speed", "download", "geschwindigkeit", "bandbreite", "mbit", "mbps"}
WINDOW = 4  # how many words before a number may say whose speed it is
NUMBER = re.compile(r"^(\d+(?:[.,]\d+)?)([a-z/]*)$")


@dataclass(frozen=True)
class Speeds:
    plan: float  # Mbit/s
    measured: float  # Mbit/s

    @property
    def ratio(self) -> float:
        """The measured speed as a share of the plan's (0.024 for 12 of 500)."""
        return self.measured / self.plan


@dataclass
class _Number:
    value: float
    unit: Optional[float]  # Mbit/s per unit; None when no unit was written
    position: int


def _tokens(text: str) -> list[str]:
    lowered = text.lower().replace("mbit/s", "mbit/s ").replace("€", " € ")
    return re.findall(r"\d+(?:[.,]\d+)?[a-z/]*|[a-zäöüß/]+|€|%", lowered)


def _numbers(tokens: list[str]) -> list[_Number]:
    found = []
    for position, token in enumerate(tokens):
        match = NUMBER.match(token)
        if not match:
            continue
        glued = match.group(2)
        after = tokens[position + 1] if position + 1 < len(tokens) else ""
        before = tokens[position - 1] if position else ""
        if before in ("€", "$") or after in ("€", "%"):
            continue
        unit: Optional[float] = None
        if glued:
            unit = UNITS.get(glued.rstrip("/"))
            if unit is None and glued not in ("er",):  # "500er Leitung"
                continue
        elif after in UNITS:
            unit = UNITS[after]
        elif after in NOT_SPEEDS:
            continue
        value = float(match.group(1).replace(",", "."))
        found.append(_Number(value, unit, position))
    return found


def _near(tokens: list[str], position: int, words: set[str]) -> bool:
    before = tokens[max(0, position - WINDOW) : position]
    after = tokens[position + 1 : position + 3]
    return bool(words & set(before)) or (words is PLAN_WORDS and bool(words & set(after)))


def speeds_in(text: str) -> Optional[Speeds]:
    """The plan's and the measured speed in the text, when both are clear."""
    tokens = _tokens(text)
    numbers = _numbers(tokens)
    if len(numbers) > 2:
        # "every evening around 7 … speedtest says 8 Mbps and I pay for 100": a number
        # with no unit and no word of a plan or a measurement is no speed.
        numbers = [
            n
            for n in numbers
            if n.unit is not None
            or _near(tokens, n.position, PLAN_WORDS)
            or _near(tokens, n.position, MEASURED_WORDS)
        ]
    if len(numbers) != 2:
        return None
    plan_like = [_near(tokens, n.position, PLAN_WORDS) for n in numbers]
    measured_like = [_near(tokens, n.position, MEASURED_WORDS) for n in numbers]
    if all(n.unit is None for n in numbers) and not SPEED_WORDS & set(tokens):
        # Two numbers, nothing says they are speeds, unless one is clearly what they pay
        # for and the other what they get: "paying for 500 but getting like 30".
        paired = [p and not m for p, m in zip(plan_like, measured_like, strict=True)]
        if paired.count(True) != 1 or not measured_like[paired.index(False)]:
            return None
    # "about 20 mbps, plan is 300": the plan word follows the one and comes before the
    # other; the one it comes before is the plan's speed.
    plan_before = [
        bool(PLAN_WORDS & set(tokens[max(0, n.position - WINDOW) : n.position])) for n in numbers
    ]
    if plan_like.count(True) == 1:
        plan_index = plan_like.index(True)
    elif measured_like.count(True) == 1:
        plan_index = 1 - measured_like.index(True)
    elif all(plan_like) and plan_before.count(True) == 1:
        plan_index = plan_before.index(True)
    else:
        return None
    plan, measured = numbers[plan_index], numbers[1 - plan_index]
    known = plan.unit or measured.unit or 1.0
    plan_speed = plan.value * (plan.unit or known)
    measured_speed = measured.value * (measured.unit or known)
    if measured.unit is None and measured_speed > 2 * plan_speed:
        measured_speed = measured.value  # "a 1 Gbit plan, the test shows 300": Mbit/s
    if plan_speed <= 0:
        return None
    return Speeds(plan=plan_speed, measured=measured_speed)


def speed_words(mbits: float, language: str = "en") -> str:
    """A speed as the customer reads it: "12 Mbit/s", "1 Gbit/s", "0,5 Mbit/s" in German."""
    if mbits >= 1000 and mbits % 1000 == 0:
        number, unit = f"{mbits / 1000:g}", "Gbit/s"
    else:
        number, unit = f"{mbits:g}", "Mbit/s"
    if language == "de":
        number = number.replace(".", ",")
    return f"{number} {unit}"

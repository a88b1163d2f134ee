"""Signs that a customer is frustrated, read from one message.

Plain Python with no Rasa import. The diagnosis service keeps count across
turns: the first sign gets one genuine apology, a repeated one gets a person
offered, and nobody gets a canned apology on every turn.
"""

from __future__ import annotations

import re

ANGRY_WORDS = {
    "useless", "ridiculous", "joke", "pathetic", "terrible", "worst", "awful", "sick",
    "fed", "unacceptable", "scam", "rubbish", "garbage", "crap", "wtf", "hate", "angry",
    "furious", "incompetent", "disgrace", "frustrated", "frustrating", "annoyed", "again",
    "scheiss", "scheiße", "unverschämt", "nervt", "annoying", "infuriating", "nervig",
    "genervt", "sauer", "wütend", "frechheit", "katastrophe", "lächerlich", "unfassbar",
    "zumutung", "unzumutbar",
}  # fmt: skip
# Words strong enough on their own ("this is so annoying", „Das ist eine Frechheit“).
STRONG_WORDS = {
    "wtf", "scam", "useless", "ridiculous", "unacceptable", "pathetic", "incompetent",
    "disgrace", "furious", "annoying", "infuriating", "frustrating", "frustrated",
    "unverschämt", "frechheit", "katastrophe", "lächerlich", "zumutung", "unzumutbar",
    "nervig", "genervt", "wütend",
}  # fmt: skip
ANGRY_PHRASES = (
    "third time",
    "3rd time",
    "fourth time",
    "how many times",
    "for days",
    "for weeks",
    "every day",
    "nobody helps",
    "no one helps",
    "waste of time",
    "fix your",
    # A threat to cancel, not a calm request to ("I want to cancel my contract").
    "or i'll cancel",
    "or i will cancel",
    "or i cancel",
    "i'm cancelling",
    "i am cancelling",
    "sonst kündige ich",
    "dann kündige ich",
    "switch provider",
    "sick of",
    "fed up",
    "had enough",
    "schon wieder",
    "zum dritten mal",
    "zum x-ten mal",
    "seit wochen",
    "seit tagen",
    "reicht mir",
    "die nase voll",
)


def shows_frustration(text: str, intent: str = "") -> bool:
    """True when the wording, shouting or the intent signals frustration."""
    if intent == "complaint":
        return True
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.7:
        return True  # SHOUTING
    if re.search(r"[!?]{3,}", text):
        return True
    lowered = text.lower()
    if any(phrase in lowered for phrase in ANGRY_PHRASES):
        return True
    words = set(re.findall(r"[\wäöüß]+", lowered))
    return len(words & ANGRY_WORDS) >= 2 or bool(words & STRONG_WORDS)

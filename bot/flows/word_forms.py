"""Word forms for matching a customer's words to a question's choices.

`stem` strips the common English and German endings, so "work", "works",
"working" and "worked" are one word, as are "funktioniert" and
"funktionieren", or "blinkt", "blinken" and "blinkend". It is deliberately
light: it only has to make two forms of a word equal, never to find a
dictionary form, and it leaves short words alone ("red", "wan", "aus"), so
unrelated words rarely become equal. Both sides of a comparison are stemmed.
"""

from __future__ import annotations

# Longest first; each may be stripped when at least MIN_STEM letters remain.
ENDINGS = (
    "ings", "ing", "end", "ern", "ers", "ed", "es", "en", "em", "er", "et", "st", "te",
    "ly", "s", "e", "n", "t",
)  # fmt: skip
MIN_STEM = 4
# Words of negation stay as they are: "nicht" and "nichts" must not become one.
KEEP = frozenset(
    {"not", "nicht", "nichts", "nothing", "never", "niemals", "kein", "keine", "keinen", "keiner"}
    | {"without", "ohne", "nor"}
)
# Two passes: "lights" -> "light" -> "ligh" meets "light" -> "ligh".
PASSES = 2


def stem(word: str) -> str:
    """The word without its ending (lower case in, lower case out)."""
    if word in KEEP:
        return word
    for _ in range(PASSES):
        for ending in ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= MIN_STEM:
                word = word[: -len(ending)]
                break
        else:
            break
    # "stopped", "stopping" -> "stopp" -> "stop"
    if len(word) > MIN_STEM and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]
    return word


def stems(words: list[str]) -> list[str]:
    return [stem(word) for word in words]

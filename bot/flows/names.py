"""Names in the customer's words that no list can hold: "the Chase app", "die Banking-App".

A flow's `from_message: {names: [...]}` gives patterns in which `*` stands for
a name ("* app", "*-app"). The answer is what the pattern matched, in whole
words as the customer wrote them ("Chase app", "Banking-App"); words that name
nothing ("my app", "die neue App") do not count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Optional

# Words that stand where a name could, but name nothing.
NOT_A_NAME = frozenset(
    """
    a an the my our your his her their its this that these those one any every each some
    same new old other another whole mobile web desktop online phone cell smartphone tv
    which what whatever
    die der das den dem des ein eine einer einen meine mein meinen meiner unsere unser
    eure euer deine dein ihre ihr seine sein diese dieser dieses jene jede jeder jedes
    neue neuen alte alten andere anderen ganze handy
    """.split()
)
NAME = r"[^\W_][\w+.]*"
TRAILING = ".,;:!?\"'()“”„«»"


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    parts = [re.escape(part) for part in pattern.strip().split("*")]
    body = f"({NAME})".join(parts)
    body = re.sub(r"(\\ )+", r"\\s+", body)
    return re.compile(rf"(?<![\w-]){body}(?![\w])", re.IGNORECASE)


def name_in(text: str, patterns: Iterable[str]) -> Optional[str]:
    """The first name the patterns find in `text`, as the customer wrote it."""
    for pattern in patterns:
        if "*" not in pattern:
            continue
        for found in _compiled(pattern).finditer(text):
            if found.group(1).lower() in NOT_A_NAME:
                continue
            start, end = found.start(), found.end()
            # Whole words: "Banking-App", not "Banking".
            while start > 0 and not text[start - 1].isspace():
                start -= 1
            while end < len(text) and not text[end].isspace():
                end += 1
            word = text[start:end].strip(TRAILING)
            if word:
                return word
    return None

"""Markup typed or pasted into a chat message, left out of what the assistant reads.

"<script>alert(1)</script> my internet is down" is a customer whose internet is
down: the tags and a script's body say nothing about the problem, and their words
("script", "alert", "img", "src") would pull the message towards a software fault
and its language towards English. The message is stored and shown as it was typed
(the widget and the console show text, never markup); only what the language model
and the language check read is the customer's own words.
"""

from __future__ import annotations

import re

# An element whose body is code, with that body; or any opening or closing tag.
# "<3" and "speed < 10 Mbit" are no tags: a tag's name starts with a letter.
MARKUP = re.compile(
    r"<(script|style)\b[^>]*>.*?(?:</\1\s*>|$)|</?[a-z][a-z0-9-]*\b[^<>]{0,500}>",
    re.IGNORECASE | re.DOTALL,
)


def without_markup(text: str) -> str:
    """The message's words without tags; the message as it is when nothing else is left."""
    if "<" not in text:
        return text
    words = " ".join(MARKUP.sub(" ", text).split())
    return words or text

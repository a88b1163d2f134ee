"""The flow engine's own sentences, in every language a conversation can have.

The flows' texts are written in the flow files; the few sentences the engine
adds around them (asking again, going back, "Safety first") are the `engine.*`
keys of the wording catalogue (`data/wording.yml`), each with an `en` and a
`de` text and `{placeholders}`.
"""

from __future__ import annotations

from bot.flows.model import DEFAULT_LANGUAGE
from bot.wording import say


def engine_text(key: str, language: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """The engine's sentence `key` in `language` (English when not written in it)."""
    return say(f"engine.{key}", language, **values)

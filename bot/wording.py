"""The wording catalogue: every sentence the assistant says outside the flows.

The texts live in data/wording.yml, one key per sentence, each with an English
(`en`) and a German (`de`) text and `{placeholders}`. Python looks a text up by
key and language:

    say("ticket.opened", "de", ticket="TCK-000042")

Pure Python and PyYAML: the API (services, actions) and the Rasa server
(bot/rasa/wording_nlg.py, for the `utter_*` responses) both use it.
"""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot import vocabulary

CATALOGUE_PATH = Path(__file__).parents[1] / "data" / "wording.yml"
LANGUAGES = vocabulary.LANGUAGES
DEFAULT_LANGUAGE = vocabulary.DEFAULT_LANGUAGE


class WordingError(ValueError):
    """The catalogue is malformed; the message says where."""


def language_of(value: Any) -> str:
    """A supported language code for `value`, English when it is none."""
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def parse_catalogue(data: Any) -> dict[str, dict[str, str]]:
    """Checks and flattens the YAML: nested keys become dotted keys ("ticket.opened")."""
    texts: dict[str, dict[str, str]] = {}

    def walk(node: Any, prefix: str) -> None:
        if not isinstance(node, dict) or not node:
            raise WordingError(f"{prefix or 'the catalogue'}: expected a mapping")
        if set(node) & set(LANGUAGES):
            missing = [lang for lang in LANGUAGES if not isinstance(node.get(lang), str)]
            if missing or set(node) - set(LANGUAGES):
                raise WordingError(f"{prefix}: needs exactly an en and a de text")
            names = {lang: placeholders(node[lang]) for lang in LANGUAGES}
            if names["en"] != names["de"]:
                raise WordingError(f"{prefix}: en and de use different placeholders")
            texts[prefix] = dict(node)
            return
        for key, child in node.items():
            walk(child, f"{prefix}.{key}" if prefix else str(key))

    walk(data, "")
    return texts


@lru_cache(maxsize=1)
def catalogue(path: Path = CATALOGUE_PATH) -> dict[str, dict[str, str]]:
    with open(path, encoding="utf-8") as file:
        return parse_catalogue(yaml.safe_load(file))


def has(key: str) -> bool:
    return key in catalogue()


def say(key: str, language: str = DEFAULT_LANGUAGE, /, **values: Any) -> str:
    """The text of `key` in `language` (English for an unknown language), filled in."""
    try:
        texts = catalogue()[key]
    except KeyError:
        raise KeyError(f"no text {key!r} in {CATALOGUE_PATH.name}") from None
    text = texts[language_of(language)]
    return text.format(**values) if values else text


def button(key: str, language: str, payload: str) -> dict[str, str]:
    """A button whose title comes from the catalogue."""
    return {"title": say(key, language), "payload": payload}

"""The wording catalogue: complete in English and German, and the only place for sentences."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from api.config import PROJECT_ROOT
from bot import wording

# Where customer- and agent-visible sentences used to be written in Python.
SCANNED = ("actions", "api/services")
# Reviewed: strings of several words that nobody reads as a sentence.
ALLOWED = {
    "customer via bot",  # the actor recorded for changes the customer makes in the chat
    "CAST(:buttons AS JSON)",  # SQL
}
WORD = re.compile(r"[^\W\d_]{2,}")
# SQL text kept as strings (api/services/analytics.py builds its statements from them).
SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|CAST|substr|to_char)\b", re.IGNORECASE)
# The head of a generated Rasa training-data file (api/services/nlu_review.py).
RASA_FILE_HEAD = 'version: "3.1"'


def _ignored_nodes(tree: ast.AST) -> set[int]:
    """Docstrings, exception messages, log messages, SQL text and regular expressions."""
    ignored: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant):
                ignored.add(id(body[0].value))
        parts: list[ast.AST] = []
        if isinstance(node, ast.Raise) and node.exc is not None:
            parts = [node.exc]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = getattr(func, "value", None)
            if (isinstance(owner, ast.Name) and owner.id in ("logger", "re")) or name == "text":
                parts = [node]
        for part in parts:
            ignored.update(id(sub) for sub in ast.walk(part))
    return ignored


def sentences_in(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    ignored = _ignored_nodes(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in ignored:
            continue
        if isinstance(node, ast.JoinedStr):
            ignored.update(id(value) for value in node.values)
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if (
            text in ALLOWED
            or text.startswith(("/", "%", RASA_FILE_HEAD))
            or " " not in text.strip()
        ):
            continue
        if SQL.match(text):
            continue
        if len(WORD.findall(text)) >= 3:
            found.append((node.lineno, text))
    return found


def test_no_sentence_is_left_in_python() -> None:
    left = [
        f"{path.relative_to(PROJECT_ROOT)}:{line}: {text!r}"
        for folder in SCANNED
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py"))
        for line, text in sentences_in(path)
    ]
    assert left == [], "move these into data/wording.yml:\n" + "\n".join(left)


def test_the_scan_finds_a_sentence(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""A docstring is fine."""\n'
        'logger.info("A log message is fine too")\n'
        'reply = f"I have opened ticket {number} for you."\n'
    )
    assert sentences_in(sample) == [(3, "I have opened ticket {} for you.")]


def test_every_text_is_in_english_and_german_with_the_same_placeholders() -> None:
    texts = wording.catalogue()
    assert len(texts) > 100
    for key, languages in texts.items():
        assert set(languages) == {"en", "de"}, key
        assert languages["en"].strip() and languages["de"].strip(), key
        assert wording.placeholders(languages["en"]) == wording.placeholders(languages["de"]), key


def test_german_texts_say_sie() -> None:
    informal = re.compile(r"\b(du|dich|dir|dein\w*)\b", re.IGNORECASE)
    assert [k for k, t in wording.catalogue().items() if informal.search(t["de"])] == []


@pytest.mark.parametrize(
    "broken, where",
    [
        ({"a": {"en": "Hi"}}, "a: needs exactly an en and a de text"),
        ({"a": {"en": "Hi {name}", "de": "Hallo"}}, "a: en and de use different placeholders"),
        ({"a": {"b": "text"}}, "a.b: expected a mapping"),
    ],
)
def test_a_malformed_catalogue_says_where(broken: dict, where: str) -> None:
    with pytest.raises(wording.WordingError, match=re.escape(where)):
        wording.parse_catalogue(broken)


def test_lookup_by_language_with_english_for_anything_else() -> None:
    assert wording.say("ticket.added_to", "de", ticket="TCK-000042") == (
        "Ich habe das zum Ticket TCK-000042 hinzugefügt."
    )
    assert wording.say("ticket.added_to", "fr", ticket="TCK-000042") == (
        "I've added this to ticket TCK-000042."
    )
    with pytest.raises(KeyError):
        wording.say("no.such.text")


def _keys_used_in_code() -> set[str]:
    """Every key passed as a literal to say()/button()/has(); f-string keys as prefixes."""
    used: set[str] = set()
    for folder in ("actions", "api", "bot"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and node.args):
                    continue
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name not in ("say", "button", "has"):
                    continue
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    used.add(first.value)
                elif isinstance(first, ast.JoinedStr) and isinstance(first.values[0], ast.Constant):
                    used.add(str(first.values[0].value) + "*")
    return used


def test_every_key_the_code_asks_for_exists() -> None:
    keys = set(wording.catalogue())
    used = _keys_used_in_code()
    assert len(used) > 50
    missing = [
        key
        for key in used
        if (key.endswith("*") and not any(k.startswith(key[:-1]) for k in keys))
        or (not key.endswith("*") and key not in keys)
    ]
    assert missing == []


def test_every_rasa_response_can_be_said_in_german() -> None:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    missing = [name for name in domain["responses"] if not wording.has(f"response.{name}")]
    assert missing == []
    # domain.yml keeps the English text (the fallback if the catalogue had none).
    for name, variants in domain["responses"].items():
        assert variants[0]["text"] == wording.say(f"response.{name}", "en"), name

"""Language detection: which language a customer writes in, and when a conversation switches."""

from __future__ import annotations

import pytest

from bot.language import DEFAULT, asked_for, detect, follow, from_hint, normalise


@pytest.mark.parametrize(
    "text",
    [
        "Mein Fernseher zeigt kein Bild",
        "Internet geht nicht",
        "hat nicht geholfen",
        "Die Lampe am Router blinkt rot und das WLAN ist weg",
        "wlan geht nich mehr seit dem stromausfall",
        "Ich möchte mit einem Menschen sprechen",
        "Gibt es gerade eine Stoerung? Bei uns geht nix mehr",
    ],
)
def test_german_messages_are_german(text: str) -> None:
    guess = detect(text)
    assert guess.language == "de" and guess.confidence >= 0.6
    assert follow("en", text) == "de"


@pytest.mark.parametrize(
    "text",
    [
        "my internet is not working",
        "the router light is blinking red and nothing loads",
        "I'd like to talk to a person",
        "it didn't help",
        "cable box is frozen again",
        "Hi, my TV shows no signal since this morning",
    ],
)
def test_english_messages_are_english(text: str) -> None:
    guess = detect(text)
    assert guess.language == "en" and guess.confidence >= 0.6
    assert follow("de", text) == "en"


@pytest.mark.parametrize(
    "text", ["ok", "Router", "ja", "WLAN", "TV", "Fritzbox 7590", "12345", "👍"]
)
def test_short_or_ambiguous_messages_keep_the_language(text: str) -> None:
    assert follow("de", text) == "de"
    assert follow("en", text) == "en"


def test_words_both_languages_share_count_for_neither() -> None:
    assert detect("Router WLAN Internet App Update").language is None
    assert detect("").confidence == 0.0


def test_a_mixed_message_does_not_switch() -> None:
    mixed = "Telekom Störung? no internet here in Köln since the afternoon"
    assert follow("de", mixed) == "de"


def test_english_contractions_and_german_umlauts_are_cues() -> None:
    assert detect("doesn't").language == "en"
    assert detect("Fernbedienung reagiert überhaupt nicht").language == "de"
    assert detect("wie geht's").language == "de"


@pytest.mark.parametrize(
    ("hint", "expected"),
    [("de", "de"), ("de-AT", "de"), ("DE_ch", "de"), ("en-GB", "en"), ("fr", None), ("", None)],
)
def test_hints_are_normalised(hint: str, expected: str) -> None:
    assert normalise(hint) == expected
    assert from_hint(hint) == (expected or DEFAULT)


def test_no_or_bad_hint_starts_in_english() -> None:
    assert from_hint(None) == "en" and from_hint(42) == "en"
    assert follow(None, "ok") == "en" and follow("xx", "ok") == "en"


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("sorry, can we talk in english?", "en"),
        ("English please", "en"),
        ("Können wir auf Deutsch weitermachen?", "de"),
        ("Sprechen Sie Deutsch?", "de"),
        ("deutsch bitte", "de"),
        # About a device's own language, or no request: None.
        ("my tv box menu switched to german, can you help", None),
        ("the german channels are missing", None),
        ("I am German but I live in London", None),
        # The request with more to say after it: that message, in that language.
        ("Entschuldigung, ich schreibe lieber auf Deutsch: die Lämpchen blinken rot", None),
        ("Could you please speak English with me?", "en"),
    ],
)
def test_a_request_for_the_other_language_is_heard(text: str, asked: str | None) -> None:
    assert asked_for(text) == asked
    if asked is not None:
        other = "de" if asked == "en" else "en"
        assert follow(other, text) == asked

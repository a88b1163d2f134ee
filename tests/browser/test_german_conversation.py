"""A German customer, in Chromium on the real stack: problem → steps → ticket, all in German.

Also a customer who starts in English and switches to German halfway: from the
switch on, the assistant answers in German.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import CHIPS, open_widget, say, wait_quiet
from tests.browser.test_widget_language_stack import conversation_of
from tests.e2e.helpers import query

pytestmark = pytest.mark.browser

REPLY_TIMEOUT = 30_000
BOT = "nw-support-chat .log .msg.bot[data-id]"
# Words that give English away; none of them is German.
ENGLISH = re.compile(
    r"\b(the|your|you|please|is|are|what|which|let's|sorry|working|lights?|router's|"
    r"thanks|yes|no|ticket has|technician will)\b",
    re.IGNORECASE,
)


def bot_texts(page) -> list[str]:
    return [t.strip() for t in page.locator(BOT).all_inner_texts()]


def click_chip(page, title: str) -> None:
    chip = page.locator(f"{CHIPS}:enabled", has_text=title).first
    expect(chip).to_be_visible(timeout=REPLY_TIMEOUT)
    chip.click()


def test_a_german_customer_is_helped_in_german_up_to_a_ticket(page, stack, shot):
    open_widget(page, stack.base_url + "/?lang=de")
    say(page, "Hallo, mein Internet geht seit heute Morgen nicht mehr")
    expect(page.locator(BOT).last).to_contain_text(
        "Was zeigen die Lämpchen?", timeout=REPLY_TIMEOUT
    )
    click_chip(page, "Orange, rot oder blinkend")
    expect(page.locator(BOT).last).to_contain_text("Funktioniert Ihr Internet jetzt?")
    click_chip(page, "Nein")
    expect(page.locator(BOT, has_text="Starten wir den Router neu")).to_have_count(
        1, timeout=REPLY_TIMEOUT
    )
    click_chip(page, "Nein")
    expect(page.locator(BOT, has_text="TCK-").first).to_be_visible(timeout=REPLY_TIMEOUT)
    wait_quiet(page)
    shot(page, "stack-german-ticket")

    texts = bot_texts(page)
    print("\n".join(texts))  # the transcript, for reading
    english = [t for t in texts if ENGLISH.search(t)]
    assert english == [], f"English reached a German customer: {english}"
    chips = [t.strip() for t in page.locator(CHIPS).all_inner_texts()]
    assert not [c for c in chips if ENGLISH.search(c)], chips

    conversation_id = conversation_of(page, stack)
    tickets = query(
        stack, "SELECT domain FROM tickets WHERE conversation_id = :c", c=conversation_id
    )
    assert tickets == [("internet",)]
    ((language,),) = query(
        stack, "SELECT language FROM conversations WHERE id = :c", c=conversation_id
    )
    assert language == "de"
    assert page.js_errors == []


def test_a_customer_who_switches_to_german_is_answered_in_german(page, stack, shot):
    open_widget(page, stack.base_url + "/?lang=en")
    say(page, "my internet is not working since this morning")
    expect(page.locator(BOT).last).to_contain_text(
        "What do its lights show?", timeout=REPLY_TIMEOUT
    )
    say(page, "Entschuldigung, ich schreibe lieber auf Deutsch: die Lämpchen blinken rot")
    expect(page.locator(BOT).last).to_contain_text(
        "Funktioniert Ihr Internet jetzt?", timeout=REPLY_TIMEOUT
    )
    shot(page, "stack-switch-to-german")
    conversation_id = conversation_of(page, stack)
    ((language,),) = query(
        stack, "SELECT language FROM conversations WHERE id = :c", c=conversation_id
    )
    assert language == "de"
    assert page.js_errors == []

"""The German demo page and the assistant's rating request, in Chromium on the real stack."""

from __future__ import annotations

import hashlib

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import CHIPS, open_widget, say, wait_all_sent
from tests.e2e.helpers import query

pytestmark = pytest.mark.browser

REPLY_TIMEOUT = 30_000
RATING = "nw-support-chat .end form.rate"


def conversation_of(page, stack) -> str:
    """The conversation whose token the widget keeps."""
    token = page.evaluate(
        """() => { for (let i = 0; i < localStorage.length; i++) {
            const key = localStorage.key(i);
            if (key.endsWith(':token')) return JSON.parse(localStorage.getItem(key)); } }"""
    )
    digest = hashlib.sha256(token.encode()).hexdigest()
    ((conversation_id,),) = query(
        stack, "SELECT id FROM conversations WHERE token_hash = :h", h=digest
    )
    return conversation_id


def test_the_german_demo_page_starts_a_german_conversation(page, stack, shot):
    open_widget(page, stack.base_url + "/?lang=de")
    expect(page.locator("h1")).to_have_text("Wie können wir helfen?")
    expect(page.locator("nw-support-chat h2")).to_have_text("Northwind Kundenservice")
    expect(page.locator("nw-support-chat .human")).to_have_text("Mit einem Menschen sprechen")
    say(page, "Router")  # says nothing about the language: the hint stays
    wait_all_sent(page)
    conversation_id = conversation_of(page, stack)
    ((language,),) = query(
        stack, "SELECT language FROM conversations WHERE id = :c", c=conversation_id
    )
    assert language == "de"
    shot(page, "stack-demo-de")
    assert page.js_errors == []


def test_the_assistant_asks_for_a_rating_after_solving_the_problem(page, stack, shot):
    open_widget(page, stack.base_url + "/")
    say(page, "my internet is not working")
    green = page.locator(f"{CHIPS}:enabled", has_text="Green")
    expect(green).to_be_visible(timeout=REPLY_TIMEOUT)
    green.click()
    expect(page.locator(f"{CHIPS}:enabled", has_text="Yes").first).to_be_visible(
        timeout=REPLY_TIMEOUT
    )
    expect(page.locator(RATING)).to_have_count(0)
    say(page, "it works now")
    expect(page.locator(RATING)).to_be_visible(timeout=REPLY_TIMEOUT)
    last_bot = page.locator("nw-support-chat .log .msg.bot[data-id]").last
    expect(last_bot).to_contain_text("working again")
    shot(page, "stack-rating-after-bot")
    page.locator("nw-support-chat .star").nth(4).click()
    page.locator(f"{RATING} button.primary").click()
    expect(page.locator("nw-support-chat .thanks")).to_be_visible()
    conversation_id = conversation_of(page, stack)
    page.wait_for_timeout(500)  # the rating frame is on its way
    rows = query(stack, "SELECT score FROM ratings WHERE conversation_id = :c", c=conversation_id)
    assert rows == [(5,)]
    assert page.js_errors == []

"""The chat widget in Chromium against the real stack: API gateway, Rasa and the actions."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import (
    CHIPS,
    CUSTOMER,
    INPUT,
    LAUNCHER,
    LOG_MESSAGES,
    PANEL,
    SERVER_MESSAGES,
    XSS,
    customer_texts,
    focused_in_widget,
    open_widget,
    say,
    wait_all_sent,
    wait_online,
    wait_quiet,
)

pytestmark = pytest.mark.browser

REPLY = "nw-support-chat .log .msg.bot[data-id], nw-support-chat .log .msg.system"
REPLY_TIMEOUT = 30_000  # a cold Rasa answers the first message more slowly


def enabled_chips(page):
    return page.locator(f"{CHIPS}:enabled")


def server_ids(page) -> list[str]:
    return page.locator(SERVER_MESSAGES).evaluate_all(
        "els => els.map(e => e.getAttribute('data-id'))"
    )


def test_full_conversation_by_clicks_and_typing(page, stack, shot):
    open_widget(page, stack.base_url + "/")
    shot(page, "stack-open")
    say(page, "my internet is not working")
    expect(enabled_chips(page).first).to_be_visible(timeout=REPLY_TIMEOUT)
    assert enabled_chips(page).count() >= 2
    expect(page.locator("nw-support-chat .log .msg.bot[data-id] time").first).to_be_visible()
    shot(page, "stack-buttons")
    bot_before = page.locator("nw-support-chat .log .msg.bot[data-id]").count()
    chip = enabled_chips(page).first
    title = chip.inner_text()
    chip.click()
    expect(page.locator(f"{CUSTOMER} .bub").last).to_have_text(title)
    expect(page.locator(f"{CHIPS}.sel")).to_have_count(1)
    # The assistant answers the choice (possibly in several messages).
    bot = page.locator("nw-support-chat .log .msg.bot[data-id]")
    expect(bot.nth(bot_before)).to_be_visible(timeout=REPLY_TIMEOUT)
    # Typing instead of clicking works too, and retires the offered buttons.
    offered = page.locator(CHIPS).count()
    if enabled_chips(page).count():
        say(page, "no")
        for k in range(offered):  # later replies may bring new buttons; these are retired
            expect(page.locator(CHIPS).nth(k)).to_be_disabled()
    wait_all_sent(page)
    ids = server_ids(page)
    assert len(ids) == len(set(ids))
    shot(page, "stack-conversation")
    assert page.js_errors == []


def test_reload_keeps_history(page, stack):
    open_widget(page, stack.base_url + "/")
    say(page, "my internet is not working")
    expect(enabled_chips(page).first).to_be_visible(timeout=REPLY_TIMEOUT)
    wait_quiet(page)  # let any trailing bot message arrive
    before = page.locator(LOG_MESSAGES).all_inner_texts()
    page.reload()
    wait_online(page)  # the panel was open before the reload, so it reopens
    expect(page.locator(LOG_MESSAGES)).to_have_count(len(before))
    assert page.locator(LOG_MESSAGES).all_inner_texts() == before
    assert enabled_chips(page).count() >= 2  # the open question still has its buttons


def test_api_restart_reconnects_and_resends_without_duplicates(page, stack, shot):
    open_widget(page, stack.base_url + "/")
    say(page, "my internet is not working")
    expect(enabled_chips(page).first).to_be_visible(timeout=REPLY_TIMEOUT)
    stack.stop_api()
    try:
        expect(page.locator(PANEL)).to_have_attribute("data-conn", "reconnecting")
        expect(page.locator("nw-support-chat .banner")).to_be_visible()
        say(page, "it's blinking orange")
        expect(page.locator(f"{CUSTOMER}.pending")).to_have_count(1)
        shot(page, "stack-reconnecting")
    finally:
        stack.start_api()
    wait_online(page, timeout=45_000)
    wait_all_sent(page)
    texts = customer_texts(page)
    assert texts.count("it's blinking orange") == 1
    assert texts.count("my internet is not working") == 1
    ids = server_ids(page)
    assert len(ids) == len(set(ids))
    # The server's own record agrees with what the customer sees: no loss, no duplicates.
    wait_quiet(page)
    before = page.locator(LOG_MESSAGES).all_inner_texts()
    page.reload()
    wait_online(page)
    expect(page.locator(LOG_MESSAGES)).to_have_count(len(before))
    assert customer_texts(page) == texts


def test_restart_while_a_message_is_in_flight(page, stack):
    open_widget(page, stack.base_url + "/")
    say(page, "my internet is not working")
    stack.restart_api()
    wait_online(page, timeout=45_000)
    wait_all_sent(page)
    assert customer_texts(page).count("my internet is not working") == 1
    page.reload()
    wait_online(page)
    assert customer_texts(page).count("my internet is not working") == 1


def test_html_message_renders_as_text(page, stack, shot):
    open_widget(page, stack.base_url + "/")
    say(page, XSS)
    wait_all_sent(page)
    expect(page.locator(f"{CUSTOMER} .bub").last).to_have_text(XSS)
    expect(page.locator(REPLY).first).to_be_visible(timeout=REPLY_TIMEOUT)
    page.reload()  # and again when it comes back from the server's history
    wait_online(page)
    expect(page.locator(f"{CUSTOMER} .bub").last).to_have_text(XSS)
    assert page.locator("nw-support-chat .log img, nw-support-chat .log script").count() == 0
    assert page.locator("img").count() == 0
    shot(page, "stack-html-as-text")
    assert page.js_errors == []  # no alert() dialog was opened


def test_keyboard_only(page, stack, shot):
    page.goto(stack.base_url + "/")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement?.tagName === 'NW-SUPPORT-CHAT'"):
            break
    expect(page.locator(LAUNCHER)).to_be_focused()
    page.keyboard.press("Enter")
    wait_online(page)
    expect(page.locator(INPUT)).to_be_focused()
    page.keyboard.type("my internet is not working")
    page.keyboard.press("Enter")
    expect(enabled_chips(page).first).to_be_visible(timeout=REPLY_TIMEOUT)
    for _ in range(15):
        page.keyboard.press("Shift+Tab")
        if "chip" in focused_in_widget(page)["class"]:
            break
    chosen = focused_in_widget(page)["text"]
    assert chosen
    page.keyboard.press("Enter")
    expect(page.locator(f"{CUSTOMER} .bub").last).to_have_text(chosen)
    expect(page.locator(INPUT)).to_be_focused()
    shot(page, "stack-keyboard")
    page.keyboard.press("Escape")
    expect(page.locator(PANEL)).to_be_hidden()
    expect(page.locator(LAUNCHER)).to_be_focused()


def test_talk_to_a_person(page, stack, shot):
    open_widget(page, stack.base_url + "/")
    page.locator("nw-support-chat .human").click()
    expect(page.locator(f"{CUSTOMER} .bub").last).to_have_text("I'd like to talk to a person")
    wait_all_sent(page)
    expect(page.locator(REPLY).first).to_be_visible(timeout=REPLY_TIMEOUT)
    shot(page, "stack-talk-to-a-person")


def test_rasa_down_gives_a_clear_message(page, stack, shot):
    open_widget(page, stack.base_url + "/")
    stack.stop_rasa()
    try:
        say(page, "my tv has no signal")
        wait_all_sent(page)  # stored even though the assistant is away
        expect(page.locator("nw-support-chat .log .msg.system")).to_have_count(
            1, timeout=REPLY_TIMEOUT
        )
        shot(page, "stack-assistant-unavailable")
    finally:
        stack.start_rasa()

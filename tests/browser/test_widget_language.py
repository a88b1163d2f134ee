"""The widget's language, the person button during an agent's chat, and the rating request.

Against the fake gateway (tests/browser/fake_server.py) in real headless Chromium.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import INPUT, open_widget, post, say, wait_all_sent

pytestmark = pytest.mark.browser

HUMAN = "nw-support-chat .human"
RATING = "nw-support-chat .end form.rate"


def german_texts_shown(page) -> None:
    expect(page.locator(HUMAN)).to_have_text("Mit einem Menschen sprechen")
    expect(page.locator(INPUT)).to_have_attribute("placeholder", "Nachricht eingeben…")
    expect(page.locator("nw-support-chat .st span:not(.dot)")).to_have_text(
        "Virtueller Assistent · online"
    )
    expect(page.locator("nw-support-chat .log .msg.bot").first).to_contain_text(
        "Beschreiben Sie Ihr Problem"
    )
    expect(page.locator("nw-support-chat .root")).to_have_attribute("lang", "de")


def test_data_lang_de_gives_german_texts_and_hints_german(page, fake) -> None:
    fake.gateway.embed_page = f"""<!doctype html><html lang="en"><head><title>shop</title></head>
        <body><script src="{fake.base_url}/widget/widget.js" data-lang="de" async></script>
        </body></html>"""
    open_widget(page, fake.base_url + "/_test/page")
    german_texts_shown(page)
    assert fake.gateway.hellos[-1]["language"] == "de"


def test_a_german_browser_gets_german_texts_on_an_english_page(browser, fake) -> None:
    context = browser.new_context(locale="de-DE")
    try:
        page = context.new_page()
        assert page.evaluate("navigator.language") == "de-DE"
        open_widget(page, fake.base_url + "/")  # the English demo page, no data-lang
        german_texts_shown(page)
        assert fake.gateway.hellos[-1]["language"] == "de"
    finally:
        context.close()


def test_an_english_browser_hints_english(page, fake) -> None:
    open_widget(page, fake.base_url + "/")
    expect(page.locator(HUMAN)).to_have_text("Talk to a person")
    assert fake.gateway.hellos[-1]["language"] == "en"


def test_the_person_button_is_hidden_while_a_person_has_the_chat(page, fake) -> None:
    open_widget(page, fake.base_url + "/")
    expect(page.locator(HUMAN)).to_be_visible()
    page.locator(HUMAN).click()
    post(fake.base_url, "/_test/push", {"type": "owner", "owner": "queued"})
    expect(page.locator(HUMAN)).to_be_hidden()
    post(fake.base_url, "/_test/push", {"type": "owner", "owner": "agent", "agent_name": "Anna"})
    expect(page.locator("nw-support-chat .st span:not(.dot)")).to_have_text("Chatting with Anna")
    expect(page.locator(HUMAN)).to_be_hidden()
    post(fake.base_url, "/_test/push", {"type": "owner", "owner": "bot"})
    expect(page.locator(HUMAN)).to_be_visible()
    # An agent's message alone also means a person has the chat.
    post(fake.base_url, "/_test/push", {"sender": "agent", "agent_name": "Anna", "text": "Hi"})
    expect(page.locator(HUMAN)).to_be_hidden()


def test_after_the_assistant_solved_it_the_rating_card_follows_its_turn(page, fake) -> None:
    open_widget(page, fake.base_url + "/")
    say(page, "hello")
    wait_all_sent(page)
    expect(page.locator("nw-support-chat .typing")).to_be_hidden()
    # The server's order in a resolving turn: typing, rating_request, the reply, end of turn.
    post(fake.base_url, "/_test/push", {"type": "typing", "sender": "bot", "active": True})
    post(fake.base_url, "/_test/push", {"type": "rating_request"})
    post(fake.base_url, "/_test/push", {"sender": "bot", "text": "Great, it works again!"})
    page.wait_for_timeout(300)
    expect(page.locator(RATING)).to_have_count(0)  # not in the middle of the turn
    post(fake.base_url, "/_test/push", {"type": "typing", "sender": "bot", "active": False})
    expect(page.locator(RATING)).to_be_visible()
    expect(page.locator(f"{RATING} legend")).to_have_text("How did we do?")
    # The chat is still open: the customer can go on, or rate.
    expect(page.locator("nw-support-chat .end .link", has_text="Continue chatting")).to_be_visible()
    page.locator("nw-support-chat .star").nth(3).click()
    page.locator(f"{RATING} button.primary").click()
    expect(page.locator("nw-support-chat .thanks")).to_be_visible()
    assert fake.gateway.ratings[-1]["score"] == 4
    # A second request (it would not come from the server) does not ask again.
    post(fake.base_url, "/_test/push", {"type": "rating_request"})
    page.wait_for_timeout(300)
    expect(page.locator(f"{RATING} fieldset")).to_have_count(0)

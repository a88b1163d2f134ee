"""The chat widget in Chromium against the fake gateway: rendering, safety, resilience, a11y."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import (
    CHIPS,
    CUSTOMER,
    INPUT,
    LAUNCHER,
    LOG_MESSAGES,
    PANEL,
    XSS,
    focused_in_widget,
    open_widget,
    post,
    say,
    wait_all_sent,
    wait_online,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def gw(fake):
    """The fake gateway, with its failure switches reset after each test."""
    yield fake
    g = fake.gateway
    g.refuse = g.drop_before_ack = False
    g.reply_delay = 0.15


def test_conversation_with_buttons_and_typing(page, gw, shot):
    gw.gateway.reply_delay = 1.0
    open_widget(page, gw.base_url + "/")
    say(page, "my internet is not working")
    expect(page.locator("nw-support-chat .typing")).to_be_visible()
    expect(page.locator(CHIPS)).to_have_count(3)
    expect(page.locator("nw-support-chat .typing")).to_be_hidden()
    bot = page.locator("nw-support-chat .log .msg.bot[data-id]").first
    expect(bot.locator("strong")).to_have_count(1)
    expect(bot.locator("time")).to_have_count(1)
    shot(page, "fake-buttons")
    page.locator(CHIPS).nth(1).click()
    expect(page.locator(f"{CUSTOMER} .bub").last).to_have_text("Blinking orange")
    expect(page.locator(f"{CHIPS}:disabled")).to_have_count(3)
    expect(page.locator(f"{CHIPS}.sel")).to_have_attribute("aria-pressed", "true")
    sent = [f for f in gw.gateway.received if f["text"] == "Blinking orange"]
    assert sent and sent[-1]["payload"] == '/inform{"choice":"orange"}'


def test_typing_instead_of_clicking_disables_buttons(page, gw):
    open_widget(page, gw.base_url + "/")
    say(page, "my internet is not working")
    expect(page.locator(CHIPS)).to_have_count(3)
    say(page, "the lights are purple")
    expect(page.locator(f"{CHIPS}:disabled")).to_have_count(3)
    expect(page.locator(INPUT)).to_be_enabled()


def test_html_renders_as_text_and_links_are_safe(page, gw, shot):
    open_widget(page, gw.base_url + "/")
    say(page, XSS)
    wait_all_sent(page)
    post(
        gw.base_url,
        "/_test/push",
        {
            "sender": "agent",
            "agent_name": "Dana <b>Admin</b>",
            "text": XSS
            + "\n- see https://example.com/help.\n- [bad](javascript:alert(1)) and **bold**",
        },
    )
    agent = page.locator("nw-support-chat .log .msg.agent")
    expect(agent).to_have_count(1)
    expect(agent.locator(".who")).to_have_text("Dana <b>Admin</b>")
    expect(agent.locator(".bub p").first).to_have_text(XSS)
    assert (
        page.locator(
            "nw-support-chat .log img, nw-support-chat .log script, nw-support-chat .log b"
        ).count()
        == 0
    )
    expect(page.locator(f"{CUSTOMER} .bub").last).to_have_text(XSS)
    links = agent.locator("a")
    expect(links).to_have_count(1)
    expect(links.first).to_have_attribute("href", "https://example.com/help")
    expect(links.first).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(links.first).to_have_attribute("target", "_blank")
    expect(agent.locator("li")).to_have_count(2)
    expect(agent.locator("strong")).to_have_text("bold")
    page.wait_for_timeout(300)
    shot(page, "fake-html-as-text")
    assert page.js_errors == []


def test_agent_and_system_messages_look_distinct(page, gw):
    open_widget(page, gw.base_url + "/")
    page.locator("nw-support-chat .human").click()
    expect(page.locator("nw-support-chat .log .msg.system")).to_have_count(1)
    assert gw.gateway.received[-1]["payload"] == "/request_human"
    post(gw.base_url, "/_test/push", {"sender": "agent", "text": "Hi, I'm taking over."})
    agent = page.locator("nw-support-chat .log .msg.agent")
    expect(agent.locator(".who")).to_have_text("Agent")
    styles = page.evaluate("""() => {
        const r = document.querySelector('nw-support-chat').shadowRoot;
        return ['.msg.bot', '.msg.agent', '.msg.system', '.msg.customer'].map(
            s => getComputedStyle(r.querySelector(s + ' .bub')).backgroundColor);
    }""")
    assert len(set(styles)) == 4


def test_reload_keeps_history(page, gw):
    open_widget(page, gw.base_url + "/")
    say(page, "my internet is not working")
    expect(page.locator(CHIPS)).to_have_count(3)
    before = page.locator(LOG_MESSAGES).all_inner_texts()
    page.reload()
    wait_online(page)  # the panel was open, so it reopens
    expect(page.locator(CHIPS)).to_have_count(3)
    assert page.locator(LOG_MESSAGES).all_inner_texts() == before


def test_offline_messages_are_queued_and_sent_once(page, gw, shot):
    g = gw.gateway
    open_widget(page, gw.base_url + "/")
    say(page, "first")
    wait_all_sent(page)
    g.refuse = True
    post(gw.base_url, "/_test/drop", {})
    expect(page.locator(PANEL)).to_have_attribute("data-conn", "reconnecting")
    expect(page.locator("nw-support-chat .banner")).to_be_visible()
    say(page, "typed while offline")
    expect(page.locator(f"{CUSTOMER}.pending")).to_have_count(1)
    shot(page, "fake-reconnecting")
    page.reload()  # the outbox survives a reload too
    expect(page.locator(f"{CUSTOMER}.pending")).to_have_count(1)
    g.refuse = False
    wait_online(page, timeout=40_000)
    wait_all_sent(page)
    expect(page.locator(f"{CUSTOMER} .bub")).to_have_text(["first", "typed while offline"])
    stored = [
        m
        for c in g.conversations.values()
        for m in c.messages
        if m["text"] == "typed while offline"
    ]
    assert len(stored) == 1


def test_lost_ack_is_resent_without_duplicate(page, gw):
    g = gw.gateway
    open_widget(page, gw.base_url + "/")
    g.drop_before_ack = True
    say(page, "hello there")
    wait_online(page, timeout=40_000)
    wait_all_sent(page)
    expect(page.locator(f"{CUSTOMER} .bub")).to_have_text(["hello there"])
    # Either the replayed history or the resend's duplicate ack confirms it; stored once either way.
    stored = [m for c in g.conversations.values() for m in c.messages if m["text"] == "hello there"]
    assert len(stored) == 1


def test_invalid_session_starts_a_new_conversation(page, gw):
    page.goto(gw.base_url + "/")
    page.evaluate("""() => { for (const k of Object.keys(localStorage))
        if (k.endsWith(':token')) localStorage.removeItem(k); }""")
    key = page.evaluate(
        "() => 'nwchat:' + location.origin.replace('http', 'ws') + '/ws/chat:token'"
    )
    page.evaluate("k => localStorage.setItem(k, JSON.stringify('not-a-real-token'))", key)
    page.reload()
    page.locator(LAUNCHER).click()
    wait_online(page)
    token = page.evaluate("k => JSON.parse(localStorage.getItem(k))", key)
    assert token and token != "not-a-real-token"
    say(page, "works again")
    wait_all_sent(page)


def test_keyboard_only(page, gw, shot):
    page.goto(gw.base_url + "/")
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
    expect(page.locator(CHIPS)).to_have_count(3)
    # From the input, Shift+Tab walks back through the conversation to the newest chip.
    for _ in range(10):
        page.keyboard.press("Shift+Tab")
        if "chip" in focused_in_widget(page)["class"]:
            break
    chosen = focused_in_widget(page)["text"]
    page.keyboard.press("Enter")
    expect(page.locator(f"{CUSTOMER} .bub").last).to_have_text(chosen)
    expect(page.locator(INPUT)).to_be_focused()
    shot(page, "fake-keyboard")
    page.keyboard.press("Escape")
    expect(page.locator(PANEL)).to_be_hidden()
    expect(page.locator(LAUNCHER)).to_be_focused()
    expect(page.locator(LAUNCHER)).to_have_attribute("aria-expanded", "false")


def test_live_region_announces_replies(page, gw):
    open_widget(page, gw.base_url + "/")
    say(page, "my internet is not working")
    live = page.locator("nw-support-chat [aria-live=polite]")
    expect(live).to_contain_text("What do the lights show?")


def test_rating_and_transcript(page, gw, shot):
    open_widget(page, gw.base_url + "/")
    say(page, "my internet is not working")
    expect(page.locator(CHIPS)).to_have_count(3)
    page.locator("nw-support-chat .hd .ib").nth(1).click()  # End chat
    expect(page.locator("nw-support-chat .end")).to_be_visible()
    expect(page.locator("nw-support-chat .end input[type=radio]").first).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # 4 of 5
    page.locator("nw-support-chat .end textarea").fill("Quick and clear")
    shot(page, "fake-rating")
    page.locator("nw-support-chat .end .primary").click()
    expect(page.locator("nw-support-chat .thanks")).to_be_visible()
    page.wait_for_function("n => n > 0", arg=len(gw.gateway.ratings))
    assert {"type": "rating", "score": 4, "comment": "Quick and clear"} in gw.gateway.ratings
    with page.expect_download() as info:
        page.locator("nw-support-chat .hd .ib").first.click()
    download = info.value
    assert re.fullmatch(r"chat-transcript-\d{4}-\d{2}-\d{2}\.txt", download.suggested_filename)
    text = open(download.path(), encoding="utf-8").read()
    assert "You: my internet is not working" in text
    assert "Assistant: Sorry to hear that." in text


@pytest.mark.parametrize("width,height,name", [(320, 640, "narrow-320"), (640, 400, "zoom-200")])
def test_small_screens(browser, gw, width, height, name, shot):
    # 200% zoom of a 1280x800 window leaves a 640x400 CSS-pixel viewport.
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    try:
        open_widget(page, gw.base_url + "/")
        say(page, "my internet is not working")
        expect(page.locator(CHIPS)).to_have_count(3)
        box = page.locator(PANEL).bounding_box()
        assert box["x"] >= 0 and box["y"] >= 0
        assert box["x"] + box["width"] <= width and box["y"] + box["height"] <= height
        for sel in (INPUT, "nw-support-chat .human", "nw-support-chat .hd .ib >> nth=2"):
            b = page.locator(sel).bounding_box()
            assert b and b["x"] >= 0 and b["x"] + b["width"] <= width, sel
        assert page.evaluate(
            "() => document.querySelector('nw-support-chat').shadowRoot"
            ".querySelector('.scroll').scrollWidth <= innerWidth"
        )
        shot(page, f"fake-{name}")
    finally:
        ctx.close()


def test_embedding_options_and_style_isolation(page, gw, shot):
    embed = f"""<!doctype html><html lang="en"><head><style>
        button {{ background: hotpink !important; }} * {{ font-family: serif; }}</style></head>
        <body><h1>A shop</h1>
        <script src="{gw.base_url}/widget/widget.js" data-server="{gw.base_url}"
          data-title="Hilfe" data-lang="de" data-color="#ffd54f" data-position="bottom-left"
          data-greeting="Guten Tag!" async></script>
        </body></html>"""
    # A page on another origin than the gateway's (localhost vs 127.0.0.1).
    gw.gateway.embed_page = embed
    open_widget(page, gw.base_url.replace("127.0.0.1", "localhost") + "/_test/page")
    expect(page.locator("nw-support-chat h2")).to_have_text("Hilfe")
    expect(page.locator("nw-support-chat .human")).to_have_text("Mit einem Menschen sprechen")
    expect(page.locator(INPUT)).to_have_attribute("placeholder", "Nachricht eingeben…")
    expect(page.locator("nw-support-chat .log .msg.bot").first).to_have_text(
        re.compile("Guten Tag!")
    )
    box = page.locator(PANEL).bounding_box()
    assert box["x"] < 100  # bottom-left
    send_bg, send_fg = page.evaluate("""() => { const s = getComputedStyle(
        document.querySelector('nw-support-chat').shadowRoot.querySelector('.send'));
        return [s.backgroundColor, s.color]; }""")
    assert send_bg == "rgb(255, 213, 79)"  # the page's hotpink does not leak in
    assert send_fg == "rgb(17, 17, 17)"  # dark text on a light primary colour keeps contrast
    say(page, "Hallo")
    wait_all_sent(page)
    shot(page, "fake-embedded-de")


def test_closed_conversation_offers_rating_and_continues_in_a_new_one(page, gw):
    open_widget(page, gw.base_url + "/")
    say(page, "hello")
    wait_all_sent(page)
    post(gw.base_url, "/_test/close", {})
    expect(page.locator("nw-support-chat .end")).to_be_visible()
    expect(page.locator("nw-support-chat .st")).to_contain_text("Conversation ended")
    say(page, "one more thing")
    expect(page.locator("nw-support-chat .divider")).to_have_count(1)
    wait_all_sent(page)
    expect(page.locator(f"{CUSTOMER} .bub")).to_have_text(["hello", "one more thing"])
    expect(page.locator("nw-support-chat .end")).to_be_hidden()
    homes = [
        c
        for c in gw.gateway.conversations.values()
        if any(m["text"] == "one more thing" for m in c.messages)
    ]
    assert len(homes) == 1 and homes[0].owner == "bot"


def test_unread_badge_while_closed(page, gw):
    open_widget(page, gw.base_url + "/")
    say(page, "hello")
    expect(page.locator("nw-support-chat .log .msg.bot[data-id]")).to_have_count(1)
    page.locator("nw-support-chat .hd .ib").nth(2).click()  # close
    expect(page.locator(PANEL)).to_be_hidden()
    frame = {"sender": "agent", "agent_name": "Sam", "text": "Still there?"}
    post(gw.base_url, "/_test/push", frame)
    expect(page.locator("nw-support-chat .badge")).to_have_text("1")
    expect(page.locator(LAUNCHER)).to_have_attribute("aria-label", re.compile(r"\(1 new message\)"))
    page.locator(LAUNCHER).click()
    expect(page.locator("nw-support-chat .badge")).to_be_hidden()
    expect(page.locator("nw-support-chat .st")).to_contain_text("Chatting with Sam")


def test_agent_takeover_typing_both_ways_and_rating_request(page, gw, shot):
    open_widget(page, gw.base_url + "/")
    say(page, "hello")
    wait_all_sent(page)
    # The assistant's answer (and the end of its typing) first: on a busy machine its
    # "typing: off" could otherwise arrive after the agent's "typing: on" below.
    expect(page.locator("nw-support-chat .log .msg.bot[data-id]")).to_have_count(1)
    post(gw.base_url, "/_test/push", {"type": "owner", "owner": "agent", "agent_name": "Anna"})
    expect(page.locator("nw-support-chat .st")).to_contain_text("Chatting with Anna")
    typing = {"type": "typing", "sender": "agent", "active": True, "agent_name": "Anna"}
    post(gw.base_url, "/_test/push", typing)
    expect(page.locator("nw-support-chat .typing")).to_be_visible()
    expect(page.locator("nw-support-chat .typing .sr")).to_have_text("Anna is typing…")
    post(gw.base_url, "/_test/push", {"sender": "agent", "agent_name": "Anna", "text": "Hi!"})
    expect(page.locator("nw-support-chat .typing")).to_be_hidden()
    page.locator(INPUT).press_sequentially("thanks")
    say(page, "thanks, all good")
    wait_all_sent(page)
    kinds = [f["active"] for f in gw.gateway.customer_typing]
    assert kinds[:1] == [True] and kinds[-1] is False
    post(gw.base_url, "/_test/push", {"type": "rating_request"})
    expect(page.locator("nw-support-chat .end")).to_be_visible()
    page.locator("nw-support-chat .end .star").nth(4).click()
    page.locator("nw-support-chat .end .primary").click()
    expect(page.locator("nw-support-chat .thanks")).to_be_visible()
    shot(page, "fake-agent-rated")
    page.wait_for_function("() => !Object.keys(localStorage).some(k => k.endsWith(':rating'))")
    assert gw.gateway.ratings[-1]["score"] == 5


def test_the_assistants_end_of_turn_does_not_hide_an_agent_who_is_typing(page, gw):
    open_widget(page, gw.base_url + "/")
    say(page, "hello")
    wait_all_sent(page)
    expect(page.locator("nw-support-chat .log .msg.bot[data-id]")).to_have_count(1)
    post(gw.base_url, "/_test/push", {"type": "owner", "owner": "agent", "agent_name": "Anna"})
    typing = {"type": "typing", "sender": "agent", "active": True, "agent_name": "Anna"}
    post(gw.base_url, "/_test/push", typing)
    expect(page.locator("nw-support-chat .typing .sr")).to_have_text("Anna is typing…")
    # A late "typing: off" from the assistant's turn, then a system line from the server.
    post(gw.base_url, "/_test/push", {"type": "typing", "sender": "bot", "active": False})
    post(gw.base_url, "/_test/push", {"sender": "bot", "text": "Anna has joined the chat."})
    expect(page.locator("nw-support-chat .log .msg.bot[data-id]")).to_have_count(2)
    expect(page.locator("nw-support-chat .typing")).to_be_visible()
    expect(page.locator("nw-support-chat .typing .sr")).to_have_text("Anna is typing…")
    # The agent's own "typing: off" hides it.
    post(gw.base_url, "/_test/push", {**typing, "active": False})
    expect(page.locator("nw-support-chat .typing")).to_be_hidden()


def test_pasted_twice_gives_one_widget(page, gw):
    tag = f'<script src="{gw.base_url}/widget/widget.js"></script>'
    gw.gateway.embed_page = f"<!doctype html><html><head>{tag}</head><body>{tag}</body></html>"
    page.goto(gw.base_url + "/_test/page")
    page.locator(LAUNCHER).click()
    wait_online(page)
    assert page.locator("nw-support-chat").count() == 1
    assert page.evaluate("() => Object.keys(window).filter(k => /^nw|chat|widget/i.test(k))") == []

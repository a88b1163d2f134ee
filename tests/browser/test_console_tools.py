"""The console's shift tools in Chromium against the real stack, with two agents and two
customers: notifications, queue filters and names, keyboard shortcuts, canned
responses, search, the customer's history and the "Add an agent" form."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.test_console import PASSWORD, Customer, sign_in

pytestmark = pytest.mark.browser

# Records the desktop notifications the console shows (Chromium's own, once allowed).
RECORD_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  window.shownNotifications = [];
  class Recorded extends Real {
    constructor(title, options) {
      super(title, options);
      window.shownNotifications.push({title, body: (options || {}).body || ""});
    }
  }
  Object.defineProperty(Recorded, "permission", {get: () => Real.permission});
  Recorded.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Recorded;
})();
"""


def new_agent(stack, name: str, *, role: str = "agent", skills: list[str] | None = None) -> dict:
    body = {
        "email": f"{name.split()[0].lower()}-{uuid.uuid4().hex[:6]}@example.com",
        "name": name,
        "password": PASSWORD,
        "role": role,
        "tier": 2,
    }
    if skills is not None:
        body["skills"] = skills
    response = httpx.post(
        f"{stack.base_url}/agents",
        json=body,
        headers={"Authorization": f"Bearer {stack.settings.operator_token}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def queue_for_person(customer: Customer, first_words: str) -> str:
    conversation_id = customer.connect()
    customer.say(first_words)
    customer.wait_for(lambda f: f["type"] == "typing" and f["active"] is False)
    customer.say("person please", payload="/request_human")
    customer.wait_for(lambda f: f["type"] == "owner" and f["owner"] == "queued")
    return conversation_id


def test_notifications_queue_filters_and_shortcuts(browser, stack, shot):
    anna = new_agent(stack, "Anna Notify", skills=["internet", "cable"])
    ben = new_agent(stack, "Ben Cable", skills=["cable"])
    anna_context = browser.new_context(viewport={"width": 1280, "height": 800})
    anna_context.grant_permissions(["notifications"], origin=stack.base_url)
    anna_context.add_init_script(RECORD_NOTIFICATIONS)
    ben_context = browser.new_context(viewport={"width": 1280, "height": 800})
    page, other = anna_context.new_page(), ben_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    first, second = Customer(stack.ws_url), Customer(stack.ws_url)
    try:
        sign_in(page, stack, anna["email"])
        sign_in(other, stack, ben["email"])
        expect(page.locator("#conn")).to_have_text("Online")
        expect(other.locator("#conn")).to_have_text("Online")
        expect(page).to_have_title("Agent console")
        page.get_by_label("Sound").check()
        page.get_by_role("button", name="Keyboard shortcuts").wait_for()

        page.wait_for_function("() => document.body.dataset.lastSound")  # the tone on ticking
        tone = page.evaluate("document.body.dataset.lastSound")
        words = "My internet connection keeps dropping whenever somebody uses the microwave oven"
        queue_for_person(first, words)
        expect(page).to_have_title("(1) Agent console", timeout=15_000)
        entry = page.locator("#queue .item")
        expect(entry.locator(".title")).to_have_text(
            "My internet connection keeps dropping whenever…"
        )
        expect(other.locator("#queue .item")).to_have_count(0)  # Ben does cable only
        page.wait_for_function("() => window.shownNotifications.length >= 1")
        page.wait_for_function("(tone) => document.body.dataset.lastSound !== tone", arg=tone)

        queue_for_person(second, "my TV shows no signal")
        expect(page).to_have_title("(2) Agent console", timeout=15_000)
        expect(other.locator("#queue .item")).to_have_count(1)
        expect(other.locator("#queue .item .title")).to_have_text("my TV shows no signal")
        notes = page.evaluate("window.shownNotifications")
        assert [n["title"] for n in notes][:2] == [
            "New chat: internet, tier 2",
            "New chat: cable, tier 2",
        ], notes

        # Filters and sorting narrow the list; the count in the title is the whole queue.
        filters = page.locator("#queue-filters")
        filters.get_by_label("Skill").select_option("cable")
        expect(page.locator("#queue .item")).to_have_count(1)
        expect(page.locator("#queue .item .title")).to_have_text("my TV shows no signal")
        filters.get_by_label("Skill").select_option("")
        filters.get_by_label("Sort").select_option("newest")
        expect(page.locator("#queue .item .title").first).to_have_text("my TV shows no signal")
        filters.get_by_label("Waiting time").select_option("900")
        expect(page.locator("#queue .item")).to_have_count(0)
        filters.get_by_label("Waiting time").select_option("")
        filters.get_by_label("Sort").select_option("longest_wait")
        shot(page, "console-queue-filters")

        # Keyboard: help overlay, claim the next chat, focus the reply box.
        page.evaluate("document.activeElement.blur()")  # not in a text box or list
        page.keyboard.press("?")
        expect(page.locator("#help")).to_be_visible()
        expect(page.locator("#help")).to_contain_text("Claim the next chat")
        shot(page, "console-shortcuts")
        page.keyboard.press("Escape")
        expect(page.locator("#help")).to_be_hidden()
        page.keyboard.press("Alt+n")
        expect(page.locator("#mine .item")).to_have_count(1)
        expect(page.locator("#mine .item .title")).to_contain_text("My internet connection")
        expect(page).to_have_title("(1) Agent console")
        page.locator("#transcript").click()
        page.keyboard.press("Alt+m")
        assert page.evaluate("document.activeElement.id") == "composer-text"
        page.keyboard.press("Alt+n")  # the TV chat too
        expect(page.locator("#mine .item")).to_have_count(2)
        expect(page.locator("#mine .item.active .title")).to_have_text("my TV shows no signal")
        page.keyboard.press("Alt+ArrowDown")
        expect(page.locator("#mine .item.active .title")).to_contain_text("My internet")
        page.keyboard.press("Alt+ArrowUp")
        expect(page.locator("#mine .item.active .title")).to_have_text("my TV shows no signal")

        # A message in the chat Anna is not looking at: counted in the title, notified.
        first.say("are you still there?")
        expect(page).to_have_title("(1) Agent console", timeout=15_000)
        expect(page.locator("#mine .item .unread")).to_have_count(1)
        page.wait_for_function(
            "() => window.shownNotifications.some(n => n.body === 'are you still there?')"
        )
        page.keyboard.press("Alt+ArrowDown")
        expect(page).to_have_title("Agent console")

        # Resolve with the keyboard (after the confirmation).
        page.keyboard.press("Alt+r")
        dialog = page.locator("#dialog")
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name="Resolve").click()
        first.wait_for(lambda f: f["type"] == "owner" and f["owner"] == "closed")
        expect(page.locator("#mine .item")).to_have_count(1)
    finally:
        first.close()
        second.close()
        anna_context.close()
        ben_context.close()
    assert errors == []


def test_canned_responses_search_history_and_new_agents(browser, stack, shot):
    lead = new_agent(stack, "Lena Lead", role="supervisor")
    cara = new_agent(stack, "Cara Canned", skills=["internet", "other"])
    lead_context = browser.new_context(viewport={"width": 1280, "height": 900})
    cara_context = browser.new_context(viewport={"width": 1280, "height": 800})
    boss, page = lead_context.new_page(), cara_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    boss.on("pageerror", lambda exc: errors.append(str(exc)))
    customer, bystander = Customer(stack.ws_url), Customer(stack.ws_url)
    shortcut = f"hello{uuid.uuid4().hex[:4]}"
    try:
        # The supervisor adds a canned response and an agent with chosen skills.
        sign_in(boss, stack, lead["email"])
        boss.get_by_role("button", name="Overview").click()
        cf = boss.locator("#canned-form")
        cf.get_by_label("Shortcut").fill(shortcut)
        cf.get_by_label("Title", exact=True).fill("Greeting")
        cf.get_by_label("English text").fill("Hello {customer_name}, I'm {agent_name}.")
        cf.get_by_label("German text").fill("Hallo {customer_name}, ich bin {agent_name}.")
        cf.get_by_role("button", name="Save canned response").click()
        expect(boss.locator(f'#canned-list tr[data-shortcut="{shortcut}"]')).to_contain_text(
            "Greeting"
        )
        cf.get_by_label("English text").fill("Hi {name}")
        cf.get_by_label("Shortcut").fill(shortcut + "x")
        cf.get_by_label("Title", exact=True).fill("Broken")
        cf.get_by_label("German text").fill("Hallo")
        cf.get_by_role("button", name="Save canned response").click()
        expect(boss.locator("#toast")).to_contain_text("Unknown placeholder {name}")

        email = f"tv-{uuid.uuid4().hex[:6]}@example.com"
        form = boss.locator("#agent-form")
        form.get_by_label("Name").fill("Tessa TV")
        form.get_by_label("E-mail").fill(email)
        form.get_by_label("Password (10+ characters)").fill(PASSWORD)
        for skill in ("Internet", "Hardware", "Software", "Other"):
            form.get_by_label(skill, exact=True).uncheck()
        form.get_by_role("button", name="Create agent").click()
        expect(boss.locator("#ov-agents tr").filter(has_text="Tessa TV")).to_contain_text("cable")
        row = boss.locator("#ov-agents tr").filter(has_text="Tessa TV")
        expect(row.locator("td").nth(4)).to_have_text("cable · English")
        shot(boss, "console-canned-and-agents")

        # Cara takes a chat and inserts the canned response with "/".
        sign_in(page, stack, cara["email"])
        expect(page.locator("#conn")).to_have_text("Online")
        conversation_id = queue_for_person(customer, "my internet light is zebra striped")
        bystander_id = queue_for_person(bystander, "the app crashes on start")
        page.locator("#queue .item").filter(has_text="zebra").get_by_role(
            "button", name="Claim"
        ).click()
        expect(page.locator("#chat-owner")).to_have_text("With you")
        composer = page.get_by_label("Message to the customer")
        composer.press_sequentially("/" + shortcut[:5], delay=20)
        menu = page.locator("#canned-menu")
        expect(menu).to_be_visible()
        expect(menu.locator("li").first).to_contain_text("/" + shortcut)
        composer.press("Enter")
        expect(composer).to_have_value("Hello, I'm Cara Canned.")
        expect(menu).to_be_hidden()
        composer.press("Enter")
        got = customer.wait_for(lambda f: f["type"] == "message" and f["sender"] == "agent")
        assert got["text"] == "Hello, I'm Cara Canned."
        shot(page, "console-canned")

        # The customer's history beside the chat.
        history = page.locator("#history")
        expect(history).to_contain_text("Not identified")
        expect(history).to_contain_text("Past conversations")

        # Search finds the chat by a word in it; a result opens the transcript.
        page.keyboard.press("Alt+f")
        search = page.locator("#search")
        expect(search).to_be_visible()
        search.get_by_label("Words").fill("zebra")
        search.get_by_role("button", name="Search", exact=True).click()
        results = page.locator("#search-results .result")
        expect(results).to_have_count(1)
        expect(results.first).to_contain_text("zebra striped")
        results.first.locator("button").click()
        expect(page.locator("#st-messages")).to_contain_text("my internet light is zebra striped")
        expect(page.locator("#st-messages")).to_contain_text("Hello, I'm Cara Canned.")
        shot(page, "console-search")
        search.get_by_label("Outcome").select_option("resolved")
        search.get_by_role("button", name="Search", exact=True).click()
        expect(page.locator("#search-status")).to_contain_text("Nothing found")
        search.get_by_role("button", name="Close").click()
        assert conversation_id

        # Leave no chat waiting for the next test: the supervisor takes and resolves it.
        for entry in boss.request.get(f"{stack.base_url}/handoffs/queue").json():
            if entry["conversation_id"] == bystander_id:
                for step in ("claim", "resolve"):
                    done = boss.request.post(f"{stack.base_url}/handoffs/{entry['id']}/{step}")
                    assert done.ok, done.text()
    finally:
        customer.close()
        bystander.close()
        lead_context.close()
        cara_context.close()
    assert errors == []

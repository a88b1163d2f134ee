"""The console shows the customer's language, and supervisors give agents languages.

Real stack, real Chromium; the customer is a websocket client on its own loop.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.test_console import PASSWORD, Customer, create_agent, sign_in

pytestmark = pytest.mark.browser


class CustomerWithHint(Customer):
    """A customer whose widget hints a language in its hello."""

    def connect_in(self, language: str) -> str:
        welcome = self._run(self.client.connect(language=language))
        assert welcome["language"] == language
        self.loop.call_soon_threadsafe(lambda: self.loop.create_task(self._read()))
        return welcome["conversation_id"]


def operator(stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.settings.operator_token}"}


def test_a_supervisor_adds_a_german_speaking_agent_who_sees_the_language(browser, stack, shot):
    supervisor = create_agent(stack, name="Sam Sprachen", role="supervisor")
    boss = browser.new_context(viewport={"width": 1280, "height": 800})
    desk = browser.new_context(viewport={"width": 1280, "height": 800})
    customer = CustomerWithHint(stack.ws_url)
    try:
        page = boss.new_page()
        sign_in(page, stack, supervisor["email"])
        expect(page.locator("#conn")).to_have_text("Online")
        page.get_by_role("button", name="Overview").click()
        email = f"dora-{uuid.uuid4().hex[:6]}@example.com"
        form = page.locator("#agent-form")
        form.get_by_label("Name").fill("Dora Deutsch")
        form.get_by_label("E-mail").fill(email)
        form.get_by_label("Password (10+ characters)").fill(PASSWORD)
        languages = form.get_by_role("group", name="Languages")
        expect(languages.get_by_label("English")).to_be_checked()
        languages.get_by_label("German").check()
        shot(page, "console-add-agent-languages")
        form.get_by_role("button", name="Create agent").click()
        expect(page.locator("#toast")).to_contain_text("Dora Deutsch")
        row = page.locator("#ov-agents tr").filter(has_text="Dora Deutsch")
        expect(row).to_contain_text("English, German")
        agents = httpx.get(f"{stack.base_url}/agents/overview", headers=operator(stack)).json()
        dora = next(a for a in agents["agents"] if a["email"] == email)
        assert dora["languages"] == ["en", "de"]

        agent_page = desk.new_page()
        errors: list[str] = []
        agent_page.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in(agent_page, stack, email)
        expect(agent_page.locator("#conn")).to_have_text("Online")

        conversation_id = customer.connect_in("de")
        customer.say("Ich möchte mit einem Menschen sprechen", payload="/request_human")
        customer.wait_for(lambda f: f["type"] == "owner" and f["owner"] == "queued")
        queue = httpx.get(f"{stack.base_url}/handoffs/queue", headers=operator(stack)).json()
        handoff = next(h for h in queue if h["conversation_id"] == conversation_id)
        assert handoff["language"] == "de"
        item = agent_page.locator(f'#queue .item[data-handoff="{handoff["id"]}"]')
        expect(item.locator(".tag.lang")).to_have_text("DE")
        expect(item.locator(".tag.lang")).to_have_attribute("title", "The customer writes German")
        item.locator(".item-open").click()
        expect(agent_page.locator("#chat-meta")).to_contain_text("writes German")
        shot(agent_page, "console-language-de")

        # The customer switches to English while waiting: the console follows live.
        customer.say("Sorry, could we continue in English please? My internet is still down.")
        expect(item.locator(".tag.lang")).to_have_text("EN")
        expect(agent_page.locator("#chat-meta")).to_contain_text("writes English")
        assert errors == []
    finally:
        customer.close()
        boss.close()
        desk.close()

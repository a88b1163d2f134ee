"""The agent console in Chromium against the real stack: sign in, queue, claim, chat, hand back.

The customer is a websocket client (tests/chat_client.py) running on its own
event loop, so the test can drive both sides step by step.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.chat_client import ChatClient
from tests.e2e.test_honest_replies import ANSWERS as LAPTOP_ANSWERS
from tests.e2e.test_honest_replies import TICKET

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)><b>bold</b>"
PASSWORD = "correct-horse-battery"


class Customer:
    """A customer on /ws/chat that records every frame it receives."""

    def __init__(self, ws_url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.client = ChatClient(ws_url)
        self.frames: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def _run(self, coroutine: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def connect(self) -> str:
        welcome = self._run(self.client.connect())
        self.loop.call_soon_threadsafe(lambda: self.loop.create_task(self._read()))
        return welcome["conversation_id"]

    async def _read(self) -> None:
        try:
            async for raw in self.client.socket:
                with self.lock:
                    self.frames.append(json.loads(raw))
        except Exception:  # noqa: BLE001 - the socket closed at the end of the test
            pass

    def say(self, text: str, payload: str | None = None) -> str:
        client_id = f"c-{uuid.uuid4().hex[:12]}"
        frame: dict[str, Any] = {"type": "message", "client_id": client_id, "text": text}
        if payload:
            frame["payload"] = payload
        self._run(self.client.send_frame(frame))
        return client_id

    def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = next((f for f in self.frames if match(f)), None)
            if found is not None:
                return found
            time.sleep(0.05)
        raise AssertionError(f"The customer never received the frame; got {self.frames[-5:]}")

    def close(self) -> None:
        try:
            self._run(self.client.close(), timeout=5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)


def create_agent(stack, *, name: str, role: str = "agent") -> dict[str, Any]:
    token = stack.settings.operator_token
    assert token, "the test stack needs an operator token to create agents"
    email = f"{name.split()[0].lower()}-{uuid.uuid4().hex[:6]}@example.com"
    response = httpx.post(
        f"{stack.base_url}/agents",
        json={"email": email, "name": name, "password": PASSWORD, "role": role, "tier": 2},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def sign_in(page, stack, email: str, password: str = PASSWORD) -> None:
    page.goto(stack.base_url + "/console")
    form = page.locator("#signin")
    form.get_by_label("E-mail").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Sign in").click()


def test_sign_in_rejects_a_wrong_password(page, stack, shot):
    agent = create_agent(stack, name="Wrong Password")
    sign_in(page, stack, agent["email"], "not-the-password")
    expect(page.locator("#signin-error")).to_have_text("The e-mail or password is not right.")
    expect(page.locator("#app")).to_be_hidden()
    shot(page, "console-signin-error")


def test_agent_takes_a_chat_end_to_end(page, stack, shot):
    agent = create_agent(stack, name="Anna Berg")
    page.goto(stack.base_url + "/console")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    shot(page, "console-signin")
    sign_in(page, stack, agent["email"])
    expect(page.locator("#conn")).to_have_text("Online")
    expect(page.locator("#me")).to_contain_text("Anna Berg")

    customer = Customer(stack.ws_url)
    try:
        conversation_id = customer.connect()
        customer.say("I want a person", payload="/request_human")
        customer.wait_for(lambda f: f["type"] == "owner" and f["owner"] == "queued")

        # The queue updates live from the socket, without reloading.
        item = page.locator("#queue .item").filter(has=page.locator(".reason"))
        expect(item).to_have_count(1, timeout=15_000)
        expect(page.locator("#waiting-count")).to_have_text("1")
        waited = item.locator(".wait").inner_text()
        page.wait_for_timeout(2100)
        assert item.locator(".wait").inner_text() != waited, "the waiting time ticks"
        expect(item.locator(".snippet")).to_contain_text("Reason")
        shot(page, "console-queue")

        item.get_by_role("button", name="Claim").click()
        expect(page.locator("#mine .item")).to_have_count(1)
        expect(page.locator("#queue .item")).to_have_count(0)
        transcript = page.locator("#transcript")
        expect(transcript.locator(".msg.customer .bub").first).to_have_text("I want a person")
        expect(page.locator("#summary")).to_contain_text("Reason")
        expect(page.locator("#services")).to_have_text("Not identified")
        expect(page.locator("#chat-owner")).to_have_text("With you")
        customer.wait_for(lambda f: f["type"] == "owner" and f["owner"] == "agent")

        # Agent → customer, with the typing indicator on the way.
        composer = page.get_by_label("Message to the customer")
        composer.press_sequentially("Hello, I'm Anna", delay=10)
        customer.wait_for(
            lambda f: f["type"] == "typing" and f.get("sender") == "agent" and f["active"]
        )
        composer.press("Enter")
        mine = transcript.locator(".msg.agent").last
        expect(mine.locator(".status")).to_have_text("Sent ✓")
        got = customer.wait_for(lambda f: f["type"] == "message" and f["sender"] == "agent")
        assert got["text"] == "Hello, I'm Anna" and got["agent_name"] == "Anna Berg"
        expect(transcript.locator(".msg.agent")).to_have_count(1)  # no echo duplicate

        # Customer typing and a message full of markup: shown literally.
        customer._run(customer.client.send_frame({"type": "typing", "active": True}))
        expect(page.locator("#typing")).to_have_text("Customer is typing…")
        customer.say(XSS)
        hostile = transcript.locator(".msg.customer .bub").last
        expect(hostile).to_have_text(XSS)
        expect(page.locator("#typing")).to_have_text("")
        assert transcript.locator("img").count() == 0
        assert transcript.locator("b").count() == 0
        assert "<img src=x onerror=alert(1)>" in transcript.text_content()
        shot(page, "console-chat")

        # An internal note reaches the console but never the customer.
        note = "Customer sounds upset; router replaced last month"
        page.get_by_label("Add an internal note").fill(note)
        page.get_by_role("button", name="Add note").click()
        expect(page.locator("#notes .note")).to_have_count(1)
        expect(page.locator("#notes .note-text")).to_have_text(note)
        expect(page.locator(".notes-label")).to_have_text("Internal – the customer can't see this")
        composer.fill("One more thing")
        composer.press("Enter")
        customer.wait_for(lambda f: f["type"] == "message" and f["text"] == "One more thing")
        assert not [f for f in customer.frames if note in json.dumps(f)]
        shot(page, "console-note")

        # The action forms open as modal dialogs and close with Cancel.
        page.get_by_role("button", name="Order a part").click()
        dialog = page.locator("#dialog")
        expect(dialog).to_be_visible()
        expect(dialog.get_by_role("heading")).to_have_text("Order a part")
        expect(dialog.get_by_label("Part")).to_be_visible()
        dialog.get_by_role("button", name="Cancel").click()
        expect(dialog).to_be_hidden()

        # Hand back to the bot.
        page.get_by_role("button", name="Hand back to the bot").click()
        customer.wait_for(lambda f: f["type"] == "owner" and f["owner"] == "bot")
        expect(page.locator("#chat-owner")).to_have_text("With the assistant")
        expect(page.locator("#mine .item")).to_have_count(0)
        expect(page.locator("#composer")).to_be_hidden()
        expect(page.locator("#chat-banner")).to_contain_text("handed back")
        shot(page, "console-handed-back")
        assert conversation_id
    finally:
        customer.close()
    assert page.js_errors == []


def test_supervisor_overview_and_sign_out(page, stack, shot):
    supervisor = create_agent(stack, name="Sam Supervisor", role="supervisor")
    create_agent(stack, name="Otto Offline")
    sign_in(page, stack, supervisor["email"])
    expect(page.locator("#conn")).to_have_text("Online")
    page.get_by_role("button", name="Overview").click()
    rows = page.locator("#ov-agents tr")
    expect(rows.filter(has_text="Sam Supervisor")).to_contain_text("Online")
    expect(rows.filter(has_text="Otto Offline")).to_contain_text("Offline")
    shot(page, "console-overview")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    # The session is gone on the server too.
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.js_errors == []


def test_the_console_shows_how_to_reach_the_customer_about_a_ticket(page, stack, shot):
    """A ticket opened for a customer we could not identify carries the contact they gave."""
    agent = create_agent(stack, name="Tara Lind")
    sign_in(page, stack, agent["email"])
    expect(page.locator("#conn")).to_have_text("Online")

    customer = Customer(stack.ws_url)
    try:
        customer._run(customer.client.connect())

        async def laptop_fault_then_contact() -> tuple[str, str]:
            turn = await customer.client.say("my laptop won't turn on, not even a light")
            for _ in range(6):
                if "e-mail address or phone number" in turn.text:
                    break
                answer = next(a for a in LAPTOP_ANSWERS if a[0].lower() in turn.text.lower())
                turn = await customer.client.say(answer[2], payload=answer[1])
            (ticket,) = set(TICKET.findall(turn.text))
            saved = await customer.client.say("anna.berg@example.com")
            return ticket, saved.text

        ticket, saved = customer._run(laptop_fault_then_contact(), timeout=120)
        assert f"contact you at anna.berg@example.com about ticket {ticket}" in saved, saved

        # From here on the customer's frames are recorded while the agent works.
        customer.loop.call_soon_threadsafe(lambda: customer.loop.create_task(customer._read()))
        customer.say("I want a person", payload="/request_human")
        customer.wait_for(lambda f: f["type"] == "owner" and f["owner"] == "queued")

        item = page.locator("#queue .item").filter(has_text="laptop")
        expect(item).to_have_count(1, timeout=15_000)
        item.get_by_role("button", name="Claim").click()
        expect(page.locator("#chat-owner")).to_have_text("With you")
        # The diagnosis has ended, but the chat is still about the laptop's ticket.
        expect(page.locator("#chat-title")).to_have_text("Hardware · Tier 2")
        ticket_row = page.locator("#tickets .ticket")
        expect(ticket_row).to_have_count(1)
        expect(ticket_row).to_contain_text(ticket)
        expect(ticket_row.locator(".ticket-contact")).to_have_text(
            " · contact: anna.berg@example.com"
        )
        shot(page, "console-ticket-contact")
    finally:
        customer.close()
    assert page.js_errors == []

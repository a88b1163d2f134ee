"""Shared steps for the widget browser tests (Playwright pierces the open shadow root)."""

from __future__ import annotations

import json
import urllib.request

LOG_MESSAGES = "nw-support-chat .log .msg"
SERVER_MESSAGES = "nw-support-chat .log .msg[data-id]"
CUSTOMER = "nw-support-chat .log .msg.customer"
CHIPS = "nw-support-chat .chip"
INPUT = "nw-support-chat .comp textarea"
PANEL = "nw-support-chat .panel"
LAUNCHER = "nw-support-chat .launcher"

XSS = "<img src=x onerror=alert(1)><script>alert(1)</script>"


def open_widget(page, url: str) -> None:
    page.goto(url)
    page.locator(LAUNCHER).click()
    wait_online(page)


def wait_online(page, timeout: int = 15_000) -> None:
    page.locator(f"{PANEL}[data-conn=online]").wait_for(timeout=timeout)


def say(page, text: str) -> None:
    box = page.locator(INPUT)
    box.fill(text)
    box.press("Enter")


def wait_all_sent(page, timeout: int = 15_000) -> None:
    page.wait_for_function(
        """() => {
            const root = document.querySelector('nw-support-chat').shadowRoot;
            return root.querySelectorAll('.log .msg.pending').length === 0;
        }""",
        timeout=timeout,
    )


def focused_in_widget(page) -> dict:
    """Class and text of the element that has focus inside the widget's shadow root."""
    return page.evaluate(
        """() => {
            const el = document.querySelector('nw-support-chat').shadowRoot.activeElement;
            return {class: el ? el.className : '', text: el ? el.textContent : ''};
        }"""
    )


def wait_quiet(page, quiet_ms: int = 1000, timeout: int = 30_000) -> None:
    """Wait until no message has been added to the conversation for quiet_ms."""
    page.wait_for_function(
        """([quiet]) => {
            const n = document.querySelector('nw-support-chat').shadowRoot
                .querySelectorAll('.log .msg').length;
            const now = Date.now();
            if (window.__quietCount !== n) { window.__quietCount = n; window.__quietSince = now; }
            return now - window.__quietSince >= quiet;
        }""",
        arg=[quiet_ms],
        timeout=timeout,
        polling=100,
    )


def customer_texts(page) -> list[str]:
    return page.locator(f"{CUSTOMER} .bub").all_inner_texts()


def post(base_url: str, path: str, body: dict) -> dict:
    req = urllib.request.Request(
        base_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())

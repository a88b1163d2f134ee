"""The flow analytics page in Chromium against the real API and database.

Rasa is not needed: the page only reads figures and writes labels. The API
runs in a thread of this process (uvicorn), on a database holding the small
history of tests/analytics_history.py.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import expect
from sqlalchemy import insert

from api.config import Settings
from api.db import Database, run_migrations
from api.main import create_app
from api.models import FlowEvent, NotUnderstood
from api.services import agents
from scripts.stack import free_port
from tests.analytics_history import DAY, FLOW_ID, start_of, write_flow, write_history
from tests.conftest import FLOWS_DIR, make_settings
from tests.flow_edits import FLOW_FILE, break_flow

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"
XSS = "<img src=x onerror=alert(1)><b>bold</b>"


async def _seed(settings: Settings) -> None:
    database = Database()
    database.connect(settings)
    try:
        async with database.session() as session:
            await write_history(session)
            # A customer's message that looks like markup: shown as text, never run.
            await session.execute(
                insert(FlowEvent.__table__).values(
                    conversation_id="c3",
                    flow_id=FLOW_ID,
                    step_id="restart",
                    kind="miss",
                    value=XSS,
                    created_at=start_of("c3"),
                )
            )
            await session.execute(
                insert(NotUnderstood.__table__).values(
                    conversation_id="c3",
                    kind="miss",
                    text=XSS,
                    intent="affirm",
                    confidence=0.4,
                    flow_id=FLOW_ID,
                    step_id="restart",
                    created_at=start_of("c3"),
                )
            )
            for role in ("trainer", "agent"):
                await agents.create_agent(
                    session=session,
                    email=f"{role}@example.com",
                    name=f"Pat {role.capitalize()}",
                    password=PASSWORD,
                    role=role,
                )
    finally:
        await database.disconnect()


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings]]:
    directory = tmp_path_factory.mktemp("analytics_page")
    flows = directory / "flows"
    shutil.copytree(FLOWS_DIR, flows)
    settings = make_settings(
        directory,
        port=free_port(),
        reviewed_nlu_file=directory / "nlu" / "reviewed.yml",
        flows_dir=write_flow(flows, default=False),
    )
    run_migrations(settings)
    # Playwright's event loop runs in this thread: seed on a thread of its own.
    seeding = threading.Thread(target=asyncio.run, args=(_seed(settings),))
    seeding.start()
    seeding.join(timeout=60)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=settings.port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{settings.port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/analytics", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    else:
        pytest.fail("The API did not start.")
    try:
        yield base, settings
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def sign_in(page, base: str, role: str) -> None:
    page.goto(f"{base}/analytics")
    expect(page.locator("#signin-form")).to_be_visible()
    page.fill("#signin-email", f"{role}@example.com")
    page.fill("#signin-password", PASSWORD)
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#app")).to_be_visible()


def show_day(page) -> None:
    day = DAY.date().isoformat()
    page.fill("#range-from", day)
    page.fill("#range-to", day)
    page.click("#range button[type=submit]")


def test_a_trainer_sees_the_funnel_and_the_drop_off_of_a_flow(page, api_server, shot) -> None:
    base, _ = api_server
    sign_in(page, base, "trainer")
    expect(page.locator("#me")).to_have_text("Pat Trainer (trainer)")
    expect(page.locator("#console-link")).to_be_hidden()
    show_day(page)

    row = page.locator(f"#flows-table tbody tr[data-flow={FLOW_ID}]")
    expect(row).to_be_visible()
    cells = row.locator("td")
    # Flow, started, resolved, ticket, part, visit, goodwill, handoff, abandoned, containment, …
    expect(cells.nth(1)).to_have_text("7")
    expect(cells.nth(2)).to_have_text("2")
    expect(cells.nth(7)).to_have_text("1")
    expect(cells.nth(8)).to_have_text("2")
    expect(cells.nth(9)).to_have_text("14.3%")
    expect(cells.nth(10)).to_have_text("1")
    expect(cells.nth(11)).to_have_text("0.5")
    # One day, two lines (containment and handoffs): a point each.
    expect(page.locator("#daily-chart svg circle")).to_have_count(2)
    expect(page.locator("#daily-chart")).to_have_attribute(
        "aria-label",
        "7 flows started from 2026-11-02 to 2026-11-02: 14.3% contained, 14.3% handed to a person",
    )
    expect(page.locator("#daily-csv")).to_have_attribute(
        "href", "/analytics/daily.csv?from=2026-11-02&to=2026-11-02"
    )

    row.locator("button.flow-link").click()
    expect(page.locator("#flow-detail")).to_be_visible()
    funnel = page.locator("#funnel-chart g.funnel-step")
    expect(funnel).to_have_count(4)
    expect(funnel.nth(0)).to_have_attribute("data-step", "lights")
    expect(funnel.nth(0).locator("text").nth(1)).to_have_text("6")
    expect(funnel.nth(1)).to_have_attribute("data-step", "restart")
    expect(funnel.nth(1).locator("text").nth(1)).to_have_text("3")
    widths = [float(funnel.nth(i).locator("rect").get_attribute("width")) for i in range(4)]
    assert widths[0] > widths[1] > widths[2] > 0  # a funnel narrows
    dropoff = page.locator("#dropoff-chart g.dropoff-step")
    expect(dropoff).to_have_count(2)
    expect(dropoff.nth(0)).to_have_attribute("data-step", "lights")
    expect(dropoff.nth(0).locator("text").nth(1)).to_have_text("1 + 1")
    lights = page.locator("#steps li[data-step=lights]")
    expect(lights.locator(".answers li")).to_have_text(["Green: 3", "Red: 2"])
    expect(lights.locator(".misses li")).to_have_text(["“Blue light” ×1", "“the blinking one” ×1"])
    # Markup a customer wrote is shown as text.
    expect(page.locator("#steps li[data-step=restart] .misses li")).to_have_text(f"“{XSS}” ×1")
    assert page.locator("#steps img").count() == 0
    shot(page, "analytics_flow")

    with page.expect_download() as download:
        page.click("#flows-csv")
    content = Path(download.value.path()).read_text(encoding="utf-8")
    assert content.splitlines()[0].startswith("flow_id,title,started,resolved")
    assert f"{FLOW_ID},Router check,7,2,2" in content
    assert page.js_errors == []


def test_a_trainer_labels_what_was_not_understood(page, api_server, shot) -> None:
    base, settings = api_server
    sign_in(page, base, "trainer")
    page.click("#tab-review")
    show_day(page)
    rows = page.locator("#review-table tbody tr")
    thingy = rows.filter(has_text="my thingy is broken")
    expect(thingy).to_have_count(1)
    expect(thingy.locator("td").nth(1)).to_have_text("3")
    expect(thingy.locator(".tag").first).to_have_text("no flow running ×3")
    expect(thingy.locator("td").nth(3)).to_contain_text("problem_hardware (33%) ×2")
    expect(rows.filter(has_text="onerror")).to_have_count(1)
    assert page.locator("#review-table img").count() == 0

    page.select_option("#review-kind", "miss")
    expect(rows.filter(has_text="my thingy is broken")).to_have_count(0)
    page.select_option("#review-kind", "")
    thingy = rows.filter(has_text="my thingy is broken")
    thingy.locator("button[type=submit]").click()
    expect(page.locator("#notice")).to_contain_text("Choose the intent")
    thingy.locator("select").select_option("problem_hardware")
    thingy.locator("button[type=submit]").click()
    expect(page.locator("#notice")).to_contain_text("Retraining is needed")
    expect(rows.filter(has_text="my thingy is broken")).to_have_count(0)
    assert "- My thingy is broken" in settings.reviewed_nlu_file.read_text(encoding="utf-8") or (
        "- my thingy is broken" in settings.reviewed_nlu_file.read_text(encoding="utf-8")
    )
    page.select_option("#review-status", "labelled")
    expect(rows.filter(has_text="my thingy is broken")).to_have_count(1)
    shot(page, "analytics_review")
    assert page.js_errors == []


def test_an_agent_is_sent_to_the_console(page, api_server) -> None:
    base, _ = api_server
    sign_in(page, base, "agent")
    expect(page.locator("#notice")).to_contain_text("for trainers and supervisors")
    expect(page.locator("#main")).to_be_hidden()
    expect(page.locator("#console-link")).to_be_visible()
    page.click("#signout")
    expect(page.locator("#signin-form")).to_be_visible()
    assert page.js_errors == []


def test_a_trainer_sees_a_flow_edit_that_is_not_live(page, api_server) -> None:
    base, settings = api_server
    path = settings.flows_dir / FLOW_FILE
    original = path.read_text(encoding="utf-8")
    try:
        where, _ = break_flow(settings.flows_dir, "dead end")
        sign_in(page, base, "trainer")
        banner = page.locator("#flow-errors")
        expect(banner).to_be_visible(timeout=10_000)
        expect(banner).to_contain_text("not live")
        expect(banner.locator("li").first).to_contain_text(where)
    finally:
        path.write_text(original, encoding="utf-8")
    assert page.js_errors == []

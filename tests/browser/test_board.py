"""The presence board in a real browser: an ACD event posted to the API shows up on the
board without a reload, through the real worker and the simulator."""

import contextlib
import time

import requests
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Route, expect

from accounts.models import BusinessUnit
from presence.rules.services import reason_codes_ensure
from tests.accounts.factories import AgentFactory, BusinessUnitFactory
from tests.browser.test_login import sign_in
from tests.presence.support_to_teams import (
    EVENTS,
    account_for,
    enabled_users,
    event,
    events_key,
    mapped_agent,
    publishing_rule,
    sim_presence,
)


def test_the_board_updates_itself_when_an_acd_event_arrives(
    page: Page, live_server, administrator, celery_worker, sim_tenant, graphsim
):
    unit = BusinessUnit.objects.create(name="Voice", code="voice")
    reason_codes_ensure(unit)
    account_for(sim_tenant)
    user = enabled_users(sim_tenant)[0]
    agent = mapped_agent(unit, user, rule=publishing_rule(unit), name="Alice Adams")
    mapped_agent(unit, enabled_users(sim_tenant)[1], name="Bob Brown")
    key = events_key()

    sign_in(page, live_server.url, "ada")
    page.goto(f"{live_server.url}/board/")
    expect(page.get_by_role("heading", name="Presence board")).to_be_visible()
    page.get_by_label("Search").fill("alice")
    expect(page.locator("#board-table tbody tr")).to_have_count(1)
    row = page.locator(f'tr[data-agent="{agent.external_id}"]')
    expect(row).to_contain_text("No state yet")
    page.evaluate("window.boardMarker = 'not reloaded'")

    response = requests.post(
        f"{live_server.url}{EVENTS}",
        json={"events": [event(agent, "working", sequence=1)]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text

    expect(row).to_contain_text("Working (on a call)", timeout=20_000)
    expect(row).to_contain_text("ccbridge set Busy / InACall")
    assert page.evaluate("window.boardMarker") == "not reloaded"
    expect(page.get_by_label("Search")).to_have_value("alice")
    expect(page.locator("#board-table tbody tr")).to_have_count(1)
    assert sim_presence(graphsim, sim_tenant, user["id"]) == ("Busy", "InACall")

    row.get_by_role("link", name="History").click()
    expect(page.get_by_role("heading", name="Alice Adams: sync history")).to_be_visible()
    expect(page.get_by_text("Working (on a call) → Busy / InACall")).to_be_visible()
    expect(page.get_by_text("Voice standard, row 2")).to_be_visible()


def test_a_search_during_a_refresh_leaves_the_console_clean(page: Page, live_server, administrator):
    unit = BusinessUnitFactory(name="Voice", code="voice")
    AgentFactory(business_unit=unit, name="Alice Adams")
    AgentFactory(business_unit=unit, name="Bob Brown")
    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: console_errors.append(str(error)))

    # Hold the board's own refresh for a second, so the search starts while it is on its way.
    def slow_refresh(route: Route) -> None:
        if route.request.headers.get("hx-trigger") == "board-table":
            time.sleep(1.0)
        with contextlib.suppress(PlaywrightError):  # a refresh the page gave up on
            route.continue_()

    sign_in(page, live_server.url, "ada")
    page.route("**/board/?**", slow_refresh)
    page.goto(f"{live_server.url}/board/")
    expect(page.locator("#board-table tbody tr")).to_have_count(2)
    # Type as soon as the refresh leaves (the test's own thread is busy holding it).
    page.evaluate(
        """() => document.body.addEventListener("htmx:beforeRequest", (event) => {
          if (event.target.id !== "board-table") return;
          setTimeout(() => {
            const box = document.getElementById("id_q");
            box.value = "alice";
            box.dispatchEvent(new KeyboardEvent("keyup", {bubbles: true}));
          }, 100);
        }, {once: true})"""
    )

    expect(page.locator("#board-table tbody tr")).to_have_count(1, timeout=10_000)
    expect(page.locator("#board-table")).to_contain_text("Alice Adams")
    page.wait_for_timeout(3_500)  # one more refresh, with the search in it
    expect(page.locator("#board-table tbody tr")).to_have_count(1)
    assert console_errors == []

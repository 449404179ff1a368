"""Signing in and out in a real browser, as each role."""

import pytest
from playwright.sync_api import Page, expect

from tests.factories import TEST_PASSWORD


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/")
    expect(page).to_have_url(f"{base_url}/login/?next=/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


@pytest.mark.parametrize(
    ("fixture", "username", "visible", "hidden"),
    [
        (
            "administrator",
            "ada",
            [
                "Dashboard",
                "Teams account",
                "Mapping",
                "Rules",
                "Board",
                "Chats",
                "System users",
                "Users",
                "API keys",
                "ACD webhook",
                "Setup",
                "Alerts",
                "Audit log",
            ],
            [],
        ),
        (
            "supervisor",
            "sam",
            [
                "Dashboard",
                "Teams account",
                "Setup",
                "Directory",
                "Mapping",
                "Rules",
                "Board",
                "Chats",
                "Jobs",
            ],
            ["System users", "Users", "API keys", "ACD webhook", "Alerts", "Audit log"],
        ),
    ],
)
def test_each_role_sees_its_navigation_and_logs_out(
    page: Page, live_server, request, fixture, username, visible, hidden
):
    request.getfixturevalue(fixture)
    sign_in(page, live_server.url, username)
    nav = page.get_by_role("navigation", name="Main")
    for label in visible:
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    for label in hidden:
        expect(nav.get_by_role("link", name=label, exact=True)).to_have_count(0)

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Sign in to ccbridge")).to_be_visible()
    page.goto(f"{live_server.url}/jobs/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/jobs/")


def test_the_console_runs_without_csp_violations(page: Page, live_server, administrator):
    violations = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security" in msg.text else None,
    )
    sign_in(page, live_server.url, "ada")
    page.get_by_role("link", name="Jobs").click()
    page.get_by_label("Status").select_option("failed")
    expect(page.get_by_text("No jobs yet.")).to_be_visible()
    assert violations == []

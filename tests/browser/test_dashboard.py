"""The dashboard in a real browser: a system user that stops signing in turns the
presence sync panel red without a reload, and the link says what to do."""

from playwright.sync_api import Page, expect

from presence.subscriptions.system_users import system_user_add, system_user_check
from presence.sync_models import SystemUser
from tests.browser.test_login import sign_in
from tests.presence.support_sync import (
    SYSTEM_PASSWORD,
    sim_account,
    sim_system_user,
    small_tenant_fixture,  # noqa: F401
)

FAIL_BACKGROUND = "rgb(253, 236, 234)"  # --fail-bg


def test_the_dashboard_turns_red_when_a_system_user_cannot_sign_in(
    page: Page, live_server, administrator, graph_settings, graphsim, small_tenant
):
    sim_account(small_tenant)
    made = sim_system_user(graphsim, small_tenant)
    user = system_user_add(actor=None, username=made["userPrincipalName"], password=SYSTEM_PASSWORD)
    assert system_user_check(user).status == SystemUser.Status.OK

    sign_in(page, live_server.url, "ada")
    tile = page.locator('#presence-sync [data-part="system-users"]')
    expect(tile).to_contain_text("1 working")
    expect(page.locator("#presence-sync")).not_to_have_attribute("data-level", "fail")
    page.evaluate("window.dashboardMarker = 'not reloaded'")

    # The account disappears from the tenant; the next sign-in (a sync, here a check) notices.
    graphsim.control.delete_user(small_tenant.tenant_id, made["id"], permanent=True)
    system_user_check(user)

    expect(page.locator("#presence-sync")).to_have_attribute("data-level", "fail", timeout=20_000)
    expect(tile).to_contain_text("1 cannot sign in")
    expect(tile).to_have_css("background-color", FAIL_BACKGROUND)
    assert page.evaluate("window.dashboardMarker") == "not reloaded"

    page.locator("#presence-sync").get_by_role("link", name="See why and what to do").click()
    expect(page.get_by_role("heading", name="System users")).to_be_visible()
    row = page.locator(f'tr[data-system-user="{made["userPrincipalName"]}"]')
    expect(row).to_contain_text("Sign-in failed")
    expect(row).to_contain_text("no longer exists in the tenant (AADSTS50034)")
    expect(page.get_by_role("alert")).to_contain_text("1 enabled system user cannot sign in")

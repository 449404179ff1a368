"""The integration account in a real browser, against the simulator and a real worker."""

import re

from playwright.sync_api import Page, expect

from integrations.models import IntegrationAccount
from tests.browser.test_login import sign_in
from tests.integrations.factories import IntegrationAccountFactory


def _phone_order(page: Page) -> list[str]:
    return page.locator("#phone-types li").evaluate_all("rows => rows.map(r => r.dataset.value)")


def test_admin_creates_tests_and_tunes_the_account(
    page: Page, live_server, administrator, celery_worker, sim_tenant
):
    sign_in(page, live_server.url, "ada")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Teams account").click()

    page.get_by_label("Name").fill("Contoso Teams")
    page.get_by_label("Object ID").fill(sim_tenant.object_id)
    page.get_by_label("Directory (tenant) ID").fill(sim_tenant.tenant_id)
    page.get_by_label("Client ID").fill(sim_tenant.client_id)
    page.get_by_label("Client secret").fill(sim_tenant.client_secret)
    page.get_by_label("Production (payment model B)").check()
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("Created the Teams integration account")).to_be_visible()

    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_text("Connected to Microsoft Graph")).to_be_visible(timeout=30_000)
    expect(page.locator(".perm-missing")).to_have_count(0)
    expect(page.locator(".perm-granted").first).to_be_visible()

    # Drag "Fax" above "Business".
    assert _phone_order(page) == ["business", "mobile", "fax"]
    page.locator('#phone-types li[data-value="fax"] .handle').drag_to(
        page.locator('#phone-types li[data-value="business"]'),
        target_position={"x": 10, "y": 2},
    )
    # The saved list comes back from the server with Fax's Up button disabled.
    expect(page.get_by_role("button", name="Move Fax up")).to_be_disabled()
    assert _phone_order(page) == ["fax", "business", "mobile"]
    _wait_saved(["fax", "business", "mobile"])

    # Keyboard: move Business down with the keyboard; focus stays on the control.
    down = page.get_by_role("button", name="Move Business down")
    down.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#phone-types li").nth(2)).to_have_attribute("data-value", "business")
    _wait_saved(["fax", "mobile", "business"])
    expect(page.get_by_role("button", name="Move Business up")).to_be_focused()

    # Reset a chat system message to its default.
    field = page.get_by_role("textbox", name="Leave any time command")
    field.fill("QUIT")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("textbox", name="Leave any time command")).to_have_value("QUIT")
    page.get_by_role("button", name="Reset Leave any time command to its default").click()
    expect(page.get_by_role("textbox", name="Leave any time command")).to_have_value("BYE")
    assert IntegrationAccount.objects.get().msg_leave_command == "BYE"
    expect(page.locator("body")).not_to_contain_text(
        re.compile(re.escape(sim_tenant.client_secret))
    )


def _wait_saved(expected: list[str]) -> None:
    from tests.plugins.celery_worker import wait_for

    wait_for(
        lambda: IntegrationAccount.objects.get().phone_types == expected,
        what=f"phone types saved as {expected}",
        timeout=10,
    )


def test_a_refused_create_keeps_what_was_typed_secret_included(
    page: Page, live_server, administrator, sim_tenant
):
    sign_in(page, live_server.url, "ada")
    page.goto(f"{live_server.url}/account/")
    expect(page.get_by_label("Evaluation")).to_be_checked()

    page.get_by_label("Name").fill("Contoso Teams")
    page.get_by_label("Object ID").fill(sim_tenant.object_id)
    page.get_by_label("Directory (tenant) ID").fill(sim_tenant.tenant_id)
    page.get_by_label("Client ID").fill("not-a-guid")
    page.get_by_label("Client secret").fill(sim_tenant.client_secret)
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_text("Client ID must be a GUID")).to_be_visible()
    expect(page.get_by_text("The secret you typed is kept from your last try")).to_be_visible()
    expect(page.get_by_label("Evaluation")).to_be_checked()
    expect(page.get_by_label("Directory (tenant) ID")).to_have_value(sim_tenant.tenant_id)
    page.get_by_label("Client ID").fill(sim_tenant.client_id)
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_text("Created the Teams integration account")).to_be_visible()
    account = IntegrationAccount.objects.get()
    assert account.licensing_mode == "evaluation"
    assert account.client_secret == sim_tenant.client_secret
    expect(page.locator("body")).not_to_contain_text(sim_tenant.client_secret)


def test_test_connection_tests_the_form_and_token_health_follows_each_test(
    page: Page, live_server, administrator, celery_worker, sim_tenant
):
    account = IntegrationAccountFactory.for_tenant(
        sim_tenant, client_secret="a-stored-secret-that-is-wrong"
    )
    sign_in(page, live_server.url, "ada")
    page.goto(f"{live_server.url}/account/")
    health = page.locator("#token-health")
    expect(health).to_contain_text("none yet")

    # The stored secret is wrong: the failure and its time appear beside the result.
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_text("Error: Failed to request refresh token")).to_be_visible(timeout=30_000)
    expect(health).to_contain_text("Last failure")
    expect(health).to_contain_text("AADSTS7000215")
    expect(health).to_contain_text(" UTC)")

    # An incomplete form is tested as it is, not the stored account.
    page.get_by_label("Directory (tenant) ID").fill("")
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_text("Error: Account credentials are incomplete")).to_be_visible(
        timeout=30_000
    )
    expect(page.get_by_text("Missing: Directory (tenant) ID.")).to_be_visible()
    expect(
        page.get_by_text("Tested the values on the form, which are not saved yet.")
    ).to_be_visible()

    # The right secret, typed but not saved, connects.
    page.get_by_label("Directory (tenant) ID").fill(sim_tenant.tenant_id)
    page.get_by_label("Replace client secret").fill(sim_tenant.client_secret)
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_text("Connected to Microsoft Graph")).to_be_visible(timeout=30_000)
    expect(
        page.get_by_text("Tested the values on the form, which are not saved yet.")
    ).to_be_visible()

    # Saved, then tested: token health and the secret's expiry are current, no reload.
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved the Teams integration account.")).to_be_visible()
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_text("Connected to Microsoft Graph")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Tested the values on the form")).to_have_count(0)
    expect(health).to_contain_text("valid until")
    expect(health).not_to_contain_text("none yet")
    expect(health).not_to_contain_text("Last failure")
    account.refresh_from_db()
    expires = f"{account.secret_expires_at:%Y-%m-%d %H:%M}"
    expect(page.locator("#secret-state")).to_contain_text(
        f"expires {expires} UTC (read from Graph)"
    )
    expect(page.get_by_label("Expires at (UTC)")).to_have_value(expires)
    expect(page.locator("body")).not_to_contain_text(sim_tenant.client_secret)

"""Mailboxes in a real browser, against the simulator and a real worker: an
administrator adds a mailbox, tests it (with the progress of the job), and sees a
customer's message arrive in the mailbox's log."""

from celery import current_app
from playwright.sync_api import Page, expect

from mailboxes.models import Mailbox
from tests.browser.test_login import sign_in
from tests.integrations.factories import IntegrationAccountFactory
from tests.presence.support_webhook import acd_endpoint_set


def test_admin_adds_tests_and_watches_a_mailbox(
    page: Page, live_server, administrator, celery_worker, sim_tenant, graphsim
):
    IntegrationAccountFactory.for_tenant(sim_tenant)
    acd_endpoint_set("http://127.0.0.1:9/acd")
    address = sim_tenant.users[0]["userPrincipalName"].lower()
    graphsim.control.restrict_app_to_mailboxes(
        sim_tenant.tenant_id, sim_tenant.client_id, [address]
    )
    sign_in(page, live_server.url, "ada")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Mailboxes").click()

    page.get_by_label("Address").fill(address)
    page.get_by_label("Display name").fill("Support")
    page.get_by_label("Without a user").check()
    page.get_by_label("The Teams integration account's app").check()
    page.get_by_role("button", name="Add mailbox").click()
    expect(page.get_by_text(f"Added the mailbox {address}")).to_be_visible()

    page.get_by_role("button", name="Test mailbox").click()
    expect(page.get_by_text("The mailbox works", exact=True)).to_be_visible(timeout=60_000)
    expect(page.locator('[data-step="policy"]')).to_contain_text("Restricted")
    expect(page.locator('[data-step="round_trip"]')).to_contain_text("arrived")

    graphsim.control.deliver_mail(
        sim_tenant.tenant_id, address, sender="ana@customer.example", subject="Broken kettle"
    )
    mailbox = Mailbox.objects.get()
    current_app.send_task("mailboxes.inbound.catch_up", args=(mailbox.pk,))
    for _ in range(30):
        page.reload()
        if page.locator("#message-log").get_by_text("Broken kettle").count():
            break
        page.wait_for_timeout(500)
    row = page.locator("#message-log tr", has_text="Broken kettle")
    expect(row).to_contain_text("ana@customer.example")
    expect(row).to_contain_text("Received")

"""Expert chat in a real browser: an administrator marks the chat service account on the
System users page, a conference runs (the contact center's API, a real worker, the
simulator's Teams with the expert typing YES, a message and BYE), and the Chats screen,
left open, follows it live to the end and shows its transcript."""

import pytest
import requests
from playwright.sync_api import Page, expect

from chat.models import ChatSubscription, Conference
from chat.subscription import subscription_ensure
from integrations.apikeys import api_key_create
from tests.accounts.factories import AgentFactory, DirectoryUserFactory
from tests.browser.test_login import sign_in
from tests.chat.test_service_account import system_user
from tests.plugins.celery_worker import wait_for
from tests.presence.support_webhook import acd_endpoint_set, acd_receiver_fixture  # noqa: F401

INVITATION = "You are invited to customer chat session, would you like to accept (YES/NO)?"


@pytest.mark.worker
def test_a_conference_shows_live_on_the_chats_screen_with_its_transcript(
    page: Page,
    live_server,
    settings,
    administrator,
    celery_worker,
    graphsim,
    sim_tenant,
    sim_account,
    acd_receiver,
):
    # Graph (the simulator) delivers chat notifications to this live console.
    settings.CCBRIDGE_PUBLIC_URL = live_server.url
    control, tenant_id = graphsim.control, sim_tenant.tenant_id
    service = system_user(graphsim, sim_tenant)
    person = sim_tenant.users[1]
    expert = DirectoryUserFactory(
        graph_id=person["id"],
        display_name="Avery Quinn",
        user_principal_name=person["userPrincipalName"],
    )
    control.set_presence(tenant_id, expert.graph_id, "Available", "Available")
    agent = AgentFactory(external_id="agent-007", name="Bo Agent")
    acd_endpoint_set(acd_receiver.url)

    sign_in(page, live_server.url, "ada")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="System users").click()
    page.get_by_label("System user for chat").select_option(label=service.username)
    page.get_by_role("button", name="Save and check chat scopes").click()
    expect(page.get_by_text(f"{service.username} is the chat service account")).to_be_visible()
    panel = page.locator("[data-chat-service-account]")
    expect(panel.get_by_text("Ready", exact=True)).to_be_visible()
    expect(panel.locator("li", has_text="Send chat messages")).to_contain_text("Held")
    # Marking it queued the subscription for the worker; make sure it stands (the
    # worker's copy may point elsewhere) before the expert types anything.
    wait_for(
        lambda: subscription_ensure().status == ChatSubscription.Status.ACTIVE,
        what="the chat-message subscription",
    )

    _key, raw = api_key_create(actor=None, name="ACD", scopes=["chat:write"])
    desk = {"Authorization": f"Bearer {raw}"}
    created = requests.post(
        f"{live_server.url}/api/v1/chat-conferences",
        json={
            "customer_chat_id": "cc-42",
            "agent": agent.external_id,
            "expert": expert.user_principal_name,
            "customer_name": "Ann Customer",
        },
        headers=desk,
        timeout=10,
    )
    assert created.status_code == 202, created.text
    conference_id = created.json()["id"]

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Chats").click()
    expect(page.get_by_role("heading", name="Chats")).to_be_visible()
    row = page.locator(f'tr[data-conference="{conference_id}"]')
    expect(row).to_contain_text("Avery Quinn")
    expect(row).to_contain_text("Bo Agent")
    page.evaluate("window.chatsMarker = 'not reloaded'")

    chat_id = wait_for(
        lambda: Conference.objects.get(public_id=conference_id).teams_chat_id,
        what="the Teams chat",
    )
    wait_for(
        lambda: any(
            m["body"]["content"] == INVITATION for m in control.chat_messages(tenant_id, chat_id)
        ),
        what="the invitation in Teams",
    )
    control.type_chat_message(tenant_id, chat_id, expert.graph_id, "YES")
    expect(row).to_contain_text("Joined", timeout=30_000)

    relayed = requests.post(
        f"{live_server.url}/api/v1/chat-conferences/{conference_id}/messages",
        json={
            "author_role": "customer",
            "author_name": "Ann Customer",
            "text": "Is line 12 right?",
        },
        headers=desk,
        timeout=10,
    )
    assert relayed.status_code == 202, relayed.text
    wait_for(
        lambda: (
            control.chat_messages(tenant_id, chat_id)[-1]["body"]["content"]
            == "Ann Customer: Is line 12 right?"
        ),
        what="the relayed message in Teams",
    )
    control.type_chat_message(tenant_id, chat_id, expert.graph_id, "Line 12 is right")
    control.type_chat_message(tenant_id, chat_id, expert.graph_id, "BYE")

    expect(row).to_contain_text("Expert left", timeout=30_000)
    expect(row).to_contain_text("1 to the expert")
    expect(row).to_contain_text("3 from the expert")
    assert page.evaluate("window.chatsMarker") == "not reloaded"
    # Nothing listed is live any more: the list stopped polling.
    expect(page.locator("#chats-table[hx-trigger]")).to_have_count(0)

    row.get_by_role("link", name="Ann Customer").click()
    expect(page.get_by_role("heading", name="Avery Quinn in Ann Customer's chat")).to_be_visible()
    expect(page.locator(".transcript .line-text")).to_have_text(
        [
            INVITATION,
            "YES",
            "Avery Quinn joined the session",
            "Ann Customer: Is line 12 right?",
            "Line 12 is right",
            "BYE",
            "Avery Quinn left the session",
        ]
    )
    expect(page.locator(".timeline")).to_contain_text("Joined")
    expect(page.locator(".timeline")).to_contain_text("Expert left")

"""Marking the chat service account on the System users page, with the check that its
delegated token holds the chat scopes."""

import re
import uuid

from django.urls import reverse

from chat.models import ChatServiceAccount
from presence.subscriptions.system_users import system_user_add, system_user_set_enabled
from tests.chat.support import SERVICE_PASSWORD


def _panel(client) -> str:
    page = client.get(reverse("sync:system_users")).content.decode()
    return page.split("data-chat-service-account")[1].split("</section>")[0]


def _checks(panel: str) -> list[tuple[str, str]]:
    """(Held or Missing, the need and the scopes that meet it), as the panel lists them."""
    found = re.findall(
        r'<li data-scope-need="\d">\s*<span[^>]*>(\w+)</span>\s*([^<]+?)\s*</li>', panel
    )
    return [(state, " ".join(text.split())) for state, text in found]


def system_user(graphsim, tenant):
    made = graphsim.control.create_user(
        tenant.tenant_id,
        displayName="ccbridge chat",
        mailNickname=f"chat_{uuid.uuid4().hex[:6]}",
        password=SERVICE_PASSWORD,
    )
    return system_user_add(
        actor=None, username=made["userPrincipalName"], password=SERVICE_PASSWORD
    )


def test_an_administrator_marks_it_and_its_chat_scopes_are_checked(
    administrator_client, graphsim, sim_tenant, sim_account, monkeypatch
):
    monkeypatch.setattr("chat.service_account.subscription_ensure_soon", lambda: None)
    user = system_user(graphsim, sim_tenant)
    page = administrator_client.get(reverse("sync:system_users")).content.decode()
    assert "No chat service account is set" in page

    response = administrator_client.post(
        reverse("chat:service_account"), {"system_user": user.pk}, follow=True
    )
    assert "is the chat service account" in response.content.decode()
    account = ChatServiceAccount.objects.get()
    assert account.ready and {"ChatMessage.Send", "Chat.ReadWrite"} <= set(account.scopes.split())
    panel = _panel(administrator_client)
    assert "Ready" in panel
    assert _checks(panel) == [
        ("Held", "Send chat messages: ChatMessage.Send or Chat.ReadWrite"),
        ("Held", "Open one-on-one chats: Chat.Create or Chat.ReadWrite"),
    ]

    administrator_client.post(reverse("chat:service_account"), {"system_user": ""})
    assert not ChatServiceAccount.objects.exists()


def test_a_token_without_the_chat_scopes_is_not_ready_and_says_what_to_grant(
    administrator_client, graphsim, sim_tenant, sim_account, monkeypatch
):
    monkeypatch.setattr("chat.service_account.subscription_ensure_soon", lambda: None)
    graphsim.control.update_app(
        sim_tenant.tenant_id, sim_tenant.client_id, delegated=["Presence.Read.All", "User.Read"]
    )
    user = system_user(graphsim, sim_tenant)
    response = administrator_client.post(
        reverse("chat:service_account"), {"system_user": user.pk}, follow=True
    )
    account = ChatServiceAccount.objects.get()
    assert not account.ready
    assert "ChatMessage.Send" in account.status_detail
    assert "cannot chat yet" in response.content.decode()
    panel = _panel(administrator_client)
    assert "Cannot chat" in panel
    assert _checks(panel) == [
        ("Missing", "Send chat messages: ChatMessage.Send or Chat.ReadWrite"),
        ("Missing", "Open one-on-one chats: Chat.Create or Chat.ReadWrite"),
    ]
    # What to do, in the panel itself.
    assert "grant admin consent" in panel and "Save and check chat scopes" in panel


def test_a_disabled_marked_user_stays_selected_so_saving_keeps_it(
    administrator_client, graphsim, sim_tenant, sim_account, monkeypatch
):
    monkeypatch.setattr("chat.service_account.subscription_ensure_soon", lambda: None)
    user = system_user(graphsim, sim_tenant)
    administrator_client.post(reverse("chat:service_account"), {"system_user": user.pk})
    system_user_set_enabled(actor=None, user=user, enabled=False)
    panel = _panel(administrator_client)
    assert f'<option value="{user.pk}" selected>{user.username} (disabled)</option>' in panel


def test_a_supervisor_cannot_mark_it(supervisor_client, db):
    assert supervisor_client.post(reverse("chat:service_account")).status_code == 403

"""Marking the chat service account on the System users page, with the check that its
delegated token holds the chat scopes."""

import uuid

from django.urls import reverse

from chat.models import ChatServiceAccount
from presence.subscriptions.system_users import system_user_add
from tests.chat.support import SERVICE_PASSWORD


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
    assert "Ready" in administrator_client.get(reverse("sync:system_users")).content.decode()

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


def test_a_supervisor_cannot_mark_it(supervisor_client, db):
    assert supervisor_client.post(reverse("chat:service_account")).status_code == 403

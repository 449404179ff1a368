"""Helpers for the conference tests: a simulator tenant with a chat service account
signed in, an expert in the directory, an ACD webhook, and what the expert types."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from django.test import Client

from accounts.models import DirectoryUser
from chat.models import ChatServiceAccount, ChatSubscription
from chat.service_account import chat_service_account_set
from chat.subscription import subscription_ensure
from integrations.apikeys import api_key_create
from integrations.models import IntegrationAccount
from presence.subscriptions.system_users import system_user_add
from presence.sync_models import AcdDelivery, SystemUser
from tests.accounts.factories import AgentFactory, DirectoryUserFactory
from tests.plugins.graphsim_server import GraphSimServer, SimTenant
from tests.presence.support_sync import sim_account
from tests.presence.support_webhook import acd_endpoint_set

SERVICE_PASSWORD = "Chat-Service-Passw0rd!"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


@dataclass
class ChatBed:
    graphsim: GraphSimServer
    tenant: SimTenant
    account: IntegrationAccount
    service: ChatServiceAccount
    expert: DirectoryUser
    agent_external_id: str

    @property
    def control(self):
        return self.graphsim.control

    def chat_lines(self, chat_id: str) -> list[tuple[str, str]]:
        """(sender id, body content) of the chat's messages, oldest first, as Teams shows them."""
        return [
            ((m.get("from") or {}).get("user", {}).get("id", ""), m["body"]["content"])
            for m in self.control.chat_messages(self.tenant.tenant_id, chat_id)
        ]

    def expert_types(self, chat_id: str, text: str, *, image: bytes | None = None) -> dict:
        return self.control.type_chat_message(
            self.tenant.tenant_id, chat_id, self.expert.graph_id, text, image=image
        )

    def set_presence(self, availability: str, activity: str) -> None:
        self.control.set_presence(
            self.tenant.tenant_id, self.expert.graph_id, availability, activity
        )


def chat_bed(graphsim, tenant: SimTenant, account: IntegrationAccount) -> ChatBed:
    """The chat service account signed in (its chat scopes checked), an available expert
    in the directory and an agent."""
    nickname = f"chatsvc_{uuid.uuid4().hex[:6]}"
    made = graphsim.control.create_user(
        tenant.tenant_id,
        displayName="ccbridge chat",
        mailNickname=nickname,
        password=SERVICE_PASSWORD,
    )
    user = system_user_add(
        actor=None, username=made["userPrincipalName"], password=SERVICE_PASSWORD
    )
    service = chat_service_account_set(actor=None, system_user=user)
    assert service.ready, service.status_detail
    assert SystemUser.objects.get(pk=user.pk).graph_id == made["id"]
    person = tenant.users[1]
    expert = DirectoryUserFactory(
        graph_id=person["id"],
        display_name="Avery Quinn",
        user_principal_name=person["userPrincipalName"],
    )
    graphsim.control.set_presence(tenant.tenant_id, person["id"], "Available", "Available")
    agent = AgentFactory(external_id="agent-007")
    return ChatBed(graphsim, tenant, account, service, expert, agent.external_id)


@dataclass
class LiveBed:
    bed: ChatBed
    subscription: ChatSubscription
    desk: Client  # the contact center's API client (chat:write)


@pytest.fixture(name="live_bed")
def live_bed_fixture(
    graphsim, small_tenant, graph_settings, settings, live_server, acd_receiver, monkeypatch
) -> LiveBed:
    """A chat bed whose chat subscription notifies the live server's webhook (the worker
    was started with another public URL, so the subscription is made here), ACD events
    going to the ACD receiver, and the contact center's API client. The test module
    provides ``small_tenant`` and ``acd_receiver``."""
    settings.CCBRIDGE_PUBLIC_URL = live_server.url
    monkeypatch.setattr("chat.service_account.subscription_ensure_soon", lambda: None)
    acd_endpoint_set(acd_receiver.url)
    bed = chat_bed(graphsim, small_tenant, sim_account(small_tenant))
    row = subscription_ensure()  # the live webhook answers Graph's handshakes
    assert row.status == ChatSubscription.Status.ACTIVE, row.last_error
    _key, raw = api_key_create(actor=None, name="ACD", scopes=["chat:write"])
    return LiveBed(bed, row, Client(headers={"Authorization": f"Bearer {raw}"}))


@pytest.fixture(name="bed")
def bed_fixture(graphsim, sim_tenant, sim_account, monkeypatch) -> ChatBed:
    # Services queue the subscription for the worker; these tests have none.
    monkeypatch.setattr("chat.service_account.subscription_ensure_soon", lambda: None)
    acd_endpoint_set("http://127.0.0.1:9/acd")
    return chat_bed(graphsim, sim_tenant, sim_account)


def events(conference=None) -> list[dict]:
    """The chat events queued for the ACD, oldest first (optionally of one conference)."""
    rows = AcdDelivery.objects.order_by("pk")
    payloads = [row.payload for row in rows if row.payload.get("conference")]
    if conference is not None:
        payloads = [p for p in payloads if p["conference"] == str(conference.public_id)]
    return payloads


def item_of(message: dict) -> dict:
    """What the webhook hands the worker for a message a notification carried."""
    return {"chat_id": message["chatId"], "message_id": message["id"], "message": message}

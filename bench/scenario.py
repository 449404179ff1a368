"""A working presence setup against the simulator, built the way the product builds it.

A simulator tenant with an app (application and delegated permissions), the
integration account, a business unit with a bi-directional rule, N agents
mapped to the tenant's users and given that rule, signed-in system users and
their presence subscriptions (the simulator validates the console's live
webhook), an API key for agent events and the ACD webhook. Used by the
end-to-end rows (bench/latency.py, bench/webhook_ingest.py) and by the soak.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings

from accounts.models import Agent, AgentMapping, BusinessUnit, DirectoryUser
from bench.simulator import Simulator
from integrations.apikeys import api_key_create
from integrations.models import IntegrationAccount
from integrations.services import account_get
from presence.models import AgentRuleAssignment, PresenceRule
from presence.rules.services import (
    PublisherRowInput,
    SubscriberRowInput,
    reason_codes_ensure,
    rule_save,
)
from presence.subscriptions.plan import CAPACITY
from presence.subscriptions.services import subscriptions_sync
from presence.subscriptions.system_users import strong_password, system_user_add, system_user_check
from presence.sync_models import AcdEndpoint, Subscription, SystemUser

# Chat.Read.All for the chat-message subscription, the delegated chat scopes for the chat
# service account (the conference rows, bench/chat_latency.py).
APPLICATION_PERMISSIONS = [
    "User.Read.All", "Presence.Read.All", "Presence.ReadWrite.All", "Chat.Read.All",
]  # fmt: skip
DELEGATED_PERMISSIONS = ["Presence.Read.All", "User.Read", "ChatMessage.Send", "Chat.ReadWrite"]
ACD_SECRET = "bench-acd-shared-secret"

# The rule every bench agent follows, both ways. ACD → Teams: what setPresence gets.
PUBLISHER_ROWS = (
    PublisherRowInput("available", None, "set", "Available", "Available", 240),
    PublisherRowInput("working", None, "set", "Busy", "InACall", 240),
    PublisherRowInput("unavailable", None, "set", "Away", "Away", 240),
    PublisherRowInput("wrap_up", None, "set", "DoNotDisturb", "Presenting", 240),
    PublisherRowInput("logged_out", None, "clear"),
)
# Teams → ACD: the ACD state (and reason) a Teams presence becomes.
SUBSCRIBER_ROWS = (
    SubscriberRowInput("Available", None, "available"),
    SubscriberRowInput("Busy", None, "working"),
    SubscriberRowInput("Away", None, "unavailable", "break"),
    SubscriberRowInput("DoNotDisturb", None, "unavailable", "meeting"),
)
# What the rule says, for checking end states.
PUBLISHED = {
    "available": ("Available", "Available"),
    "working": ("Busy", "InACall"),
    "unavailable": ("Away", "Away"),
    "wrap_up": ("DoNotDisturb", "Presenting"),
}
SUBSCRIBED = {
    "Available": ("available", None),
    "Busy": ("working", None),
    "Away": ("unavailable", "break"),
    "DoNotDisturb": ("unavailable", "meeting"),
}


@dataclass(frozen=True)
class BenchAgent:
    pk: int
    external_id: str
    user_id: str


@dataclass
class Scenario:
    tenant_id: str
    client_id: str
    agents: list[BenchAgent]
    api_key: str
    rule: PresenceRule


def _tenant(sim: Simulator, users: int, seed: int) -> tuple[str, str, str, str]:
    domain = f"bench{secrets.token_hex(4)}.example"
    tenant = sim.control(
        "POST", "/tenants", json={"name": domain, "domain": domain, "users": users, "seed": seed}
    )
    app = sim.control(
        "POST",
        f"/tenants/{tenant['tenant_id']}/apps",
        json={
            "permissions": APPLICATION_PERMISSIONS,
            "delegated": DELEGATED_PERMISSIONS,
            "secret_expires_at": (datetime.now(UTC) + timedelta(days=60)).isoformat(),
            "display_name": "ccbridge-bench-presence",
        },
    )
    return tenant["tenant_id"], app["client_id"], app["client_secret"], app["object_id"]


def _account(tenant_id: str, client_id: str, secret: str, object_id: str) -> None:
    # Exactly one account may exist: point it (or a new one) at this tenant.
    account = account_get() or IntegrationAccount(name="Bench Teams")
    account.tenant, account.client_id, account.object_id = tenant_id, client_id, object_id
    account.client_secret = secret
    account.token_cache = ""
    account.save()


def _agents(users: list[dict], unit: BusinessUnit, rule: PresenceRule) -> list[BenchAgent]:
    directory = DirectoryUser.objects.bulk_create(
        [
            DirectoryUser(
                graph_id=u["id"],
                display_name=u.get("displayName") or "",
                user_principal_name=u.get("userPrincipalName") or "",
                mail=u.get("mail") or "",
            )
            for u in users
        ],
        batch_size=1000,
    )
    agents = Agent.objects.bulk_create(
        [
            Agent(external_id=f"BENCH-{u['id']}", name=u.get("displayName") or u["id"],
                  business_unit=unit)
            for u in users
        ],
        batch_size=1000,
    )  # fmt: skip
    AgentMapping.objects.bulk_create(
        [
            AgentMapping(agent=a, directory_user=d, method=AgentMapping.Method.MANUAL)
            for a, d in zip(agents, directory, strict=True)
        ],
        batch_size=1000,
    )
    AgentRuleAssignment.objects.bulk_create(
        [AgentRuleAssignment(agent=a, rule=rule) for a in agents], batch_size=1000
    )
    return [
        BenchAgent(a.pk, a.external_id, d.graph_id) for a, d in zip(agents, directory, strict=True)
    ]


def system_users_add(sim: Simulator, tenant_id: str, count: int, *, prefix: str) -> None:
    """``count`` Teams accounts made in the simulator's tenant, each with a password of
    its own (never written down), added as system users and signed in."""
    for number in range(count):
        nickname = f"{prefix}_{number}_{secrets.token_hex(3)}"
        password = strong_password()
        made = sim.control(
            "POST",
            f"/tenants/{tenant_id}/users",
            json={
                "displayName": nickname,
                "mailNickname": nickname,
                "password": password,
                "mfa_required": False,
            },
        )
        user = system_user_add(actor=None, username=made["userPrincipalName"], password=password)
        checked = system_user_check(user)
        if checked.status != SystemUser.Status.OK:
            raise RuntimeError(f"system user {nickname} did not sign in: {checked.status_detail}")


def acd_endpoint_set(url: str) -> None:
    """Point the ACD webhook at the bench's receiver (enabled, signed with ACD_SECRET)."""
    endpoint = AcdEndpoint.objects.first() or AcdEndpoint()
    endpoint.url, endpoint.enabled = url, True
    endpoint.secret = ACD_SECRET
    endpoint.save()


def build(sim: Simulator, *, agents: int, web_url: str, acd_url: str, seed: int = 4242) -> Scenario:
    """Everything above for ``agents`` agents; subscriptions point at ``web_url``.

    Side effects: simulator tenant, users and subscriptions; database rows. Raises
    RuntimeError when a system user cannot sign in or a subscription is not created.
    """
    tenant_id, client_id, secret, object_id = _tenant(sim, agents + agents // 10 + 20, seed)
    _account(tenant_id, client_id, secret, object_id)
    users = sim.control("GET", f"/tenants/{tenant_id}/users")["value"]
    enabled = [u for u in users if u.get("accountEnabled")][:agents]
    if len(enabled) < agents:
        raise RuntimeError(f"the tenant has {len(enabled)} enabled users, not {agents}")
    unit, _ = BusinessUnit.objects.get_or_create(
        code=f"bench-{seed}", defaults={"name": f"Bench {seed}"}
    )
    reason_codes_ensure(unit)
    rule = rule_save(
        actor=None,
        business_unit=unit,
        name=f"Bench both ways {secrets.token_hex(3)}",
        direction="both",
        publisher_rows=list(PUBLISHER_ROWS),
        subscriber_rows=list(SUBSCRIBER_ROWS),
    )
    bench_agents = _agents(enabled, unit, rule)
    system_users_add(sim, tenant_id, math.ceil(agents / CAPACITY), prefix="bench_presence")
    acd_endpoint_set(acd_url)
    _key, api_key = api_key_create(actor=None, name="bench ACD", scopes=["events:write"])
    # The simulator validates this URL (the live gunicorn) when each subscription is made.
    settings.CCBRIDGE_PUBLIC_URL = web_url
    result = subscriptions_sync()
    active = sim.control("GET", "/subscriptions", params={"tenant": tenant_id})["value"]
    if len(active) != math.ceil(agents / CAPACITY):
        raise RuntimeError(f"{len(active)} subscriptions in the simulator ({result})")
    return Scenario(tenant_id, client_id, bench_agents, api_key, rule)


def remove(built: Scenario) -> None:
    """Delete what :func:`build` stored, so later measures see only their own rows.

    Side effects: deletes the agents (with their presence, events and history), their
    directory users, every subscription and system user, and the rule.
    """
    agent_ids = [agent.pk for agent in built.agents]
    user_ids = [agent.user_id for agent in built.agents]
    Subscription.objects.all().delete()
    SystemUser.objects.all().delete()
    Agent.objects.filter(pk__in=agent_ids).delete()
    DirectoryUser.objects.filter(graph_id__in=user_ids).delete()
    built.rule.delete()

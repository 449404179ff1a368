"""Helpers for the contact center → Teams tests: an account on a simulator tenant, agents
mapped to the tenant's users, a publishing rule, and posting events through the API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import count

from django.test import Client

from accounts.models import Agent, AgentTeam, BusinessUnit
from integrations.apikeys import api_key_create
from integrations.models import IntegrationAccount
from presence.models import AgentRuleAssignment, PresenceRule
from presence.rules.services import PublisherRowInput, SubscriberRowInput, rule_save
from tests.accounts.factories import AgentFactory, AgentMappingFactory, DirectoryUserFactory
from tests.integrations.factories import IntegrationAccountFactory

EVENTS = "/api/v1/agent-events"
SET, CLEAR = "set", "clear"
_sequence = count(1)

# The rule most tests use: every state but wrap-up publishes something.
PUBLISHER_ROWS = (
    PublisherRowInput("available", None, SET, "Available", "Available", 240),
    PublisherRowInput("working", None, SET, "Busy", "InACall", 240),
    PublisherRowInput("unavailable", "lunch", SET, "Away", "Away", 60),
    PublisherRowInput("unavailable", None, SET, "DoNotDisturb", "Presenting", 30),
    PublisherRowInput("logged_out", None, CLEAR),
)
SUBSCRIBER_ROWS = (
    SubscriberRowInput("Available", None, "available"),
    SubscriberRowInput("Busy", None, "working"),
    SubscriberRowInput("Away", None, "unavailable", "break"),
)


def account_for(sim_tenant) -> IntegrationAccount:
    """The integration account pointed at a simulator tenant."""
    return IntegrationAccountFactory.for_tenant(sim_tenant, name="Fabrikam Teams")


def publishing_rule(
    unit: BusinessUnit,
    *,
    name: str = "Voice standard",
    rows=PUBLISHER_ROWS,
    subscriber_rows=SUBSCRIBER_ROWS,
    on_mapping: str = "apply",
) -> PresenceRule:
    """A saved rule; like support_webhook.subscriber_rule it applies the first presence
    after mapping, as the tests using it map their agents just before they act."""
    direction = "both" if subscriber_rows else "publisher"
    return rule_save(
        actor=None,
        business_unit=unit,
        name=name,
        direction=direction,
        publisher_rows=list(rows),
        subscriber_rows=list(subscriber_rows),
        on_mapping=on_mapping,
    )


def mapped_agent(
    unit: BusinessUnit,
    user: dict,
    *,
    rule: PresenceRule | None = None,
    team: AgentTeam | None = None,
    external_id: str | None = None,
    **fields,
) -> Agent:
    """An agent mapped to the simulator user ``user`` (a control-API user dict)."""
    agent = AgentFactory(
        external_id=external_id or f"ACD-{user['id'][:8]}",
        name=fields.pop("name", user["displayName"]),
        email=user.get("mail") or "",
        business_unit=unit,
        teams=[team] if team is not None else None,
        **fields,
    )
    directory_user = DirectoryUserFactory(
        graph_id=user["id"],
        display_name=user["displayName"],
        mail=user.get("mail") or "",
        user_principal_name=user["userPrincipalName"],
        proxy_addresses=[],
    )
    AgentMappingFactory(agent=agent, directory_user=directory_user)
    if rule is not None:
        AgentRuleAssignment.objects.create(agent=agent, rule=rule)
    return agent


def enabled_users(sim_tenant) -> list[dict]:
    return [user for user in sim_tenant.users if user["accountEnabled"]]


def events_key(actor=None) -> str:
    _key, raw = api_key_create(actor=actor, name="ACD events", scopes=["events:write"])
    return raw


def api_client(key: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {key}"})


def event(
    agent: Agent | str,
    state: str,
    *,
    sequence: int | None = None,
    reason_code: str | None = None,
    interaction: str = "none",
    occurred_at: datetime | None = None,
) -> dict:
    body = {
        "agent": agent if isinstance(agent, str) else agent.external_id,
        "state": state,
        "interaction": interaction,
        "occurred_at": (occurred_at or datetime.now(UTC)).isoformat(),
        "sequence": next(_sequence) if sequence is None else sequence,
    }
    if reason_code is not None:
        body["reason_code"] = reason_code
    return body


def post_events(client: Client, *events: dict):
    return client.post(
        EVENTS, json.dumps({"events": list(events)}), content_type="application/json"
    )


def sim_presence(graphsim, sim_tenant, user_id: str) -> tuple[str, str]:
    """What Teams shows for the user, read through the simulator's control API."""
    user = next(u for u in graphsim.control.list_users(sim_tenant.tenant_id) if u["id"] == user_id)
    return user["presence"]["availability"], user["presence"]["activity"]


def sim_calls(graphsim, sim_tenant, action: str, since: datetime | None = None) -> list[dict]:
    """The tenant's Graph calls whose path ends with ``action`` (setPresence, …), including
    those an injected fault answered (the simulator attributes those to no tenant)."""
    calls = graphsim.control.calls(since=since)
    return [
        call
        for call in calls
        if call["path"].endswith(action) and call["tenant"] in (sim_tenant.tenant_id, None)
    ]


def a_moment_ago() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=1)

"""Why isn't an agent's presence syncing? The troubleshooting table of the CXone
guide, made live: the chain of links presence needs for one agent, checked in
order, naming the first broken one.

``chain`` is pure (facts in, links out); ``agent_facts`` reads the facts from the
console's records, which the sync engine keeps current.
"""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import Agent
from integrations.services import account_get
from presence.rules.core import Source
from presence.rules.services import agent_effective_rule
from presence.sync_models import AcdDelivery, AcdEndpoint, AgentPresence, Subscription, SystemUser


@dataclass(frozen=True)
class Link:
    key: str
    title: str
    ok: bool
    evidence: str
    fix: str = ""


@dataclass(frozen=True)
class AgentFacts:
    mapped_to: str  # the Teams user's display name; empty when unmapped
    teams_enabled: bool
    rule_name: str  # empty when no rule applies
    rule_conflict: tuple[str, ...]  # the disagreeing teams
    manual_in_teams: bool
    subscription_user: str  # the system user whose subscription watches the agent
    subscription_error: str  # why that subscription is not active; empty when it is
    system_user_error: str
    account_error: str
    acd_error: str


def chain(facts: AgentFacts) -> list[Link]:
    """Every link in order; the first not ``ok`` is the one to fix."""
    links = [
        Link(
            "mapped",
            "Mapped to a Teams user",
            bool(facts.mapped_to),
            f"Mapped to {facts.mapped_to}." if facts.mapped_to else "Not mapped.",
            "Map the agent on the Mapping page (Auto-map or Remap).",
        ),
        Link(
            "enabled",
            "Teams integration enabled",
            facts.teams_enabled,
            "Enabled." if facts.teams_enabled else "Teams integration is off for this agent.",
            "Enable Teams integration for the agent on the Mapping page.",
        ),
    ]
    if facts.rule_conflict:
        rule = Link(
            "rule",
            "An effective presence rule",
            False,
            "Its teams disagree: " + ", ".join(facts.rule_conflict) + ".",
            "Give one of the teams a priority, or assign the agent its own rule.",
        )
    else:
        rule = Link(
            "rule",
            "An effective presence rule",
            bool(facts.rule_name),
            f"{facts.rule_name} applies." if facts.rule_name else "No rule applies.",
            "Assign a rule to one of the agent's teams or to the agent.",
        )
    links.append(rule)
    links.append(
        Link(
            "manual",
            "No manual status in Teams",
            not facts.manual_in_teams,
            "The agent set a status by hand in Teams, which beats every rule."
            if facts.manual_in_teams
            else "No manual status set.",
            "Ask the agent to choose Reset status in Teams (their picture → status → Reset).",
        )
    )
    if not facts.subscription_user:
        sub = Link(
            "subscription",
            "A subscription watches the agent",
            False,
            "No subscription covers the agent's Teams user.",
            "Add a system user (System users page); the next subscription sync spreads "
            "mapped users across them.",
        )
    else:
        sub = Link(
            "subscription",
            "A subscription watches the agent",
            not facts.subscription_error,
            facts.subscription_error
            or f"The subscription of {facts.subscription_user} watches it.",
            "See the Subscriptions page for the error and its fix.",
        )
    links.append(sub)
    credentials_error = facts.account_error or facts.system_user_error
    links.append(
        Link(
            "credentials",
            "Token and account credentials work",
            not credentials_error,
            credentials_error or "The app token and the system user's sign-in work.",
            "Press Test connection on the Teams account page, or Check sign-in on the System "
            "users page, and follow what it says.",
        )
    )
    links.append(
        Link(
            "acd_webhook",
            "The ACD webhook receives changes",
            not facts.acd_error,
            facts.acd_error or "The ACD webhook takes deliveries.",
            "Check the ACD webhook settings (URL and secret) and replay the dead letters.",
        )
    )
    return links


def first_broken(links: list[Link]) -> Link | None:
    return next((link for link in links if not link.ok), None)


def _subscription(agent: Agent) -> tuple[str, str, str]:
    """(system user, subscription error, system user error) for the agent's Teams user."""
    mapping = getattr(agent, "mapping", None)
    if mapping is None:
        return "", "", ""
    sub = (
        Subscription.objects.filter(members=mapping.directory_user)
        .select_related("system_user")
        .first()
    )
    if sub is None:
        return "", "", ""
    error = ""
    if sub.status != Subscription.Status.ACTIVE:
        error = f"The subscription is {sub.get_status_display().lower()}: {sub.last_error}".strip()
    user = sub.system_user
    user_error = ""
    if user.status not in (SystemUser.Status.OK, SystemUser.Status.UNCHECKED):
        user_error = f"{user.username}: {user.status_detail or user.get_status_display()}"
    return user.username, error, user_error


def _acd_error(agent: Agent) -> str:
    endpoint = AcdEndpoint.objects.first()
    if endpoint is None or not endpoint.url or not endpoint.enabled:
        return "No ACD webhook is set up (or it is turned off)."
    dead = AcdDelivery.objects.filter(agent=agent, status=AcdDelivery.Status.DEAD).first()
    if dead is not None:
        return f"Deliveries for this agent are dead-lettered: {dead.last_error}".strip()
    return ""


def agent_facts(agent: Agent) -> AgentFacts:
    """The facts of the chain for ``agent``, from the console's records (no Graph call)."""
    mapping = getattr(agent, "mapping", None)
    effective = agent_effective_rule(agent)
    presence = AgentPresence.objects.filter(agent=agent).first()
    system_user, sub_error, user_error = _subscription(agent)
    account = account_get()
    if account is None:
        account_error = "There is no Teams integration account."
    else:
        account_error = account.token_error
    return AgentFacts(
        mapped_to=mapping.directory_user.display_name if mapping else "",
        teams_enabled=agent.teams_enabled,
        rule_name=effective.rule.name if effective.rule else "",
        rule_conflict=tuple(t.team_name for t in effective.conflict)
        if effective.source is Source.CONFLICT
        else (),
        manual_in_teams=bool(presence and presence.manual_in_teams),
        subscription_user=system_user,
        subscription_error=sub_error,
        system_user_error=user_error,
        account_error=account_error,
        acd_error=_acd_error(agent),
    )

"""Demo data for `make run`: the integration account for the simulator's demo tenant,
and a contact center whose agents match that tenant in varied ways.

The agents are built from the simulator's users read through Graph (the
console never imports the simulator), so every matching rule and every
ambiguity of auto-map shows up on the review screen.
"""

from typing import NamedTuple

from accounts.models import AgentTeam, BusinessUnit
from accounts.services import AgentInput, agents_upsert, business_unit_upsert
from chat.models import ChatServiceAccount
from chat.service_account import chat_account_check, chat_account_get, chat_service_account_set
from graph.directory import list_users
from integrations.graphlink import app_graph_client, token_cache_save
from integrations.models import IntegrationAccount, LicensingMode
from integrations.services import account_create, account_get
from presence.models import PresenceRule
from presence.rules.services import PublisherRowInput as Pub
from presence.rules.services import SubscriberRowInput as Sub
from presence.rules.services import reason_codes_ensure, rule_assign_teams, rule_save
from presence.subscriptions.system_users import (
    system_user_check,
    system_user_not_found,
    system_users_create_in_azure,
    system_users_needed,
)
from presence.sync_models import SystemUser

DEMO_UNIT_CODE = "contoso-cc"
DEMO_UNIT_NAME = "Contoso Contact Center"
DEMO_TEAMS = ("Sales", "Support", "Billing", "Escalations", "Retention")
# How many agents of each kind; 800 in all.
PLAN = (
    ("mail", 470),
    ("upn", 60),
    ("other_mail", 80),
    ("proxy", 60),
    ("name_only", 70),
    ("shared_email", 30),  # pairs of agents with one address: ambiguous
    ("no_match", 30),
)
DEMO_AGENTS = sum(count for _kind, count in PLAN)


def demo_account_ensure(tenant: dict) -> IntegrationAccount | None:
    """Create the Teams integration account for the simulator's demo tenant (the
    contents of its demo-tenant.json) unless an account exists; returns the new one.
    """
    if account_get() is not None:
        return None
    account = account_create(
        actor=None,
        fields={
            "name": f"{tenant.get('name', 'Contoso')} (simulator)",
            "object_id": tenant["object_id"],
            "tenant": tenant["tenant_id"],
            "client_id": tenant["client_id"],
            "licensing_mode": LicensingMode.PRODUCTION,
            "phone_types": ["business", "mobile", "fax"],
        },
        client_secret=tenant["client_secret"],
    )
    return account


def _agent(kind: str, index: int, user) -> AgentInput:
    name, email = user.display_name if user else f"Temp Agent {index:03d}", ""
    if kind == "mail":
        email = user.mail.upper() if index % 10 == 0 else user.mail
    elif kind == "upn":
        email = user.user_principal_name
    elif kind == "other_mail":
        email = user.other_mails[0]
    elif kind == "proxy":
        email = next(a[5:] for a in user.proxy_addresses if a.startswith("smtp:"))
    elif kind == "name_only":
        email = f"agent{index:03d}@contact-center.example"
    elif kind == "shared_email":
        email = user.mail
    else:
        email = f"temp{index:03d}@staffing.example"
    teams = (DEMO_TEAMS[index % len(DEMO_TEAMS)],)
    if index % 37 == 0:
        teams += (DEMO_TEAMS[(index + 1) % len(DEMO_TEAMS)],)
    return AgentInput(
        external_id=f"ACD-{index:04d}",
        name=name,
        email=email,
        business_unit=DEMO_UNIT_CODE,
        teams=teams,
    )


def _pools(users):
    enabled = [u for u in users if u.account_enabled]
    return {
        "mail": [u for u in enabled if u.mail and u.mail == u.user_principal_name],
        "upn": [u for u in enabled if u.mail and u.mail != u.user_principal_name],
        "other_mail": [u for u in enabled if u.other_mails],
        "proxy": enabled,
        "name_only": enabled,
        "shared_email": enabled,
        "no_match": [None],
    }


def demo_agents_ensure(account: IntegrationAccount) -> int:
    """Create the demo business unit and its 800 agents once; returns how many were created."""
    if BusinessUnit.objects.filter(code=DEMO_UNIT_CODE).exists():
        return 0
    client, _tokens = app_graph_client(account)
    users = sorted((u for page in list_users(client) for u in page), key=lambda u: u.id)
    pools = _pools(users)
    used: set[str] = set()
    rows: list[AgentInput] = []
    for kind, count in PLAN:
        pool = [u for u in pools[kind] if u is None or u.id not in used]
        for n in range(count):
            user = pool[n // 2 if kind == "shared_email" else n] if pool != [None] else None
            if user is not None:
                used.add(user.id)
            rows.append(_agent(kind, len(rows) + 1, user))
    business_unit_upsert(actor=None, code=DEMO_UNIT_CODE, name=DEMO_UNIT_NAME)
    return len(agents_upsert(actor=None, rows=rows, source="Demo seed").created)


DEMO_RULE_NAME = "Contoso default"
# Contact center → Teams: the ACD state decides the app's presence session.
DEMO_PUBLISHER_ROWS = (
    Pub("available", None, "set", "Available", "Available", 240),
    Pub("working", None, "set", "Busy", "InACall", 240),
    Pub("wrap_up", None, "set", "Busy", "InACall", 30),
    Pub("unavailable", "meeting", "set", "Busy", "InAConferenceCall", 120),
    Pub("unavailable", None, "set", "Away", "Away", 240),
    Pub("logged_out", None, "clear"),
)
# Teams → contact center: what a person does in Teams makes the agent unavailable.
DEMO_SUBSCRIBER_ROWS = (
    Sub("Available", None, "available"),
    Sub("Busy", "InAMeeting", "unavailable", "meeting"),
    Sub("Busy", None, "unavailable", "meeting"),
    Sub("DoNotDisturb", None, "unavailable", "meeting"),
    Sub("Away", None, "unavailable", "break"),
    Sub("BeRightBack", None, "unavailable", "break"),
    Sub("Offline", None, "logged_out"),
)


def demo_rule_ensure() -> PresenceRule | None:
    """A bi-directional default rule for the demo unit, assigned to all its teams (once)."""
    unit = BusinessUnit.objects.filter(code=DEMO_UNIT_CODE).first()
    if unit is None or PresenceRule.objects.filter(business_unit=unit).exists():
        return None
    reason_codes_ensure(unit)
    rule = rule_save(
        actor=None,
        business_unit=unit,
        name=DEMO_RULE_NAME,
        direction=PresenceRule.Direction.BOTH,
        publisher_rows=DEMO_PUBLISHER_ROWS,
        subscriber_rows=DEMO_SUBSCRIBER_ROWS,
    )
    teams = AgentTeam.objects.filter(business_unit=unit).values_list("pk", flat=True)
    rule_assign_teams(actor=None, rule=rule, team_ids=teams)
    return rule


def demo_system_users_restore() -> list[SystemUser]:
    """Check every enabled system user's sign-in and put back in the tenant the
    accounts it no longer knows (AADSTS50034), with their stored names and
    passwords; returns the ones put back.

    A simulator started on an empty data folder has lost them, while the
    console still holds them. Only the demo repairs this: a production tenant
    that lost an account shows it red on the System users page, with what to do.
    """
    users = [u for u in SystemUser.objects.filter(enabled=True) if not _signs_in(u)]
    lost = [u for u in users if system_user_not_found(u)]
    if not lost:
        return []
    account = account_get()
    client, tokens = app_graph_client(account)
    try:
        for user in lost:
            nickname = user.username.partition("@")[0]
            client.post(
                "/users",
                {
                    "accountEnabled": True,
                    "displayName": nickname.replace("_", " "),
                    "mailNickname": nickname,
                    "userPrincipalName": user.username,
                    "passwordProfile": {
                        "password": user.password,
                        "forceChangePasswordNextSignIn": False,
                    },
                },
            )
            system_user_check(user)
    finally:
        token_cache_save(account, tokens)
    return lost


def _signs_in(user: SystemUser) -> bool:
    return system_user_check(user).status == SystemUser.Status.OK


class DemoSystemUsers(NamedTuple):
    restored: int
    created: int


def demo_system_users_ensure() -> DemoSystemUsers:
    """Enough system users that sign in for every demo agent (800 → 2): lost
    ones are put back first, then what is still missing is created.

    Subscriptions follow the mapping: until agents are mapped the system users
    sit idle; the beat job spreads mapped agents over them, 650 each.
    """
    restored = len(demo_system_users_restore())
    working = SystemUser.objects.filter(enabled=True, status=SystemUser.Status.OK).count()
    missing = system_users_needed(DEMO_AGENTS) - working
    if missing <= 0:
        return DemoSystemUsers(restored, 0)
    return DemoSystemUsers(restored, len(system_users_create_in_azure(actor=None, count=missing)))


def demo_chat_account_ensure() -> ChatServiceAccount | None:
    """Mark a demo system user that signs in as the chat service account (the simulator's
    demo app holds the delegated chat scopes), so the demo contact center can conference
    experts; a marked one is only checked again. Returns the account when marked now.

    Marking queues the chat-message subscription for the worker.
    """
    current = chat_account_get()
    if current is not None:
        chat_account_check(current)
        return None
    user = (
        SystemUser.objects.filter(enabled=True, status=SystemUser.Status.OK).order_by("pk").first()
    )
    if user is None:
        return None
    return chat_service_account_set(actor=None, system_user=user)

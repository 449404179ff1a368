"""Every URL of the console, found by walking config.urls, and who may open it.

`console_routes()` walks the resolver, so a URL added anywhere shows up here by
itself; `ROUTES` says what each one is. A URL the resolver knows but ROUTES does
not is a test failure (see tests/console/test_access.py): whoever adds a URL
decides who may open it.

`World` holds one of every object a URL needs in its path, so each page can be
opened for real (200, not 404).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from chat.media import media_token
from chat.models import Conference
from integrations.apikeys import api_key_create
from integrations.models import ApiKey, ConnectionTest, JobRun, SetupRun
from mailboxes.attachments import attachment_link
from mailboxes.models import Mailbox, MailboxTest
from presence.sync_models import AcdDelivery, SystemUser
from tests.accounts.factories import AgentFactory, BusinessUnitFactory
from tests.factories import SupervisorFactory
from tests.integrations.factories import (
    ConnectionTestFactory,
    IntegrationAccountFactory,
    JobRunFactory,
)
from tests.presence.factories import AcdDeliveryFactory, PresenceRuleFactory, SystemUserFactory


class Access(StrEnum):
    PUBLIC = "public"  # anyone, no sign-in (login, health)
    SIGNED_IN = "signed-in"  # any signed-in person, whatever the role
    SUPERVISOR = "supervisor"  # both roles
    READ_ONLY = "read-only"  # both roles read (GET); only Administrators change (POST)
    ADMIN = "admin"  # Administrators only
    API = "api"  # an API key, never a session
    API_FALLBACK = "api-fallback"  # unknown addresses under /api/v1/: a 404 problem
    WEBHOOK = "webhook"  # Microsoft Graph: public, every request verified on its own
    SIGNED_LINK = "signed-link"  # no sign-in: the signed token in the path is the credential


@dataclass(frozen=True)
class Route:
    access: Access
    get: int = 200  # what an Administrator's GET answers (405: POST only)
    arg: str | None = None  # the World attribute that fills the path
    method: str = "GET"  # for API routes: the method the operation answers
    get_only: bool = False  # answers POST with 405 (before any permission check)
    query: str = ""  # a query string the page needs, filled from the World
    # For API routes: what a valid key with an empty JSON body gets (None: 200 for GET,
    # 422 otherwise, since an empty body is not a valid request).
    key_status: int | None = None

    @property
    def methods(self) -> tuple[str, ...]:
        """The methods the URL serves; every other one is answered with 405."""
        if self.access == Access.API:
            return (self.method,)
        if self.get == 405:
            return ("POST",)
        if self.get_only:
            return ("GET",)
        return ("GET", "POST")


R = Route
A = Access

# key: "namespace:name", or the route pattern for an unnamed URL.
ROUTES: dict[str, Route] = {
    "console:login": R(A.PUBLIC),
    "console:logout": R(A.SIGNED_IN, get=405),
    "console:dashboard": R(A.SUPERVISOR, get_only=True),
    "console:healthz": R(A.PUBLIC, get_only=True),
    "console:job_list": R(A.SUPERVISOR, get_only=True),
    "console:job_detail": R(A.SUPERVISOR, arg="job", get_only=True),
    "console:selfcheck_start": R(A.ADMIN, get=405),
    "console:audit_log": R(A.ADMIN, get_only=True),
    "console:alerts": R(A.ADMIN),
    "console:user_list": R(A.ADMIN, get_only=True),
    "console:user_create": R(A.ADMIN),
    "console:user_edit": R(A.ADMIN, arg="user"),
    "console:user_unlock": R(A.ADMIN, get=405, arg="user"),
    "integrations:account": R(A.READ_ONLY),
    "integrations:phone_types": R(A.ADMIN, get=405),
    "integrations:message_reset": R(A.ADMIN, get=405, arg="message_field"),
    "integrations:test_connection": R(A.ADMIN, get=405),
    "integrations:test_result": R(A.SUPERVISOR, arg="connection_test", get_only=True),
    "integrations:account_delete": R(A.ADMIN),
    "integrations:setup": R(A.READ_ONLY),
    "integrations:agent_troubleshoot": R(A.SUPERVISOR, arg="agent", get_only=True),
    "integrations:setup_manifest": R(A.SUPERVISOR, get_only=True),
    "integrations:setup_result": R(A.SUPERVISOR, arg="setup_run", get_only=True),
    "integrations:apikey_list": R(A.ADMIN, get_only=True),
    "integrations:apikey_create": R(A.ADMIN),
    "integrations:apikey_revoke": R(A.ADMIN, arg="api_key"),
    "accounts:directory": R(A.SUPERVISOR, get_only=True),
    "accounts:directory_sync": R(A.SUPERVISOR, get=405),
    "accounts:directory_interval": R(A.ADMIN, get=405),
    "accounts:mapping": R(A.SUPERVISOR, get_only=True),
    "accounts:mapping_bulk": R(A.SUPERVISOR, get=405),
    "accounts:automap": R(A.SUPERVISOR, arg="unit"),
    "accounts:remap": R(A.SUPERVISOR, arg="agent"),
    "accounts:agents_import": R(A.ADMIN),
    "presence:rule_list": R(A.SUPERVISOR, get_only=True),
    "presence:rule_create": R(A.ADMIN, query="business_unit={unit.pk}"),
    "presence:unassigned": R(A.SUPERVISOR, get_only=True),
    "presence:reason_codes": R(A.READ_ONLY),
    "presence:rule_edit": R(A.READ_ONLY, arg="rule"),
    "presence:rule_delete": R(A.ADMIN, arg="rule"),
    "presence:rule_assign": R(A.SUPERVISOR, arg="rule"),
    "presence:rule_assign_users": R(A.SUPERVISOR, arg="rule"),
    "presence:agent_rule": R(A.SUPERVISOR, arg="agent"),
    "sync:system_users": R(A.ADMIN),
    "sync:system_users_create": R(A.ADMIN, get=405),
    "sync:system_user_check": R(A.ADMIN, get=405, arg="system_user"),
    "sync:system_user_password": R(A.ADMIN, get=405, arg="system_user"),
    "sync:system_user_toggle": R(A.ADMIN, get=405, arg="system_user"),
    "sync:system_user_remove": R(A.ADMIN, arg="system_user"),
    "sync:subscriptions": R(A.SUPERVISOR, get_only=True),
    "sync:subscriptions_sync": R(A.ADMIN, get=405),
    "sync:certificate_rotate": R(A.ADMIN, get=405),
    "sync:graph_notifications": R(A.WEBHOOK, get=405),
    "sync:graph_lifecycle": R(A.WEBHOOK, get=405),
    "sync:acd_settings": R(A.ADMIN),
    "sync:acd_test": R(A.ADMIN, get=405),
    "sync:acd_dead_letters": R(A.ADMIN, get_only=True),
    "sync:acd_replay": R(A.ADMIN, get=405, arg="delivery"),
    "sync:acd_replay_all": R(A.ADMIN, get=405),
    "chat:graph_notifications": R(A.WEBHOOK, get=405),
    "chat:graph_lifecycle": R(A.WEBHOOK, get=405),
    "chat:media": R(A.SIGNED_LINK, arg="media_token", get_only=True),
    "chat:service_account": R(A.ADMIN, get=405),
    "chat:conferences": R(A.SUPERVISOR, get_only=True),
    "chat:conference": R(A.SUPERVISOR, arg="conference", get_only=True),
    "mailboxes:list": R(A.READ_ONLY),
    "mailboxes:detail": R(A.READ_ONLY, arg="mailbox"),
    "mailboxes:toggle": R(A.ADMIN, get=405, arg="mailbox"),
    "mailboxes:delete": R(A.ADMIN, arg="mailbox"),
    "mailboxes:test": R(A.ADMIN, get=405, arg="mailbox"),
    "mailboxes:test_result": R(A.SUPERVISOR, arg="mailbox_test", get_only=True),
    "mailboxes:attachment": R(A.SIGNED_LINK, arg="attachment_token", get_only=True),
    "sync:board": R(A.SUPERVISOR, get_only=True),
    "sync:agent_history": R(A.SUPERVISOR, arg="agent", get_only=True),
    "api:openapi-json": R(A.SIGNED_IN, get_only=True),
    "api:openapi-view": R(A.SIGNED_IN, get_only=True),
    "api:business_units_upsert": R(A.API, method="PUT"),
    "api:business_units_list": R(A.API),
    "api:agents_upsert": R(A.API, method="PUT"),
    "api:agents_list": R(A.API),
    "api:agent_detail": R(A.API, arg="agent_external_id"),
    "api:agent_events_post": R(A.API, method="POST"),
    "api:directory_search": R(A.API),
    "api:conference_create": R(A.API, method="POST"),
    "api:conference_detail": R(A.API, arg="conference_id"),
    "api:conference_message": R(A.API, method="POST", arg="conference_id"),
    "api:conference_delete": R(A.API, method="DELETE", arg="conference_id", key_status=202),
    "api:conference_end": R(A.API, method="POST", arg="conference_id", key_status=202),
    "api:mail_send": R(A.API, method="POST", arg="mailbox"),
    "api:api-root": R(A.API_FALLBACK, get=404),
    "api/v1/^": R(A.API_FALLBACK, get=404),
}

# The only views that skip CSRF: they authenticate each request themselves.
SELF_AUTHENTICATED = (A.API, A.API_FALLBACK, A.WEBHOOK)
CSRF_EXEMPT = frozenset(key for key, route in ROUTES.items() if route.access in SELF_AUTHENTICATED)


@dataclass(frozen=True)
class Found:
    key: str
    name: str | None
    pattern: str
    callback: Any


def _walk(patterns, prefix: str = "", namespace: str | None = None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield Found(key=name or route, name=name, pattern=route, callback=pattern.callback)


def console_routes() -> list[Found]:
    """Every URL pattern of the console, in resolver order."""
    return list(_walk(get_resolver().url_patterns))


def route_keys() -> list[str]:
    return [found.key for found in console_routes()]


def expectation(key: str) -> Route:
    if key not in ROUTES:
        pytest.fail(
            f"{key} is a URL of the console with no entry in tests/security/routes.py ROUTES: "
            "say who may open it."
        )
    return ROUTES[key]


# --- one of everything a URL needs ------------------------------------------------------


@dataclass
class World:
    job: JobRun
    user: Any
    message_field: str
    connection_test: ConnectionTest
    api_key: ApiKey
    raw_api_key: str
    unit: Any
    agent: Any
    rule: Any
    system_user: SystemUser
    delivery: AcdDelivery
    conference: Conference
    mailbox: Mailbox
    mailbox_test: MailboxTest
    setup_run: SetupRun = field(default_factory=lambda: SetupRun.objects.create())

    @property
    def agent_external_id(self) -> str:
        return self.agent.external_id

    @property
    def conference_id(self) -> str:
        return str(self.conference.public_id)

    @property
    def attachment_token(self) -> str:
        return attachment_link(self.mailbox.pk, "<m@contoso.example>", "a").rsplit("/", 1)[-1]

    @property
    def media_token(self) -> str:
        return media_token(
            self.conference_id,
            "https://graph.microsoft.com/v1.0/chats/c/messages/m/hostedContents/h/$value",
        )

    def url(self, key: str) -> str:
        """The address of the URL `key`, filled from this world's objects."""
        route = ROUTES[key]
        if key.startswith("api/v1/"):
            return "/api/v1/nothing-here"
        args = [getattr(self, route.arg)] if route.arg else []
        args = [arg.pk if hasattr(arg, "pk") else arg for arg in args]
        query = f"?{route.query.format(**vars(self))}" if route.query else ""
        return reverse(key, args=args) + query


def world_create(administrator) -> World:
    """An account, a job, a connection test, a key, a unit with an agent and a rule,
    a system user and a dead ACD delivery."""
    account = IntegrationAccountFactory(client_id="c", client_secret="world-secret")
    job = JobRunFactory(kind="system.selfcheck")
    unit = BusinessUnitFactory(name="Voice", code="voice")
    agent = AgentFactory(business_unit=unit)
    key, raw = api_key_create(
        actor=administrator, name="ACD", scopes=[scope.value for scope in ApiKey.Scope]
    )
    return World(
        job=job,
        user=SupervisorFactory(username="sam"),
        message_field="msg_party_joined",
        connection_test=ConnectionTestFactory(account=account, job=job),
        api_key=key,
        raw_api_key=raw,
        unit=unit,
        agent=agent,
        rule=PresenceRuleFactory(business_unit=unit),
        system_user=SystemUserFactory(
            username="ccbridge_presence_1@contoso.example",
            password="world-password",
            status=SystemUser.Status.UNCHECKED,
        ),
        delivery=AcdDeliveryFactory(
            agent=agent,
            payload={"agent": agent.external_id},
            status=AcdDelivery.Status.DEAD,
            attempts=0,
        ),
        conference=Conference.objects.create(
            customer_chat_id="chat-1",
            agent_external_id=agent.external_id,
            agent=agent,
            expert_graph_id="00000000-0000-0000-0000-0000000000e1",
            expert_name="Avery Quinn",
            invitation_expires_at=timezone.now() + timedelta(minutes=2),
        ),
        mailbox=(
            mailbox := Mailbox.objects.create(address="help@contoso.example", display_name="Help")
        ),
        mailbox_test=MailboxTest.objects.create(mailbox=mailbox, outcome="passed", headline="ok"),
    )


@pytest.fixture(name="world")
def world_fixture(administrator, settings) -> World:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return world_create(administrator)

"""No secret is ever stored, shown, logged or echoed in clear text.

One scenario sets up every kind of secret the console holds (the account's
client secret, a wrong one, a system user's password, the notification
certificate's private key, the app's and the system user's token caches,
subscription clientState, the ACD signing secret, API keys), drives the flows
that touch them against the real simulator (save forms, test connection, a
failing job, ACD test, API calls), then looks for each clear-text value in
every row of every table (sessions decoded), every page an Administrator can
open, the captured logs, and every error response.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import quote_plus

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.tasks import directory_sync
from chat.models import Conference
from integrations.apikeys import api_key_create
from integrations.connection import connection_test_run
from integrations.models import ApiKey, AuditEntry, ConnectionTest, IntegrationAccount, JobRun
from integrations.tasks import account_test_connection
from mailboxes.models import Mailbox, MailboxTest
from mailboxes.testing import mailbox_test_run
from presence.subscriptions.certificates import certificate_active
from presence.sync_models import AcdDelivery, AcdEndpoint, NotificationCertificate, SystemUser
from tests.accounts.factories import AgentFactory, BusinessUnitFactory
from tests.factories import TEST_PASSWORD
from tests.presence.factories import PresenceRuleFactory
from tests.presence.support_webhook import subscription_create
from tests.security.routes import ROUTES, Access, World, route_keys

ADMIN_PAGES = [
    key
    for key in route_keys()
    if key in ROUTES
    and ROUTES[key].get == 200
    and ROUTES[key].access
    not in (Access.API, Access.API_FALLBACK, Access.WEBHOOK, Access.PUBLIC, Access.SIGNED_LINK)
]


def variants(value: str) -> set[str]:
    """The forms a value takes when written out: as is, JSON-escaped, URL-encoded."""
    return {value, json.dumps(value)[1:-1], quote_plus(value)}


@dataclass
class Haystack:
    """Every place a secret could leak to, by name."""

    places: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, text: str) -> None:
        self.places[name] = self.places.get(name, "") + "\n" + text

    def holding(self, value: str) -> list[str]:
        return sorted(
            name for name, text in self.places.items() if any(v in text for v in variants(value))
        )


def database_text() -> str:
    """Every row of every table in the database, plus each session decoded."""
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            rows.extend(f"{table}: {row!r}" for row in cursor.fetchall())
    sessions = [json.dumps(session.get_decoded()) for session in Session.objects.all()]
    return "\n".join(rows + sessions)


def admin_pages(client: Client, world: World) -> dict[str, str]:
    pages = {}
    for key in ADMIN_PAGES:
        response = client.get(world.url(key))
        assert response.status_code == 200, key
        pages[key] = response.content.decode()
    return pages


def auth_header_forms(key: str) -> list[dict[str, str]]:
    """Every way a caller might send a key, right or wrong: each must keep it out of logs."""
    basic = base64.b64encode(f"{key}:".encode()).decode()
    return [
        {"Authorization": f"Bearer {key}"},
        {"Authorization": f"bearer {key}"},
        {"Authorization": f"Bearer  {key} "},
        {"Authorization": f"Bearer {key} trailing"},
        {"Authorization": f"Basic {key}"},
        {"Authorization": f"Basic {basic}"},
        {"Authorization": f"Token {key}"},
        {"Authorization": key},
        {"Authorization": f"{key} Bearer"},
        {"X-API-Key": key},
        {"X-API-Key": f"Bearer {key}"},
        {"X-API-Key": f"{key}\t"},
        {"Authorization": f"Basic {key}", "X-API-Key": key},
    ]


def send_key_every_way(key: str) -> list[str]:
    """Call the API with `key` in every header form, with DEBUG on (django-ninja logs an
    unexpected Authorization scheme then); returns the response bodies."""
    bodies = []
    with override_settings(DEBUG=True):
        for headers in auth_header_forms(key):
            for method, path in (("GET", "/api/v1/agents"), ("POST", "/api/v1/agent-events")):
                response = Client(headers=headers).generic(
                    method, path, "{}", content_type="application/json"
                )
                bodies.append(response.content.decode())
    return bodies


def _pem_body_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


@pytest.fixture
def secrets_everywhere(
    administrator, administrator_client, sim_tenant, graph_settings, graphsim, caplog, settings
):
    """Drive every flow that touches a secret; returns the secrets and the haystack."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    caplog.set_level(logging.DEBUG)
    found: dict[str, str] = {}
    errors: list[str] = []
    admin = administrator_client

    # 1. The account, saved through its form, and tested against the simulator.
    account_form = {
        "name": "Contoso Teams",
        "tenant": sim_tenant.tenant_id,
        "client_id": sim_tenant.client_id,
        "object_id": sim_tenant.object_id,
        "client_secret": sim_tenant.client_secret,
        "licensing_mode": "evaluation",
        **{f: t for f, _l, t, _d in IntegrationAccount().chat_messages()},
    }
    assert admin.post(reverse("integrations:account"), account_form).status_code == 302
    found["client secret"] = sim_tenant.client_secret
    account = IntegrationAccount.objects.get()
    test = connection_test_run(test=ConnectionTest.objects.create(account=account))
    assert test.outcome in (ConnectionTest.Outcome.PASSED, ConnectionTest.Outcome.WARNING)
    account.refresh_from_db()
    app_cache = json.loads(account.token_cache)
    found["app access token"] = next(iter(app_cache["AccessToken"].values()))["secret"]

    # 2. A system user, added through its form: signs in to the simulator (ROPC).
    password = f"Sys-{secrets.token_urlsafe(18)}"
    upn = f"ccbridge_presence_1@{sim_tenant.domain}"
    graphsim.control.create_user(
        sim_tenant.tenant_id, userPrincipalName=upn, displayName="Presence 1", password=password
    )
    admin.post(reverse("sync:system_users"), {"username": upn, "password": password})
    system_user = SystemUser.objects.get(username=upn)
    assert system_user.status == SystemUser.Status.OK, system_user.status_detail
    found["system user password"] = password
    if system_user.token_cache:
        user_cache = json.loads(system_user.token_cache)
        for kind in ("AccessToken", "RefreshToken"):
            for entry in user_cache.get(kind, {}).values():
                found[f"system user {kind}"] = entry["secret"]

    # 3. The notification certificate and a subscription's clientState.
    certificate = certificate_active()
    private_pem = NotificationCertificate.objects.get(pk=certificate.pk).private_key
    body = _pem_body_lines(private_pem)
    found["private key (a line of it)"] = body[len(body) // 2]
    client_state = secrets.token_urlsafe(32)
    subscription_create(client_state=client_state, username=f"other@{sim_tenant.domain}")
    found["clientState"] = client_state

    # 4. The ACD webhook: saved through its form, then tested (nothing listens there).
    acd_secret = f"acd-{secrets.token_urlsafe(24)}"
    acd_form = {"url": "http://127.0.0.1:9/acd", "secret": acd_secret, "enabled": "on"}
    admin.post(reverse("sync:acd_settings"), acd_form)
    assert AcdEndpoint.objects.get().secret
    found["ACD signing secret"] = acd_secret
    errors.append(admin.post(reverse("sync:acd_test")).content.decode())

    # 5. API keys: created through the console (the one page that shows it is by design
    #    excluded), used, used with a missing scope, and a wrong one.
    created = admin.post(
        reverse("integrations:apikey_create"), {"name": "ACD", "scopes": ["agents:read"]}
    )
    raw_key = re.search(r"ccb_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", created.content.decode()).group(0)
    found["API key"] = raw_key
    api = Client(headers={"Authorization": f"Bearer {raw_key}"})
    assert api.get("/api/v1/agents").status_code == 200
    errors.append(api.put("/api/v1/agents", "{}", content_type="application/json").content.decode())
    near_miss = raw_key[:-4] + "AAAA"
    found["a wrong API key"] = near_miss
    errors.append(Client(headers={"X-API-Key": near_miss}).get("/api/v1/agents").content.decode())
    errors.extend(send_key_every_way(raw_key))
    errors.extend(send_key_every_way(near_miss))
    found["API key, Basic-encoded"] = base64.b64encode(f"{raw_key}:".encode()).decode()

    # 6. A failing job: the secret replaced by a wrong one, then a directory sync.
    wrong_secret = f"wrong-{secrets.token_urlsafe(20)}"
    admin.post(reverse("integrations:account"), {**account_form, "client_secret": wrong_secret})
    found["a wrong client secret"] = wrong_secret
    job = JobRun.objects.create(kind="directory.sync")
    directory_sync(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobRun.Status.FAILED and job.error
    account.refresh_from_db()
    failed_test = connection_test_run(test=ConnectionTest.objects.create(account=account))
    assert failed_test.outcome == ConnectionTest.Outcome.FAILED

    # 6b. Secrets not saved: one typed into a refused form (kept sealed for the next
    #     try), one tested from the form with Test connection, run by the task itself.
    refused_secret = f"refused-{secrets.token_urlsafe(20)}"
    refused = admin.post(
        reverse("integrations:account"),
        {**account_form, "client_id": "not-a-guid", "client_secret": refused_secret},
    )
    assert "kept from your last try" in refused.content.decode()
    errors.append(refused.content.decode())
    found["a secret typed into a refused form"] = refused_secret
    unsaved_secret = f"unsaved-{secrets.token_urlsafe(20)}"
    admin.post(
        reverse("integrations:test_connection"),
        {**account_form, "client_secret": unsaved_secret},
        headers={"HX-Request": "true"},
    )
    unsaved_job = JobRun.objects.get(kind="account.test")
    account_test_connection(
        job_id=unsaved_job.pk, attempt=unsaved_job.attempt, **unsaved_job.task_kwargs
    )
    unsaved_test = ConnectionTest.objects.get(job=unsaved_job)
    assert unsaved_test.unsaved and unsaved_test.headline.startswith("Error: Failed to request")
    found["an unsaved client secret, tested"] = unsaved_secret

    # 7. A sign-in with a password that is almost right.
    errors.append(
        Client()
        .post(reverse("console:login"), {"username": "ada", "password": TEST_PASSWORD + "!"})
        .content.decode()
    )
    found["a mistyped sign-in password"] = TEST_PASSWORD + "!"

    # 8. A mailbox with an app registration of its own: saved through its form (and once
    #    more, refused, with the secret typed), tested against the simulator.
    mailbox_secret = sim_tenant.client_secret
    mailbox_form = {
        "address": sim_tenant.users[0]["userPrincipalName"],
        "display_name": "Support",
        "access_type": "app",
        "app_source": "separate",
        "tenant": sim_tenant.tenant_id,
        "client_id": sim_tenant.client_id,
        "client_secret": mailbox_secret,
    }
    assert admin.post(reverse("mailboxes:list"), mailbox_form).status_code == 302
    mailbox = Mailbox.objects.get()
    mailbox_test = mailbox_test_run(test=MailboxTest.objects.create(mailbox=mailbox))
    assert mailbox_test.outcome != MailboxTest.Outcome.FAILED, mailbox_test.steps
    mailbox.refresh_from_db()
    mailbox_cache = json.loads(mailbox.token_cache)
    found["mailbox app access token"] = next(iter(mailbox_cache["AccessToken"].values()))["secret"]
    refused_mailbox_secret = f"mbx-{secrets.token_urlsafe(20)}"
    errors.append(
        admin.post(
            reverse("mailboxes:list"),
            {**mailbox_form, "tenant": "not a tenant", "client_secret": refused_mailbox_secret},
        ).content.decode()
    )
    found["a mailbox secret typed into a refused form"] = refused_mailbox_secret

    unit = BusinessUnitFactory(name="Voice", code="voice")
    agent = AgentFactory(business_unit=unit)
    world = World(
        job=job,
        user=administrator,
        message_field="msg_party_joined",
        connection_test=failed_test,
        api_key=ApiKey.objects.get(),
        raw_api_key=raw_key,
        unit=unit,
        agent=agent,
        rule=PresenceRuleFactory(business_unit=unit),
        system_user=system_user,
        delivery=AcdDelivery.objects.create(
            agent=agent, payload={}, status=AcdDelivery.Status.DEAD, last_error="x"
        ),
        conference=Conference.objects.create(
            customer_chat_id="chat-1",
            agent_external_id=agent.external_id,
            agent=agent,
            expert_graph_id="00000000-0000-0000-0000-0000000000e1",
            expert_name="Avery Quinn",
            invitation_expires_at=timezone.now(),
        ),
        mailbox=mailbox,
        mailbox_test=mailbox_test,
    )
    haystack = Haystack()
    for key, page in admin_pages(admin, world).items():
        haystack.add(f"page {key}", page)
    haystack.add("database", database_text())
    haystack.add("audit log", repr(list(AuditEntry.objects.values())))
    haystack.add("job errors", repr(list(JobRun.objects.values_list("error", "message"))))
    haystack.add("connection tests", repr(list(ConnectionTest.objects.values())))
    haystack.add("mailbox tests", repr(list(MailboxTest.objects.values())))
    haystack.add("system user status", repr(list(SystemUser.objects.values("status_detail"))))
    haystack.add("error responses", "\n".join(errors))
    haystack.add("logs", caplog.text)
    return found, haystack


def test_no_secret_is_anywhere_in_clear_text(secrets_everywhere):
    found, haystack = secrets_everywhere
    assert {"system user AccessToken", "system user RefreshToken", "API key"} <= found.keys()
    assert {"database", "logs", "error responses", "audit log", "job errors"} <= set(
        haystack.places
    )
    assert "page console:audit_log" in haystack.places
    leaks = {name: haystack.holding(value) for name, value in found.items()}
    assert {name: places for name, places in leaks.items() if places} == {}


def test_no_form_of_auth_header_puts_the_key_in_a_log(db, caplog):
    caplog.set_level(logging.DEBUG)
    _key, raw = api_key_create(actor=None, name="ACD", scopes=["agents:read"])
    wrong = raw[:-4] + "AAAA"

    bodies = send_key_every_way(raw) + send_key_every_way(wrong)

    haystack = Haystack()
    haystack.add("logs", caplog.text)
    haystack.add("responses", "\n".join(bodies))
    for value in (raw, wrong, base64.b64encode(f"{raw}:".encode()).decode()):
        assert haystack.holding(value) == []


def test_the_search_finds_a_planted_value(sim_tenant, administrator_client, caplog):
    caplog.set_level(logging.DEBUG)
    planted = f"planted-{secrets.token_urlsafe(16)}"
    IntegrationAccount.objects.create(name=planted, tenant="t.example", client_id="c")
    logging.getLogger("ccbridge.test").debug("a careless line: %s", planted)

    haystack = Haystack()
    haystack.add("database", database_text())
    haystack.add("logs", caplog.text)
    haystack.add("page", administrator_client.get(reverse("integrations:account")).content.decode())
    haystack.add("error responses", json.dumps({"detail": planted}))

    assert haystack.holding(planted) == ["database", "error responses", "logs", "page"]
    assert haystack.holding(f"absent-{secrets.token_urlsafe(16)}") == []


def test_a_secret_kept_in_a_session_is_found_too(administrator_client):
    session = administrator_client.session
    session["stash"] = "session-only-value-123"
    session.save()
    assert "session-only-value-123" in database_text()

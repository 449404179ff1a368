"""The client secret is encrypted at rest and never shown, logged or audited."""

import logging

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from integrations import crypto
from integrations.connection import connection_test_run
from integrations.models import AuditEntry, ConnectionTest, IntegrationAccount
from presence.sync_models import AcdEndpoint, NotificationCertificate, Subscription, SystemUser
from tests.presence.factories import (
    AcdEndpointFactory,
    NotificationCertificateFactory,
    SubscriptionFactory,
)
from tests.support.secrets import stored_value


def _all_database_text() -> str:
    tables = ["integrations_integrationaccount", "integrations_auditentry", "integrations_jobrun",
              "integrations_connectiontest"]  # fmt: skip
    dump = []
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
            dump.extend(str(row) for row in cursor.fetchall())
    return "\n".join(dump)


def test_the_secret_is_nowhere_in_clear_text(
    administrator_client, sim_tenant, graph_settings, caplog
):
    caplog.set_level(logging.DEBUG)
    secret = sim_tenant.client_secret
    administrator_client.post(
        reverse("integrations:account"),
        {
            "name": "Sim",
            "tenant": sim_tenant.tenant_id,
            "client_id": sim_tenant.client_id,
            "object_id": sim_tenant.object_id,
            "client_secret": secret,
            "licensing_mode": "evaluation",
            **{f: t for f, _l, t, _d in IntegrationAccount().chat_messages()},
        },
    )
    account = IntegrationAccount.objects.get()
    connection_test_run(test=ConnectionTest.objects.create(account=account))
    pages = [
        administrator_client.get(url).content.decode()
        for url in (reverse("integrations:account"), reverse("console:audit_log"),
                    reverse("console:dashboard"), reverse("console:job_list"))
    ]  # fmt: skip

    assert account.client_secret == secret
    assert secret not in _all_database_text()
    assert all(secret not in page for page in pages)
    assert secret not in caplog.text
    assert AuditEntry.objects.filter(action="account.create").exists()


def test_the_token_cache_is_encrypted_at_rest(sim_account):
    connection_test_run(test=ConnectionTest.objects.create(account=sim_account))
    sim_account.refresh_from_db()
    stored = stored_value(sim_account, "token_cache")
    assert stored and "access_token" not in stored.lower()
    assert "AccessToken" in sim_account.token_cache


def test_an_unknown_key_is_reported_not_crashed(make_account, settings):
    from cryptography.fernet import Fernet

    make_account(secret="lost")
    settings.CCBRIDGE_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    account = IntegrationAccount.objects.get()  # the row still loads; only its secret cannot
    assert account.name == "Contoso Teams"
    with pytest.raises(crypto.SecretUnreadable, match="CCBRIDGE_ENCRYPTION_KEYS"):
        _ = account.client_secret


def test_keys_rotate_every_encrypted_column(make_account, settings):
    from cryptography.fernet import Fernet

    make_account(secret="rotate-me-please", token_cache='{"AccessToken": {}}')
    subscription = SubscriptionFactory(client_state="the-client-state")
    SystemUser.objects.filter(pk=subscription.system_user.pk).update(token_cache="user-cache")
    NotificationCertificateFactory(private_key="-----BEGIN PRIVATE KEY-----")
    AcdEndpointFactory(secret="acd-signing-secret")
    new_key = Fernet.generate_key().decode()
    settings.CCBRIDGE_ENCRYPTION_KEYS = [new_key, *settings.CCBRIDGE_ENCRYPTION_KEYS]

    call_command("rotate_encryption_keys")

    settings.CCBRIDGE_ENCRYPTION_KEYS = [new_key]
    account = IntegrationAccount.objects.get()
    user = SystemUser.objects.get()
    assert (account.client_secret, account.token_cache) == (
        "rotate-me-please",
        '{"AccessToken": {}}',
    )
    assert (user.password, user.token_cache) == ("Factory-Passw0rd!", "user-cache")
    assert Subscription.objects.get().client_state == "the-client-state"
    assert NotificationCertificate.objects.get().private_key == "-----BEGIN PRIVATE KEY-----"
    assert AcdEndpoint.objects.get().secret == "acd-signing-secret"


@pytest.mark.parametrize(
    ("model", "name"),
    [
        (IntegrationAccount, "client_secret"),
        (IntegrationAccount, "token_cache"),
        (SystemUser, "password"),
        (SystemUser, "token_cache"),
        (NotificationCertificate, "private_key"),
        (Subscription, "client_state"),
        (AcdEndpoint, "secret"),
    ],
)
def test_an_encrypted_field_stores_ciphertext_and_shows_it_nowhere(make_account, model, name):
    plaintext = "plain-text-that-must-stay-hidden"
    make_account()
    SubscriptionFactory()
    NotificationCertificateFactory()
    AcdEndpointFactory()
    row = model.objects.get()
    setattr(row, name, plaintext)
    row.save()

    raw = stored_value(row, name)
    assert plaintext not in raw
    assert crypto.decrypt(raw) == plaintext
    loaded = model.objects.get()
    assert getattr(loaded, name) == plaintext
    assert plaintext not in repr(loaded) and plaintext not in str(loaded)
    assert name not in [f.name for f in model._meta.get_fields() if f.editable]


def test_an_empty_secret_is_stored_empty(make_account):
    account = make_account(secret="")
    assert stored_value(account, "client_secret") == ""
    assert IntegrationAccount.objects.get().client_secret == ""
    assert not IntegrationAccount.objects.get().has_secret


def test_saving_other_fields_leaves_the_stored_secret_as_it_was(make_account):
    account = make_account(secret="unchanged")
    before = stored_value(account, "client_secret")
    account = IntegrationAccount.objects.get()
    account.name = "Renamed"
    account.save()
    assert stored_value(account, "client_secret") == before

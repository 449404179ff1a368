"""The client secret is encrypted at rest and never shown, logged or audited."""

import logging

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from integrations import crypto
from integrations.connection import connection_test_run
from integrations.models import AuditEntry, ConnectionTest, IntegrationAccount


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

    assert crypto.decrypt(account.client_secret_encrypted) == secret
    assert secret not in _all_database_text()
    assert all(secret not in page for page in pages)
    assert secret not in caplog.text
    assert AuditEntry.objects.filter(action="account.create").exists()


def test_the_token_cache_is_encrypted_at_rest(sim_account):
    connection_test_run(test=ConnectionTest.objects.create(account=sim_account))
    sim_account.refresh_from_db()
    assert sim_account.token_cache_encrypted
    assert "access_token" not in sim_account.token_cache_encrypted.lower()
    assert "AccessToken" in crypto.decrypt(sim_account.token_cache_encrypted)


def test_keys_rotate_without_losing_the_secret(make_account, settings):
    from cryptography.fernet import Fernet

    account = make_account(secret="rotate-me-please")
    old_keys = list(settings.CCBRIDGE_ENCRYPTION_KEYS)
    new_key = Fernet.generate_key().decode()
    settings.CCBRIDGE_ENCRYPTION_KEYS = [new_key, *old_keys]

    call_command("rotate_encryption_keys")

    settings.CCBRIDGE_ENCRYPTION_KEYS = [new_key]
    account.refresh_from_db()
    assert crypto.decrypt(account.client_secret_encrypted) == "rotate-me-please"


def test_an_unknown_key_is_reported_not_crashed(make_account, settings):
    from cryptography.fernet import Fernet

    account = make_account(secret="lost")
    settings.CCBRIDGE_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.SecretUnreadable, match="CCBRIDGE_ENCRYPTION_KEYS"):
        crypto.decrypt(account.client_secret_encrypted)

"""Saving the account reads its secret's expiry from Graph in the worker, so the
expiry bar can appear without anyone pressing Test connection."""

from django.test import Client
from django.urls import reverse

from integrations.models import IntegrationAccount, JobRun
from tests.integrations.test_account_page import _valid
from tests.plugins.celery_worker import wait_for

URL = reverse("integrations:account")


def _admin() -> Client:
    from tests.factories import AdministratorFactory

    client = Client()
    client.force_login(AdministratorFactory())
    return client


def _expiry_read() -> IntegrationAccount | None:
    return IntegrationAccount.objects.filter(secret_expires_at__isnull=False).first()


def _sim_form(sim_tenant, **overrides) -> dict:
    return (
        _valid(
            tenant=sim_tenant.tenant_id,
            client_id=sim_tenant.client_id,
            object_id=sim_tenant.object_id,
            client_secret=sim_tenant.client_secret,
        )
        | overrides
    )


def test_creating_the_account_reads_the_secrets_expiry(celery_worker, sim_tenant):
    client = _admin()
    client.post(URL, _sim_form(sim_tenant))

    account = wait_for(_expiry_read, what="the secret's expiry", timeout=30)

    assert account.secret_expiry_source == IntegrationAccount.ExpirySource.GRAPH
    job = JobRun.objects.get(kind="account.expiry")
    wait_for(lambda: JobRun.objects.get(pk=job.pk).is_finished, what="the expiry job")
    job.refresh_from_db()
    assert job.status == JobRun.Status.SUCCEEDED, celery_worker.log()
    assert job.message.startswith("The secret expires ")
    # Its token was requested too, so token health is not "none yet".
    assert account.token_refreshed_at is not None


def test_an_expiry_typed_by_hand_is_not_overwritten(administrator_client, sim_tenant):
    administrator_client.post(URL, _sim_form(sim_tenant, secret_expires_at="2027-03-01 14:00"))
    assert not JobRun.objects.filter(kind="account.expiry").exists()


def test_a_replaced_secret_has_its_expiry_read_again(administrator_client, sim_tenant):
    administrator_client.post(URL, _sim_form(sim_tenant, secret_expires_at="2027-03-01 14:00"))
    administrator_client.post(
        URL,
        _sim_form(
            sim_tenant, client_secret="another-secret-0123", secret_expires_at="2027-03-01 14:00"
        ),
    )
    assert JobRun.objects.filter(kind="account.expiry").count() == 1
    administrator_client.post(URL, _sim_form(sim_tenant, name="Renamed", client_secret=""))
    assert JobRun.objects.filter(kind="account.expiry").count() == 1

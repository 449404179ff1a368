"""Test connection tests what is on the form, and the page shows one current state after it."""

from datetime import UTC, datetime, timedelta

from django.test import Client
from django.urls import reverse

from integrations.connection import INCOMPLETE, TOKEN_FAILED, VALUES_UNREADABLE
from integrations.models import ConnectionTest, IntegrationAccount, JobRun
from integrations.services import account_unsaved_credentials, account_update
from integrations.tasks import account_test_connection
from integrations.unsaved import TEST_VALUES, unsaved_seal
from tests.integrations.test_account_page import _valid
from tests.plugins.celery_worker import wait_for

TEST_URL = reverse("integrations:test_connection")


def _form(account: IntegrationAccount, **overrides) -> dict:
    """The account form as the page would post it, secret field left empty."""
    return (
        _valid(
            name=account.name,
            tenant=account.tenant,
            client_id=account.client_id,
            object_id=account.object_id,
            client_secret="",
            licensing_mode=account.licensing_mode,
        )
        | overrides
    )


def _finished(client: Client) -> tuple[ConnectionTest, str]:
    test = wait_for(
        lambda: ConnectionTest.objects.exclude(outcome=ConnectionTest.Outcome.PENDING).first(),
        what="the test connection job",
        timeout=30,
    )
    page = client.get(
        reverse("integrations:test_result", args=[test.pk]), headers={"HX-Request": "true"}
    )
    return test, page.content.decode()


def _admin() -> Client:
    from tests.factories import AdministratorFactory

    client = Client()
    client.force_login(AdministratorFactory())
    return client


def test_an_incomplete_form_gets_the_incomplete_error_naming_the_empty_fields(
    celery_worker, sim_account
):
    client = _admin()
    client.post(TEST_URL, _form(sim_account, tenant="", client_id=" "))

    test, page = _finished(client)

    assert test.headline == INCOMPLETE, celery_worker.log()
    assert test.detail == "Missing: Directory (tenant) ID, Client ID."
    assert INCOMPLETE in page and "Missing: Directory (tenant) ID, Client ID." in page
    assert "not saved" in page
    sim_account.refresh_from_db()
    assert sim_account.tenant and sim_account.client_id


def test_an_unsaved_secret_is_tested_sealed_and_leaves_the_stored_account_alone(
    celery_worker, sim_account
):
    unsaved = "an-unsaved-and-wrong-secret-0123456789"
    client = _admin()
    client.post(TEST_URL, _form(sim_account, client_secret=unsaved))

    test, page = _finished(client)

    assert test.headline == TOKEN_FAILED, celery_worker.log()
    assert "AADSTS7000215" in test.detail
    job = JobRun.objects.get(kind="account.test")
    assert unsaved not in repr(job.task_kwargs) and unsaved not in job.error
    sim_account.refresh_from_db()
    # The failure belongs to the unsaved secret, not to the stored account.
    assert sim_account.token_error == ""
    assert sim_account.client_secret != unsaved
    assert unsaved not in page


def test_an_empty_secret_field_tests_the_stored_secret_and_refreshes_token_health(
    celery_worker, sim_account, sim_tenant
):
    client = _admin()
    client.post(TEST_URL, _form(sim_account))

    test, page = _finished(client)

    assert test.outcome == ConnectionTest.Outcome.PASSED, celery_worker.log()
    sim_account.refresh_from_db()
    assert sim_account.token_expires_at and sim_account.secret_expires_at
    # Token health and the secret's expiry are swapped in beside the result.
    health = page[page.index('id="token-health"') :]
    assert health.startswith('id="token-health" hx-swap-oob="true"')
    assert "valid until" in health[:600] and "none yet" not in health[:600]
    expires = sim_account.secret_expires_at.strftime("%Y-%m-%d %H:%M")
    assert f"expires {expires} UTC (read from Graph)" in page
    assert f'name="secret_expires_at" value="{expires}"' in page


def test_a_failed_test_shows_its_reason_and_time_in_token_health(celery_worker, make_account):
    account = make_account(tenant="contoso.example", secret="s3cret-value~abc")
    client = _admin()
    client.post(TEST_URL)

    test, page = _finished(client)

    assert test.headline == TOKEN_FAILED, celery_worker.log()
    health = page[page.index('id="token-health"') :]
    assert "Last failure" in health and test.detail[:40] in health
    account.refresh_from_db()
    assert f"{account.token_error_at:%Y-%m-%d %H:%M:%S} UTC" in health


def test_new_credentials_start_token_health_afresh(administrator, make_account):
    account = make_account()
    IntegrationAccount.objects.filter(pk=account.pk).update(
        token_expires_at=datetime.now(UTC) + timedelta(minutes=50),
        token_refreshed_at=datetime.now(UTC),
        token_error="AADSTS7000215: Invalid client secret provided.",
        token_error_at=datetime.now(UTC),
    )
    account.refresh_from_db()

    account_update(actor=administrator, account=account, fields={}, client_secret="new-one-1234")

    account.refresh_from_db()
    assert account.token_expires_at is None
    assert account.token_refreshed_at is None
    assert account.token_error == "" and account.token_error_at is None


def test_the_stored_account_is_tested_when_the_form_holds_what_is_stored(make_account):
    account = make_account(object_id="9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
    posted = {
        "tenant": f" {account.tenant} ",
        "client_id": account.client_id,
        "object_id": account.object_id,
        "client_secret": "",
    }
    assert account_unsaved_credentials(account=account, posted=posted) is None
    same_secret = posted | {"client_secret": "s3cret-value~abc"}
    assert account_unsaved_credentials(account=account, posted=same_secret) is None

    other_object = posted | {"object_id": ""}
    assert account_unsaved_credentials(account=account, posted=other_object)["object_id"] == ""
    kept = account_unsaved_credentials(account=account, posted=posted, kept_secret="kept-one")
    assert kept["client_secret"] == "kept-one"


def test_values_sealed_for_someone_else_are_not_tested(administrator, make_account):
    account = make_account()
    test = ConnectionTest.objects.create(account=account, unsaved=True)
    values = {"tenant": "contoso.example", "client_id": account.client_id, "client_secret": "x"}
    forged = unsaved_seal(values=values, purpose=TEST_VALUES, user_id=administrator.pk + 1)
    job = JobRun.objects.create(kind="account.test", started_by=administrator)

    account_test_connection(job_id=job.pk, test_id=test.pk, values=forged)

    test.refresh_from_db()
    job.refresh_from_db()
    assert test.detail == VALUES_UNREADABLE
    assert job.status == JobRun.Status.FAILED and "Press Test connection again" in job.error

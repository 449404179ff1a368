"""Test connection runs as a job in a real worker and the page shows its result."""

from django.urls import reverse

from integrations.models import ConnectionTest, JobRun
from tests.integrations.factories import IntegrationAccountFactory
from tests.plugins.celery_worker import wait_for


def _make(sim_tenant, secret=None):
    return IntegrationAccountFactory.for_tenant(
        sim_tenant, name="Sim", client_secret=secret or sim_tenant.client_secret
    )


def _finished_test():
    # The worker records the outcome, then closes the job: wait for both.
    test = ConnectionTest.objects.select_related("job").first()
    finished = (JobRun.Status.SUCCEEDED, JobRun.Status.FAILED)
    if (
        test
        and test.outcome != ConnectionTest.Outcome.PENDING
        and test.job
        and test.job.status in finished
    ):
        return test
    return None


def test_test_connection_succeeds_in_the_worker(celery_worker, sim_tenant):
    from django.test import Client

    from tests.factories import AdministratorFactory

    _make(sim_tenant)
    client = Client()
    client.force_login(AdministratorFactory())
    response = client.post(reverse("integrations:test_connection"), headers={"HX-Request": "true"})
    assert 'hx-trigger="every 1s"' in response.content.decode()

    test = wait_for(_finished_test, what="the test connection job", timeout=30)

    assert test.outcome == ConnectionTest.Outcome.PASSED, celery_worker.log()
    assert test.job.status == JobRun.Status.SUCCEEDED
    page = client.get(reverse("integrations:test_result", args=[test.pk])).content.decode()
    assert "Connected to Microsoft Graph" in page
    assert "hx-trigger" not in page
    assert "Missing" not in page


def test_a_wrong_secret_fails_the_job_with_the_exact_text(celery_worker, sim_tenant):
    from django.test import Client

    from tests.factories import AdministratorFactory

    _make(sim_tenant, secret="definitely-not-the-secret-value")
    client = Client()
    client.force_login(AdministratorFactory())
    client.post(reverse("integrations:test_connection"))

    test = wait_for(_finished_test, what="the test connection job", timeout=30)

    assert test.headline == "Error: Failed to request refresh token"
    assert test.job.status == JobRun.Status.FAILED
    assert test.job.error.startswith("Error: Failed to request refresh token.")
    assert "AADSTS7000215" in test.job.error
    page = client.get(reverse("integrations:account")).content.decode()
    assert "Error: Failed to request refresh token" in page

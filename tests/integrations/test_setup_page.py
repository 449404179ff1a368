"""The setup page: who may see and run it, and a round run as a job in a real worker."""

import pytest
from django.urls import reverse

from integrations.models import JobRun, SetupRun
from tests.integrations.factories import IntegrationAccountFactory
from tests.plugins.celery_worker import wait_for


def test_administrators_see_the_page_in_the_navigation_and_may_run_it(administrator_client):
    page = administrator_client.get(reverse("integrations:setup")).content.decode()
    assert 'href="/setup/"' in page
    assert "Run checks" in page
    assert "Not run yet." in page


def test_supervisors_read_the_page_but_may_not_run_it(supervisor_client):
    response = supervisor_client.get(reverse("integrations:setup"))
    assert response.status_code == 200
    assert "Run checks" not in response.content.decode()
    assert 'href="/setup/"' in response.content.decode()
    assert supervisor_client.post(reverse("integrations:setup")).status_code == 403
    assert not SetupRun.objects.exists()


@pytest.mark.serial  # a time bound: in the parallel pass a neighbour's jobs held it back
def test_a_round_runs_in_the_worker_and_the_page_shows_its_rows(
    celery_worker, sim_tenant, settings
):
    from django.test import Client

    from tests.factories import AdministratorFactory

    settings.CCBRIDGE_PUBLIC_URL = "http://127.0.0.1:8000"
    IntegrationAccountFactory.for_tenant(sim_tenant)
    client = Client()
    client.force_login(AdministratorFactory())
    response = client.post(reverse("integrations:setup"), headers={"HX-Request": "true"})
    assert 'hx-trigger="every 1s"' in response.content.decode()

    def finished():
        run = SetupRun.objects.select_related("job").first()
        return run if run and run.finished_at and run.job.finished_at else None

    run = wait_for(finished, what="the setup checks job", timeout=60)
    assert run.job.status == JobRun.Status.SUCCEEDED, run.job.error

    page = client.get(reverse("integrations:setup_result", args=[run.pk])).content.decode()
    assert "hx-trigger" not in page
    assert "App registration" in page and "Public webhook" in page
    # The simulator's app has no redirect URI and the console runs on plain HTTP.
    assert 'data-check="registration.redirect_uri" data-state="red"' in page
    assert 'data-check="webhook.https" data-state="red"' in page
    assert run.state == "red"
    assert run.job.progress_done == run.job.progress_total == 4


def test_the_nightly_round_is_scheduled_and_never_runs_twice_at_once(db, settings):
    from integrations.setup.tasks import setup_run_nightly

    entry = settings.CELERY_BEAT_SCHEDULE["setup-checks-nightly"]
    assert entry["task"] == setup_run_nightly.name == "integrations.setup.run_nightly"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({2}, {30})

    setup_run_nightly()
    setup_run_nightly()  # the first round has not finished: nothing more is queued

    run = SetupRun.objects.get()
    assert run.nightly
    assert run.job.kind == "setup.checks"

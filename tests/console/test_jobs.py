"""Jobs cross the real broker to a real worker and record their outcome."""

from django.urls import reverse

from integrations.jobs import job_enqueue
from integrations.models import JobRun
from tests.plugins.celery_worker import wait_for
from tests.support.worker_tasks import count_to, explode


def _finished(job: JobRun):
    def check():
        job.refresh_from_db()
        return job.is_finished

    return check


def test_a_job_runs_in_the_worker_and_succeeds(celery_worker):
    job = job_enqueue(kind="test.count", task=count_to, n=5)
    assert job.status == JobRun.Status.QUEUED

    wait_for(_finished(job), what="the worker to finish the job")

    assert job.status == JobRun.Status.SUCCEEDED, celery_worker.log()
    assert (job.progress_done, job.progress_total) == (5, 5)
    assert job.counts == {"counted": 5}
    assert job.message == "Counted to 5."
    assert job.started_at is not None and job.finished_at >= job.started_at


def test_a_failing_job_ends_failed_with_its_error(celery_worker):
    job = job_enqueue(kind="test.explode", task=explode, message="disk on fire")

    wait_for(_finished(job), what="the worker to record the failure")

    assert job.status == JobRun.Status.FAILED
    assert job.error == "RuntimeError: disk on fire"
    assert job.progress_done == 1


def test_selfcheck_started_from_the_dashboard_succeeds(celery_worker, administrator_client):
    response = administrator_client.post(reverse("console:selfcheck_start"))
    job = JobRun.objects.get(kind="system.selfcheck")
    assert response.status_code == 302
    assert response["Location"] == reverse("console:job_detail", args=[job.pk])

    wait_for(_finished(job), what="the self-check job")

    assert job.status == JobRun.Status.SUCCEEDED, job.error
    assert job.counts == {"passed": 2}
    assert job.started_by.username == "ada"


def test_progress_partial_polls_while_running_and_stops_when_finished(administrator_client):
    job = JobRun.objects.create(kind="test.count", status=JobRun.Status.RUNNING)
    job.progress_total, job.progress_done = 4, 1
    job.save()
    url = reverse("console:job_detail", args=[job.pk])

    running = administrator_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 1s"' in running
    assert "1 of 4" in running
    assert "<html" not in running

    JobRun.objects.filter(pk=job.pk).update(status=JobRun.Status.SUCCEEDED, progress_done=4)
    finished = administrator_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in finished
    assert "Succeeded" in finished


def test_htmx_start_returns_the_progress_partial(administrator_client):
    response = administrator_client.post(
        reverse("console:selfcheck_start"), headers={"HX-Request": "true"}
    )
    job = JobRun.objects.get()
    body = response.content.decode()
    assert f'id="job-{job.pk}"' in body
    assert "Queued" in body


def test_a_job_claimed_once_is_not_run_twice(transactional_db):
    job = JobRun.objects.create(kind="test.count")
    count_to.run(job_id=job.pk, n=3)
    count_to.run(job_id=job.pk, n=3)  # a redelivered message
    job.refresh_from_db()
    assert job.progress_done == 3
    assert job.counts == {"counted": 3}

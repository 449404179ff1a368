"""Jobs cross the real broker to a real worker and record their outcome."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from integrations.jobs import job_enqueue, jobs_recover
from integrations.models import JobRun
from tests.plugins.celery_worker import wait_for
from tests.support.worker_tasks import count_to, explode, sleep_for


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


# --- Recovery: a job whose worker died, or whose message was lost, is sent again -------


def _stranded_running_job(**fields) -> JobRun:
    """A job a worker claimed and then stopped beating for (killed, machine lost)."""
    long_ago = timezone.now() - timedelta(minutes=10)
    defaults = {
        "kind": "test.count",
        "task_name": count_to.name,
        "task_kwargs": {"n": 4},
        "status": JobRun.Status.RUNNING,
        "started_at": long_ago,
        "heartbeat_at": long_ago,
    }
    return JobRun.objects.create(**{**defaults, **fields})


def test_a_job_silent_past_the_stale_limit_runs_again_in_a_worker(celery_worker, settings):
    job = _stranded_running_job()

    assert jobs_recover() == {"resent": 1, "failed": 0}

    wait_for(_finished(job), what="the job sent again to finish")
    assert job.status == JobRun.Status.SUCCEEDED, celery_worker.log()
    assert job.attempt == 2
    assert job.counts == {"counted": 4}


def test_a_job_with_a_recent_heartbeat_is_left_running(transactional_db):
    job = _stranded_running_job(heartbeat_at=timezone.now() - timedelta(seconds=30))

    assert jobs_recover() == {"resent": 0, "failed": 0}
    job.refresh_from_db()
    assert (job.status, job.attempt) == (JobRun.Status.RUNNING, 1)


def test_the_message_of_an_earlier_attempt_does_nothing(transactional_db):
    job = _stranded_running_job(status=JobRun.Status.QUEUED, attempt=2, heartbeat_at=None)

    count_to.run(job_id=job.pk, attempt=1, n=4)  # the old message, arriving late
    job.refresh_from_db()
    assert (job.status, job.progress_done) == (JobRun.Status.QUEUED, 0)

    count_to.run(job_id=job.pk, attempt=2, n=4)
    job.refresh_from_db()
    assert (job.status, job.progress_done) == (JobRun.Status.SUCCEEDED, 4)


def test_after_the_last_attempt_the_job_fails_saying_why(transactional_db, settings):
    job = _stranded_running_job(attempt=settings.JOB_MAX_ATTEMPTS)

    assert jobs_recover() == {"resent": 0, "failed": 1}
    job.refresh_from_db()
    assert job.status == JobRun.Status.FAILED
    assert job.error == (
        f"The job did not finish: the worker running it stopped (attempt "
        f"{settings.JOB_MAX_ATTEMPTS} of {settings.JOB_MAX_ATTEMPTS}). Start it again."
    )


def test_a_queued_job_nobody_took_is_sent_again(celery_worker, settings):
    # Redis restarted without persistence: the queued message is gone.
    job = JobRun.objects.create(
        kind="test.count",
        task_name=count_to.name,
        task_kwargs={"n": 2},
        sent_at=timezone.now() - timedelta(seconds=settings.JOB_QUEUED_RESEND_SECONDS + 1),
    )

    assert jobs_recover() == {"resent": 1, "failed": 0}

    wait_for(_finished(job), what="the job sent again to finish")
    assert job.status == JobRun.Status.SUCCEEDED, celery_worker.log()
    assert job.message == "Counted to 2."


def test_a_running_job_writes_heartbeats(transactional_db, settings):
    settings.JOB_HEARTBEAT_SECONDS = 0.05
    job = JobRun.objects.create(kind="test.slow", task_name=sleep_for.name)

    sleep_for.run(job_id=job.pk, attempt=1, seconds=0.4)

    job.refresh_from_db()
    assert job.status == JobRun.Status.SUCCEEDED
    assert job.heartbeat_at > job.started_at

"""Directory sync jobs: on demand, and on the schedule an administrator sets."""

from datetime import timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from accounts.models import DirectorySyncState
from accounts.sync import directory_sync_run, sync_state
from integrations.jobs import JobContext, job_enqueue, tracked_job
from integrations.models import JobRun
from integrations.services import account_get

SYNC_KIND = "directory.sync"
SYNC_TIME_LIMIT_SECONDS = 3600


@shared_task(
    name="accounts.directory.sync",
    ignore_result=True,
    soft_time_limit=3000,
    time_limit=SYNC_TIME_LIMIT_SECONDS,
)
@tracked_job
def directory_sync(ctx: JobContext) -> None:
    """Run one directory sync round (resumes where a killed run stopped)."""
    try:
        directory_sync_run(ctx=ctx)
    finally:
        DirectorySyncState.objects.filter(running_job_id=ctx.job.pk).update(running_job=None)


def directory_sync_start(*, user=None) -> JobRun:
    """Enqueue a sync unless one is already queued or running; return that job."""
    with transaction.atomic():
        state = DirectorySyncState.objects.select_for_update().get(pk=sync_state().pk)
        running = state.running_job
        if running is not None and not running.is_finished:
            if not _abandoned(running):
                return running
            # Its worker died (acks_late redelivers it, but the claim skips a running job).
            JobRun.objects.filter(pk=running.pk, finished_at__isnull=True).update(
                status=JobRun.Status.FAILED,
                error="The sync stopped without finishing; the next one resumes where it left off.",
                finished_at=timezone.now(),
            )
        job = job_enqueue(kind=SYNC_KIND, task=directory_sync, user=user)
        state.running_job = job
        state.save(update_fields=["running_job"])
    return job


def _abandoned(job: JobRun) -> bool:
    """Still unfinished after the task's hard time limit: no worker is running it."""
    since = job.started_at or job.created_at
    return since < timezone.now() - timedelta(seconds=SYNC_TIME_LIMIT_SECONDS)


@shared_task(
    name="accounts.directory.sync_when_due", ignore_result=True, soft_time_limit=20, time_limit=30
)
def directory_sync_when_due() -> None:
    """Scheduled by beat every minute: start a sync when the admin's interval has passed."""
    account = account_get()
    if account is None or account.missing_credentials():
        return
    state = sync_state()
    if state.interval_minutes == 0:
        return
    due_at = (state.last_started_at or timezone.now() - timedelta(days=365)) + timedelta(
        minutes=state.interval_minutes
    )
    if timezone.now() >= due_at:
        directory_sync_start()

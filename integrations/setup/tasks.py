"""Background jobs of the setup checks: thin wrappers around services."""

from celery import shared_task

from integrations.jobs import JobContext, job_enqueue, tracked_job
from integrations.models import JobRun, SetupRun
from integrations.setup.services import setup_run_abort, setup_run_execute


@shared_task(name="integrations.setup.run", ignore_result=True, soft_time_limit=240, time_limit=300)
@tracked_job
def setup_run(ctx: JobContext, *, run_id: int) -> None:
    """Run one round of setup checks for the page that asked for it."""
    run = SetupRun.objects.get(pk=run_id)
    if run.finished_at is not None:  # a redelivered message: the round is done
        return
    try:
        setup_run_execute(run=run, ctx=ctx)
    except Exception as exc:
        setup_run_abort(run=run, error=exc)
        raise


def setup_run_enqueue(*, user=None, nightly: bool = False) -> SetupRun:
    """Create a round and queue its job (after the transaction commits)."""
    run = SetupRun.objects.create(nightly=nightly)
    run.job = job_enqueue(kind="setup.checks", task=setup_run, user=user, run_id=run.pk)
    run.save(update_fields=["job"])
    return run


@shared_task(
    name="integrations.setup.run_nightly", ignore_result=True, soft_time_limit=50, time_limit=60
)
def setup_run_nightly() -> None:
    """Beat, every night: queue a round unless one is already running."""
    if JobRun.objects.filter(kind="setup.checks", finished_at__isnull=True).exists():
        return
    setup_run_enqueue(nightly=True)

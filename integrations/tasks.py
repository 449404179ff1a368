"""Background jobs of the integration account: thin wrappers around services."""

from celery import shared_task

from integrations.connection import (
    account_token_refresh,
    connection_test_abort,
    connection_test_run,
)
from integrations.jobs import JobContext, JobFailed, jobs_recover, tracked_job
from integrations.models import ConnectionTest
from integrations.services import account_get


@shared_task(ignore_result=True, soft_time_limit=90, time_limit=120)
@tracked_job
def account_test_connection(ctx: JobContext, *, test_id: int) -> None:
    """Run Test connection; the job fails (with the headline) when the test fails."""
    test = ConnectionTest.objects.select_related("account").get(pk=test_id)
    try:
        connection_test_run(test=test, ctx=ctx)
    except Exception as exc:
        # The page polls until the test leaves "pending": never leave it there.
        connection_test_abort(test=test, error=exc)
        raise
    if test.outcome == ConnectionTest.Outcome.FAILED:
        raise JobFailed(f"{test.headline}. {test.detail}".strip())
    ctx.note(test.headline)


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def refresh_account_token() -> None:
    """Scheduled by beat: refresh the app token before it expires, record its health."""
    account = account_get()
    if account is not None:
        account_token_refresh(account)


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def jobs_recover_stranded() -> None:
    """Beat, every minute: send again the jobs a dead worker or a lost message stranded."""
    jobs_recover()

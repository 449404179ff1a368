"""Background jobs of the integration account: thin wrappers around services."""

from celery import shared_task

from integrations.connection import (
    account_secret_expiry_read,
    account_token_refresh,
    connection_test_abort,
    connection_test_run,
    connection_test_values_unreadable,
)
from integrations.jobs import JobContext, JobFailed, job_enqueue, jobs_recover, tracked_job
from integrations.models import ConnectionTest, IntegrationAccount, JobRun
from integrations.services import account_get
from integrations.unsaved import TEST_VALUES, unsaved_open


@shared_task(
    name="integrations.account.test_connection",
    ignore_result=True,
    soft_time_limit=90,
    time_limit=120,
)
@tracked_job
def account_test_connection(ctx: JobContext, *, test_id: int, values: str = "") -> None:
    """Run Test connection; the job fails (with the headline) when the test fails.

    `values`, when given, are the form's credentials sealed by the view
    (integrations/unsaved.py): they are tested instead of the stored account.
    """
    test = ConnectionTest.objects.select_related("account").get(pk=test_id)
    opened = None
    if values:
        opened = unsaved_open(values, purpose=TEST_VALUES, user_id=ctx.job.started_by_id)
        if opened is None:
            connection_test_values_unreadable(test=test)
            raise JobFailed(f"{test.headline}. {test.detail}")
    try:
        connection_test_run(test=test, ctx=ctx, values=opened)
    except Exception as exc:
        # The page polls until the test leaves "pending": never leave it there.
        connection_test_abort(test=test, error=exc)
        raise
    if test.outcome == ConnectionTest.Outcome.FAILED:
        raise JobFailed(f"{test.headline}. {test.detail}".strip())
    ctx.note(test.headline)


@shared_task(
    name="integrations.account.read_secret_expiry",
    ignore_result=True,
    soft_time_limit=60,
    time_limit=90,
)
@tracked_job
def account_read_secret_expiry(ctx: JobContext, *, account_id: int) -> None:
    """Read the saved secret's expiry from Graph, so the expiry bar needs no Test connection."""
    account = IntegrationAccount.objects.filter(pk=account_id).first()
    if account is None:
        ctx.note("The account was deleted before its secret's expiry could be read.")
        return
    ctx.note(account_secret_expiry_read(account))


def secret_expiry_read_enqueue(*, account: IntegrationAccount, user=None) -> JobRun:
    """Queue the job reading the account's secret expiry (after the transaction commits)."""
    return job_enqueue(
        kind="account.expiry", task=account_read_secret_expiry, user=user, account_id=account.pk
    )


@shared_task(
    name="integrations.account.refresh_token", ignore_result=True, soft_time_limit=60, time_limit=90
)
def refresh_account_token() -> None:
    """Scheduled by beat: refresh the app token before it expires, record its health."""
    account = account_get()
    if account is not None:
        account_token_refresh(account)


@shared_task(
    name="integrations.jobs.recover_stranded", ignore_result=True, soft_time_limit=50, time_limit=60
)
def jobs_recover_stranded() -> None:
    """Beat, every minute: send again the jobs a dead worker or a lost message stranded."""
    jobs_recover()

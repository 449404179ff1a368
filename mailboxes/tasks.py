"""Mailbox tasks: thin wrappers over mailboxes/ services, named "mailboxes.<concern>.<action>"."""

from celery import shared_task

from graph.errors import Throttled, Unavailable
from integrations.jobs import JobContext, JobFailed, tracked_job
from mailboxes import inbound, outbound
from mailboxes.models import MailboxTest
from mailboxes.testing import mailbox_test_abort, mailbox_test_run


@shared_task(name="mailboxes.test.run", ignore_result=True, soft_time_limit=150, time_limit=180)
@tracked_job
def mailbox_test(ctx: JobContext, *, test_id: int) -> None:
    """Run Test mailbox; the job fails (with the headline) when the test fails."""
    test = MailboxTest.objects.select_related("mailbox").get(pk=test_id)
    try:
        mailbox_test_run(test=test, ctx=ctx)
    except Exception as exc:
        # The page polls until the test leaves "pending": never leave it there.
        mailbox_test_abort(test=test, error=exc)
        raise
    if test.outcome == MailboxTest.Outcome.FAILED:
        failed = next((s for s in test.steps if s["status"] == "failed"), {})
        raise JobFailed(f"{test.headline}. {failed.get('detail', '')}".strip())
    ctx.note(test.headline)


@shared_task(
    name="mailboxes.inbound.catch_up", ignore_result=True, soft_time_limit=300, time_limit=330
)
def mailbox_catch_up(mailbox_id: int, reason: str = "scheduled") -> int:
    """Hand the mailbox's new inbox messages to the contact center (exactly once)."""
    return inbound.mailbox_catch_up(mailbox_id, reason=reason)


@shared_task(
    name="mailboxes.inbound.catch_up_all", ignore_result=True, soft_time_limit=50, time_limit=60
)
def mailboxes_catch_up_all() -> int:
    """Beat: queue a catch-up of every enabled mailbox."""
    return inbound.mailboxes_catch_up_all()


@shared_task(
    name="mailboxes.outbound.send",
    bind=True,
    ignore_result=True,
    soft_time_limit=120,
    time_limit=150,
    max_retries=5,
)
def mail_send(self, row_id: int, request: dict) -> str | None:
    """Send one message the contact center asked for; retried while Graph is throttling
    or unavailable, then reported as email_failed."""
    try:
        return outbound.mail_send(row_id, request)
    except (Throttled, Unavailable) as exc:
        if self.request.retries >= self.max_retries:
            return outbound.mail_send_gave_up(row_id, f"Microsoft Graph kept failing ({exc}).")
        wait = getattr(exc, "retry_after", None) or 2 ** (self.request.retries + 1)
        raise self.retry(exc=exc, countdown=min(float(wait), 60.0)) from exc

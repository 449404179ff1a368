"""Mailboxes: add, change, enable, delete (audited, never with a secret's value), and
start Test mailbox."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from integrations.audit import audit_record
from integrations.jobs import job_enqueue
from integrations.models import JobRun
from mailboxes.models import MAILBOX_LIMIT, Mailbox, MailboxTest

# Serialises the limit check between concurrent creations (PostgreSQL advisory lock).
_LIMIT_LOCK = 0x6D61696C


class MailboxLimitReached(Exception):
    """Adding one more would exceed MAILBOX_LIMIT."""


LIMIT_MESSAGE = (
    f"ccbridge serves at most {MAILBOX_LIMIT} mailboxes and {MAILBOX_LIMIT} exist. Delete a "
    "mailbox that is no longer used before adding another."
)


def _audit_fields(mailbox: Mailbox, fields: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if v is not None else None for k, v in fields.items()}


def mailbox_create(*, actor, fields: dict[str, Any], client_secret: str = "") -> Mailbox:
    """Add a mailbox. Raises MailboxLimitReached beyond MAILBOX_LIMIT. Audited."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LIMIT_LOCK])
        if Mailbox.objects.count() >= MAILBOX_LIMIT:
            raise MailboxLimitReached(LIMIT_MESSAGE)
        mailbox = Mailbox(**fields)
        if client_secret:
            mailbox.client_secret = client_secret
        mailbox.save()
        audit_record(
            actor=actor,
            action="mailbox.create",
            target=mailbox,
            summary=f"Added the mailbox {mailbox.address} ({mailbox.get_access_type_display()})",
            changes={**_audit_fields(mailbox, fields), "client_secret": bool(client_secret)},
        )
    return mailbox


def mailbox_update(
    *, actor, mailbox: Mailbox, fields: dict[str, Any], client_secret: str = ""
) -> Mailbox:
    """Change a mailbox; a blank ``client_secret`` keeps the stored one. A new app or
    secret drops the cached token. Audited."""
    changed = {k: v for k, v in fields.items() if getattr(mailbox, k) != v}
    for name, value in fields.items():
        setattr(mailbox, name, value)
    if client_secret:
        mailbox.client_secret = client_secret
        changed["client_secret"] = True
    if "move_to_folder_name" in changed:
        mailbox.move_to_folder_id = ""  # found again by name on the next catch-up
    if changed.keys() & {"access_type", "app_source", "tenant", "client_id", "client_secret"}:
        mailbox.token_cache = ""
        mailbox.token_state = Mailbox.TokenState.UNKNOWN
    mailbox.save()
    if changed:
        audit_record(
            actor=actor,
            action="mailbox.update",
            target=mailbox,
            summary=f"Changed the mailbox {mailbox.address}: {', '.join(sorted(changed))}",
            changes=_audit_fields(mailbox, changed),
        )
    return mailbox


def mailbox_set_enabled(*, actor, mailbox: Mailbox, enabled: bool) -> Mailbox:
    """Turn mail flow of a mailbox on or off. Audited."""
    mailbox.enabled = enabled
    mailbox.save(update_fields=["enabled", "updated_at"])
    audit_record(
        actor=actor,
        action="mailbox.enable" if enabled else "mailbox.disable",
        target=mailbox,
        summary=f"{'Enabled' if enabled else 'Disabled'} the mailbox {mailbox.address}",
    )
    return mailbox


def mailbox_delete(*, actor, mailbox: Mailbox) -> None:
    """Delete a mailbox with its tests and stored secrets. Audited."""
    address = mailbox.address
    audit_record(
        actor=actor,
        action="mailbox.delete",
        target=mailbox,
        summary=f"Deleted the mailbox {address}",
    )
    mailbox.delete()


def mailbox_test_start(*, actor, mailbox: Mailbox, task: Any) -> MailboxTest:
    """Create a pending MailboxTest and queue ``task`` (the view hands in
    mailboxes.tasks.mailbox_test) for it once the transaction commits."""
    with transaction.atomic():
        test = MailboxTest.objects.create(mailbox=mailbox)
        test.job = job_enqueue(kind="mailbox.test", task=task, user=actor, test_id=test.pk)
        test.save(update_fields=["job"])
    test.job.refresh_from_db()
    return mailbox_test_settle(test)


def mailbox_test_settle(test: MailboxTest | None) -> MailboxTest | None:
    """End a pending test whose job already failed without it (the broker refused it,
    or the job broke first), so the page shows the reason instead of polling."""
    if test is None or test.outcome != MailboxTest.Outcome.PENDING or test.job is None:
        return test
    if test.job.status != JobRun.Status.FAILED:
        return test
    test.outcome = MailboxTest.Outcome.FAILED
    test.headline = "Error: The test could not finish"
    test.steps = [
        {"key": "job", "name": "Job", "status": "failed", "detail": test.job.error,
         "commands": [], "alternative": []}
    ]  # fmt: skip
    test.finished_at = timezone.now()
    test.save()
    return test

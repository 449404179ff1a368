"""Background jobs that record themselves as `JobRun` rows.

A view calls `job_enqueue`, which creates the row and sends the task once the
surrounding transaction commits. The task body is wrapped by `tracked_job`,
which claims the row (so a duplicate message never runs a job twice, while
the redelivery of a job whose worker died takes it over), exposes progress to
the page polling it, and records success or the reason for failure.
"""

import functools
import logging
from collections.abc import Callable
from typing import Any

from celery import current_task
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnreachable

from integrations.models import JobRun

logger = logging.getLogger(__name__)


class JobFailed(Exception):
    """Raised by a job body to end the run as failed with a readable message."""


class JobContext:
    """What a running job may do with its own row."""

    def __init__(self, job: JobRun):
        self.job = job

    def set_total(self, total: int) -> None:
        self.job.progress_total = total
        JobRun.objects.filter(pk=self.job.pk).update(progress_total=total)

    def advance(self, done: int = 1) -> None:
        self.job.progress_done += done
        JobRun.objects.filter(pk=self.job.pk).update(progress_done=F("progress_done") + done)

    def note(self, message: str) -> None:
        self.job.message = message[:500]
        JobRun.objects.filter(pk=self.job.pk).update(message=self.job.message)

    def count(self, **increments: int) -> None:
        for name, value in increments.items():
            self.job.counts[name] = self.job.counts.get(name, 0) + value
        JobRun.objects.filter(pk=self.job.pk).update(counts=self.job.counts)


def job_enqueue(*, kind: str, task: Any, user=None, **task_kwargs: Any) -> JobRun:
    """Create a queued JobRun and send `task` for it after the transaction commits.

    The task receives `job_id` plus `task_kwargs`; all must be JSON-serialisable.
    When the broker is unreachable the run ends failed at once, saying so,
    instead of the page failing and the run waiting in "queued" forever.
    """
    job = JobRun.objects.create(kind=kind, started_by=user if user and user.pk else None)
    transaction.on_commit(lambda: _send(job, task, task_kwargs))
    return job


def _send(job: JobRun, task: Any, task_kwargs: dict[str, Any]) -> None:
    try:
        task.delay(job_id=job.pk, **task_kwargs)
    except BrokerUnreachable:
        logger.exception("job %s (%s) could not be queued", job.pk, job.kind)
        JobRun.objects.filter(pk=job.pk, status=JobRun.Status.QUEUED).update(
            status=JobRun.Status.FAILED, error=BROKER_UNREACHABLE, finished_at=timezone.now()
        )
        job.refresh_from_db()


BROKER_UNREACHABLE = (
    "The job could not be queued: the task broker is unreachable. "
    "Start it again once the system status shows the broker is back."
)


def _redelivered() -> bool:
    """True when this task's message was given back by a worker that died running it."""
    delivery_info = getattr(getattr(current_task, "request", None), "delivery_info", None)
    return bool(delivery_info and delivery_info.get("redelivered"))


def _claim(job_id: int) -> JobRun | None:
    """Move a queued job to running; None when another delivery already took it.

    A redelivered message also takes over a running job: acks_late and
    reject_on_worker_lost give a message back only when the worker running it
    died, so nobody else is running that job any more.
    """
    claimable: list[str] = [JobRun.Status.QUEUED]
    if _redelivered():
        claimable.append(JobRun.Status.RUNNING)
    claimed = JobRun.objects.filter(pk=job_id, status__in=claimable).update(
        status=JobRun.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    return JobRun.objects.get(pk=job_id)


def _finish(job: JobRun, *, status: str, error: str = "") -> None:
    JobRun.objects.filter(pk=job.pk).update(status=status, error=error, finished_at=timezone.now())


def tracked_job(body: Callable[..., None]) -> Callable[..., None]:
    """Wrap a task body `body(ctx: JobContext, **kwargs)` so it records its JobRun.

    Exceptions end the run as failed with their message and are not re-raised:
    the failure is recorded on the row the user sees, and Celery must not
    redeliver a job that already reported its outcome.
    """

    @functools.wraps(body)
    def run(*, job_id: int, **kwargs: Any) -> None:
        job = _claim(job_id)
        if job is None:
            logger.info("job %s already claimed or gone; skipping", job_id)
            return
        ctx = JobContext(job)
        try:
            body(ctx, **kwargs)
        except JobFailed as exc:
            _finish(job, status=JobRun.Status.FAILED, error=str(exc))
        except Exception as exc:
            logger.exception("job %s (%s) failed", job.pk, job.kind)
            _finish(job, status=JobRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        else:
            _finish(job, status=JobRun.Status.SUCCEEDED)

    return run

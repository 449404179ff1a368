"""Background jobs that record themselves as `JobRun` rows.

A view calls `job_enqueue`, which creates the row and sends the task once the
surrounding transaction commits. The task body is wrapped by `tracked_job`,
which claims the row (so a duplicate message never runs a job twice, while
the redelivery of a job whose worker died takes it over), exposes progress to
the page polling it, and records success or the reason for failure.

Recovery. While a job runs, a thread of the worker writes `heartbeat_at` every
JOB_HEARTBEAT_SECONDS. When the pool process running it dies, Celery gives
the message back at once (acks_late + reject_on_worker_lost). When the whole
worker dies (SIGKILL, a lost machine) or Redis loses queued messages on a
restart, nothing would run the job again until the broker's visibility timeout;
`jobs_recover` (beat, every minute) sends such jobs again instead: a running
job whose heartbeat is older than JOB_STALE_AFTER_SECONDS, and a queued job
nobody took for JOB_QUEUED_RESEND_SECONDS. Each sending carries the job's
`attempt` number and only the newest attempt may claim the row, so the old
message, should it ever arrive, does nothing. After JOB_MAX_ATTEMPTS the job
ends failed, saying why.
"""

import functools
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from celery import current_app, current_task
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
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


def task_enqueue(
    name: str, *, args: tuple = (), kwargs: dict | None = None, **options: Any
) -> None:
    """Send the task registered as ``name`` once the surrounding transaction commits.

    By name, so a service never imports a task module (task modules import the
    services they wrap). The queue is the one config/queues.py routes ``name`` to,
    unless ``options`` name another. Raises ValueError at once for a name the
    routing table does not know; kombu's OperationalError when the broker is
    unreachable, from the commit (at once outside a transaction).
    """
    if name not in settings.CELERY_TASK_ROUTES:
        raise ValueError(f"no task named {name!r} in config/queues.py")
    transaction.on_commit(
        lambda: current_app.send_task(name, args=args, kwargs=kwargs or {}, **options)
    )


def job_enqueue(*, kind: str, task: Any, user=None, **task_kwargs: Any) -> JobRun:
    """Create a queued JobRun and send `task` for it after the transaction commits.

    The task receives `job_id` plus `task_kwargs`; all must be JSON-serialisable.
    When the broker is unreachable the run ends failed at once, saying so,
    instead of the page failing and the run waiting in "queued" forever.
    """
    job = JobRun.objects.create(
        kind=kind,
        started_by=user if user and user.pk else None,
        task_name=task.name,
        task_kwargs=task_kwargs,
    )
    transaction.on_commit(lambda: _send(job, task.name, task_kwargs))
    return job


def _send(job: JobRun, task_name: str, task_kwargs: dict[str, Any]) -> None:
    try:
        current_app.send_task(
            task_name, kwargs={"job_id": job.pk, "attempt": job.attempt, **task_kwargs}
        )
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


def _claim(job_id: int, attempt: int | None = None) -> JobRun | None:
    """Move a queued job to running; None when another delivery already took it.

    A redelivered message also takes over a running job: acks_late and
    reject_on_worker_lost give a message back only when the worker running it
    died, so nobody else is running that job any more.
    """
    claimable: list[str] = [JobRun.Status.QUEUED]
    if _redelivered():
        claimable.append(JobRun.Status.RUNNING)
    rows = JobRun.objects.filter(pk=job_id, status__in=claimable)
    if attempt is not None:  # None: a message sent before jobs carried their attempt
        rows = rows.filter(attempt=attempt)
    now = timezone.now()
    claimed = rows.update(status=JobRun.Status.RUNNING, started_at=now, heartbeat_at=now)
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
    def run(*, job_id: int, attempt: int | None = None, **kwargs: Any) -> None:
        job = _claim(job_id, attempt)
        if job is None:
            logger.info("job %s (attempt %s) already claimed or gone; skipping", job_id, attempt)
            return
        ctx = JobContext(job)
        try:
            with _Heartbeat(job.pk):
                body(ctx, **kwargs)
        except JobFailed as exc:
            _finish(job, status=JobRun.Status.FAILED, error=str(exc))
        except Exception as exc:
            logger.exception("job %s (%s) failed", job.pk, job.kind)
            _finish(job, status=JobRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        else:
            _finish(job, status=JobRun.Status.SUCCEEDED)

    return run


# --- Recovery: heartbeats and sending stranded jobs again ------------------------------


class _Heartbeat:
    """While the job body runs, write `heartbeat_at` every JOB_HEARTBEAT_SECONDS."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"job-{job_id}-heartbeat")
        self.thread.daemon = True

    def __enter__(self) -> "_Heartbeat":
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
        self.thread.join()

    def _beat(self) -> None:
        try:
            while not self.stopped.wait(settings.JOB_HEARTBEAT_SECONDS):
                try:
                    JobRun.objects.filter(pk=self.job_id, status=JobRun.Status.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except Exception:  # the database is away: the next beat tries again
                    logger.warning("job %s: could not record its heartbeat", self.job_id)
        finally:
            connection.close()


def _stranded(now: datetime):
    stale = now - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS)
    unclaimed = now - timedelta(seconds=settings.JOB_QUEUED_RESEND_SECONDS)
    return JobRun.objects.filter(
        Q(status=JobRun.Status.RUNNING, heartbeat_at__lt=stale)
        | Q(status=JobRun.Status.RUNNING, heartbeat_at__isnull=True, started_at__lt=stale)
        | Q(status=JobRun.Status.QUEUED, sent_at__lt=unclaimed)
    )


def jobs_recover(now: datetime | None = None) -> dict[str, int]:
    """Send stranded jobs again, or end them failed after JOB_MAX_ATTEMPTS.

    Returns {"resent": n, "failed": n}. A queued job is sent again at most every
    JOB_QUEUED_RESEND_SECONDS (its `sent_at` moves on). Safe to run from
    several processes: each change is conditional on the attempt it saw.
    """
    now = now or timezone.now()
    outcome = {"resent": 0, "failed": 0}
    for job in _stranded(now).order_by("pk")[:500]:
        was_running = job.status == JobRun.Status.RUNNING
        rows = JobRun.objects.filter(pk=job.pk, status=job.status, attempt=job.attempt)
        if job.attempt >= settings.JOB_MAX_ATTEMPTS or not job.task_name:
            why = "the worker running it stopped" if was_running else "no worker took it"
            if rows.update(
                status=JobRun.Status.FAILED,
                error=f"The job did not finish: {why} (attempt {job.attempt} of "
                f"{settings.JOB_MAX_ATTEMPTS}). Start it again.",
                finished_at=now,
            ):
                outcome["failed"] += 1
            continue
        note = (
            "Started again: the worker running it stopped."
            if was_running
            else "Sent again: no worker had taken it."
        )
        if not rows.update(
            status=JobRun.Status.QUEUED,
            attempt=F("attempt") + 1,
            heartbeat_at=None,
            sent_at=now,
            message=note,
        ):
            continue
        job.refresh_from_db()
        logger.warning("job %s (%s): %s Attempt %s.", job.pk, job.kind, note, job.attempt)
        _send(job, job.task_name, job.task_kwargs)
        outcome["resent"] += 1
    return outcome

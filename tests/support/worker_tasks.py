"""Tasks only the test worker loads (via --include), to exercise the job machinery."""

import time

from celery import shared_task

from integrations.jobs import JobContext, tracked_job


@shared_task(ignore_result=True, soft_time_limit=20, time_limit=30)
@tracked_job
def count_to(ctx: JobContext, *, n: int) -> None:
    ctx.set_total(n)
    for _ in range(n):
        ctx.advance()
    ctx.count(counted=n)
    ctx.note(f"Counted to {n}.")


@shared_task(ignore_result=True, soft_time_limit=20, time_limit=30)
@tracked_job
def explode(ctx: JobContext, *, message: str) -> None:
    ctx.set_total(2)
    ctx.advance()
    raise RuntimeError(message)


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
@tracked_job
def sleep_for(ctx: JobContext, *, seconds: float) -> None:
    """A job that takes a while without reporting progress (a long Graph call)."""
    time.sleep(seconds)


@shared_task(ignore_result=True, soft_time_limit=20, time_limit=30)
def nap(*, seconds: float) -> None:
    """Plain background work that keeps a worker process busy (no JobRun)."""
    time.sleep(seconds)

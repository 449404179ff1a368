"""Tasks only the test worker loads (via --include), to exercise the job machinery."""

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

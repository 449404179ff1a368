"""Shell-level background tasks."""

import socket

from celery import shared_task

from console.health import check_broker, check_database, heartbeat_record
from integrations.jobs import JobContext, JobFailed, tracked_job


@shared_task(
    name="console.health.heartbeat_record", ignore_result=True, soft_time_limit=20, time_limit=30
)
def record_heartbeat() -> None:
    """Scheduled by beat and run by a worker: proves both are alive."""
    heartbeat_record(hostname=socket.gethostname())


@shared_task(
    name="console.health.selfcheck", ignore_result=True, soft_time_limit=100, time_limit=120
)
@tracked_job
def system_selfcheck(ctx: JobContext) -> None:
    """A maintenance job an administrator can start to prove the job pipeline works.

    Runs the database and broker checks from inside a worker, one progress step
    each; fails, naming the broken part, when the worker cannot reach one.
    """
    checks = (check_database, check_broker)
    ctx.set_total(len(checks))
    failed = []
    for check in checks:
        result = check()
        ctx.count(**{"passed" if result.ok else "failed": 1})
        if not result.ok:
            failed.append(f"{result.name}: {result.detail}")
        ctx.advance()
    if failed:
        raise JobFailed("; ".join(failed))
    ctx.note("The worker reached the database and the broker.")

"""Run a round of setup checks and keep its result."""

from __future__ import annotations

from django.utils import timezone

from integrations.jobs import JobContext
from integrations.models import JobRun, SetupRun
from integrations.services import account_get
from integrations.setup.checks import Check, State, overall
from integrations.setup.collect import SECTIONS, setup_checks_collect


def setup_run_execute(*, run: SetupRun, ctx: JobContext | None = None) -> SetupRun:
    """Run every check and store the rows and the overall state on ``run``.

    Side effects: Graph and identity-platform calls (see collect). Never raises
    for a Graph failure: each failure is the evidence of its row.
    """
    if ctx:
        ctx.set_total(SECTIONS)
    rows = setup_checks_collect(account_get(), ctx.advance if ctx else (lambda done=1: None))
    run.checks = [row.as_json() for row in rows]
    run.state = str(overall(rows))
    run.finished_at = timezone.now()
    run.save(update_fields=["checks", "state", "finished_at"])
    if ctx:
        ctx.note(_summary(rows))
    return run


def _summary(rows: list[Check]) -> str:
    red = sum(1 for r in rows if r.state is State.RED)
    amber = sum(1 for r in rows if r.state is State.AMBER)
    return f"{len(rows)} checks: {red} red, {amber} amber."


def setup_run_abort(*, run: SetupRun, error: Exception) -> SetupRun:
    """End a round that could not finish for a reason of ours, so the page stops polling."""
    run.checks = [
        Check(
            "run.failed",
            "Setup checks",
            "The checks could not finish",
            State.RED,
            f"{type(error).__name__}: {error}",
            "Run them again.",
        ).as_json()
    ]
    run.state = str(State.RED)
    run.finished_at = timezone.now()
    run.save(update_fields=["checks", "state", "finished_at"])
    return run


def setup_run_settle(run: SetupRun | None) -> SetupRun | None:
    """End a running round whose job already failed (broker down, worker lost)."""
    if run is None or run.finished_at is not None or run.job is None:
        return run
    if run.job.status != JobRun.Status.FAILED:
        return run
    return setup_run_abort(run=run, error=RuntimeError(run.job.error))


def setup_run_latest() -> SetupRun | None:
    return SetupRun.objects.select_related("job").first()

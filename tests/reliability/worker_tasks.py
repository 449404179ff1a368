"""A task only the reliability workers load (via --include): keeps a worker busy."""

import time

from celery import shared_task


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=150)
def hold(*, seconds: float) -> None:
    """Occupy one worker process for `seconds`, like a long directory sync would."""
    time.sleep(seconds)

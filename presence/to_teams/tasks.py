"""Contact center → Teams tasks: apply ACD events, renew presence sessions.

Thin wrappers: they take ids, call presence/to_teams/sync.py, and retry what may
heal (Graph throttled or unavailable) with exponential backoff.
"""

from datetime import datetime, timedelta

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from presence.sync_models import AgentEvent
from presence.to_teams import sync as to_teams

# Another worker holds the agent: look again soon, it is done within one Graph call.
BUSY_RETRY_SECONDS = 1
BACKOFF_FACTOR = 2
BACKOFF_MAX = 300
STRANDED_AFTER = timedelta(minutes=1)
REQUEUE_BATCH = 500


def _backoff(retries: int, retry_after: float | None) -> float:
    wait = get_exponential_backoff_interval(BACKOFF_FACTOR, retries, BACKOFF_MAX, full_jitter=True)
    return max(wait, retry_after or 0, 1)


@shared_task(
    name="presence.to_teams.agent_events_apply",
    bind=True,
    ignore_result=True,
    max_retries=8,
    soft_time_limit=240,
    time_limit=300,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=BACKOFF_FACTOR,
    retry_backoff_max=BACKOFF_MAX,
)
def agent_events_apply(self, *, agent_ids: list[int]) -> None:
    """Apply the newest ACD event of each agent to Teams (see to_teams.agents_apply).

    Agents another worker holds come back in a new task a second later; agents whose
    Graph call was throttled or failed transiently are retried with backoff, always
    re-reading their newest event, and recorded as failed on the last attempt. A lost
    database connection retries the whole task: agents already done have nothing left.
    """
    result = to_teams.agents_apply(
        agent_ids=agent_ids, give_up=self.request.retries >= self.max_retries
    )
    if result.busy:
        agent_events_apply.apply_async(
            kwargs={"agent_ids": result.busy}, countdown=BUSY_RETRY_SECONDS
        )
    if result.transient:
        raise self.retry(
            kwargs={"agent_ids": result.transient},
            countdown=_backoff(self.request.retries, result.retry_after),
            exc=result.error,
        )


@shared_task(
    name="presence.to_teams.sessions_refresh",
    ignore_result=True,
    soft_time_limit=50,
    time_limit=60,
)
def sessions_refresh() -> None:
    """Renew presence sessions that end soon for agents still in the same state (beat, 60 s),
    and queue again the agents whose events lost their task (see events_requeue_stranded)."""
    events_requeue_stranded()
    to_teams.sessions_refresh()


def events_requeue_stranded(*, now: datetime | None = None) -> int:
    """Queue ``agent_events_apply`` again for agents with events unapplied a minute after
    they arrived: their task was lost (Redis restarted without persistence, a message
    dropped). Applying is idempotent, so a task merely late does no harm. Returns the
    number of agents queued."""
    cutoff = (now or timezone.now()) - STRANDED_AFTER
    agent_ids = sorted(
        set(
            AgentEvent.objects.filter(processed_at__isnull=True, received_at__lt=cutoff)
            .values_list("agent_id", flat=True)
            .distinct()
        )
    )
    for start in range(0, len(agent_ids), REQUEUE_BATCH):
        agent_events_apply.delay(agent_ids=agent_ids[start : start + REQUEUE_BATCH])
    return len(agent_ids)

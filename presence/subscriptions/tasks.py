"""Background work of presence subscriptions and system users: thin wrappers
around presence/subscriptions/services.py and system_users.py."""

import logging

from celery import shared_task
from django.contrib.auth import get_user_model
from django.utils import timezone

from integrations.jobs import JobContext, JobFailed, job_enqueue, task_enqueue, tracked_job
from integrations.models import JobRun
from presence.subscriptions.services import (
    member_agent_ids,
    subscription_mark,
    subscriptions_sync,
)
from presence.subscriptions.system_users import (
    SystemUserError,
    system_users_create_in_azure,
    system_users_recheck,
)
from presence.sync_models import SystemUser

logger = logging.getLogger(__name__)

SYNC_KIND = "subscriptions.sync"
MAINTAIN_KIND = "subscriptions.maintain"
CREATE_KIND = "system_users.create"


@shared_task(
    name="presence.subscriptions.maintain", ignore_result=True, soft_time_limit=50, time_limit=58
)
def subscriptions_maintain() -> None:
    """Scheduled by beat every minute: take back system users that sign in again,
    then create, renew and repair subscriptions.

    Health lives on the Subscription rows; a JobRun is written only when the
    run changed something in Graph or hit a new failure, so the jobs list is
    not flooded with one row a minute.
    """
    started = timezone.now()
    # An account that failed to sign in is out of the pool until it signs in again.
    system_users_recheck(now=started)
    result = subscriptions_sync(wait=0)
    if result.busy or not (result.changed or result.new_failures):
        return
    JobRun.objects.create(
        kind=MAINTAIN_KIND,
        status=JobRun.Status.FAILED if result.new_failures else JobRun.Status.SUCCEEDED,
        started_at=started,
        finished_at=timezone.now(),
        counts=result.counts(),
        message=result.summary()[:500],
        error="Some subscriptions failed; see Subscription health." if result.new_failures else "",
    )


@shared_task(
    name="presence.subscriptions.sync", ignore_result=True, soft_time_limit=240, time_limit=300
)
@tracked_job
def subscriptions_sync_job(ctx: JobContext) -> None:
    """ "Sync subscriptions now": one sync, reported on its JobRun."""
    result = subscriptions_sync(wait=120)
    if result.busy:
        raise JobFailed("Another subscription sync kept running; try again in a minute.")
    ctx.count(**result.counts())
    ctx.note(result.summary())
    if result.failed:
        raise JobFailed(
            f"{result.failed} subscription(s) failed; see Subscription health for what to do."
        )


@shared_task(
    name="presence.subscriptions.system_users_create",
    ignore_result=True,
    soft_time_limit=600,
    time_limit=660,
)
@tracked_job
def system_users_create_job(ctx: JobContext, *, count: int) -> None:
    """ "Create N in Azure": create the accounts, check their sign-in, then sync."""
    actor = get_user_model().objects.filter(pk=ctx.job.started_by_id).first()
    ctx.set_total(count)
    try:
        created = system_users_create_in_azure(
            actor=actor, count=count, progress=lambda _user: ctx.advance()
        )
    except SystemUserError as exc:
        raise JobFailed(str(exc)) from None
    ok = sum(1 for u in created if u.status == SystemUser.Status.OK)
    ctx.count(created=len(created), signed_in=ok)
    ctx.note(
        f"Created {len(created)} system user(s) in Microsoft Entra ID; {ok} signed in. "
        + ("" if ok == len(created) else "See the system users list for what to do.")
    )
    if ok:
        subscriptions_sync_now()


def subscriptions_sync_now(*, user=None) -> JobRun:
    """Enqueue "Sync subscriptions now" (after the surrounding transaction commits)."""
    return job_enqueue(kind=SYNC_KIND, task=subscriptions_sync_job, user=user)


@shared_task(
    name="presence.subscriptions.lifecycle",
    ignore_result=True,
    soft_time_limit=240,
    time_limit=300,
)
def subscription_lifecycle(subscription_graph_id: str, event: str) -> None:
    """A lifecycle notification from Graph (queued by the webhook).

    reauthorizationRequired → renew now; subscriptionRemoved → recreate and
    reconcile its users; missed → reconcile its users.
    """
    row = subscription_mark(subscription_graph_id, event)
    if row is None:
        logger.info("lifecycle %s for unknown subscription %s", event, subscription_graph_id)
        return
    agent_ids = member_agent_ids(row)
    if event in ("reauthorizationRequired", "subscriptionRemoved"):
        subscriptions_sync(wait=120)
    if event in ("subscriptionRemoved", "missed") and agent_ids:
        task_enqueue("presence.to_acd.reconcile", kwargs={"agent_ids": agent_ids, "reason": event})

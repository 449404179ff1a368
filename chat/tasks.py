"""Expert chat tasks: thin wrappers over chat/services.py, chat/inbound.py and
chat/subscription.py. Each has a stable ``name="chat.…"`` (services queue them by
name) and a route in config/queues.py.

Conference steps retry transient Graph errors (throttling, unavailable) with
backoff; when the retries run out, the conference fails with the reason, so
nothing is lost silently.
"""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from chat import inbound, services, subscription
from graph.errors import Throttled, Unavailable

TRANSIENT = (Throttled, Unavailable)
STEP = {
    "ignore_result": True,
    "soft_time_limit": 60,
    "time_limit": 90,
    "bind": True,
    "max_retries": 5,
}


def _retry_or_fail(task, conference_id: int, exc: Exception, doing: str):
    if task.request.retries >= task.max_retries:
        services.conference_fail(
            conference_id, f"Could not {doing}: Microsoft Graph kept failing ({exc})."
        )
        return None
    wait = getattr(exc, "retry_after", None) or 2 ** (task.request.retries + 1)
    raise task.retry(exc=exc, countdown=min(float(wait), 60.0))


@shared_task(name="chat.conference.invite", **STEP)
def conference_invite(self, conference_id: int) -> str | None:
    """Open the expert's chat and send the invitation (then the expiry timer starts)."""
    try:
        return services.conference_invite(conference_id).state
    except TRANSIENT as exc:
        return _retry_or_fail(self, conference_id, exc, "invite the expert")


@shared_task(name="chat.conference.send", **STEP)
def conference_send(self, conference_id: int) -> int | None:
    """Send the conference's pending lines to the expert, in order."""
    try:
        return services.conference_send_pending(conference_id)
    except TRANSIENT as exc:
        return _retry_or_fail(self, conference_id, exc, "send a message to the expert")


@shared_task(name="chat.conference.expire", ignore_result=True, soft_time_limit=30, time_limit=45)
def conference_expire(conference_id: int) -> str:
    """The invitation's timer: lapse it unless the expert answered."""
    return services.conference_expire(conference_id).state


@shared_task(
    name="chat.conference.invitations_expire_due",
    ignore_result=True,
    soft_time_limit=50,
    time_limit=60,
)
def invitations_expire_due() -> int:
    """Beat, every 30 s: lapse invitations whose timer task was lost."""
    return services.invitations_expire_due()


@shared_task(
    name="chat.inbound.notifications_process",
    ignore_result=True,
    soft_time_limit=120,
    time_limit=150,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=8,
)
def notifications_process(*, items: list[dict]) -> dict[str, int]:
    """Apply the chat messages of one webhook POST (verified, decrypted). Retried as a
    whole: each Teams message is recorded once, so a retry never repeats one."""
    return inbound.notifications_apply(items)


@shared_task(
    name="chat.inbound.conferences_catch_up",
    ignore_result=True,
    soft_time_limit=300,
    time_limit=330,
)
def conferences_catch_up() -> int:
    """Read the live conferences' chats back (after a gap in notifications)."""
    return inbound.conferences_catch_up()


@shared_task(name="chat.subscription.ensure", ignore_result=True, soft_time_limit=60, time_limit=90)
def subscription_ensure() -> str:
    """Create or repair the chat-message subscription now (the account was just marked)."""
    return subscription.subscription_ensure().status


@shared_task(
    name="chat.subscription.maintain", ignore_result=True, soft_time_limit=60, time_limit=90
)
def subscription_maintain() -> str:
    """Beat, every minute: renew the chat subscription before it expires, repair it."""
    return subscription.subscription_ensure().status


@shared_task(
    name="chat.subscription.lifecycle", ignore_result=True, soft_time_limit=300, time_limit=330
)
def subscription_lifecycle(graph_id: str, event: str) -> str:
    """A lifecycle event of the chat subscription (reauthorize, recreate, read back)."""
    return subscription.subscription_lifecycle(graph_id, event)

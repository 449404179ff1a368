"""Teams → contact center tasks: apply verified notifications, deliver to the ACD,
reconcile the agents no subscription watches."""

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from graph.errors import Throttled, Unavailable
from presence.to_acd import delivery as acd_delivery
from presence.to_acd import sync as to_acd
from presence.to_acd.reconcile import presences_reconcile
from presence.webhook import broker as webhook_broker

# Graph throttled or unavailable: retried with exponential backoff (seconds).
BACKOFF_FACTOR = 2
BACKOFF_MAX = 300


class ItemsTask(Task):
    """A task sent with a list of ``items``, shown in message headers by their count.

    Celery otherwise renders the arguments into every message's headers: CPU spent
    on each webhook POST, and presence values copied into the broker's metadata.
    """

    def apply_async(self, args=None, kwargs=None, **options):
        items = (kwargs or {}).get("items")
        if isinstance(items, list):
            options.setdefault("kwargsrepr", _items_repr(items))
        return super().apply_async(args, kwargs, **options)

    def delay(self, *args, **kwargs):
        """Queue the task; ``delay(items=[...])`` in one broker round trip on Redis
        (presence/webhook/broker.py: the webhook calls this for every POST)."""
        items = kwargs.get("items")
        if not args and len(kwargs) == 1 and isinstance(items, list):
            task_id = webhook_broker.task_send(self, kwargs, kwargsrepr=_items_repr(items))
            if task_id is not None:
                return self.AsyncResult(task_id)
        return super().delay(*args, **kwargs)


def _items_repr(items: list) -> str:
    return f"{{'items': <{len(items)} items>}}"


@shared_task(
    name="presence.to_acd.notifications_process",
    base=ItemsTask,
    ignore_result=True,
    soft_time_limit=120,
    time_limit=150,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=8,
)
def notifications_process(*, items: list[dict]) -> dict[str, int]:
    """Apply the presence changes of one webhook POST (already verified and decrypted).

    Retried as a whole when the database is unreachable: applying is idempotent
    (sequence numbers), so a change applied before the failure is not applied twice.
    """
    return to_acd.notifications_apply(items)


@shared_task(name="presence.to_acd.deliver", ignore_result=True, soft_time_limit=30, time_limit=45)
def acd_deliver(delivery_id: int, attempt: int | None = None) -> str | None:
    """Send one ACD delivery: claim it (unless the dispatcher already did, as ``attempt``)."""
    return acd_delivery.delivery_attempt(delivery_id, attempt)


@shared_task(
    name="presence.to_acd.deliveries_retry", ignore_result=True, soft_time_limit=50, time_limit=60
)
def acd_deliveries_retry() -> int:
    """Scheduled by beat every 15 s: claim due retries and send each in its own task."""
    return acd_delivery.deliveries_dispatch_due(
        lambda delivery_id, attempt: acd_deliver.delay(delivery_id, attempt)
    )


@shared_task(
    name="presence.to_acd.reconcile",
    bind=True,
    ignore_result=True,
    autoretry_for=(Throttled, Unavailable),
    retry_backoff=BACKOFF_FACTOR,
    retry_backoff_max=BACKOFF_MAX,
    retry_jitter=True,
    max_retries=6,
    soft_time_limit=600,
    time_limit=660,
)
def reconcile(self, agent_ids: list[int] | None = None, reason: str = "") -> None:
    """Read Teams presence with getPresencesByUserId and apply it toward the ACD.

    ``agent_ids`` None: agents no active subscription watches (all of them when
    ``reason`` is "outage"); see presence/to_acd/reconcile.py. Beat runs it every 5 minutes.
    """
    presences_reconcile(agent_ids=agent_ids, reason=reason)

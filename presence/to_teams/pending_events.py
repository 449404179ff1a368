"""An agent's unprocessed ACD events, read so that a row the database cannot give back
fails alone.

PostgreSQL stores times Python cannot represent (year 1 BC, past 9999 in UTC). The API
refuses them now, but a row stored before, or by hand, would otherwise make every read
of the agent's pending events raise, so none of its later events would ever apply.
"""

from dataclasses import dataclass

from django.db import DataError, transaction

from presence.sync_models import AgentEvent

# What loading a value Python cannot represent raises: psycopg's DataError ("timestamp
# too small"), or ValueError / OverflowError from a converter (SQLite).
UNREADABLE = (DataError, ValueError, OverflowError)


@dataclass(frozen=True)
class UnreadableEvent:
    event: AgentEvent  # loaded without occurred_at
    reason: str


def pending_events_read(*, agent_id: int) -> tuple[list[AgentEvent], list[UnreadableEvent]]:
    """The agent's unprocessed events, newest first, and apart those whose occurred_at
    cannot be read back, each with the reason.

    One query; when a row is unreadable, one more per pending event to find which.
    Must run inside a transaction (it uses savepoints); writes nothing.
    """
    pending = AgentEvent.objects.filter(agent_id=agent_id, processed_at__isnull=True).order_by(
        "-sequence"
    )
    try:
        with transaction.atomic():
            return list(pending), []
    except UNREADABLE:
        pass
    readable, unreadable = [], []
    for event in pending.defer("occurred_at"):
        try:
            with transaction.atomic():
                event.refresh_from_db(fields=["occurred_at"])
        except UNREADABLE as exc:
            reason = (
                f"Event #{event.sequence} could not be read back from the database "
                f"(occurred_at: {exc}). It was not applied; the agent's other events are."
            )
            unreadable.append(UnreadableEvent(event, reason))
        else:
            readable.append(event)
    return readable, unreadable

"""A conference's transcript and the events the contact center receives from it.

Every line gets the conference's next ``sequence`` and every event the next event
number, both under the conference's row lock (the caller holds it: every writer
of a conference locks it first), so the contact center can order events and see
a gap. Events go out on the signed ACD webhook (presence/acd_delivery.py), queued
in the same transaction as the line they come from: a line recorded is an event
queued, once, since a Teams message can be recorded only once (unique per
conference).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from chat.models import Conference, ConferenceMessage
from presence.to_acd.delivery import event_queue


def conference_locked(pk: int) -> Conference:
    """The conference, locked until the transaction ends (call inside ``atomic``)."""
    return Conference.objects.select_for_update().get(pk=pk)


def line_add(
    conference: Conference,
    *,
    direction: str,
    text: str,
    author: str = "",
    graph_message_id: str = "",
    hosted_content_urls: list[str] | None = None,
    delivered: bool = False,
) -> ConferenceMessage:
    """Append a line to the locked conference's transcript. Raises IntegrityError for a
    Teams message already recorded (run it in a savepoint to recover)."""
    sequence = conference.message_count + 1
    line = ConferenceMessage.objects.create(
        conference=conference,
        sequence=sequence,
        direction=direction,
        author=author,
        text=text,
        graph_message_id=graph_message_id,
        hosted_content_urls=hosted_content_urls or [],
        delivered=delivered,
    )
    conference.message_count = sequence
    Conference.objects.filter(pk=conference.pk).update(message_count=sequence)
    return line


def event_emit(
    conference: Conference,
    event: str,
    *,
    text: str = "",
    line: ConferenceMessage | None = None,
    occurred_at: datetime | None = None,
    **extra: object,
) -> int:
    """Queue ``event`` for the contact center with the conference's next event number
    (returned); marks ``line`` as the event's source. The conference must be locked."""
    sequence = conference.event_count + 1
    conference.event_count = sequence
    Conference.objects.filter(pk=conference.pk).update(event_count=sequence)
    payload = {
        "event": event,
        "conference": str(conference.public_id),
        "customer_chat_id": conference.customer_chat_id,
        "agent": conference.agent_external_id,
        "expert": {"id": conference.expert_graph_id, "display_name": conference.expert_name},
        "sequence": sequence,
        "text": text,
        "occurred_at": (occurred_at or timezone.now()).isoformat(),
        **extra,
    }
    event_queue(payload, agent=conference.agent)
    if line is not None:
        line.event, line.event_sequence, line.delivered = event, sequence, True
        line.save(update_fields=["event", "event_sequence", "delivered"])
    return sequence


# --- reading, for the API and the console ------------------------------------------------


@dataclass(frozen=True)
class ConferenceFilters:
    state: str = ""
    q: str = ""  # words in the customer, expert, agent or a chat id (customer's or Teams')
    live: bool | None = None


def conferences_list(filters: ConferenceFilters | None = None) -> QuerySet[Conference]:
    """Conferences newest first, with ``lines`` (transcript length), ``expert_lines``
    (messages from the expert) and ``contact_center_lines`` (what the customer and the
    agent said to the expert) counted, filtered by state, liveness and words."""
    filters = filters or ConferenceFilters()
    conferences = Conference.objects.select_related("agent", "expert").annotate(
        lines=Count("messages"),
        expert_lines=Count(
            "messages", filter=Q(messages__direction=ConferenceMessage.Direction.FROM_EXPERT)
        ),
        # ccbridge's own words to the expert (invitation, session ended) carry no author.
        contact_center_lines=Count(
            "messages",
            filter=Q(messages__direction=ConferenceMessage.Direction.TO_EXPERT)
            & ~Q(messages__author=""),
        ),
    )
    if filters.state:
        conferences = conferences.filter(state=filters.state)
    if filters.live is not None:
        live = Q(state__in=Conference.LIVE_STATES)
        conferences = conferences.filter(live if filters.live else ~live)
    for word in filters.q.split():
        conferences = conferences.filter(
            Q(customer_name__icontains=word)
            | Q(customer_chat_id__icontains=word)
            | Q(expert_name__icontains=word)
            | Q(agent_external_id__icontains=word)
            | Q(agent__name__icontains=word)
            | Q(teams_chat_id__icontains=word)
        )
    return conferences.order_by("-invited_at", "-id")


def conference_transcript(conference: Conference) -> list[ConferenceMessage]:
    """The conference's lines in order."""
    return list(conference.messages.order_by("sequence"))


def conference_duration_seconds(conference: Conference, *, now: datetime | None = None) -> int:
    """Seconds from the invitation to the end (to now while it is live)."""
    end = conference.ended_at or (now or timezone.now())
    return max(0, int((end - conference.invited_at).total_seconds()))

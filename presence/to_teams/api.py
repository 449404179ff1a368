"""The contact-center API for agent state events (mounted in config/api.py).

The request only validates and stores: one query for the agents, one for the
reason codes, one for events already received, one insert. Applying the
events to Teams happens in the worker, one task per request, sent once the
rows are committed.
"""

import logging

from django.db import transaction
from django.http import HttpRequest
from kombu.exceptions import OperationalError as BrokerUnreachable
from ninja import Router, Status
from ninja.errors import HttpError, ValidationError

from accounts.models import Agent
from integrations.apikeys import api_key_auth
from integrations.jobs import task_enqueue
from integrations.models import ApiKey
from presence.models import AcdState, ReasonCode
from presence.sync_models import AgentEvent
from presence.to_teams.schemas import AgentEventBatch, AgentEventIn, EventsAccepted

logger = logging.getLogger(__name__)
router = Router()

EVENTS_WRITE = api_key_auth(ApiKey.Scope.EVENTS_WRITE)


def _error(index: int, field: str, message: str) -> dict:
    # The shape ninja gives pydantic's errors, so config/api.py reports both alike.
    return {"loc": ("body", "payload", "events", index, field), "msg": message}


def _problems(events: list[AgentEventIn], agents: dict[str, Agent]) -> list[dict]:
    units = {agent.business_unit_id for agent in agents.values()}
    reasons = set(
        ReasonCode.objects.filter(business_unit_id__in=units).values_list(
            "business_unit_id", "code"
        )
    )
    errors = []
    for index, event in enumerate(events):
        agent = agents.get(event.agent)
        if agent is None:
            message = f"Unknown agent {event.agent!r}; create it with PUT /agents first."
            errors.append(_error(index, "agent", message))
            continue
        if not event.reason_code:
            continue
        if event.state != AcdState.UNAVAILABLE:
            message = f"Only unavailable takes a reason code, not {event.state}."
            errors.append(_error(index, "reason_code", message))
        elif (agent.business_unit_id, event.reason_code) not in reasons:
            message = (
                f"{event.reason_code!r} is not a reason code of business unit "
                f"{agent.business_unit.code!r}."
            )
            errors.append(_error(index, "reason_code", message))
    return errors


@router.post(
    "/agent-events",
    auth=EVENTS_WRITE,
    response={202: EventsAccepted},
    tags=["Agent events"],
    summary="Send agent state changes",
)
def agent_events_post(request: HttpRequest, payload: AgentEventBatch):
    """Stores up to 1,000 ACD state events and answers at once; the console applies each
    agent's newest event to Teams within seconds, following the agent's effective rule.
    Events are idempotent by (agent, sequence) and ordered per agent by sequence: an
    event older than one already applied is recorded as stale and changes nothing.
    All or nothing: with any unknown agent or reason code, nothing is stored."""
    events = payload.events
    agents = Agent.objects.select_related("business_unit").in_bulk(
        {event.agent for event in events}, field_name="external_id"
    )
    errors = _problems(events, agents)
    if errors:
        raise ValidationError(errors)

    keys = [(agents[event.agent].pk, event.sequence) for event in events]
    known = set(
        AgentEvent.objects.filter(
            agent_id__in={agent_id for agent_id, _ in keys},
            sequence__in={sequence for _, sequence in keys},
        ).values_list("agent_id", "sequence")
    )
    fresh: dict[tuple[int, int], AgentEvent] = {}
    for key, event in zip(keys, events, strict=True):
        if key in known or key in fresh:
            continue
        fresh[key] = AgentEvent(
            agent_id=key[0],
            sequence=event.sequence,
            state=event.state,
            reason_code=event.reason_code or "",
            interaction=event.interaction,
            occurred_at=event.occurred_at,
        )
    agent_ids = sorted({agent_id for agent_id, _ in keys})
    try:
        with transaction.atomic():
            # A concurrent replay of the same events may have won the race: its rows stand.
            AgentEvent.objects.bulk_create(fresh.values(), ignore_conflicts=True)
            _enqueue(agent_ids)
    except BrokerUnreachable:
        logger.exception("agent events stored but not queued")
        # They are stored, so the replay this asks for is harmless and gets them queued.
        detail = "The task broker is unreachable; send the same events again."
        raise HttpError(503, detail) from None
    return Status(202, {"accepted": len(fresh), "duplicates": len(events) - len(fresh)})


def _enqueue(agent_ids: list[int]) -> None:
    # Every agent of the request, even when all its events were replays: if a worker died
    # before applying them, the replay is what gets them applied.
    task_enqueue("presence.to_teams.agent_events_apply", kwargs={"agent_ids": agent_ids})

"""POST /api/v1/agent-events: validation as problems, idempotent storage, one task per
request after commit, and an event travelling through the real worker to Teams."""

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import Agent
from integrations.apikeys import api_key_create
from presence.models import ReasonCode
from presence.sync_models import AgentEvent, AgentPresence, SyncRecord
from presence.to_teams import sync as to_teams
from presence.to_teams.tasks import agent_events_apply, events_requeue_stranded
from tests.accounts.factories import AgentFactory
from tests.plugins.celery_worker import wait_for
from tests.presence.support_to_teams import (
    EVENTS,
    account_for,
    api_client,
    enabled_users,
    event,
    events_key,
    mapped_agent,
    post_events,
    publishing_rule,
    sim_calls,
    sim_presence,
)
from tests.support.task_queue import TaskQueue, own_queue

PROBLEM = "application/problem+json"


@pytest.fixture
def api(db) -> Client:
    return api_client(events_key())


@pytest.fixture
def agents(unit) -> list[Agent]:
    return [AgentFactory(business_unit=unit, external_id=f"a-{n}") for n in range(3)]


@pytest.fixture
def enqueued(monkeypatch) -> Iterator[TaskQueue]:
    """The apply tasks sent on commit, on a queue of the real broker only this test reads."""
    with own_queue(monkeypatch, agent_events_apply) as queue:
        yield queue


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    return response.json()


def _paths(response) -> dict[str, str]:
    return {e["path"]: e["message"] for e in _problem(response, 422)["errors"]}


def test_events_are_stored_and_one_task_is_sent_after_commit(
    api, agents, enqueued, django_capture_on_commit_callbacks
):
    occurred = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_events(
            api,
            event(agents[1], "working", sequence=7, occurred_at=occurred),
            event(agents[0], "unavailable", sequence=3, reason_code="lunch"),
            event(agents[1], "wrap_up", sequence=8, interaction="customer"),
        )

    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 3, "duplicates": 0}
    assert enqueued.kwargs_of("agent_events_apply") == [
        {"agent_ids": sorted([agents[0].pk, agents[1].pk])}
    ]
    stored = AgentEvent.objects.get(agent=agents[1], sequence=7)
    assert (stored.state, stored.interaction, stored.occurred_at) == ("working", "none", occurred)
    assert stored.received_at is not None and stored.processed_at is None
    lunch = AgentEvent.objects.get(agent=agents[0])
    assert (lunch.state, lunch.reason_code) == ("unavailable", "lunch")


def test_a_replay_is_accepted_and_ignored(api, agents, enqueued):
    first = event(agents[0], "available", sequence=1)
    second = event(agents[0], "working", sequence=2)
    assert post_events(api, first, second).json() == {"accepted": 2, "duplicates": 0}

    # The same sequence again is the same event, even if the ACD resends it changed.
    replay = post_events(api, {**second, "state": "wrap_up"}, second, first)

    assert replay.status_code == 202
    assert replay.json() == {"accepted": 0, "duplicates": 3}
    assert AgentEvent.objects.count() == 2
    assert AgentEvent.objects.get(sequence=2).state == "working"


def test_every_problem_is_reported_with_its_path_and_nothing_is_stored(api, agents, enqueued):
    response = post_events(
        api,
        event(agents[0], "available"),
        event("nobody", "available"),
        event(agents[1], "on_holiday"),
        event(agents[1], "unavailable", reason_code="nap"),
        event(agents[2], "working", reason_code="lunch"),
        {**event(agents[2], "working"), "sequence": "12"},
        {**event(agents[2], "working"), "occurred_at": "2026-03-01T09:30:00"},
        {**event(agents[2], "working"), "interaction": "pigeon"},
        {**event(agents[2], "working"), "colour": "blue"},
    )

    paths = _paths(response)
    assert set(paths) == {
        "events[2].state",
        "events[5].sequence",
        "events[6].occurred_at",
        "events[7].interaction",
        "events[8].colour",
    }
    assert "available" in paths["events[2].state"]
    assert AgentEvent.objects.count() == 0

    # Once the body is well formed, the agents and reason codes are checked.
    response = post_events(
        api,
        event(agents[0], "available"),
        event("nobody", "available"),
        event(agents[1], "unavailable", reason_code="nap"),
        event(agents[2], "working", reason_code="lunch"),
    )
    assert _paths(response) == {
        "events[1].agent": "Unknown agent 'nobody'; create it with PUT /agents first.",
        "events[2].reason_code": "'nap' is not a reason code of business unit 'voice'.",
        "events[3].reason_code": "Only unavailable takes a reason code, not working.",
    }
    assert AgentEvent.objects.count() == 0
    assert enqueued.messages() == []


def test_a_reason_code_of_another_unit_is_refused(api, agents, other_unit, enqueued):
    outsider = AgentFactory(business_unit=other_unit, external_id="b-1")
    ReasonCode.objects.create(business_unit=other_unit, code="siesta", name="Siesta")

    response = post_events(api, event(agents[0], "unavailable", reason_code="siesta"))
    assert set(_paths(response)) == {"events[0].reason_code"}
    accepted = post_events(api, event(outsider, "unavailable", reason_code="siesta"))
    assert accepted.status_code == 202


def test_a_batch_holds_at_most_1000_events(api, agents, enqueued):
    too_many = [event(agents[0], "available", sequence=n) for n in range(1001)]
    response = post_events(api, *too_many)
    assert "at most 1000 events" in _paths(response)["events"]

    empty = api.post(EVENTS, json.dumps({"events": []}), content_type="application/json")
    assert set(_paths(empty)) == {"events"}

    just_enough = post_events(api, *too_many[:1000])
    assert just_enough.json() == {"accepted": 1000, "duplicates": 0}


def test_the_key_needs_the_events_scope(agents, enqueued):
    _key, agents_only = api_key_create(actor=None, name="Agents", scopes=["agents:write"])
    body = json.dumps({"events": [event(agents[0], "available")]})

    forbidden = api_client(agents_only).post(EVENTS, body, content_type="application/json")
    assert "lacks the events:write scope" in _problem(forbidden, 403)["detail"]
    anonymous = Client().post(EVENTS, body, content_type="application/json")
    _problem(anonymous, 401)
    by_header = Client(headers={"X-API-Key": events_key()}).post(
        EVENTS, body, content_type="application/json"
    )
    assert by_header.status_code == 202


def test_the_endpoint_is_documented_with_its_scope(administrator_client):
    schema = administrator_client.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/agent-events"]["post"]
    assert operation["x-required-scope"] == "events:write"
    assert {"202", "401", "403", "422"} <= set(operation["responses"])


def test_posting_events_never_calls_graph_inline(unit, api, sim_tenant, graph_settings, graphsim):
    account_for(sim_tenant)
    agent = mapped_agent(unit, enabled_users(sim_tenant)[0], rule=publishing_rule(unit))
    since = datetime.now(UTC)

    assert post_events(api, event(agent, "working")).status_code == 202

    assert graphsim.control.calls(since=since) == []


# --- Through the broker and the real worker ----------------------------------------------


def test_an_acd_event_reaches_teams_as_set_presence_with_the_apps_session(
    celery_worker, unit, sim_tenant, graphsim
):
    """docs/graph.md "Presence": setPresence with sessionId = the app's client id; only the
    five settable pairs. The API answers 202 at once; the worker does the Graph call."""
    account_for(sim_tenant)
    user = enabled_users(sim_tenant)[0]
    agent = mapped_agent(unit, user, rule=publishing_rule(unit))
    api = api_client(events_key())
    since = datetime.now(UTC)

    response = post_events(api, event(agent, "working", sequence=10))

    assert response.json() == {"accepted": 1, "duplicates": 0}
    record = wait_for(
        lambda: SyncRecord.objects.filter(agent=agent).first(), what="the event to be applied"
    )
    assert record.outcome == SyncRecord.Outcome.APPLIED, celery_worker.log()
    assert sim_presence(graphsim, sim_tenant, user["id"]) == ("Busy", "InACall")
    (call,) = sim_calls(graphsim, sim_tenant, "setPresence", since)
    assert (call["status"], call["app"]) == (200, sim_tenant.client_id)
    assert record.latency_ms is not None

    # A later-arriving older event and a replay change nothing in Teams.
    since = datetime.now(UTC)
    late = post_events(
        api, event(agent, "available", sequence=9), event(agent, "working", sequence=10)
    )
    assert late.json() == {"accepted": 1, "duplicates": 1}
    stale = wait_for(
        lambda: SyncRecord.objects.filter(
            agent=agent, outcome=SyncRecord.Outcome.SKIPPED_STALE
        ).first(),
        what="the stale event",
    )
    assert stale.detail.startswith("Event #9 arrived after #10")
    assert sim_calls(graphsim, sim_tenant, "Presence", since) == []
    assert AgentPresence.objects.get(agent=agent).acd_sequence == 10


def test_an_internal_call_posted_to_the_api_does_nothing_to_teams(
    celery_worker, unit, sim_tenant, graphsim
):
    account_for(sim_tenant)
    agent = mapped_agent(unit, enabled_users(sim_tenant)[0], rule=publishing_rule(unit))
    since = datetime.now(UTC)

    post_events(api_client(events_key()), event(agent, "working", interaction="internal"))

    record = wait_for(
        lambda: SyncRecord.objects.filter(agent=agent).first(), what="the internal call"
    )
    assert record.outcome == SyncRecord.Outcome.SKIPPED_INTERNAL
    assert sim_calls(graphsim, sim_tenant, "Presence", since) == []
    assert AgentPresence.objects.get(agent=agent).acd_state == "working"


# --- Times the database cannot give back, and one agent's bad row ------------------------


@pytest.mark.parametrize(
    "occurred_at",
    [
        "0001-01-01T00:00:00+01:00",  # year 1 BC in UTC: stored, never read back
        "9999-12-31T23:00:00-05:00",  # past 9999 in UTC
        "1999-12-31T23:59:59Z",
        pytest.param((datetime.now(UTC) + timedelta(days=2)).isoformat(), id="two-days-ahead"),
    ],
)
def test_a_time_out_of_range_or_absurd_is_refused_naming_the_field(
    api, agents, enqueued, occurred_at
):
    absurd = {**event(agents[1], "working"), "occurred_at": occurred_at}

    response = post_events(api, event(agents[0], "working"), absurd)

    paths = _paths(response)
    assert set(paths) == {"events[1].occurred_at"}
    assert "2000-01-01" in paths["events[1].occurred_at"]
    assert AgentEvent.objects.count() == 0


def test_a_clock_running_a_little_ahead_is_accepted(api, agents, enqueued):
    ahead = datetime.now(UTC) + timedelta(hours=2)

    response = post_events(api, event(agents[0], "working", occurred_at=ahead))

    assert response.status_code == 202, response.content


def _unreadable(stored: AgentEvent) -> AgentEvent:
    """Give a stored event the time the API once let through: PostgreSQL keeps year 1 BC,
    Python cannot read it back."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AgentEvent._meta.db_table} SET occurred_at = %s WHERE id = %s",  # noqa: S608
            ["0001-01-01T00:00:00+01:00", stored.pk],
        )
    return stored


def _store(agent: Agent, state: str, sequence: int, **fields) -> AgentEvent:
    fields.setdefault("occurred_at", datetime.now(UTC))
    return AgentEvent.objects.create(agent=agent, state=state, sequence=sequence, **fields)


@pytest.fixture
def two_mapped(unit, sim_tenant, graph_settings, graphsim) -> tuple[Agent, Agent]:
    account_for(sim_tenant)
    rule = publishing_rule(unit)
    first, second = enabled_users(sim_tenant)[:2]
    return mapped_agent(unit, first, rule=rule), mapped_agent(unit, second, rule=rule)


def test_a_row_that_cannot_be_read_fails_alone_and_later_events_apply(two_mapped, caplog):
    broken, neighbour = two_mapped
    _store(broken, "available", 4)
    bad = _unreadable(_store(broken, "unavailable", 5, reason_code="lunch"))
    _store(neighbour, "working", 1)

    result = to_teams.agents_apply(agent_ids=[broken.pk, neighbour.pk])

    assert result.done == [broken.pk, neighbour.pk]
    assert AgentPresence.objects.get(agent=neighbour).acd_state == "working"
    failed = SyncRecord.objects.get(agent=broken, outcome=SyncRecord.Outcome.FAILED)
    assert failed.detail.startswith("Event #5 could not be read back")
    assert "occurred_at" in failed.detail and "BC" in failed.detail
    assert AgentPresence.objects.get(agent=broken).acd_state == "available"
    assert not AgentEvent.objects.filter(processed_at__isnull=True).exists()
    assert AgentEvent.objects.filter(pk=bad.pk).exists(), "the event is kept, marked done"

    # Nothing is left for the stranded-event requeue, renewing sessions reads past the
    # row, and later events apply as usual.
    assert events_requeue_stranded(now=timezone.now() + timedelta(hours=1)) == 0
    with caplog.at_level(logging.ERROR):
        to_teams.sessions_refresh(now=timezone.now() + timedelta(hours=4))
    assert caplog.records == []
    _store(broken, "working", 6)
    to_teams.agents_apply(agent_ids=[broken.pk])
    assert AgentPresence.objects.get(agent=broken).acd_state == "working"


def test_an_agent_whose_step_fails_does_not_hold_back_the_others(two_mapped):
    broken, neighbour = two_mapped
    # A state no rule knows, stored by an older release or by hand.
    _store(broken, "on_holiday", 1)
    _store(neighbour, "working", 1)

    result = to_teams.agents_apply(agent_ids=[broken.pk, neighbour.pk])

    assert (result.done, result.failed) == ([neighbour.pk], [broken.pk])
    assert AgentPresence.objects.get(agent=neighbour).acd_state == "working"
    failed = SyncRecord.objects.get(agent=broken)
    assert failed.outcome == SyncRecord.Outcome.FAILED
    assert "on_holiday" in failed.detail
    assert not AgentEvent.objects.filter(processed_at__isnull=True).exists()

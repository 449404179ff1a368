"""Contact center → Teams: the worker applies an agent's newest ACD event through Graph
(the simulator over HTTPS), ordered per agent, and records every outcome."""

import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Agent, AgentTeam
from graph.errors import Throttled
from presence.models import TeamRuleAssignment
from presence.rules.services import PublisherRowInput
from presence.sync_models import AgentEvent, AgentPresence, SyncRecord
from presence.to_acd.sync import MANUAL_ADVICE
from presence.to_teams import sync as to_teams
from presence.to_teams.sync import AgentBusy, agents_apply, sessions_refresh
from presence.to_teams.tasks import agent_events_apply as agent_events_task
from tests.plugins.celery_worker import wait_for
from tests.presence.support_to_teams import (
    CLEAR,
    SET,
    account_for,
    enabled_users,
    mapped_agent,
    publishing_rule,
    sim_calls,
    sim_presence,
)

Outcome = SyncRecord.Outcome


@pytest.fixture
def world(unit, sim_tenant, graph_settings, graphsim):
    """One agent of the Voice unit mapped to a simulator user, with the standard rule."""
    rule = publishing_rule(unit)
    user = enabled_users(sim_tenant)[0]
    return SimpleNamespace(
        account=account_for(sim_tenant),
        rule=rule,
        user=user,
        agent=mapped_agent(unit, user, rule=rule),
        tenant=sim_tenant,
        sim=graphsim,
        unit=unit,
    )


def store(agent: Agent, state: str, sequence: int, **fields) -> AgentEvent:
    fields.setdefault("occurred_at", timezone.now())
    return AgentEvent.objects.create(agent=agent, state=state, sequence=sequence, **fields)


def presence_in_teams(world) -> tuple[str, str]:
    return sim_presence(world.sim, world.tenant, world.user["id"])


def calls(world, action: str, since: datetime) -> list[dict]:
    return sim_calls(world.sim, world.tenant, action, since)


def records(agent: Agent) -> list[SyncRecord]:
    return list(SyncRecord.objects.filter(agent=agent).order_by("id"))


def started() -> datetime:
    return datetime.now(UTC)


def test_an_acd_state_sets_the_rules_pair_with_the_apps_session(world):
    """docs/graph.md "Presence": setPresence with sessionId = the app's client id, a settable
    pair and expirationDuration PT5M..PT4H (the simulator refuses any other sessionId)."""
    since = started()
    event = store(world.agent, "working", 1)

    result = agents_apply(agent_ids=[world.agent.pk])

    assert result.done == [world.agent.pk]
    assert presence_in_teams(world) == ("Busy", "InACall")
    (call,) = calls(world, "setPresence", since)
    assert call["status"] == 200
    assert call["method"] == "POST"
    assert call["app"] == world.tenant.client_id
    presence = AgentPresence.objects.get(agent=world.agent)
    assert (presence.acd_state, presence.acd_sequence) == ("working", 1)
    assert (presence.published_availability, presence.published_activity) == ("Busy", "InACall")
    expected = timezone.now() + timedelta(minutes=240)
    assert abs((presence.session_expires_at - expected).total_seconds()) < 30
    (record,) = records(world.agent)
    assert record.direction == SyncRecord.Direction.TO_TEAMS
    assert record.outcome == Outcome.APPLIED
    assert (record.from_value, record.to_value) == ("Working (on a call)", "Busy / InACall")
    assert (record.rule_name, record.row_index) == ("Voice standard", 1)
    assert record.latency_ms is not None and record.latency_ms < 30_000
    event.refresh_from_db()
    assert event.processed_at is not None


def test_a_reason_codes_row_wins_over_the_states_plain_row(world):
    store(world.agent, "unavailable", 1, reason_code="lunch")
    agents_apply(agent_ids=[world.agent.pk])
    assert presence_in_teams(world) == ("Away", "Away")

    store(world.agent, "unavailable", 2, reason_code="break")
    agents_apply(agent_ids=[world.agent.pk])
    assert presence_in_teams(world) == ("DoNotDisturb", "Presenting")

    lunch, other = records(world.agent)
    assert (lunch.from_value, lunch.row_index, lunch.detail) == (
        "Unavailable (Lunch)",
        2,
        "Session of PT1H.",
    )
    assert (other.from_value, other.row_index) == ("Unavailable (Break)", 3)


def test_an_internal_call_records_the_state_but_never_reaches_teams(world):
    since = started()
    store(world.agent, "working", 1, interaction=AgentEvent.Interaction.INTERNAL)

    agents_apply(agent_ids=[world.agent.pk])

    assert calls(world, "Presence", since) == []
    (record,) = records(world.agent)
    assert record.outcome == Outcome.SKIPPED_INTERNAL
    assert record.detail == "Agent-to-agent (internal) calls never trigger rules."
    presence = AgentPresence.objects.get(agent=world.agent)
    assert (presence.acd_state, presence.acd_sequence) == ("working", 1)
    assert presence.published_availability == ""


def test_an_event_older_than_the_applied_one_never_wins(world):
    store(world.agent, "available", 5)
    agents_apply(agent_ids=[world.agent.pk])
    since = started()

    late = store(world.agent, "working", 3)
    agents_apply(agent_ids=[world.agent.pk])

    assert calls(world, "Presence", since) == []
    assert presence_in_teams(world) == ("Available", "Available")
    presence = AgentPresence.objects.get(agent=world.agent)
    assert (presence.acd_state, presence.acd_sequence) == ("available", 5)
    stale = records(world.agent)[-1]
    assert stale.outcome == Outcome.SKIPPED_STALE
    assert stale.detail == "Event #3 arrived after #5 had been applied; an older event never wins."
    late.refresh_from_db()
    assert late.processed_at is not None


def test_of_several_pending_events_only_the_newest_is_applied(world):
    since = started()
    store(world.agent, "unavailable", 3, reason_code="lunch")
    store(world.agent, "available", 1)
    store(world.agent, "working", 2)

    agents_apply(agent_ids=[world.agent.pk])

    assert len(calls(world, "setPresence", since)) == 1
    assert presence_in_teams(world) == ("Away", "Away")
    assert [r.outcome for r in records(world.agent)] == [Outcome.APPLIED]
    assert not AgentEvent.objects.filter(processed_at__isnull=True).exists()


def test_logged_out_clears_the_session_and_a_missing_session_counts_as_clear(world):
    """docs/graph.md "Presence": clearPresence ends the app's session; 404 when there is none."""
    store(world.agent, "working", 1)
    agents_apply(agent_ids=[world.agent.pk])
    since = started()

    store(world.agent, "logged_out", 2)
    agents_apply(agent_ids=[world.agent.pk])

    (call,) = calls(world, "clearPresence", since)
    assert call["status"] == 200
    assert presence_in_teams(world) == ("Offline", "Offline")
    presence = AgentPresence.objects.get(agent=world.agent)
    assert (presence.published_availability, presence.session_expires_at) == ("", None)
    cleared = records(world.agent)[-1]
    assert (cleared.outcome, cleared.to_value) == (Outcome.APPLIED, to_teams.CLEARED)
    assert cleared.detail == "Session cleared."

    store(world.agent, "logged_out", 3)
    agents_apply(agent_ids=[world.agent.pk])

    assert [c["status"] for c in calls(world, "clearPresence", since)] == [200, 404]
    again = records(world.agent)[-1]
    assert again.outcome == Outcome.APPLIED
    assert again.detail == "There was no session: already clear."


def test_a_state_the_rule_has_no_row_for_is_skipped(world):
    since = started()
    store(world.agent, "wrap_up", 1)

    agents_apply(agent_ids=[world.agent.pk])

    assert calls(world, "Presence", since) == []
    (record,) = records(world.agent)
    assert record.outcome == Outcome.SKIPPED_NO_RULE
    assert record.rule_name == "Voice standard"
    assert record.detail == "No row for Wrap-up: Teams presence is left as it is"
    assert AgentPresence.objects.get(agent=world.agent).acd_state == "wrap_up"


def test_an_agent_without_a_rule_is_skipped(world):
    user = enabled_users(world.tenant)[1]
    agent = mapped_agent(world.unit, user)
    store(agent, "working", 1)

    agents_apply(agent_ids=[agent.pk])

    (record,) = records(agent)
    assert record.outcome == Outcome.SKIPPED_NO_RULE
    assert record.detail.startswith("No rule: neither the agent nor its teams have one")


def test_a_teams_rule_applies_to_its_agents(world):
    team = AgentTeam.objects.create(business_unit=world.unit, name="Night shift")
    rule = publishing_rule(world.unit, name="Night")
    TeamRuleAssignment.objects.create(team=team, rule=rule)
    user = enabled_users(world.tenant)[1]
    agent = mapped_agent(world.unit, user, team=team)
    store(agent, "available", 1)

    agents_apply(agent_ids=[agent.pk])

    assert sim_presence(world.sim, world.tenant, user["id"]) == ("Available", "Available")
    assert records(agent)[0].rule_name == "Night"


def test_a_status_set_by_hand_in_teams_is_left_alone(world):
    AgentPresence.objects.create(agent=world.agent, manual_in_teams=True)
    since = started()
    store(world.agent, "working", 1)

    agents_apply(agent_ids=[world.agent.pk])

    assert calls(world, "Presence", since) == []
    (record,) = records(world.agent)
    assert record.outcome == Outcome.SKIPPED_MANUAL
    assert record.detail == MANUAL_ADVICE
    assert AgentPresence.objects.get(agent=world.agent).acd_state == "working"


@pytest.mark.parametrize("how", ["unmapped", "teams_off"])
def test_agents_not_synced_keep_their_acd_state_only(world, how):
    if how == "unmapped":
        world.agent.mapping.delete()
    else:
        Agent.objects.filter(pk=world.agent.pk).update(teams_enabled=False)
    since = started()
    store(world.agent, "working", 1)

    agents_apply(agent_ids=[world.agent.pk])

    assert calls(world, "Presence", since) == []
    assert records(world.agent) == []
    assert AgentPresence.objects.get(agent=world.agent).acd_state == "working"


def test_a_429_with_retry_after_is_waited_out(world):
    """docs/graph.md "Batching, errors, throttling": 429 TooManyRequests with Retry-After."""
    world.sim.control.add_fault("setPresence", status=429, retry_after=0.05, times=1)
    since = started()
    store(world.agent, "working", 1)

    agents_apply(agent_ids=[world.agent.pk])

    assert [c["status"] for c in calls(world, "setPresence", since)] == [429, 200]
    assert records(world.agent)[0].outcome == Outcome.APPLIED


def test_throttling_past_the_clients_retries_leaves_the_event_for_the_task_to_retry(world):
    world.sim.control.add_fault("setPresence", status=429, retry_after=0.01, times=6)
    event = store(world.agent, "working", 1)

    result = agents_apply(agent_ids=[world.agent.pk])

    assert result.transient == [world.agent.pk]
    assert isinstance(result.error, Throttled)
    assert records(world.agent) == []
    event.refresh_from_db()
    assert event.processed_at is None

    store(world.agent, "available", 2)
    result = agents_apply(agent_ids=[world.agent.pk])

    assert result.done == [world.agent.pk]
    assert presence_in_teams(world) == ("Available", "Available")
    assert [r.outcome for r in records(world.agent)] == [Outcome.APPLIED]


def test_on_the_last_attempt_a_transient_error_is_recorded_as_failed(world):
    world.sim.control.add_fault("setPresence", status=503, times=6)
    store(world.agent, "working", 1)

    result = agents_apply(agent_ids=[world.agent.pk], give_up=True)

    assert result.transient == []
    (record,) = records(world.agent)
    assert record.outcome == Outcome.FAILED
    assert "HTTP 503" in record.detail


def test_a_graph_error_is_recorded_as_failed_with_its_message(world):
    missing = {**enabled_users(world.tenant)[1], "id": "0badc0de-0000-4000-8000-000000000001"}
    agent = mapped_agent(world.unit, missing, rule=world.rule)
    store(agent, "working", 1)

    agents_apply(agent_ids=[agent.pk])

    (record,) = records(agent)
    assert record.outcome == Outcome.FAILED
    assert "was not found" in record.detail
    assert "HTTP 404" in record.detail


def test_without_an_integration_account_the_step_fails_visibly(world):
    world.account.delete()
    store(world.agent, "working", 1)

    agents_apply(agent_ids=[world.agent.pk])

    (record,) = records(world.agent)
    assert (record.outcome, record.detail) == (
        Outcome.FAILED,
        "There is no Teams integration account.",
    )


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_process_one_agent_at_once(world):
    store(world.agent, "working", 1)
    AgentPresence.objects.create(agent=world.agent)
    locked, release = threading.Event(), threading.Event()

    def other_worker():
        try:
            with transaction.atomic():
                AgentPresence.objects.select_for_update().get(agent=world.agent)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        with pytest.raises(AgentBusy):
            to_teams.agent_events_apply(agent_id=world.agent.pk, publisher=None)
        assert agents_apply(agent_ids=[world.agent.pk]).busy == [world.agent.pk]
    finally:
        release.set()
        thread.join()

    assert agents_apply(agent_ids=[world.agent.pk]).done == [world.agent.pk]
    assert presence_in_teams(world) == ("Busy", "InACall")


# --- Sessions of long-held states -----------------------------------------------------


SHORT_SESSION_ROWS = (
    PublisherRowInput("working", None, SET, "Busy", "InACall", 5),
    PublisherRowInput("available", None, SET, "Available", "Available", 240),
    PublisherRowInput("logged_out", None, CLEAR),
)


def test_a_long_held_state_is_refreshed_before_its_session_expires(world):
    """docs/graph.md "Aggregation": an expired session disappears. A 5-minute session is
    renewed while the agent is still working, so Teams keeps showing Busy."""
    rule = publishing_rule(world.unit, name="Short", rows=SHORT_SESSION_ROWS)
    world.agent.rule_assignment.rule = rule
    world.agent.rule_assignment.save()
    store(world.agent, "working", 1)
    agents_apply(agent_ids=[world.agent.pk])
    assert sessions_refresh() == 0  # five minutes left: not due yet (half the session)

    world.sim.control.advance_clock(3 * 60)
    AgentPresence.objects.filter(agent=world.agent).update(
        session_expires_at=timezone.now() + timedelta(minutes=2)
    )
    since = started()
    assert sessions_refresh() == 1

    (call,) = calls(world, "setPresence", since)
    assert call["status"] == 200
    world.sim.control.advance_clock(4 * 60)  # past the first session's end
    assert presence_in_teams(world) == ("Busy", "InACall")
    presence = AgentPresence.objects.get(agent=world.agent)
    assert presence.session_expires_at > timezone.now() + timedelta(minutes=4)
    renewal = records(world.agent)[-1]
    assert renewal.outcome == Outcome.APPLIED
    assert renewal.detail == "Session renewed before it expired (PT5M)."
    assert (renewal.from_value, renewal.to_value) == ("Working (on a call)", "Busy / InACall")


def test_a_session_is_not_renewed_once_the_state_maps_elsewhere_or_far_from_its_end(world):
    store(world.agent, "working", 1)
    agents_apply(agent_ids=[world.agent.pk])
    since = started()
    assert sessions_refresh() == 0  # four hours left

    AgentPresence.objects.filter(agent=world.agent).update(
        session_expires_at=timezone.now() + timedelta(minutes=5)
    )
    world.rule.publisher_rows.filter(acd_state="working").update(
        availability="DoNotDisturb", activity="Presenting"
    )
    assert sessions_refresh() == 0
    assert calls(world, "setPresence", since) == []
    assert AgentPresence.objects.get(agent=world.agent).published_availability == "Busy"

    # Once Teams has dropped it, the console forgets the session too.
    AgentPresence.objects.filter(agent=world.agent).update(
        session_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert sessions_refresh() == 0
    presence = AgentPresence.objects.get(agent=world.agent)
    assert (presence.published_availability, presence.session_expires_at) == ("", None)


def test_an_internal_call_keeps_the_earlier_session_alive(world):
    store(world.agent, "available", 1)
    agents_apply(agent_ids=[world.agent.pk])
    store(world.agent, "working", 2, interaction=AgentEvent.Interaction.INTERNAL)
    agents_apply(agent_ids=[world.agent.pk])
    AgentPresence.objects.filter(agent=world.agent).update(
        session_expires_at=timezone.now() + timedelta(minutes=5)
    )

    assert sessions_refresh() == 1
    assert presence_in_teams(world) == ("Available", "Available")


# --- Through the real worker --------------------------------------------------------------


def test_the_worker_retries_throttling_with_backoff_and_applies_the_newest_event(
    celery_worker, world
):
    world.sim.control.add_fault("setPresence", status=429, retry_after=0.01, times=6)
    since = started()
    store(world.agent, "working", 1)

    agent_events_task.delay(agent_ids=[world.agent.pk])

    record = wait_for(
        lambda: SyncRecord.objects.filter(agent=world.agent).first(),
        what="the retried event",
        timeout=30,
    )
    assert record.outcome == Outcome.APPLIED, celery_worker.log()
    statuses = [c["status"] for c in calls(world, "setPresence", since)]
    assert statuses == [429] * 6 + [200]
    assert "Retry in" in celery_worker.log()
    assert presence_in_teams(world) == ("Busy", "InACall")
